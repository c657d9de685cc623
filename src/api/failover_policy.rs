//! `spec.failover`: the rules for FailoverRequests against a PilotLight (approval, the drill's
//! smoke test, prewarming the standby while people decide).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::schema::GoDuration;

/// Rules for FailoverRequests against this PilotLight.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FailoverPolicy {
    /// Whether a second person must approve before the first mutating step.
    #[serde(default)]
    pub approval: ApprovalPolicy,
    /// Allow a Failover that may lose data (`AllowDataLoss`) to run without approval.
    #[serde(default)]
    pub allow_data_loss_without_approval: bool,
    /// The HTTP check a Drill makes against the standby endpoint once its targets are healthy.
    #[serde(default)]
    pub smoke_test: SmokeTestSpec,
    /// Scale the standby compute up while people decide, so that an approved failover finds it
    /// warm. Only the standby Auto Scaling Group is touched: the database, traffic and the
    /// primary region are left alone. Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prewarm: Option<PrewarmSpec>,
}

/// When and how far to prewarm the standby compute.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.onSuspicion || self.onRequest").message("spec.failover.prewarm needs onSuspicion or onRequest (or both); remove it to turn prewarming off"))]
pub struct PrewarmSpec {
    /// While detection sees the primary unhealthy (from the first failed look, before
    /// `spec.detection.unhealthyFor` ends); back to zero `cooldown` after it recovers.
    #[serde(default)]
    pub on_suspicion: bool,
    /// While a Failover or Switchover request waits for approval; back to zero when it is
    /// rejected or cancelled.
    #[serde(default)]
    pub on_request: bool,
    /// Desired capacity while prewarmed. Default: `spec.compute.autoScalingGroup.failover`'s
    /// desired capacity (the failover then only verifies health).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub capacity: Option<i32>,
    /// A prewarm that lasts this long scales back to zero and says so; it does not start again
    /// for the same suspicion or request.
    #[serde(default = "default_prewarm_max_duration")]
    pub max_duration: GoDuration,
    /// How long the standby stays warm after the primary recovers (`onSuspicion`).
    #[serde(default = "default_prewarm_cooldown")]
    pub cooldown: GoDuration,
}

fn default_prewarm_max_duration() -> GoDuration {
    GoDuration("30m".into())
}

fn default_prewarm_cooldown() -> GoDuration {
    GoDuration("5m".into())
}

/// An HTTP GET against the standby region's endpoint.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SmokeTestSpec {
    /// Base URL of the standby endpoint. Default: `https://` and the standby alias target's DNS
    /// name (`spec.traffic.route53.standbyTarget.dnsName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^https?://[^/?#]+(/.*)?$')").message("smokeTest.url must be an http:// or https:// URL"))]
    #[schemars(length(max = 2048))]
    pub url: Option<String>,
    /// Path requested on the endpoint.
    #[serde(default = "default_smoke_path")]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('/')").message("smokeTest.path must start with /"))]
    #[schemars(length(max = 1024))]
    pub path: String,
    /// HTTP status that counts as passing.
    #[serde(default = "default_smoke_status")]
    #[schemars(range(min = 100, max = 599))]
    pub expected_status: u16,
    /// How long one attempt may take; the smoke test tries three times.
    #[serde(default = "default_smoke_timeout")]
    pub timeout: GoDuration,
}

impl Default for SmokeTestSpec {
    fn default() -> Self {
        Self {
            url: None,
            path: default_smoke_path(),
            expected_status: default_smoke_status(),
            timeout: default_smoke_timeout(),
        }
    }
}

fn default_smoke_path() -> String {
    "/".into()
}

fn default_smoke_status() -> u16 {
    200
}

fn default_smoke_timeout() -> GoDuration {
    GoDuration("10s".into())
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ApprovalPolicy {
    /// Cutover waits in `AwaitingApproval` until `spec.approvedBy` is set by another user.
    #[serde(default = "default_true")]
    pub required: bool,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self { required: true }
    }
}

fn default_true() -> bool {
    true
}
