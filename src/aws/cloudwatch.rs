//! CloudWatch: Aurora global database and RDS read replica replication lag, and the alarms detection watches.

use std::{
    collections::HashMap,
    time::{Duration, SystemTime},
};

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

/// Queries in one GetMetricData call (CloudWatch's limit).
const QUERIES_PER_CALL: usize = 500;

/// A replication-lag metric RDS publishes for each replica, in the replica's region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LagMetric {
    /// `AuroraGlobalDBReplicationLag` (ms) of a secondary cluster, by `DBClusterIdentifier`.
    AuroraGlobal,
    /// `ReplicaLag` (s) of a read replica, by `DBInstanceIdentifier`
    /// (<https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html>).
    ReadReplica,
}

impl LagMetric {
    pub fn name(self) -> &'static str {
        match self {
            Self::AuroraGlobal => "AuroraGlobalDBReplicationLag",
            Self::ReadReplica => "ReplicaLag",
        }
    }

    fn dimension(self) -> &'static str {
        match self {
            Self::AuroraGlobal => "DBClusterIdentifier",
            Self::ReadReplica => "DBInstanceIdentifier",
        }
    }

    fn to_milliseconds(self, value: f64) -> f64 {
        match self {
            Self::AuroraGlobal => value,
            Self::ReadReplica => value * 1000.0,
        }
    }
}

/// Latest `AuroraGlobalDBReplicationLag` of each of `cluster_identifiers` (published in their own
/// region) that has a recent datapoint; one call per 500 clusters.
pub async fn replication_lags(
    aws: &RegionalClients,
    cluster_identifiers: &[String],
) -> Result<HashMap<String, LagSample>, AwsError> {
    lags(aws, LagMetric::AuroraGlobal, cluster_identifiers).await
}

/// Latest datapoint of `metric` for each of `identifiers` (in milliseconds, whatever the
/// metric's unit) that has a recent one; one call per 500 replicas.
pub async fn lags(
    aws: &RegionalClients,
    metric: LagMetric,
    identifiers: &[String],
) -> Result<HashMap<String, LagSample>, AwsError> {
    let now = SystemTime::now();
    let mut lags = HashMap::new();
    for chunk in identifiers.chunks(QUERIES_PER_CALL) {
        let queries: Vec<MetricDataQuery> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let m = Metric::builder()
                    .namespace("AWS/RDS")
                    .metric_name(metric.name())
                    .dimensions(Dimension::builder().name(metric.dimension()).value(id).build())
                    .build();
                MetricDataQuery::builder()
                    .id(format!("lag{i}"))
                    .metric_stat(MetricStat::builder().metric(m).period(60).stat("Maximum").build())
                    .return_data(true)
                    .build()
            })
            .collect();
        let mut token = None;
        loop {
            let out = aws
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(DateTime::from(now - LOOKBACK))
                .end_time(DateTime::from(now + Duration::from_secs(60)))
                .scan_by(ScanBy::TimestampDescending)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("monitoring", "GetMetricData", &aws.region, e))?;
            for result in out.metric_data_results() {
                let Some(id) = result
                    .id()
                    .and_then(|q| q.strip_prefix("lag"))
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| chunk.get(i))
                else {
                    continue;
                };
                let latest = result
                    .timestamps()
                    .iter()
                    .zip(result.values())
                    .max_by_key(|(t, _)| t.secs());
                if let Some((t, v)) = latest {
                    let sample = LagSample {
                        milliseconds: metric.to_milliseconds(*v),
                        at_epoch_seconds: t.secs(),
                    };
                    let entry = lags.entry(id.clone()).or_insert(sample);
                    if sample.at_epoch_seconds > entry.at_epoch_seconds {
                        *entry = sample;
                    }
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
    }
    Ok(lags)
}

/// A CloudWatch alarm's state.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: super::states::AlarmValue,
    pub reason: String,
}

