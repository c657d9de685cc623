//! `PilotLight` status: what the operator observed of the DR setup, and the last failover and
//! drill.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of the DR setup.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PilotLightStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Region currently serving (the Aurora writer's region when a database is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_region: Option<String>,
    /// One-word summary: Converging, Ready, Degraded or Error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Ready, one condition per component, and detection's `PrimaryHealthy` and `DrillPassed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Aurora global database state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseStatus>,
    /// S3 replication state, one entry per bucket pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageStatus>,
    /// Standby compute state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<ComputeStatus>,
    /// Route 53 state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficStatus>,
    /// The DR cache (`spec.cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheStatus>,
    /// Outcome of the last failover, switchover or failback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<FailoverOutcome>,
    /// Outcome of the last drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<FailoverOutcome>,
    /// The primary region as the detection loop last saw it (`spec.detection`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_health: Option<super::PrimaryHealthStatus>,
    /// The drill schedule's progress (`spec.drills`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_schedule: Option<super::DrillScheduleStatus>,
    /// Recent readiness transitions, newest last.
    /// The current or last prewarm of the standby compute (`spec.failover.prewarm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prewarm: Option<PrewarmStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readiness_history: Vec<super::HistoryEntry>,
    /// Recent drill outcomes, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drill_history: Vec<super::HistoryEntry>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Resources are being created or changed.
    Converging,
    /// Everything converged and within thresholds.
    Ready,
    /// Converged but a threshold is exceeded, or a region is unreachable.
    Degraded,
    /// The spec cannot be converged until a person fixes something.
    Error,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_cluster_arn: Option<String>,
    /// Status of the global cluster (`available`, `switching-over`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_cluster_status: Option<String>,
    /// Region of the writer cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_region: Option<String>,
    /// ARN of the writer cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_cluster_arn: Option<String>,
    /// Endpoint of the writer cluster: what applications connect to (also in the endpoints
    /// ConfigMap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_endpoint: Option<String>,
    /// The global database's writer endpoint: it follows the writer through a switchover or a
    /// failover, so applications using it need no change at all (also in the endpoints
    /// ConfigMap as `databaseGlobalWriterEndpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_writer_endpoint: Option<String>,
    /// Members of the global cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<GlobalClusterMemberStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_cluster_arn: Option<String>,
    /// Status of the standby cluster (`creating`, `available`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_cluster_status: Option<String>,
    /// Status of the standby instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_instance_status: Option<String>,
    /// Latest `AuroraGlobalDBReplicationLag` in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_lag_ms: Option<f64>,
    /// The same, for people: `120ms`, `3.2s`, or `unknown` when no datapoint exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_lag: Option<String>,
    /// Timestamp of the lag datapoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_lag_observed_at: Option<Time>,
    /// The RDS instance and its read replica (`spec.database.rds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds: Option<RdsInstancesStatus>,
}

/// The DR cache as last seen in the standby region.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatus {
    /// `creating`, `available`, `deleting`; absent while no cache exists (steady state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `address:port` of the cache applications use after a failover (also in the endpoints
    /// ConfigMap as `cacheEndpoint` while the standby region serves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// Which RDS instance writes, which replicates from it, and which were left behind.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RdsInstancesStatus {
    /// The instance that takes the writes (the source, or the replica a failover promoted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<RdsInstanceRef>,
    /// The read replica of the writer in the other region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<RdsInstanceRef>,
    /// The replica's read replication state (`StatusInfos`: `replicating`, `error`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_state: Option<String>,
    /// Former writers a failover left behind: they hold data written before it and are never
    /// deleted by the operator; delete them once their data is no longer needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphaned: Vec<RdsInstanceRef>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RdsInstanceRef {
    pub region: String,
    pub identifier: String,
    /// `available`, `creating`, `modifying`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_class: Option<String>,
    /// When a failover promoted it (its `pilotlight.dev/promoted-at` tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_at: Option<String>,
}

/// The standby region's dormant compute as observed.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ComputeStatus {
    /// The AMI copy in the standby region that the launch template uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// State of the copy: pending, available, failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_state: Option<String>,
    /// Age of the copy, e.g. `3d4h`; compared with `spec.compute.maxImageAge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_age: Option<String>,
    /// When the copy was made: the age's origin, and the `standby_image_age_seconds` metric's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_created_at: Option<Time>,
    /// Default version of the launch template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template_version: Option<i64>,
    /// The standby group's min/desired/max, e.g. `0/0/10`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group: Option<String>,
    /// Instances in the standby group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
}

