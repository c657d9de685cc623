"""GetMetricData buckets aligned to the clock, as CloudWatch aligns them.

moto 5.2.5 starts the period buckets at the exact StartTime, so a query from
12:32:34 reports a point put at 12:40:00 under 12:39:34. CloudWatch rounds
StartTime down first (to the minute when less than 15 days ago, 5 minutes up
to 63 days, else the hour), so datapoint timestamps come back as they were put.

It also finds each MetricStat query's datapoints through an index by namespace, name and
dimensions: moto scans every datapoint in the window for every query and every period, which
with the replication metrics of hundreds of replicas (replication_metrics.py) took seconds per
call. Calls with metric math or Metrics Insights queries go to moto as they are.
"""

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import CloudWatchBackend, Statistics

_moto_get_metric_data = CloudWatchBackend.get_metric_data


def install() -> None:
    CloudWatchBackend.get_metric_data = get_metric_data


def get_metric_data(
    self: CloudWatchBackend, queries, start_time: datetime, end_time: datetime, scan_by: str = "TimestampAscending"
):
    start_time = round_start_time(start_time)
    if any("MetricStat" not in q for q in queries):
        return _moto_get_metric_data(self, queries, start_time, end_time, scan_by)
    start_time, end_time = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
    if start_time > end_time:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    if start_time == end_time:
        raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
    by_name = defaultdict(list)
    for datum in self.get_all_metrics():
        if start_time <= datum.timestamp < end_time:
            by_name[(datum.namespace, datum.name)].append(datum)
    by_dimensions = defaultdict(list)
    for key, data in by_name.items():
        for datum in data:
            by_dimensions[(*key, _dimension_key(datum.dimensions))].append(datum)
    results = []
    for query in queries:
        stat = query["MetricStat"]
        metric, unit = stat["Metric"], stat.get("Unit")
        key = (metric["Namespace"], metric["MetricName"])
        dimensions = metric.get("Dimensions", [])
        if dimensions:
            wanted = frozenset((d["Name"], d["Value"]) for d in dimensions)
            data = by_dimensions.get((*key, wanted), [])
        else:
            data = by_name.get(key, [])
        if unit:
            data = [d for d in data if d.unit == unit]
        period = timedelta(seconds=int(stat["Period"]))
        buckets = defaultdict(list)
        for datum in data:
            buckets[(datum.timestamp - start_time) // period].append(datum)
        timestamps, values = [], []
        for index in sorted(buckets):
            statistics = Statistics([stat["Stat"]], start_time + index * period)
            statistics.metric_data = buckets[index]
            timestamps.append(statistics.timestamp)
            values.append(statistics.get_statistics_for_type(stat["Stat"]))
        if scan_by == "TimestampDescending":
            timestamps.reverse()
            values.reverse()
        if query.get("ReturnData", True):
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or f"{metric['MetricName']} {stat['Stat']}",
                    "values": values,
                    "timestamps": timestamps,
                    "status_code": "Complete",
                }
            )
    return results


def _dimension_key(dimensions) -> frozenset:
    return frozenset((d.name, d.value) for d in dimensions)


def round_start_time(start_time: datetime) -> datetime:
    """Works on naive (UTC) and aware datetimes alike."""
    utc = timezone.utc if start_time.tzinfo else None
    age = datetime.now(timezone.utc).replace(tzinfo=utc) - start_time
    step = 60 if age < timedelta(days=15) else 300 if age < timedelta(days=63) else 3600
    epoch = datetime(1970, 1, 1, tzinfo=utc)
    seconds = int((start_time - epoch).total_seconds())
    return epoch + timedelta(seconds=seconds - seconds % step)
