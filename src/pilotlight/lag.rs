//! A replication-lag sample as both database engines judge and show it (Aurora's
//! `AuroraGlobalDBReplicationLag`, RDS's `ReplicaLag`, both published every minute).

use std::time::Duration;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use crate::{api::DatabaseStatus, aws::cloudwatch::LagSample};

/// A datapoint older than this means RDS stopped reporting: replication may have stopped.
pub const STALE_AFTER: Duration = Duration::from_secs(180);

/// How a sample compares with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Older than [`STALE_AFTER`] (seconds old).
    Stale(i64),
    High,
    Within,
}

/// Seconds between the sample and `observed_at` (seconds since the epoch).
pub fn age(sample: LagSample, observed_at: i64) -> i64 {
    observed_at.saturating_sub(sample.at_epoch_seconds)
}

pub fn judge(sample: LagSample, observed_at: i64, max: Duration) -> Verdict {
    let age = age(sample, observed_at);
    if age > STALE_AFTER.as_secs() as i64 {
        Verdict::Stale(age)
    } else if sample.milliseconds > max.as_secs_f64() * 1000.0 {
        Verdict::High
    } else {
        Verdict::Within
    }
}

/// Writes the sample into the status; the LAG column must not show an old sample as if it were
/// current.
pub fn describe(status: &mut DatabaseStatus, sample: LagSample, observed_at: i64) {
    let age = age(sample, observed_at);
    status.replication_lag_ms = Some(sample.milliseconds);
    status.replication_lag = Some(match age > STALE_AFTER.as_secs() as i64 {
        true => format!("{} ({age}s old, stale)", format(sample.milliseconds)),
        false => format(sample.milliseconds),
    });
    status.replication_lag_observed_at = Timestamp::from_second(sample.at_epoch_seconds).ok().map(Time);
}

/// `120ms`, `3.2s`, `2m5s`.
pub fn format(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{}ms", ms.round() as i64)
    } else if ms < 60_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else {
        let secs = (ms / 1000.0).round() as i64;
        format!("{}m{}s", secs / 60, secs % 60)
    }
}
