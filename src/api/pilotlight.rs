//! `PilotLight`: the desired state of one application's pilot-light DR setup.
//!
//! Which region is active is observed state (`status.activeRegion`), never spec: after a failover
//! the operator protects the application in the other direction without anyone editing the spec.

// Every `printcolumn(...)` repeats `type_ = "string"`, which clippy mistakes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{
    AmiId, AwsRegion, BucketName, DbInstanceClass, GoDuration, HostedZoneId, IamRoleArn, RdsIdentifier,
    SecurityGroupId, SubnetId, TargetGroupArn,
};
use super::{CacheSpec, FailoverPolicy, TrafficSpec, pilotlight_status::PilotLightStatus};

/// A multi-region pilot-light disaster-recovery setup for one application: data replicated into
/// the standby region, compute dormant there, traffic and endpoints ready to switch.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "pilotlight.dev",
    version = "v1alpha1",
    kind = "PilotLight",
    plural = "pilotlights",
    shortname = "pl",
    category = "pilot-light",
    namespaced,
    status = "PilotLightStatus",
    doc = "A multi-region pilot-light disaster-recovery setup kept converged by the pilot-light operator.",
    printcolumn(
        name = "Active",
        type_ = "string",
        json_path = ".status.activeRegion",
        description = "Region currently serving (where the database writer is)"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        description = "Why Ready is what it is (kubectl pilotlight status NAME shows every condition)"
    ),
    printcolumn(
        name = "Lag",
        type_ = "string",
        json_path = ".status.database.replicationLag",
        description = "Database replication lag (Aurora global database or RDS read replica)"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "!has(oldSelf.database) || !has(oldSelf.database.aurora) || (has(self.database) && has(self.database.aurora) && self.database.aurora.globalClusterIdentifier == oldSelf.database.aurora.globalClusterIdentifier && self.database.aurora.primaryClusterIdentifier == oldSelf.database.aurora.primaryClusterIdentifier && self.database.aurora.standbyClusterIdentifier == oldSelf.database.aurora.standbyClusterIdentifier)"
).message("spec.database.aurora cannot be removed, nor its cluster identifiers changed, once set: the operator would build a second global database next to the first; create a new PilotLight instead"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(oldSelf.database) || !has(oldSelf.database.rds) || (has(self.database) && has(self.database.rds) && self.database.rds.sourceInstanceIdentifier == oldSelf.database.rds.sourceInstanceIdentifier && self.database.rds.replicaInstanceIdentifier == oldSelf.database.rds.replicaInstanceIdentifier)"
).message("spec.database.rds cannot be removed, nor its instance identifiers changed, once set: the operator would build a second replica next to the first; create a new PilotLight instead"))]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.database) || has(self.compute) || has(self.traffic) || (has(self.storage) && ((has(self.storage.s3) && size(self.storage.s3) > 0) || (has(self.storage.dynamodb) && size(self.storage.dynamodb) > 0)))"
).message("a PilotLight needs something to protect: at least one of spec.database, spec.storage (an s3 or dynamodb entry), spec.compute or spec.traffic"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.detection) || has(self.traffic) || (has(self.detection.alarms) && size(self.detection.alarms) > 0)"
).message("spec.detection needs a signal: spec.traffic.route53 (its health check) or spec.detection.alarms"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.failover) || !has(self.failover.prewarm) || has(self.compute)"
).message("spec.failover.prewarm scales the standby compute: it needs spec.compute"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.failover) || !has(self.failover.prewarm) || !self.failover.prewarm.onSuspicion || has(self.detection)"
).message("spec.failover.prewarm.onSuspicion follows detection's suspicion: it needs spec.detection"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.failover) || !has(self.failover.prewarm) || !has(self.failover.prewarm.capacity) || !has(self.compute) || self.failover.prewarm.capacity <= self.compute.autoScalingGroup.failover.maxSize"
).message("spec.failover.prewarm.capacity must not exceed spec.compute.autoScalingGroup.failover.maxSize"))]
pub struct PilotLightSpec {
    /// The two regions. They must differ.
    pub regions: Regions,
    /// The replicated database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseSpec>,
    /// Replicated object storage and tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
    /// Dormant compute in the standby region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<ComputeSpec>,
    /// DNS records and health checks that move traffic between the regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficSpec>,
    /// A cache created in the standby region only by a failover (or a drill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSpec>,
    /// How FailoverRequests against this PilotLight are allowed to run.
    #[serde(default)]
    pub failover: FailoverPolicy,
    /// Watching the primary region: notify, propose a failover, or fail over by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<super::DetectionSpec>,
    /// Drills on a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drills: Option<super::DrillScheduleSpec>,
    /// What deleting this PilotLight does to AWS resources. `Retain` (default) leaves everything;
    /// `Delete` removes only what the operator created and that holds no data. Clusters, buckets
    /// and tables are never deleted by the operator.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// The primary (normally active) and standby regions.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = kube::core::Rule::new("self.primary != self.standby").message("regions.primary and regions.standby must be different regions"))]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.regions cannot change: the DR setup lives in these regions; create a new PilotLight instead"))]
pub struct Regions {
    /// Region that serves traffic in normal operation, e.g. `us-east-1`.
    pub primary: AwsRegion,
    /// Region that holds the pilot light, e.g. `us-west-2`.
    pub standby: AwsRegion,
}

/// The replicated database: exactly one of `aurora` or `rds`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = kube::core::Rule::new("has(self.aurora) != has(self.rds)").message("spec.database needs exactly one of aurora (an Aurora global database) or rds (an RDS instance with a cross-region read replica)"))]
pub struct DatabaseSpec {
    /// An Aurora global database spanning both regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aurora: Option<AuroraSpec>,
    /// An RDS DB instance (MySQL, MariaDB, PostgreSQL, Oracle, SQL Server) with a cross-region
    /// read replica in the standby region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds: Option<RdsReplicaSpec>,
}

impl DatabaseSpec {
    /// The CNAME kept on the writer, whichever engine.
    pub fn writer_endpoint_record(&self) -> Option<&DnsRecordRef> {
        match (&self.aurora, &self.rds) {
            (Some(a), _) => a.writer_endpoint_record.as_ref(),
            (None, Some(r)) => r.writer_endpoint_record.as_ref(),
            (None, None) => None,
        }
    }

