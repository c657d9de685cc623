//! `spec.traffic`: the Route 53 records that move with the active region, and the primary's
//! health check.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::HostedZoneId;

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.routingControl) || self.switch == 'routingControl'").message("spec.traffic.routingControl only applies with switch routingControl"))]
pub struct TrafficSpec {
    /// How a failover moves traffic. `failoverRouting` (the default): PRIMARY and SECONDARY
    /// failover records whose health follows a switch, flipped without Route 53's control plane,
    /// so a failover works while us-east-1 is down. `recordUpdate`: the record is UPSERTed to the
    /// new region, which needs Route 53's control plane in us-east-1 (admission warns).
    #[serde(default)]
    pub mode: TrafficMode,
    /// What moves the failover records to the standby (`failoverRouting` only): `metricAlarm` (a
    /// metric the operator publishes in the standby region, a CloudWatch alarm on it and Route 53
    /// health checks on the alarm) or `routingControl` (Route 53 ARC routing controls).
    #[serde(default)]
    pub switch: TrafficSwitch,
    /// Where the routing controls live (`switch: routingControl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_control: Option<RoutingControlSpec>,
    /// Route 53 records and health check.
    pub route53: Route53Spec,
    /// The DR load balancer in the standby region that traffic fails over to: readiness checks
    /// it, its listener and target group, and that the standby group is attached. The operator
    /// never creates, changes or deletes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSpec>,
}

/// The DR Application Load Balancer (both seeds fail traffic over to one).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// Name of the load balancer in the standby region.
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$')").message("must be a load balancer name: up to 32 letters, digits or hyphens, not starting or ending with a hyphen"))]
    #[schemars(length(max = 32))]
    pub name: String,
    /// Port of the listener that must forward to the target group; any listener when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub listener_port: Option<i32>,
    /// The target group the listener forwards to and the standby group registers with.
    pub target_group_arn: super::schema::TargetGroupArn,
}

impl TrafficSpec {
    /// The switch a failover flips, or `None` when it updates the record.
    pub fn switch(&self) -> Option<TrafficSwitch> {
        (self.mode == TrafficMode::FailoverRouting).then_some(self.switch)
    }
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum TrafficMode {
    #[default]
    FailoverRouting,
    /// The seed Lambda's way, for users who want it: fails over only while Route 53's control
    /// plane (us-east-1) answers.
    RecordUpdate,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum TrafficSwitch {
    #[default]
    MetricAlarm,
    RoutingControl,
}

impl TrafficSwitch {
    pub fn name(self) -> &'static str {
        match self {
            Self::MetricAlarm => "metricAlarm",
            Self::RoutingControl => "routingControl",
        }
    }
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RoutingControlSpec {
    /// An existing ARC cluster to put this PilotLight's control panel in. A cluster is billed
    /// by the hour, so PilotLights usually share one; without this the operator creates a
    /// cluster of its own for this PilotLight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('arn:aws:route53-recovery-control::')").message("clusterArn must be an ARC cluster ARN (arn:aws:route53-recovery-control::ACCOUNT:cluster/ID)"))]
    pub cluster_arn: Option<String>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Route53Spec {
    /// Hosted zone of the application record.
    pub hosted_zone_id: HostedZoneId,
    /// Application record, e.g. `api.example.com`.
    #[schemars(length(min = 1, max = 253))]
    pub record_name: String,
    /// Record type of the application record.
    #[serde(default)]
    pub record_type: RecordType,
    /// Alias target in the primary region (its load balancer).
    pub primary_target: AliasTarget,
    /// Alias target in the standby region.
    pub standby_target: AliasTarget,
    /// Health check on the primary endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckSpec>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RecordType {
    #[default]
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
}

/// A Route 53 alias target, normally a load balancer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AliasTarget {
    /// DNS name of the target, e.g. the ALB's DNS name.
    #[schemars(length(min = 1, max = 253))]
    pub dns_name: String,
    /// Canonical hosted zone id of the target (the ALB's, not the record's).
    pub hosted_zone_id: HostedZoneId,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    /// Health check protocol.
    #[serde(default, rename = "type")]
    pub type_: HealthCheckType,
    /// Host checked, e.g. the primary ALB's DNS name.
    #[schemars(length(min = 1, max = 255))]
    pub fqdn: String,
    /// Port checked.
    #[serde(default = "default_https_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Path requested (HTTP and HTTPS only).
    #[serde(default = "default_health_path")]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('/')").message("path must start with /"))]
    #[schemars(length(max = 255))]
    pub path: String,
    /// Seconds between checks: 10 (fast) or 30.
    #[serde(default = "default_request_interval")]
    #[x_kube(validation = kube::core::Rule::new("self == 10 || self == 30").message("requestInterval must be 10 or 30 seconds"))]
    pub request_interval: i32,
    /// Consecutive failures before the endpoint counts as unhealthy.
    #[serde(default = "default_failure_threshold")]
    #[schemars(range(min = 1, max = 10))]
    pub failure_threshold: i32,
}

fn default_https_port() -> i32 {
    443
}
fn default_health_path() -> String {
    "/health".into()
}
fn default_request_interval() -> i32 {
    30
}
fn default_failure_threshold() -> i32 {
    3
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthCheckType {
    Http,
    #[default]
    Https,
    Tcp,
}
