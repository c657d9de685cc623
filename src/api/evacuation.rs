//! `Evacuation`: one approved order that fails over (switches over, drills, fails back) a set of
//! PilotLights, in priority tiers, a few at a time. Cluster-scoped, because an estate's
//! PilotLights live in one namespace per application and a region outage hits all of them: one
//! object, one approval, one status for the whole set, and creating one needs a ClusterRole that
//! the platform team holds, not every application team.

// Every `printcolumn(...)` repeats `type_ = "string"`, which clippy mistakes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::{CustomResource, KubeSchema, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AwsRegion, CREATED_BY, FailoverRequest, FailoverType};

/// Label on every FailoverRequest an Evacuation creates: the Evacuation's name.
pub const EVACUATION_LABEL: &str = "pilotlight.dev/evacuation";

/// Label on a PilotLight giving its priority tier (0 first). PilotLights without it (or with a
/// value that is not a number from 0 to 99) go last.
pub const TIER_LABEL: &str = "pilotlight.dev/tier";

/// The tier of a PilotLight without a usable [`TIER_LABEL`]: after every labelled tier.
pub const LAST_TIER: u32 = 100;

/// An order to fail over, switch over, drill or fail back many PilotLights at once, approved once.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "pilotlight.dev",
    version = "v1alpha1",
    kind = "Evacuation",
    plural = "evacuations",
    shortname = "evac",
    category = "pilot-light",
    status = "EvacuationStatus",
    doc = "An order to fail over, switch over, drill or fail back a set of PilotLights, approved once, run in tiers within AWS's rate limits.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Members", type_ = "integer", json_path = ".status.counts.total"),
    printcolumn(name = "Succeeded", type_ = "integer", json_path = ".status.counts.succeeded"),
    printcolumn(name = "Running", type_ = "integer", json_path = ".status.counts.running"),
    printcolumn(name = "Failed", type_ = "integer", json_path = ".status.counts.failed"),
    printcolumn(name = "Skipped", type_ = "integer", json_path = ".status.counts.skipped"),
    printcolumn(
        name = "P95-RTO(s)",
        type_ = "number",
        json_path = ".status.recoveryTimeP95Seconds",
        description = "95th percentile of the members' measured RTO"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Message", type_ = "string", json_path = ".status.message", priority = 1)
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.selector) || (has(self.pilotLights) && size(self.pilotLights) > 0)").message("name the PilotLights to evacuate: spec.selector, spec.pilotLights or both"))]
#[x_kube(validation = kube::core::Rule::new("!has(oldSelf.approvedBy) || has(self.approvedBy)").message("spec.approvedBy cannot be removed once set"))]
pub struct EvacuationSpec {
    /// What to do to every PilotLight of the set.
    #[serde(rename = "type")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.type is immutable; create a new Evacuation"))]
    pub type_: FailoverType,
    /// Why, for the record (an incident number); copied into every request.
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.reason is immutable"))]
    pub reason: String,
    /// Only PilotLights whose active region is this one: the region being evacuated. The others
    /// of the set are reported Skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.fromRegion is immutable"))]
    pub from_region: Option<AwsRegion>,
    /// Namespaces `selector` looks in; empty: every namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.namespaces is immutable"))]
    pub namespaces: Vec<String>,
    /// PilotLights whose labels match, in `namespaces`. `{}` matches every PilotLight there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.selector is immutable"))]
    pub selector: Option<LabelSelector>,
    /// PilotLights named one by one (in addition to those `selector` picks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5000))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.pilotLights is immutable"))]
    pub pilot_lights: Vec<PilotLightKey>,
    /// Requests running at the same time, across tiers. May be changed while it runs.
    #[serde(default = "default_max_concurrent")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_concurrent: u32,
    /// Also fail over PilotLights that are not Ready (each request gets `force`).
    #[serde(default)]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.force is immutable"))]
    pub force: bool,
    /// Create every request as a dry run: each writes its plan, nothing changes in AWS, and no
    /// approval is needed.
    #[serde(default)]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.dryRun is immutable"))]
    pub dry_run: bool,
    /// The user who approved the evacuation (a different person from its creator); the one
    /// approval of every request it creates. May be set once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.approvedBy may be set only once"))]
    pub approved_by: Option<String>,
    /// Set to true to start no further request; the running ones finish. Cannot be undone.
    #[serde(default)]
    #[x_kube(validation = kube::core::Rule::new("self || !oldSelf").message("spec.cancel cannot be unset once true"))]
    pub cancel: bool,
}

