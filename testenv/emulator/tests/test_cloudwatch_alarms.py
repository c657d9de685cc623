"""CloudWatch alarms over every protocol, their initial and kept state, and /_emulator/alarm-state."""

from datetime import datetime, timedelta, timezone

import pytest
from conftest import CBOR, CLOUDWATCH_PROTOCOLS, PRIMARY, STANDBY, wait_for

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


# --- evaluation on PutMetricData ---------------------------------------------------------

#: The operator's traffic switch (src/aws/cloudwatch.rs): ALARM on one 10-second datapoint of 1.
SWITCH = {
    "AlarmName": "pl-switch",
    "Namespace": "PilotLight",
    "MetricName": "TrafficToStandby",
    "Dimensions": [{"Name": "PilotLight", "Value": "default/app"}],
    "Statistic": "Maximum",
    "Period": 10,
    "EvaluationPeriods": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "ignore",
}


def period_start(offset: int = 0) -> datetime:
    """The start of the 10-second period ``offset`` periods from now's."""
    now = datetime.now(timezone.utc).timestamp()
    return datetime.fromtimestamp((now // 10 + offset) * 10, timezone.utc)


def publish(cloudwatch, value: float, at: datetime | None = None, alarm: dict = SWITCH, **datum) -> None:
    datum = {"MetricName": alarm["MetricName"], "Dimensions": alarm["Dimensions"], "Value": value, **datum}
    if at is not None:
        datum["Timestamp"] = at
    cloudwatch.put_metric_data(Namespace=alarm["Namespace"], MetricData=[datum])


def state(cloudwatch, name: str = SWITCH["AlarmName"]) -> tuple[str, str]:
    [alarm] = describe(cloudwatch, name)
    return alarm["StateValue"], alarm["StateReason"]


@pytest.mark.parametrize("protocol", CLOUDWATCH_PROTOCOLS)
def test_publishing_the_switch_metric_moves_its_alarm(emulator, protocol):
    cloudwatch = emulator.cloudwatch(STANDBY, protocol)
    cloudwatch.put_metric_alarm(**SWITCH)
    publish(cloudwatch, 1)
    assert state(cloudwatch) == (
        "ALARM", "Threshold Crossed: 1 datapoint [1.0] was greater than or equal to the threshold (1.0)."
    )
    [alarm] = describe(cloudwatch, SWITCH["AlarmName"])
    assert recent(alarm["StateUpdatedTimestamp"])
    # a 0 in the same period: its Maximum is still 1
    publish(cloudwatch, 0)
    assert state(cloudwatch)[0] == "ALARM"
    publish(cloudwatch, 0, period_start(1))
    assert state(cloudwatch) == (
        "OK", "Threshold Crossed: 1 datapoint [0.0] was not greater than or equal to the threshold (1.0)."
    )
    # other dimensions, metrics or regions do not count
    publish(cloudwatch, 5, period_start(2), Dimensions=[{"Name": "PilotLight", "Value": "default/other"}])
    publish(cloudwatch, 5, period_start(2), alarm={**SWITCH, "MetricName": "Other"})
    publish(emulator.cloudwatch(PRIMARY, protocol), 5, period_start(2))
    assert state(cloudwatch)[0] == "OK"


def test_missing_data_and_datapoints_to_alarm(emulator):
    cloudwatch = emulator.cloudwatch(PRIMARY, CBOR)
    missing = {**SWITCH, "AlarmName": "missing", "TreatMissingData": "missing"}
    ignore = {**SWITCH, "AlarmName": "ignore"}
    two_of_three = {**SWITCH, "AlarmName": "two-of-three", "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
                    "TreatMissingData": "notBreaching"}
    for alarm in (missing, ignore, two_of_three):
        cloudwatch.put_metric_alarm(**alarm)
        cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="OK", StateReason="set")
    # a datapoint older than every alarm's evaluation range: no data
    publish(cloudwatch, 1, period_start(-5))
    assert state(cloudwatch, "missing")[0] == "INSUFFICIENT_DATA"
    assert state(cloudwatch, "ignore") == ("OK", "set")
    assert state(cloudwatch, "two-of-three")[0] == "OK"
    publish(cloudwatch, 1, period_start(1))
    assert [state(cloudwatch, name)[0] for name in ("missing", "ignore", "two-of-three")] == ["ALARM", "ALARM", "OK"]
    publish(cloudwatch, 1, period_start(2))
    assert state(cloudwatch, "two-of-three") == (
        "ALARM", "Threshold Crossed: 2 datapoints [1.0, 1.0] were greater than or equal to the threshold (1.0)."
    )


def test_the_new_state_applies_after_the_alarm_evaluation_duration(emulator):
    emulator.set_durations({"monitoring:AlarmEvaluation": 0.5})
    cloudwatch = emulator.cloudwatch(STANDBY, CBOR)
    cloudwatch.put_metric_alarm(**SWITCH)
    publish(cloudwatch, 1)
    assert state(cloudwatch)[0] == "INSUFFICIENT_DATA"
    assert wait_for(lambda: state(cloudwatch)[0], lambda value: value == "ALARM", timeout=3) == "ALARM"
