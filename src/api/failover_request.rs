//! `FailoverRequest`: an immutable order to fail over, switch over, drill or fail back, executed
//! once as a journaled plan. Only `approvedBy` and `cancel` may change after creation.

// Every `printcolumn(...)` repeats `type_ = "string"`, which clippy mistakes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An order to move an application between its regions (or to rehearse it), executed once.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "pilotlight.dev",
    version = "v1alpha1",
    kind = "FailoverRequest",
    plural = "failoverrequests",
    shortname = "fr",
    shortname = "failover",
    category = "pilot-light",
    namespaced,
    status = "FailoverRequestStatus",
    doc = "An order to fail over, switch over, drill or fail back a PilotLight, executed once as a journaled plan.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(
        name = "Target",
        type_ = "string",
        json_path = ".spec.pilotLightRef.name",
        description = "The PilotLight it acts on"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Step", type_ = "string", json_path = ".status.currentStep"),
    printcolumn(
        name = "RTO(s)",
        type_ = "number",
        json_path = ".status.recoveryTimeSeconds",
        description = "Measured recovery time in seconds"
    ),
    printcolumn(
        name = "RPO(s)",
        type_ = "number",
        json_path = ".status.dataLossWindowSeconds",
        description = "Data loss window in seconds"
    ),
    printcolumn(
        name = "RPO-Basis",
        type_ = "string",
        json_path = ".status.dataLoss.basis",
        description = "Measured, Bound, Zero or Unknown (status.dataLoss.reason says why)"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.message",
        description = "What happened and what is left to do",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(oldSelf.approvedBy) || has(self.approvedBy)").message("spec.approvedBy cannot be removed once set"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.prewarm) || !self.prewarm || self.type == 'Drill'").message("spec.prewarm is for a Drill; a Failover or Switchover is prewarmed by the PilotLight's spec.failover.prewarm while it awaits approval"))]
pub struct FailoverRequestSpec {
    /// The PilotLight to act on, in the same namespace.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.pilotLightRef is immutable; create a new FailoverRequest"))]
    pub pilot_light_ref: PilotLightRef,
    /// What to do.
    #[serde(rename = "type")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.type is immutable; create a new FailoverRequest"))]
    pub type_: FailoverType,
    /// Why, for the record (an incident number, a drill ticket).
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.reason is immutable"))]
    pub reason: String,
    /// Only write the plan into `status.steps`; make no mutating AWS call.
    #[serde(default)]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.dryRun is immutable"))]
    pub dry_run: bool,
    /// Fail over even though the standby is not Ready.
    #[serde(default)]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.force is immutable"))]
    pub force: bool,
    /// The user who approved the request (a different person from its creator). May be set once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.approvedBy may be set only once"))]
    pub approved_by: Option<String>,
    /// Drill only: first warm the standby group to the prewarm capacity and wait for it to be
    /// healthy (step PrewarmCompute), then measure the drill from warm: the time to healthy an
    /// approved failover takes after `spec.failover.prewarm`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.prewarm is immutable"))]
    pub prewarm: bool,
    /// Set to true to stop the request before its next step. Cannot be undone.
    #[serde(default)]
    #[x_kube(validation = kube::core::Rule::new("self || !oldSelf").message("spec.cancel cannot be unset once true"))]
    pub cancel: bool,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PilotLightRef {
    /// Name of the PilotLight.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')").message("pilotLightRef.name must be a Kubernetes object name (lowercase letters, digits, '-' and '.')"))]
    pub name: String,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverType {
    /// Unplanned: promote the standby even if the primary region is unreachable; may lose the
    /// replication lag's worth of writes.
    Failover,
    /// Planned: zero data loss; needs the primary region.
    Switchover,
    /// Rehearsal: scale standby compute up, smoke-test, scale back. No data or DNS change.
    Drill,
    /// A switchover back to the original primary region.
    Failback,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestPhase {
    Pending,
    AwaitingApproval,
    Running,
    Succeeded,
    Failed,
    Rejected,
    Cancelled,
}

impl RequestPhase {
    /// A phase the request never leaves.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Rejected | Self::Cancelled)
    }
}

/// How the operator classifies a request; the one place that reads its phase for that.
impl FailoverRequest {
    /// A new request against `pilotlight`, named after it (`generateName`), recording `creator`
    /// (the admission policy checks it against the user who created it).
    pub fn against(pilotlight: &str, type_: FailoverType, reason: &str, creator: &str) -> Self {
        let prefix = format!("{pilotlight}-{}-", format!("{type_:?}").to_lowercase());
        Self {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                generate_name: Some(prefix),
                annotations: Some([(super::CREATED_BY.to_owned(), creator.to_owned())].into()),
                ..Default::default()
            },
            spec: FailoverRequestSpec {
                pilot_light_ref: PilotLightRef {
                    name: pilotlight.to_owned(),
                },
                type_,
                reason: reason.to_owned(),
                dry_run: false,
                force: false,
                approved_by: None,
                prewarm: false,
                cancel: false,
            },
            status: None,
        }
    }

    pub fn phase(&self) -> Option<RequestPhase> {
        self.status.as_ref().and_then(|s| s.phase)
    }

    /// Still holds its PilotLight: not yet admitted (no phase, Pending), awaiting approval or
    /// running.
    pub fn is_active(&self) -> bool {
        !self.phase().is_some_and(RequestPhase::is_final)
    }

    /// Active and not a dry run: it will change AWS, or may.
    pub fn is_open(&self) -> bool {
        !self.spec.dry_run && self.is_active()
    }

    pub fn is_running(&self) -> bool {
        self.phase() == Some(RequestPhase::Running)
    }

    pub fn is_final(&self) -> bool {
        self.phase().is_some_and(RequestPhase::is_final)
    }

    /// Whether the request is against the PilotLight `name` in `namespace`.
    pub fn targets(&self, namespace: Option<&str>, name: &str) -> bool {
        kube::ResourceExt::namespace(self).as_deref() == namespace && self.spec.pilot_light_ref.name == name
    }
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FailoverRequestStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RequestPhase>,
    /// Step running now (or last run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    /// The plan and its journal: written before and after every mutating call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub steps: Vec<StepStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    /// RTO in seconds: from creation (or approval) until traffic was switched (`recoveryTime`'s
    /// number, for columns and dashboards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<f64>,
    /// RPO in seconds: the replication lag when an unplanned failover began, 0 for a switchover
    /// (`dataLoss`'s number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_loss_window_seconds: Option<f64>,
    /// The RTO with its basis; set when the request ends, whatever its phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time: Option<super::Estimate>,
    /// The RPO with its basis (measured, bound, zero or unknown and why); set when the plan
    /// starts. For a drill: what a failover at that moment would have lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_loss: Option<super::Estimate>,
    /// A sentence for people: why the request is where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// One step of the plan and its journal entry.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    pub name: String,
    pub state: StepState,
    /// Steps that must succeed before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    #[serde(default)]
    pub attempts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The AWS operation this step started and waits for (a Route 53 change id), so that a
    /// restarted operator waits for it instead of repeating the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
    /// Its region does not answer; retried until it does, after the request succeeded.
    Deferred,
}
