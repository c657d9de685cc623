"""CloudWatch alarms: the state a new or updated alarm has, and alarm states set by tests.

moto 5.2.5 creates every alarm OK ("Unchecked: Initial alarm creation"), and
PutMetricAlarm of an existing alarm replaces it with a new, OK one. CloudWatch
creates an alarm INSUFFICIENT_DATA and, when an alarm is updated, "its state
is left unchanged". install() makes moto do the same. moto never evaluates
alarms against metric data: an alarm's state only changes by SetAlarmState or
force_state().

force_state() (POST /_emulator/alarm-state) sets an alarm's state as
SetAlarmState does, after creating it if it does not exist (a metric alarm on
metric NAME of namespace "pl-emulator").
"""

from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
#: What PutMetricAlarm carries over from the alarm it replaces.
STATE_ATTRIBUTES = ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history")
FIELDS = {"region", "name", "state", "reason"}
DEFAULT_REASON = "Set by pl-emulator"

_moto_put_metric_alarm = CloudWatchBackend.put_metric_alarm


class InvalidAlarmState(ValueError):
    """A POST /_emulator/alarm-state body that does not follow the documented shape."""


def install() -> None:
    """Patches moto's CloudWatch alarms; idempotent."""
    CloudWatchBackend.put_metric_alarm = put_metric_alarm


def put_metric_alarm(self: CloudWatchBackend, name: str, **kwargs):
    previous = self.alarms.get(name)
    alarm = _moto_put_metric_alarm(self, name=name, **kwargs)
    if previous is None:
        alarm.state_value = "INSUFFICIENT_DATA"
    else:
        for attribute in STATE_ATTRIBUTES:
            setattr(alarm, attribute, getattr(previous, attribute))
    return alarm


def force_state(data: object) -> dict:
    """Applies {"region", "name", "state", "reason"?}; answers the alarm's new state."""
    if not isinstance(data, dict) or set(data) - FIELDS:
        raise InvalidAlarmState(f'expected {{"region", "name", "state", "reason"?}}, got {data!r}')
    region, name, state = data.get("region"), data.get("name"), data.get("state")
    reason = data.get("reason", DEFAULT_REASON)
    if not isinstance(name, str) or not name or not isinstance(reason, str):
        raise InvalidAlarmState("name must be a non-empty string, reason a string")
    if state not in STATES:
        raise InvalidAlarmState(f"state must be one of {list(STATES)}, got {state!r}")
    if not isinstance(region, str) or region not in cloudwatch_backends[DEFAULT_ACCOUNT_ID]:
        raise InvalidAlarmState(f"unknown region {region!r}")
    backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][region]
    created = name not in backend.alarms
    if created:
        backend.put_metric_alarm(
            name=name,
            namespace="pl-emulator",
            metric_name=name,
            comparison_operator="GreaterThanOrEqualToThreshold",
            evaluation_periods=1,
            period=60,
            threshold=1.0,
            statistic="Maximum",
            description="Created by POST /_emulator/alarm-state",
            dimensions=[],
            alarm_actions=[],
        )
    backend.set_alarm_state(name, reason, None, state)
    alarm = backend.alarms[name]
    return {
        "region": region,
        "name": name,
        "alarmArn": alarm.alarm_arn,
        "state": state,
        "reason": reason,
        "created": created,
    }
