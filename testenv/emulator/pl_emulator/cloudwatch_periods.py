"""GetMetricData buckets aligned to the clock, as CloudWatch aligns them.

moto 5.2.5 starts the period buckets at the exact StartTime, so a query from
12:32:34 reports a point put at 12:40:00 under 12:39:34. CloudWatch rounds
StartTime down first (to the minute when less than 15 days ago, 5 minutes up
to 63 days, else the hour), so datapoint timestamps come back as they were put.
"""

from datetime import datetime, timedelta, timezone

from moto.cloudwatch.models import CloudWatchBackend

_moto_get_metric_data = CloudWatchBackend.get_metric_data


def install() -> None:
    CloudWatchBackend.get_metric_data = get_metric_data


def get_metric_data(self: CloudWatchBackend, queries, start_time: datetime, end_time: datetime, *args, **kwargs):
    return _moto_get_metric_data(self, queries, round_start_time(start_time), end_time, *args, **kwargs)


def round_start_time(start_time: datetime) -> datetime:
    """Works on naive (UTC) and aware datetimes alike."""
    utc = timezone.utc if start_time.tzinfo else None
    age = datetime.now(timezone.utc).replace(tzinfo=utc) - start_time
    step = 60 if age < timedelta(days=15) else 300 if age < timedelta(days=63) else 3600
    epoch = datetime(1970, 1, 1, tzinfo=utc)
    seconds = int((start_time - epoch).total_seconds())
    return epoch + timedelta(seconds=seconds - seconds % step)