/// Route 53 as observed.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TrafficStatus {
    /// The health check on the primary endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
    /// Where the application record points (an alias target's DNS name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_target: Option<String>,
    /// Where the database writer CNAME points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_record_target: Option<String>,
    /// The switch of `failoverRouting` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<SwitchStatus>,
}

/// The failover records' switch: where it sends traffic, and whether it can be flipped now.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SwitchStatus {
    #[serde(rename = "type")]
    pub type_: super::TrafficSwitch,
    /// The region the switch sends traffic to (when known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sends_to: Option<String>,
    /// Whether a failover can flip it now: its health checks (and alarm, or routing controls
    /// answering on at least one cluster endpoint) are in place.
    pub ready: bool,
    /// Why it is not ready, or what it is made of.
    pub message: String,
    /// Health check whose health the PRIMARY failover record follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_health_check_id: Option<String>,
    /// Health check whose health the SECONDARY failover record follows (off until armed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_health_check_id: Option<String>,
    /// The routing controls (`routingControl`), one per region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routing_controls: Vec<RoutingControlRef>,
    /// The ARC cluster's five regional endpoints, bookmarked as AWS advises: a failover calls
    /// them directly, without the configuration API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_endpoints: Vec<ClusterEndpointRef>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RoutingControlRef {
    pub region: String,
    pub arn: String,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ClusterEndpointRef {
    pub region: String,
    pub endpoint: String,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct StorageStatus {
    /// The direction the last check protected: from the serving region to the other one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_to: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub s3: Vec<S3ReplicationStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dynamodb: Vec<DynamoDbReplicaStatus>,
}

/// One DynamoDB table and its replica in the standby region.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DynamoDbReplicaStatus {
    pub table_name: String,
    /// `TableStatus` in the primary region, or Missing.
    pub table_status: String,
    /// `ReplicaStatus` of the standby region's replica; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_status: Option<String>,
}

/// One replicated bucket pair as observed.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S3ReplicationStatus {
    pub source_bucket: String,
    pub destination_bucket: String,
    /// Versioning of the source bucket: Enabled, Suspended, Never or Missing (no bucket).
    pub source_versioning: String,
    /// Versioning of the destination bucket.
    pub destination_versioning: String,
    /// The operator's replication rule on the source bucket: Enabled, Disabled, Drifted or Missing.
    pub rule: String,
    /// After a failover, the rule on the destination bucket replicating back to the source
    /// (Enabled, Disabled or Missing); absent while the primary region serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse_rule: Option<String>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GlobalClusterMemberStatus {
    pub cluster_arn: String,
    pub region: String,
    pub is_writer: bool,
}

/// Outcome of a FailoverRequest, copied onto the PilotLight.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FailoverOutcome {
    pub request_name: String,
    #[serde(rename = "type")]
    pub type_: super::FailoverType,
    pub phase: super::RequestPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_loss_window_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time: Option<super::Estimate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_loss: Option<super::Estimate>,
    /// The region serving after the request (for a drill: the region that served throughout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_region: Option<String>,
    /// What happened, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One prewarm of the standby compute, from its start to its end.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrewarmStatus {
    pub state: PrewarmState,
    /// What started it.
    pub trigger: PrewarmTrigger,
    /// The FailoverRequest it waits for (`Request`), or the spell of ill health it follows
    /// (`Suspicion`: the spell's start).
    pub cause: String,
    /// When the standby was first asked to scale up.
    pub since: Time,
    /// Desired capacity while prewarmed.
    pub capacity: i32,
    pub instance_type: String,
    /// When it scales back unless it ends first (`spec.failover.prewarm.maxDuration`).
    pub expires_at: Time,
    /// `CoolingDown`: when it scales back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cools_down_at: Option<Time>,
    /// When it ended (scaled back, expired, or a request took the warm standby over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
    /// Instance-hours × the on-demand price table in docs/prewarm.md, so far (an estimate:
    /// no discounts, no EBS or data transfer); absent for an instance type not in the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost_usd: Option<f64>,
    /// Why it is in its state, for people.
    pub message: String,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrewarmState {
    /// Scaled up (or scaling up) and waiting.
    Warm,
    /// The primary recovered; scales back once the cool-down ends.
    CoolingDown,
    /// A FailoverRequest started and took the warm standby over.
    Used,
    /// Back to zero: the cause went away.
    ScaledBack,
    /// Back to zero after `maxDuration`, although the cause is still there.
    Expired,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrewarmTrigger {
    /// Detection sees the primary unhealthy.
    Suspicion,
    /// A Failover or Switchover request waits for approval.
    Request,
}
