//! `spec.traffic`: the Route 53 records that move with the active region, and the primary's
//! health check.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::HostedZoneId;

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TrafficSpec {
    /// Route 53 records and health check.
    pub route53: Route53Spec,
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