/// The states of the metric alarms `names` in this region (`DescribeAlarms`, 100 names per call).
/// Alarms that do not exist are absent.
pub async fn alarm_states(aws: &RegionalClients, names: &[String]) -> Result<Vec<AlarmState>, AwsError> {
    let mut states = Vec::new();
    for chunk in names.chunks(100) {
        let out = aws
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("monitoring", "DescribeAlarms", &aws.region, e))?;
        states.extend(out.metric_alarms().iter().map(|a| AlarmState {
            name: a.alarm_name().unwrap_or_default().to_owned(),
            state: a.state_value().map_or("", |s| s.as_str()).into(),
            reason: a.state_reason().unwrap_or_default().to_owned(),
        }));
    }
    Ok(states)
}

/// The `metricAlarm` traffic switch: a high-resolution metric the operator publishes in the
/// standby region, and an alarm there on it. Route 53's health checks follow the alarm, so
/// publishing moves traffic with CloudWatch's data plane in the standby region only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricSwitch {
    pub alarm_name: String,
    /// The `PilotLight` dimension: `namespace/name` of the PilotLight.
    pub owner: String,
}

/// Namespace and name of the switch metric: 1 sends traffic to the standby, 0 to the primary.
pub const SWITCH_NAMESPACE: &str = "PilotLight";
pub const SWITCH_METRIC: &str = "TrafficToStandby";
/// Seconds per period of the switch's alarm.
pub const SWITCH_PERIOD: i32 = 10;

impl MetricSwitch {
    fn dimension(&self) -> Dimension {
        Dimension::builder().name("PilotLight").value(&self.owner).build()
    }
}

/// Whether the switch's alarm exists on the switch metric (`DescribeAlarms`).
pub async fn switch_alarm_exists(aws: &RegionalClients, switch: &MetricSwitch) -> Result<bool, AwsError> {
    let out = aws
        .cloudwatch
        .describe_alarms()
        .alarm_names(&switch.alarm_name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("monitoring", "DescribeAlarms", &aws.region, e))?;
    Ok(out.metric_alarms().iter().any(|a| {
        a.metric_name() == Some(SWITCH_METRIC)
            && a.namespace() == Some(SWITCH_NAMESPACE)
            && a.dimensions().contains(&switch.dimension())
    }))
}

/// Creates or replaces the switch's alarm: ALARM on one 10-second datapoint of 1. Missing data
/// keeps the state (`ignore`), so the switch stays where the last publication put it without
/// the operator publishing again.
pub async fn put_switch_alarm(aws: &RegionalClients, switch: &MetricSwitch) -> Result<(), AwsError> {
    aws.cloudwatch
        .put_metric_alarm()
        .alarm_name(&switch.alarm_name)
        .alarm_description("pilot-light traffic switch: ALARM sends traffic to the standby region")
        .namespace(SWITCH_NAMESPACE)
        .metric_name(SWITCH_METRIC)
        .dimensions(switch.dimension())
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(SWITCH_PERIOD)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("ignore")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("monitoring", "PutMetricAlarm", &aws.region, e))?;
    Ok(())
}

/// Publishes the switch: `to_standby` 1, else 0.
pub async fn publish_switch(aws: &RegionalClients, switch: &MetricSwitch, to_standby: bool) -> Result<(), AwsError> {
    let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
        .metric_name(SWITCH_METRIC)
        .dimensions(switch.dimension())
        .value(if to_standby { 1.0 } else { 0.0 })
        .storage_resolution(1)
        .timestamp(DateTime::from(std::time::SystemTime::now()))
        .build();
    aws.cloudwatch
        .put_metric_data()
        .namespace(SWITCH_NAMESPACE)
        .metric_data(datum)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("monitoring", "PutMetricData", &aws.region, e))?;
    Ok(())
}

/// Deletes the switch's alarm (deletionPolicy `Delete`).
pub async fn delete_alarm(aws: &RegionalClients, name: &str) -> Result<(), AwsError> {
    aws.cloudwatch
        .delete_alarms()
        .alarm_names(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("monitoring", "DeleteAlarms", &aws.region, e))?;
    Ok(())
}