    /// Whether a failover grows the promoted database (a larger class, readers or replicas).
    pub fn scales_up_after_promotion(&self) -> bool {
        match (&self.aurora, &self.rds) {
            (Some(a), _) => a.promoted_instance_class.is_some() || a.promoted_readers > 0,
            (None, Some(r)) => r.promoted_instance_class.is_some() || r.promoted_replicas > 0,
            (None, None) => false,
        }
    }
}

/// An RDS DB instance in the primary region and its cross-region read replica in the standby
/// region (the first seed's database). A failover promotes the replica (`PromoteReadReplica`,
/// served by the standby region alone); the old instance is kept, never deleted, and reported.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.sourceInstanceIdentifier != self.replicaInstanceIdentifier").message("spec.database.rds.replicaInstanceIdentifier must differ from sourceInstanceIdentifier (after a failover the replica back into the primary region takes the replica's name there)"))]
pub struct RdsReplicaSpec {
    /// Existing DB instance in the primary region. It must exist; the operator never creates,
    /// modifies or deletes it.
    pub source_instance_identifier: RdsIdentifier,
    /// Read replica in the standby region: created from the source's ARN if missing, adopted if
    /// it already replicates from the source.
    pub replica_instance_identifier: RdsIdentifier,
    /// Instance class of the standby replica. Defaults to the source's class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_instance_class: Option<DbInstanceClass>,
    /// Storage type of the replica. Defaults to the source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<RdsStorageType>,
    /// DB subnet group for the replica, in the standby region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub db_subnet_group_name: Option<String>,
    /// VPC security groups for the replica, in the standby region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub vpc_security_group_ids: Vec<SecurityGroupId>,
    /// KMS key in the standby region for the replica's storage: required when the source is
    /// encrypted (RDS cannot use the source region's key in another region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub kms_key_id: Option<String>,
    /// KMS key in the primary region for the replica created back there after a failover (the
    /// way back for a failback); required when the source is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub primary_kms_key_id: Option<String>,
    /// Readiness threshold: above this `ReplicaLag` `DatabaseReplicating` is False.
    #[serde(default = "default_rds_max_replication_lag")]
    pub max_replication_lag: GoDuration,
    /// Instance class the promoted instance is resized to after a failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_instance_class: Option<DbInstanceClass>,
    /// Read replicas of the promoted instance created in its region after a failover (the
    /// seed's "DB slave").
    #[serde(default)]
    #[schemars(range(min = 0, max = 5))]
    pub promoted_replicas: i32,
    /// A CNAME kept on the writer instance's endpoint, so applications never change their
    /// connection string after a failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_endpoint_record: Option<DnsRecordRef>,
}

fn default_rds_max_replication_lag() -> GoDuration {
    GoDuration("30s".into())
}

/// RDS storage types; the names are RDS's own.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RdsStorageType {
    Gp2,
    Gp3,
    Io1,
    Io2,
    Standard,
}

