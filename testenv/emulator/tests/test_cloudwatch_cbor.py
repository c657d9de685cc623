"""CloudWatch over Smithy RPC v2 CBOR, as the Rust SDK speaks it."""

import struct
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import PRIMARY, STANDBY

LAG = {
    "Namespace": "AWS/RDS",
    "MetricName": "AuroraGlobalDBReplicationLag",
    "Dimensions": [{"Name": "DBClusterIdentifier", "Value": "dr-cluster"}],
}
OPERATION_PATH = "/service/GraniteServiceVersion20100801/operation/"


def raw_cbor(emulator, operation: str, body: bytes, region: str = STANDBY) -> tuple[int, dict, bytes]:
    """One hand-made rpc-v2-cbor request, SigV4-signed like an SDK would."""
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}
    request = AWSRequest("POST", f"{emulator.endpoint}{OPERATION_PATH}{operation}", data=body, headers=headers)
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "monitoring", region).add_auth(request)
    prepared = urllib.request.Request(request.url, data=body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(prepared) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def minute_ago() -> datetime:
    return (datetime.now(timezone.utc) - timedelta(minutes=1)).replace(second=0, microsecond=0)


def test_replication_lag_round_trip(emulator):
    """Timestamps come back as put even for a StartTime off the minute (CloudWatch rounds it down)."""
    cloudwatch = emulator.cbor_cloudwatch(STANDBY)
    at = minute_ago()
    start = at - timedelta(minutes=5) + timedelta(seconds=17)
    cloudwatch.put_metric_data(
        Namespace=LAG["Namespace"],
        MetricData=[
            {
                "MetricName": LAG["MetricName"],
                "Dimensions": LAG["Dimensions"],
                "Timestamp": at,
                "Value": 1250.5,
                "Unit": "Milliseconds",
            }
        ],
    )
    for stat in ("Maximum", "Average"):
        [result] = cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "lag", "MetricStat": {"Metric": LAG, "Period": 60, "Stat": stat}}],
            StartTime=start,
            EndTime=at + timedelta(minutes=5),
        )["MetricDataResults"]
        assert (result["Id"], result["StatusCode"], result["Values"]) == ("lag", "Complete", [1250.5])
        assert result["Timestamps"] == [at]
    [point] = cloudwatch.get_metric_statistics(
        **LAG, StartTime=start, EndTime=at + timedelta(minutes=5), Period=60, Statistics=["Maximum"]
    )["Datapoints"]
    assert (point["Timestamp"], point["Maximum"], point["Unit"]) == (at, 1250.5, "Milliseconds")
    assert cloudwatch.list_metrics(Namespace="AWS/RDS")["Metrics"] == [LAG]
    assert emulator.cbor_cloudwatch(PRIMARY).list_metrics(Namespace="AWS/RDS")["Metrics"] == []
    assert [(c["service"], c["region"], c["action"]) for c in emulator.calls()] == [
        ("monitoring", STANDBY, "PutMetricData"),
        ("monitoring", STANDBY, "GetMetricData"),
        ("monitoring", STANDBY, "GetMetricData"),
        ("monitoring", STANDBY, "GetMetricStatistics"),
        ("monitoring", STANDBY, "ListMetrics"),
        ("monitoring", PRIMARY, "ListMetrics"),
    ]


def test_alarms(emulator):
    cloudwatch = emulator.cbor_cloudwatch(STANDBY)
    cloudwatch.put_metric_alarm(
        AlarmName="replication-lag",
        **LAG,
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=5000.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="replication-lag", StateValue="ALARM", StateReason="lag too high")
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["replication-lag"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["Threshold"], alarm["Period"], alarm["EvaluationPeriods"]) == (
        "ALARM",
        5000.0,
        60,
        3,
    )
    assert alarm["StateUpdatedTimestamp"].tzinfo is not None
    assert alarm["AlarmArn"] == "arn:aws:cloudwatch:us-west-2:123456789012:alarm:replication-lag"
    cloudwatch.delete_alarms(AlarmNames=["replication-lag"])
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    with pytest.raises(ClientError) as raised:
        cloudwatch.set_alarm_state(AlarmName="replication-lag", StateValue="OK", StateReason="gone")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def test_wire_format(emulator):
    at = minute_ago()
    put = cbor2.dumps(
        {
            "Namespace": "AWS/RDS",
            "MetricData": [
                {
                    "MetricName": LAG["MetricName"],
                    "Dimensions": LAG["Dimensions"],
                    "Timestamp": cbor2.CBORTag(1, at.timestamp()),
                    "Value": 7.0,
                }
            ],
        }
    )
    status, headers, body = raw_cbor(emulator, "PutMetricData", put)
    assert (status, headers["smithy-protocol"], body) == (200, "rpc-v2-cbor", b"")

    query = {
        "MetricDataQueries": [{"Id": "lag", "MetricStat": {"Metric": LAG, "Period": 60, "Stat": "Average"}}],
        "StartTime": cbor2.CBORTag(1, (at - timedelta(minutes=5)).timestamp()),
        "EndTime": cbor2.CBORTag(1, (at + timedelta(minutes=5)).timestamp()),
    }
    status, headers, body = raw_cbor(emulator, "GetMetricData", cbor2.dumps(query))
    assert (status, headers["smithy-protocol"], headers["Content-Type"]) == (200, "rpc-v2-cbor", "application/cbor")
    [result] = cbor2.loads(body)["MetricDataResults"]
    assert result["Timestamps"] == [at] and result["Values"] == [7.0]
    # timestamp: tag 1 (0xc1) + float64 (0xfb) epoch seconds; value: float64
    assert b"\xc1\xfb" + struct.pack(">d", at.timestamp()) in body
    assert b"\xfb" + struct.pack(">d", 7.0) in body

    status, headers, body = raw_cbor(emulator, "DescribeAlarms", cbor2.dumps({"AlarmNames": ["missing"]}))
    assert status == 200 and cbor2.loads(body) == {"MetricAlarms": [], "CompositeAlarms": []}

    status, headers, body = raw_cbor(
        emulator, "SetAlarmState", cbor2.dumps({"AlarmName": "missing", "StateValue": "OK", "StateReason": "r"})
    )
    assert (status, headers["smithy-protocol"], headers["x-amzn-query-error"]) == (
        404,
        "rpc-v2-cbor",
        "ResourceNotFound;Sender",
    )
    assert cbor2.loads(body)["__type"].endswith("ResourceNotFound")


def test_unknown_operation_and_broken_body(emulator):
    status, headers, body = raw_cbor(emulator, "NoSuchOperation", cbor2.dumps({}))
    assert (status, cbor2.loads(body)["__type"]) == (404, "UnknownOperationException")
    status, headers, body = raw_cbor(emulator, "ListMetrics", b"\xff\x00 not cbor")
    error = cbor2.loads(body)
    assert (status, headers["smithy-protocol"], error["__type"]) == (500, "rpc-v2-cbor", "InternalFailure")
    assert "pl-emulator internal error" in error["message"]
    assert emulator.calls()[-1]["outcome"] == "error"
    assert emulator.control("GET", "health") == (200, {"ok": True})
