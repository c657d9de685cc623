//! The PilotLight's watch on its primary region, and its drill schedule (spec and status).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::GoDuration;

/// Watching the primary region (the seed's Step 4), and what to do when it fails.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DetectionSpec {
    /// `Notify`: a `PrimaryHealthy` condition, a Warning Event and a metric. `Propose`: also one
    /// Failover request that waits for a person's approval. `Automatic`: one that runs at once.
    #[serde(default)]
    pub mode: DetectionMode,
    /// How long the primary must be unhealthy without a break before anything is proposed or
    /// done (a flap shorter than this creates nothing).
    #[serde(default = "default_unhealthy_for")]
    pub unhealthy_for: GoDuration,
    /// CloudWatch alarms in the primary region whose `ALARM` state also means the primary is
    /// failing (besides the Route 53 health check of `spec.traffic.route53`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub alarms: Vec<String>,
    /// Nothing is proposed or done this long after the last failover, switchover or failback.
    #[serde(default = "default_cooldown")]
    pub cooldown: GoDuration,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DetectionMode {
    #[default]
    Notify,
    Propose,
    Automatic,
}

fn default_unhealthy_for() -> GoDuration {
    GoDuration("3m".into())
}

fn default_cooldown() -> GoDuration {
    GoDuration("1h".into())
}

/// Regular drills (the seed's Step 5: a DR plan you have never tested is not a DR plan).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DrillScheduleSpec {
    /// Cron schedule, five fields (minute hour day-of-month month day-of-week), e.g.
    /// `0 10 * * 2` for Tuesdays at 10:00. Numbers, `*`, ranges `a-b`, lists `a,b` and steps `/n`.
    #[x_kube(validation = kube::core::Rule::new("self.matches('^\\\\S+( +\\\\S+){4}$')").message("drills.schedule must have five fields: minute hour day-of-month month day-of-week"))]
    #[schemars(length(max = 100))]
    pub schedule: String,
    /// IANA time zone of the schedule, e.g. `Europe/Berlin`.
    #[serde(default = "default_time_zone")]
    #[schemars(length(max = 64))]
    pub time_zone: String,
    /// `DrillPassed` turns False when the last drill is older than this.
    #[serde(default = "default_max_drill_age")]
    pub max_age: GoDuration,
}

fn default_time_zone() -> String {
    "UTC".into()
}

fn default_max_drill_age() -> GoDuration {
    GoDuration("168h".into())
}

/// What the operator last saw of the primary region.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryHealthStatus {
    /// Whether the primary is healthy (absent: not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// Since when it has been as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Time>,
    /// The evidence: which checkers and alarms said what.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The FailoverRequest created for this spell of ill health, if any (one per spell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_name: Option<String>,
}

/// The drill schedule as the operator follows it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DrillScheduleStatus {
    /// The schedule and time zone `nextAt` was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// When the next scheduled drill is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Time>,
    /// The last drill the schedule created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_request_name: Option<String>,
}

/// One line of the PilotLight's recent history (kept short: the newest entries).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub time: Time,
    /// What changed: `Ready`, `NotReady`, `DrillSucceeded`, `DrillFailed`, ...
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Entries kept in each history list.
pub const HISTORY_LIMIT: usize = 10;

/// `history` with `entry` appended, keeping the newest [`HISTORY_LIMIT`].
pub fn with_entry(history: &[HistoryEntry], entry: HistoryEntry) -> Vec<HistoryEntry> {
    let mut out: Vec<HistoryEntry> = history.to_vec();
    out.push(entry);
    let excess = out.len().saturating_sub(HISTORY_LIMIT);
    out.drain(..excess);
    out
}