impl RdsStorageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gp2 => "gp2",
            Self::Gp3 => "gp3",
            Self::Io1 => "io1",
            Self::Io2 => "io2",
            Self::Standard => "standard",
        }
    }
}

/// An Aurora global database: the existing primary cluster plus a small secondary cluster in the
/// standby region.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.primaryClusterIdentifier != self.standbyClusterIdentifier").message("spec.database.aurora.standbyClusterIdentifier must differ from primaryClusterIdentifier"))]
pub struct AuroraSpec {
    /// Global cluster to adopt; created from the primary cluster if it does not exist.
    pub global_cluster_identifier: RdsIdentifier,
    /// Existing cluster in the primary region. It must exist; the operator never creates or
    /// deletes it.
    pub primary_cluster_identifier: RdsIdentifier,
    /// Secondary cluster in the standby region; created (with one instance) if missing.
    pub standby_cluster_identifier: RdsIdentifier,
    /// Identifier of the standby cluster's instance. Defaults to `<standbyClusterIdentifier>-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_instance_identifier: Option<RdsIdentifier>,
    /// Instance class of the standby (pilot) instance.
    #[serde(default = "default_standby_instance_class")]
    pub standby_instance_class: DbInstanceClass,
    /// Instance class the promoted cluster's writer is scaled to after a failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_instance_class: Option<DbInstanceClass>,
    /// Readers added to the promoted cluster after a failover.
    #[serde(default)]
    #[schemars(range(min = 0, max = 15))]
    pub promoted_readers: i32,
    /// DB subnet group for the standby cluster, in the standby region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    /// VPC security groups for the standby cluster, in the standby region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub vpc_security_group_ids: Vec<SecurityGroupId>,
    /// KMS key for the standby cluster's storage, in the standby region (required when the
    /// primary cluster is encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Readiness threshold: above this replication lag `DatabaseReplicating` is False.
    #[serde(default = "default_max_replication_lag")]
    pub max_replication_lag: GoDuration,
    /// A CNAME kept on the active writer endpoint, so applications never change their
    /// connection string after a failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_endpoint_record: Option<DnsRecordRef>,
}

fn default_standby_instance_class() -> DbInstanceClass {
    DbInstanceClass("db.r5.large".into())
}

fn default_max_replication_lag() -> GoDuration {
    GoDuration("5s".into())
}

/// A DNS record in a Route 53 hosted zone.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecordRef {
    /// Route 53 hosted zone id, e.g. `Z0123456789ABCDEFGHIJ`.
    pub hosted_zone_id: HostedZoneId,
    /// Fully qualified record name, e.g. `db.example.com`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Record TTL in seconds.
    #[serde(default = "default_ttl")]
    #[schemars(range(min = 0, max = 86400))]
    pub ttl: i64,
}