fn default_max_concurrent() -> u32 {
    10
}

/// A PilotLight named by namespace and name.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PilotLightKey {
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

impl std::fmt::Display for PilotLightKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvacuationPhase {
    Pending,
    AwaitingApproval,
    Running,
    /// Every member ended and none failed.
    Succeeded,
    /// Every member ended and at least one failed (`status.failures` says which and why).
    Failed,
    /// Cancelled: no further request was started; the running ones finished.
    Cancelled,
}

impl EvacuationPhase {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// Where one PilotLight of the set is.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberPhase {
    /// No request yet: awaiting approval, its tier or a free slot.
    Waiting,
    /// Its request exists and has not ended.
    Running,
    Succeeded,
    Failed,
    /// No request was made, or its request was rejected (`message` says why).
    Skipped,
    Cancelled,
}

impl MemberPhase {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Skipped | Self::Cancelled)
    }
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EvacuationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<EvacuationPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the approval (or, for a dry run, the creation) was seen and requests began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    /// The first and the last member whose request ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_completed_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed_at: Option<Time>,
    /// Median and 95th percentile of the members' measured RTO (each request's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_p50_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_p95_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<MemberCounts>,
    /// A sentence for people: where the evacuation is and what is left to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The members that failed, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<MemberFailure>,
    /// The set, fixed when the evacuation was first seen (what the approver approves), in the
    /// order requests are started: by tier, then namespace and name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<EvacuationMember>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct MemberCounts {
    pub total: u32,
    pub waiting: u32,
    pub running: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub skipped: u32,
    pub cancelled: u32,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MemberFailure {
    /// `namespace/name` of the PilotLight.
    pub pilot_light: String,
    pub reason: String,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EvacuationMember {
    pub namespace: String,
    pub name: String,
    /// Its priority tier (label `pilotlight.dev/tier`; 100 when it has none).
    pub tier: u32,
    pub phase: MemberPhase,
    /// Why a request for it would be refused now (not Ready, already failed over), and whether
    /// `force` would start it anyway; absent when it can start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<String>,
    /// Its FailoverRequest, in its namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
}

impl EvacuationMember {
    pub fn key(&self) -> PilotLightKey {
        PilotLightKey {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

impl Evacuation {
    pub fn phase(&self) -> Option<EvacuationPhase> {
        self.status.as_ref().and_then(|s| s.phase)
    }

    /// Approved by someone other than its creator.
    pub fn approved(&self) -> bool {
        match (&self.spec.approved_by, self.annotations().get(CREATED_BY)) {
            (Some(by), Some(creator)) => by != creator,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The name of the FailoverRequest this evacuation creates for `pilotlight`: fixed, so that a
    /// restarted operator finds the request it made instead of making a second one.
    pub fn request_name(&self, pilotlight: &str) -> String {
        let name = format!("{}-{pilotlight}", self.name_any());
        if name.len() <= 253 {
            return name;
        }
        // FNV-1a: stable across builds, unlike the standard library's hasher.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let cut = name
            .char_indices()
            .take_while(|(i, _)| *i < 236)
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        format!("{}-{hash:016x}", name[..cut].trim_end_matches(['-', '.']))
    }

    /// Who approved `request` through this evacuation: the evacuation's approver, when the
    /// request is the one this evacuation makes for its PilotLight (its name, type, force and
    /// dry run) and the evacuation is approved and owns it. A request that differs in any of
    /// these needs its own approval.
    pub fn approver_of(&self, request: &FailoverRequest) -> Option<String> {
        let owned = request
            .owner_references()
            .iter()
            .any(|o| o.kind == "Evacuation" && Some(&o.uid) == self.metadata.uid.as_ref());
        let expected = request.name_any() == self.request_name(&request.spec.pilot_light_ref.name)
            && request.spec.type_ == self.spec.type_
            && request.spec.force == self.spec.force
            && request.spec.dry_run == self.spec.dry_run;
        (owned && expected && self.approved()).then(|| {
            format!(
                "{} (Evacuation {})",
                self.spec.approved_by.clone().unwrap_or_default(),
                self.name_any()
            )
        })
    }
}
