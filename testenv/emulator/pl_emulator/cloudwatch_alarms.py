"""CloudWatch alarms: the state a new or updated alarm has, evaluation on metric data, and alarm states set by tests.

moto 5.2.5 creates every alarm OK ("Unchecked: Initial alarm creation"), and
PutMetricAlarm of an existing alarm replaces it with a new, OK one. CloudWatch
creates an alarm INSUFFICIENT_DATA and, when an alarm is updated, "its state
is left unchanged". install() makes moto do the same.

moto never evaluates alarms against metric data. Now PutMetricData (over any
protocol: Query, JSON, and rpc-v2-cbor, which cloudwatch_cbor.py turns into
JSON) evaluates every metric alarm of that region on the metric it wrote
(same namespace, metric name and dimension set), as CloudWatch does
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html):
the last EvaluationPeriods periods of Period seconds, aligned on multiples of
Period since the epoch (the newest is the period of now, or of the latest
Timestamp written if that is later), each reduced by the alarm's Statistic
(Maximum, Minimum, Average, Sum or SampleCount) and compared with Threshold by
ComparisonOperator: ALARM when at least DatapointsToAlarm (default
EvaluationPeriods) of them breach, else OK. So a 0 written in the same period
as a 1 leaves a "Maximum >= 1" alarm in ALARM, as in CloudWatch. When no
period has data, TreatMissingData decides
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html):
missing (the default) INSUFFICIENT_DATA, ignore keeps the state, breaching
ALARM, notBreaching OK; periods without data among others count as breaching
or not for those two, and are left out for missing and ignore. A state
changes only when it differs (StateUpdatedTimestamp is the transition's). The
new state applies "monitoring:AlarmEvaluation" seconds later (default 0: at
once), settled lazily: at the start of each CloudWatch request and whenever
Route 53's checkers read the alarm. Not modelled: evaluation between
publications (the state stays, whatever TreatMissingData says), extended
statistics (percentiles), metric math and anomaly detection alarms (never
evaluated), units, alarm actions.

force_state() (POST /_emulator/alarm-state) sets an alarm's state as
SetAlarmState does, after creating it if it does not exist (a metric alarm on
metric NAME of namespace "pl-emulator").
"""

import json
import operator
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from botocore.utils import parse_timestamp
from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.models import DEFAULT_ACCOUNT_ID

from .durations import Durations

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
#: What PutMetricAlarm carries over from the alarm it replaces.
STATE_ATTRIBUTES = ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history")
FIELDS = {"region", "name", "state", "reason"}
DEFAULT_REASON = "Set by pl-emulator"

#: Threshold comparisons, with the words of CloudWatch's StateReason.
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
STATISTICS = ("Maximum", "Minimum", "Average", "Sum", "SampleCount")
#: The state each TreatMissingData gives an alarm whose evaluation range has no data (None: kept).
ALL_MISSING = {"missing": "INSUFFICIENT_DATA", "ignore": None, "breaching": "ALARM", "notBreaching": "OK"}

_moto_put_metric_alarm = CloudWatchBackend.put_metric_alarm
_moto_put_metric_data = CloudWatchBackend.put_metric_data
_moto_call_action = CloudWatchResponse.call_action


@dataclass
class PendingState:
    """An evaluation's outcome, waiting for "monitoring:AlarmEvaluation" seconds."""

    applies_at: float
    backend: CloudWatchBackend
    alarm_name: str
    state: str
    reason: str
    reason_data: str


#: Guards the pending states and the alarms' state changes.
_lock = threading.RLock()
_pending: list[PendingState] = []
#: Set by install(); the handlers below run inside moto and cannot be handed it.
_durations = Durations()


class InvalidAlarmState(ValueError):
    """A POST /_emulator/alarm-state body that does not follow the documented shape."""


def install(durations: Durations) -> None:
    """Patches moto's CloudWatch alarms; idempotent (a second call replaces the durations)."""
    global _durations
    _durations = durations
    CloudWatchBackend.put_metric_alarm = put_metric_alarm
    CloudWatchBackend.put_metric_data = put_metric_data
    CloudWatchResponse.call_action = call_action


def reset() -> None:
    """Drops the evaluations still waiting (/_emulator/reset)."""
    with _lock:
        _pending.clear()


def settle_due() -> None:
    """Applies every pending evaluation whose time has come, oldest first."""
    with _lock:
        now = time.time()
        for pending in [p for p in _pending if p.applies_at <= now]:
            _pending.remove(pending)
            _apply(pending)


def call_action(self: CloudWatchResponse):
    settle_due()
    return _moto_call_action(self)


def put_metric_alarm(self: CloudWatchBackend, name: str, **kwargs):
    previous = self.alarms.get(name)
    alarm = _moto_put_metric_alarm(self, name=name, **kwargs)
    if previous is None:
        alarm.state_value = "INSUFFICIENT_DATA"
    else:
        for attribute in STATE_ATTRIBUTES:
            setattr(alarm, attribute, getattr(previous, attribute))
    return alarm


def put_metric_data(self: CloudWatchBackend, namespace: str, metric_data: list[dict]) -> None:
    _moto_put_metric_data(self, namespace, metric_data)
    now, written = time.time(), {}
    for datum in metric_data:
        metric = (datum["MetricName"], _dimension_set(datum.get("Dimensions") or []))
        stamped = _epoch(datum["Timestamp"]) if datum.get("Timestamp") else now
        written[metric] = max(written.get(metric, now), stamped)
    with _lock:
        for alarm in list(self.alarms.values()):
            metric = (alarm.metric_name, _dimension_set(alarm.dimensions))
            if alarm.namespace == namespace and metric in written:
                _evaluate(self, alarm, written[metric])


