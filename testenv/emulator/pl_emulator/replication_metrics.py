"""The replication-lag metrics AWS publishes, computed from the emulator's simulated replication.

AWS publishes, in CloudWatch, once a minute:
- Aurora global database, for each secondary cluster in its own region, namespace AWS/RDS,
  dimension DBClusterIdentifier: AuroraGlobalDBReplicationLag and AuroraGlobalDBRPOLag, in
  milliseconds
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-monitoring.html);
  the lag is "typically under a second"
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html).
- RDS read replicas, for each replica in its region, AWS/RDS, dimension DBInstanceIdentifier:
  ReplicaLag, in seconds
  (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Monitoring.html).
- S3 replication with S3 Replication Time Control, in the source bucket's region, AWS/S3,
  dimensions SourceBucket, DestinationBucket and RuleId: ReplicationLatency, in seconds
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html).

The model: a replica's series has a datapoint every PERIOD seconds from the moment the emulator
first sees the replica (the first one at once, so a client need not wait a minute), valued at
the simulated lag (DEFAULT_LAG, or what POST /_emulator/replication-lag set, published at once
and every PERIOD from then on). There is no
datapoint while the source's region is down (an outage fault rule for the service, from when
the rule was added): nothing replicates, so a client's newest sample goes stale, as it would.
POST /_emulator/replication-lag ``{"region", "cluster" | "instance" | "bucket", "milliseconds",
"publishing"}`` changes a series from now on; ``"publishing": false`` stops it, and a series
stopped before its replica exists never has a datapoint. Points older than RETENTION are not
produced (CloudWatch keeps one-minute data for 15 days; clients here look back minutes). Past
outages are not remembered: once a rule is removed, its gap fills in.

The datapoints are computed on each read through moto's CloudWatchMetricProvider hook (moto
asks every provider for its metrics on each read), never stored, so they mix with what clients
put (PutMetricData) under the same names.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from moto.cloudwatch.models import MetricDatum
from moto.core.common_models import CloudWatchMetricProvider
from moto.rds.models import rds_backends
from moto.s3.models import s3_backends

from .faults import FaultRules
from .rds_global import _global_of

PERIOD = 60
RETENTION = 3 * 3600
#: Simulated lag in milliseconds, by kind of replica.
DEFAULT_LAG = {"cluster": 800.0, "instance": 1000.0, "bucket": 2000.0}
FIELDS = {"region", "cluster", "instance", "bucket", "milliseconds", "publishing"}


class InvalidLagSetting(ValueError):
    """A POSTed lag setting that does not follow the documented shape."""


@dataclass(frozen=True)
class Series:
    region: str
    kind: str  # cluster | instance | bucket
    identifier: str


class Replication:
    """When each series began and how its lag changed (thread-safe)."""

    def __init__(self, fault_rules: FaultRules) -> None:
        self._lock = threading.Lock()
        self._faults = fault_rules
        self._since: dict[Series, float] = {}
        # Changes in time order: (epoch seconds, lag in ms, or None for stopped).
        self._changes: dict[Series, list[tuple[float, float | None]]] = {}

    def set(self, data: object) -> dict:
        if not isinstance(data, dict) or not isinstance(data.get("region"), str):
            raise InvalidLagSetting('expected {"region": ..., "cluster" | "instance" | "bucket": ..., ...}')
        unknown = set(data) - FIELDS
        if unknown:
            raise InvalidLagSetting(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(FIELDS)}")
        kinds = [kind for kind in DEFAULT_LAG if kind in data]
        if len(kinds) != 1 or not isinstance(data[kinds[0]], str):
            raise InvalidLagSetting("name exactly one replica: cluster, instance or bucket (a string)")
        milliseconds = data.get("milliseconds")
        if milliseconds is not None and (
            isinstance(milliseconds, bool) or not isinstance(milliseconds, (int, float)) or milliseconds < 0
        ):
            raise InvalidLagSetting(f"milliseconds must be a non-negative number, got {milliseconds!r}")
        publishing = data.get("publishing", True)
        if not isinstance(publishing, bool):
            raise InvalidLagSetting("publishing must be true or false")
        series = Series(data["region"], kinds[0], data[kinds[0]])
        with self._lock:
            changes = self._changes.setdefault(series, [])
            last = changes[-1][1] if changes else None
            if not publishing:
                value = None
            elif milliseconds is not None:
                value = float(milliseconds)
            else:
                value = last if last is not None else DEFAULT_LAG[series.kind]
            changes.append((time.time(), value))
        return {"region": series.region, series.kind: series.identifier, "milliseconds": value, "publishing": publishing}

    def reset(self) -> None:
        with self._lock:
            self._since.clear()
            self._changes.clear()

    def points(self, series: Series, source_region: str, service: str, now: float) -> list[tuple[float, float]]:
        """The series' datapoints (epoch seconds, lag in ms) up to ``now``: one every PERIOD from
        its start, and from each change on (a new lag is published at once)."""
        with self._lock:
            since = self._since.setdefault(series, now)
            changes = list(self._changes.get(series, ()))
        segments = [(since, DEFAULT_LAG[series.kind])] + [(max(at, since), value) for at, value in changes]
        down_since = self._faults.outage_since(source_region, (service,))
        points = []
        for i, (start, value) in enumerate(segments):
            end = segments[i + 1][0] if i + 1 < len(segments) else now + PERIOD / 2
            if value is None or end <= start:
                continue
            skipped = max(0, -(-(now - RETENTION - start) // PERIOD))
            t = start + skipped * PERIOD
            while t < end and t <= now:
                if down_since is None or t < down_since:
                    points.append((t, value))
                t += PERIOD
        return points


_replication: Replication | None = None


def install(fault_rules: FaultRules) -> Replication:
    global _replication
    _replication = Replication(fault_rules)
    return _replication


def set_lag(data: object) -> dict:
    """POST /_emulator/replication-lag."""
    if _replication is None:
        raise InvalidLagSetting("replication metrics are not installed")
    return _replication.set(data)


def reset() -> None:
    if _replication is not None:
        _replication.reset()


def _datum(namespace: str, name: str, value: float, dimensions: dict, at: float, unit: str) -> MetricDatum:
    return MetricDatum(
        namespace,
        name,
        value,
        [{"Name": k, "Value": v} for k, v in dimensions.items()],
        datetime.fromtimestamp(at, timezone.utc).replace(tzinfo=None),
        unit,
    )


def _aurora(account_id: str, region: str, now: float) -> list[MetricDatum]:
    data = []
    for cluster in list(rds_backends[account_id][region].clusters.values()):
        database = _global_of(cluster)
        writer = database.writer if database else None
        if writer is None or writer is cluster:
            continue
        series = Series(region, "cluster", cluster.db_cluster_identifier)
        for at, ms in _replication.points(series, writer.region, "rds", now):
            for name in ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag"):
                dims = {"DBClusterIdentifier": cluster.db_cluster_identifier}
                data.append(_datum("AWS/RDS", name, ms, dims, at, "Milliseconds"))
    return data


def _read_replicas(account_id: str, region: str, now: float) -> list[MetricDatum]:
    data = []
    for instance in list(rds_backends[account_id][region].databases.values()):
        source = instance.read_replica_source_db_instance_identifier
        if not source:
            continue
        # A cross-region source is named by its ARN (arn:aws:rds:REGION:...).
        source_region = source.split(":")[3] if source.startswith("arn:") else region
        series = Series(region, "instance", instance.db_instance_identifier)
        for at, ms in _replication.points(series, source_region, "rds", now):
            dims = {"DBInstanceIdentifier": instance.db_instance_identifier}
            data.append(_datum("AWS/RDS", "ReplicaLag", ms / 1000.0, dims, at, "Seconds"))
    return data


def _bucket_rules(bucket) -> list[tuple[str, str]]:
    """(rule id, destination bucket) of each enabled rule with Replication Time Control."""
    replication = getattr(bucket, "replication", None) or {}
    rules = []
    for rule in replication.get("Rule") or []:
        destination = rule.get("Destination") or {}
        rtc = (destination.get("ReplicationTime") or {}).get("Status")
        if rule.get("Status") == "Enabled" and rtc == "Enabled":
            rules.append((rule.get("ID") or "", str(destination.get("Bucket", "")).split(":::")[-1]))
    return rules


def _s3(account_id: str, region: str, now: float) -> list[MetricDatum]:
    data = []
    for bucket in list(s3_backends[account_id]["aws"].buckets.values()):
        if bucket.region_name != region:
            continue
        rules = _bucket_rules(bucket)
        if not rules:
            continue
        series = Series(region, "bucket", bucket.name)
        # The source stops replicating when its own region is down.
        for at, ms in _replication.points(series, region, "s3", now):
            for rule_id, destination in rules:
                dims = {"SourceBucket": bucket.name, "DestinationBucket": destination, "RuleId": rule_id}
                data.append(_datum("AWS/S3", "ReplicationLatency", ms / 1000.0, dims, at, "Seconds"))
    return data


class ReplicationMetrics(CloudWatchMetricProvider):
    """moto's hook: asked for a region's AWS-published metrics on every CloudWatch read."""

    @staticmethod
    def get_cloudwatch_metrics(account_id: str, region: str) -> list[MetricDatum]:
        if _replication is None:
            return []
        now = time.time()
        return _aurora(account_id, region, now) + _read_replicas(account_id, region, now) + _s3(account_id, region, now)
