//! Aurora global database replication lag from CloudWatch.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;

use super::{AwsError, RegionalClients};

/// The latest replication-lag datapoint of a secondary cluster.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LagSample {
    pub milliseconds: f64,
    /// Seconds since the Unix epoch.
    pub at_epoch_seconds: i64,
}

/// How far back a datapoint still counts as current. Aurora publishes the metric every minute.
const LOOKBACK: Duration = Duration::from_secs(10 * 60);

/// Latest `AuroraGlobalDBReplicationLag` of `cluster_identifier` (published in its own region),
/// or `None` when CloudWatch has no recent datapoint.
pub async fn replication_lag(aws: &RegionalClients, cluster_identifier: &str) -> Result<Option<LagSample>, AwsError> {
    let now = SystemTime::now();
    let metric = Metric::builder()
        .namespace("AWS/RDS")
        .metric_name("AuroraGlobalDBReplicationLag")
        .dimensions(
            Dimension::builder()
                .name("DBClusterIdentifier")
                .value(cluster_identifier)
                .build(),
        )
        .build();
    let query = MetricDataQuery::builder()
        .id("lag")
        .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
        .return_data(true)
        .build();
    let out = aws
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(DateTime::from(now - LOOKBACK))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .scan_by(ScanBy::TimestampDescending)
        .max_datapoints(10)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("monitoring", "GetMetricData", &aws.region, e))?;
    let latest = out.metric_data_results().first().and_then(|r| {
        r.timestamps()
            .iter()
            .zip(r.values())
            .max_by_key(|(t, _)| t.secs())
            .map(|(t, v)| LagSample {
                milliseconds: *v,
                at_epoch_seconds: t.secs(),
            })
    });
    Ok(latest)
}