# --- evaluation -----------------------------------------------------------------------------


def _evaluate(backend: CloudWatchBackend, alarm, at: float) -> None:
    """Evaluates one alarm as of ``at``; its new state applies "monitoring:AlarmEvaluation" seconds from now."""
    compare = COMPARISONS.get(alarm.comparison_operator)
    if compare is None or alarm.statistic not in STATISTICS or alarm.metric_data_queries or not alarm.period:
        return
    now, periods = time.time(), max(int(alarm.evaluation_periods or 1), 1)
    values = _period_values(backend, alarm, at, periods)
    treat = alarm.treat_missing_data or "missing"
    present = [value for value in values if value is not None]
    if not present:
        state = ALL_MISSING.get(treat)
        if state is None:
            return
        reason = f"No datapoints in the last {periods} period(s) of {alarm.period} s (TreatMissingData {treat})."
    else:
        test, words = compare
        breaching = [value for value in present if test(value, alarm.threshold)]
        if treat in ("breaching", "notBreaching"):
            missing = len(values) - len(present)
            breach_count = len(breaching) + (missing if treat == "breaching" else 0)
        else:
            breach_count = len(breaching)
        needed = int(alarm.datapoints_to_alarm or periods)
        state = "ALARM" if breach_count >= needed else "OK"
        shown = breaching if state == "ALARM" else present
        verb = "was" if len(shown) == 1 else "were"
        negation = "" if state == "ALARM" else "not "
        reason = (
            f"Threshold Crossed: {len(shown)} datapoint{'s' if len(shown) != 1 else ''} "
            f"[{', '.join(str(v) for v in shown)}] {verb} {negation}{words} the threshold ({alarm.threshold})."
        )
    reason_data = json.dumps(
        {
            "version": "1.0",
            "queryDate": datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "statistic": alarm.statistic,
            "period": alarm.period,
            "recentDatapoints": present,
            "threshold": alarm.threshold,
            "evaluatedDatapoints": len(values),
        }
    )
    pending = PendingState(
        now + _durations.seconds("monitoring", "AlarmEvaluation"), backend, alarm.name, state, reason, reason_data
    )
    if pending.applies_at <= now:
        _apply(pending)
    else:
        _pending.append(pending)


def _apply(pending: PendingState) -> None:
    """Sets the evaluated state, unless it is the alarm's state already (a transition only)."""
    alarm = pending.backend.alarms.get(pending.alarm_name)
    if alarm is not None and alarm.state_value != pending.state:
        alarm.update_state(pending.reason, pending.reason_data, pending.state)


def _period_values(backend: CloudWatchBackend, alarm, at: float, periods: int) -> list:
    """The alarm's statistic in each of the ``periods`` periods up to the one ``at`` is in (newest first),
    None for a period without data. Periods are aligned on multiples of Period since the epoch, as
    CloudWatch's are."""
    period = float(alarm.period)
    newest = int(at // period)
    buckets: list[list] = [[] for _ in range(periods)]
    wanted = _dimension_set(alarm.dimensions)
    for datum in list(backend.metric_data):
        if datum.namespace != alarm.namespace or datum.name != alarm.metric_name:
            continue
        if _dimension_set(datum.dimensions) != wanted:
            continue
        index = newest - int(_epoch(datum.timestamp) // period)
        if 0 <= index < periods:
            buckets[index].append(datum)
    return [_statistic(alarm.statistic, bucket) if bucket else None for bucket in buckets]


def _statistic(statistic: str, data: list) -> float:
    samples = []  # (minimum, maximum, sum, count) of each datum
    for datum in data:
        if isinstance(datum, MetricAggregatedDatum):
            samples.append((datum.min, datum.max, datum.sum, datum.sample_count))
        else:
            samples.append((datum.value, datum.value, datum.value, 1.0))
    total, count = sum(s[2] for s in samples), sum(s[3] for s in samples)
    return {
        "Maximum": lambda: max(s[1] for s in samples),
        "Minimum": lambda: min(s[0] for s in samples),
        "Sum": lambda: total,
        "SampleCount": lambda: count,
        "Average": lambda: total / count if count else 0.0,
    }[statistic]()


def _dimension_set(dimensions) -> frozenset:
    """Dimensions as a set of (name, value), from request dicts or moto's Dimension objects."""
    pairs = set()
    for dimension in dimensions:
        if isinstance(dimension, dict):
            pairs.add((dimension.get("Name"), dimension.get("Value")))
        else:
            pairs.add((dimension.name, dimension.value))
    return frozenset(pairs)


def _epoch(timestamp) -> float:
    """A datapoint's timestamp (naive UTC or aware datetime, ISO text or epoch seconds) in epoch seconds."""
    if isinstance(timestamp, (int, float)):
        return float(timestamp)
    if isinstance(timestamp, str):
        timestamp = parse_timestamp(timestamp)
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=timezone.utc)
    return timestamp.timestamp()


def alarm_state(region: str, name: str) -> str | None:
    """An alarm's state after settling due evaluations, None if it does not exist (Route 53 health checks)."""
    settle_due()
    if region not in cloudwatch_backends[DEFAULT_ACCOUNT_ID]:
        return None
    alarm = cloudwatch_backends[DEFAULT_ACCOUNT_ID][region].alarms.get(name)
    return alarm.state_value if alarm else None


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
