"""CloudWatch alarms over every protocol, their initial and kept state, and /_emulator/alarm-state."""

from datetime import datetime, timedelta, timezone

import pytest
from conftest import CBOR, CLOUDWATCH_PROTOCOLS, PRIMARY, STANDBY

ALARM = {
    "AlarmName": "primary-alb-5xx",
    "Namespace": "AWS/ApplicationELB",
    "MetricName": "HTTPCode_ELB_5XX_Count",
    "Dimensions": [{"Name": "LoadBalancer", "Value": "app/primary-alb/0123456789abcdef"}],
    "Statistic": "Sum",
    "Period": 60,
    "EvaluationPeriods": 2,
    "Threshold": 10.0,
    "ComparisonOperator": "GreaterThanThreshold",
}


def describe(cloudwatch, name: str = ALARM["AlarmName"]) -> list[dict]:
    answer = cloudwatch.describe_alarms(AlarmNames=[name])
    assert answer.get("CompositeAlarms", []) == []
    return answer["MetricAlarms"]


def recent(timestamp: datetime) -> bool:
    return abs(datetime.now(timezone.utc) - timestamp) < timedelta(seconds=10)


@pytest.mark.parametrize("protocol", CLOUDWATCH_PROTOCOLS)
def test_put_set_and_describe(emulator, protocol):
    cloudwatch = emulator.cloudwatch(PRIMARY, protocol)
    assert cloudwatch.meta.service_model.protocol == protocol
    cloudwatch.put_metric_alarm(**ALARM)
    [alarm] = describe(cloudwatch)
    assert (alarm["AlarmName"], alarm["AlarmArn"]) == (
        ALARM["AlarmName"],
        f"arn:aws:cloudwatch:{PRIMARY}:123456789012:alarm:{ALARM['AlarmName']}",
    )
    # CloudWatch creates alarms INSUFFICIENT_DATA (moto: OK)
    assert (alarm["StateValue"], alarm["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")
    assert recent(alarm["StateUpdatedTimestamp"])

    cloudwatch.set_alarm_state(AlarmName=ALARM["AlarmName"], StateValue="ALARM", StateReason="5xx above 10")
    [alarm] = describe(cloudwatch)
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "5xx above 10")
    set_at = alarm["StateUpdatedTimestamp"]
    assert recent(set_at)

    # an update keeps the state and changes the configuration
    cloudwatch.put_metric_alarm(**{**ALARM, "Threshold": 20.0})
    [alarm] = describe(cloudwatch)
    assert (alarm["StateValue"], alarm["StateReason"], alarm["StateUpdatedTimestamp"], alarm["Threshold"]) == (
        "ALARM",
        "5xx above 10",
        set_at,
        20.0,
    )
    assert describe(emulator.cloudwatch(STANDBY, protocol)) == []
    assert describe(cloudwatch, "missing") == []
    assert [(c["service"], c["region"], c["action"], c["outcome"]) for c in emulator.calls()] == [
        ("monitoring", PRIMARY, "PutMetricAlarm", "ok"),
        ("monitoring", PRIMARY, "DescribeAlarms", "ok"),
        ("monitoring", PRIMARY, "SetAlarmState", "ok"),
        ("monitoring", PRIMARY, "DescribeAlarms", "ok"),
        ("monitoring", PRIMARY, "PutMetricAlarm", "ok"),
        ("monitoring", PRIMARY, "DescribeAlarms", "ok"),
        ("monitoring", STANDBY, "DescribeAlarms", "ok"),
        ("monitoring", PRIMARY, "DescribeAlarms", "ok"),
    ]


def test_control_creates_a_missing_alarm_and_sets_its_state(emulator):
    body = {"region": STANDBY, "name": "primary-region-down", "state": "ALARM", "reason": "primary unreachable"}
    assert emulator.control("POST", "alarm-state", body) == (
        200,
        {**body, "alarmArn": "arn:aws:cloudwatch:us-west-2:123456789012:alarm:primary-region-down", "created": True},
    )
    cloudwatch = emulator.cbor_cloudwatch(STANDBY)
    [alarm] = describe(cloudwatch, "primary-region-down")
    assert (alarm["StateValue"], alarm["StateReason"], alarm["Namespace"]) == (
        "ALARM",
        "primary unreachable",
        "pl-emulator",
    )
    assert recent(alarm["StateUpdatedTimestamp"])
    assert describe(emulator.cbor_cloudwatch(PRIMARY), "primary-region-down") == []

    again = {"region": STANDBY, "name": "primary-region-down", "state": "OK"}
    status, answer = emulator.control("POST", "alarm-state", again)
    assert (status, answer["state"], answer["reason"], answer["created"]) == (200, "OK", "Set by pl-emulator", False)
    [alarm] = describe(cloudwatch, "primary-region-down")
    assert (alarm["StateValue"], alarm["StateReason"]) == ("OK", "Set by pl-emulator")
    assert [c["action"] for c in emulator.calls()] == ["DescribeAlarms"] * 3  # the control API is not logged


def test_control_sets_the_state_of_an_existing_alarm(emulator):
    cloudwatch = emulator.cloudwatch(PRIMARY, CBOR)
    cloudwatch.put_metric_alarm(**ALARM)
    body = {"region": PRIMARY, "name": ALARM["AlarmName"], "state": "ALARM", "reason": "forced"}
    assert emulator.control("POST", "alarm-state", body)[1]["created"] is False
    [alarm] = describe(cloudwatch)
    assert (alarm["StateValue"], alarm["StateReason"], alarm["MetricName"], alarm["Threshold"]) == (
        "ALARM",
        "forced",
        ALARM["MetricName"],
        ALARM["Threshold"],
    )


@pytest.mark.parametrize(
    "body",
    [
        {"region": PRIMARY, "name": "a", "state": "BROKEN"},
        {"region": PRIMARY, "name": "a"},
        {"region": "mars-north-1", "name": "a", "state": "OK"},
        {"name": "a", "state": "OK"},
        {"region": PRIMARY, "state": "OK"},
        {"region": PRIMARY, "name": "a", "state": "OK", "reason": 3},
        {"region": PRIMARY, "name": "a", "state": "OK", "colour": "red"},
        ["not", "an", "object"],
    ],
)
def test_control_errors(emulator, body):
    status, answer = emulator.control("POST", "alarm-state", body)
    assert status == 400 and answer["error"]
    assert describe(emulator.cbor_cloudwatch(PRIMARY), "a") == []