fn default_ttl() -> i64 {
    60
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct StorageSpec {
    /// S3 cross-region replication pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["sourceBucket".into()]))]
    #[schemars(length(max = 10))]
    pub s3: Vec<S3ReplicationSpec>,
    /// DynamoDB tables that get a global-table replica in the standby region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["tableName".into()]))]
    #[schemars(length(max = 25))]
    pub dynamodb: Vec<DynamoDbTableSpec>,
}

/// Replication from a bucket in the primary region to one in the standby region. Bucket names are
/// global, so the two names differ; the endpoints ConfigMap tells applications which is active.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.sourceBucket != self.destinationBucket").message("sourceBucket and destinationBucket must differ (bucket names are global)"))]
pub struct S3ReplicationSpec {
    /// Bucket in the primary region.
    pub source_bucket: BucketName,
    /// Bucket in the standby region.
    pub destination_bucket: BucketName,
    /// IAM role S3 assumes to replicate.
    pub replication_role_arn: IamRoleArn,
    /// Replicate delete markers too.
    #[serde(default = "default_true")]
    pub delete_marker_replication: bool,
    /// Storage class of the replicas.
    #[serde(default)]
    pub storage_class: S3StorageClass,
    /// Enable S3 Replication Time Control (15-minute SLA, extra cost).
    #[serde(default)]
    pub replication_time_control: bool,
}

fn default_true() -> bool {
    true
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
/// Storage class of replicas; the names are S3's own.
pub enum S3StorageClass {
    #[default]
    Standard,
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    GlacierIr,
    Glacier,
    DeepArchive,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DynamoDbTableSpec {
    /// Table in the primary region.
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-zA-Z0-9_.-]{3,255}$')").message("must be a DynamoDB table name: 3-255 letters, digits, '_', '-' or '.'"))]
    #[schemars(length(max = 255))]
    pub table_name: String,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComputeSpec {
    /// The standby Auto Scaling Group, held at zero until a drill or failover.
    pub auto_scaling_group: AutoScalingGroupSpec,
    /// Launch template in the standby region, built from a copy of the primary's AMI.
    pub launch_template: LaunchTemplateSpec,
    /// Readiness threshold for the age of the AMI copy in the standby region.
    #[serde(default = "default_max_image_age")]
    pub max_image_age: GoDuration,
    /// The application's Auto Scaling Group in the primary region. A failover or switchover
    /// fences it at zero (once the region answers), and a failback scales it back up to the
    /// `failover` sizes. Without it the old primary's compute is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub primary_auto_scaling_group_name: Option<String>,
}

fn default_max_image_age() -> GoDuration {
    GoDuration("168h".into())
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingGroupSpec {
    /// Name of the ASG in the standby region.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Subnets in the standby region.
    #[schemars(length(min = 1, max = 16))]
    pub subnet_ids: Vec<SubnetId>,
    /// Target groups in the standby region the instances register with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub target_group_arns: Vec<TargetGroupArn>,
    /// Capacity during a drill or after failover.
    pub failover: AsgCapacity,
}

/// Auto Scaling Group capacity.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.minSize <= self.desiredCapacity && self.desiredCapacity <= self.maxSize").message("spec.compute.autoScalingGroup.failover must satisfy minSize <= desiredCapacity <= maxSize"))]
pub struct AsgCapacity {
    #[schemars(range(min = 0, max = 10000))]
    pub min_size: i32,
    /// At least 1: a drill or failover that starts no instance serves nothing.
    #[schemars(range(min = 1, max = 10000))]
    pub desired_capacity: i32,
    #[schemars(range(min = 0, max = 10000))]
    pub max_size: i32,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LaunchTemplateSpec {
    /// Name of the launch template in the standby region.
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-zA-Z0-9()./_-]{3,128}$')").message("must be a launch template name: 3-128 letters, digits or ( ) . / _ -"))]
    #[schemars(length(max = 128))]
    pub name: String,
    /// AMI in the primary region that is copied to the standby region.
    pub source_image_id: AmiId,
    /// EC2 instance type, e.g. `c5.xlarge`.
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-z0-9-]+\\\\.[a-z0-9-]+$')").message("must be an EC2 instance type such as c5.xlarge"))]
    #[schemars(length(max = 64))]
    pub instance_type: String,
    /// EC2 key pair in the standby region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Security groups in the standby region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub security_group_ids: Vec<SecurityGroupId>,
    /// Base64-encoded user data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("size(self) % 4 == 0 && self.matches('^[A-Za-z0-9+/]*={0,2}$')").message("spec.compute.launchTemplate.userData must be base64-encoded"))]
    #[schemars(length(max = 21848))]
    pub user_data: Option<String>,
}

impl S3StorageClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::StandardIa => "STANDARD_IA",
            Self::OnezoneIa => "ONEZONE_IA",
            Self::IntelligentTiering => "INTELLIGENT_TIERING",
            Self::GlacierIr => "GLACIER_IR",
            Self::Glacier => "GLACIER",
            Self::DeepArchive => "DEEP_ARCHIVE",
        }
    }
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    #[default]
    Retain,
    Delete,
}
