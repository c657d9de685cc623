//! `spec.cache`: the DR cache a failover creates in the standby region.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::SecurityGroupId;

/// Caches that exist in the standby region only after a failover.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CacheSpec {
    /// An ElastiCache cache: nothing runs in steady state (the second seed's "created on
    /// failover"); readiness checks what creating it would need.
    pub elasti_cache: ElastiCacheSpec,
}

/// An ElastiCache replication group (Redis OSS, Valkey) or cache cluster (Memcached) that a
/// Failover, Switchover or Drill creates in the standby region, in parallel with compute.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.engine == 'Memcached' || self.nodeCount <= 6").message("spec.cache.elastiCache.nodeCount: a Redis OSS or Valkey replication group has at most 6 nodes (a primary and 5 replicas)"))]
pub struct ElastiCacheSpec {
    /// Identifier of the cache in the standby region (replication group or cache cluster id).
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-z][a-z0-9]*(-[a-z0-9]+)*$')").message("must be an ElastiCache identifier: lower-case letters, digits and single hyphens, starting with a letter"))]
    #[schemars(length(min = 1, max = 40))]
    pub cache_id: String,
    pub engine: CacheEngine,
    /// Engine version; the engine's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub engine_version: Option<String>,
    /// Node type, e.g. `cache.r6g.large`.
    #[x_kube(validation = kube::core::Rule::new("self.matches('^cache\\\\.[a-z0-9]+\\\\.[a-z0-9]+$')").message("must be an ElastiCache node type such as cache.r6g.large"))]
    #[schemars(length(max = 64))]
    pub node_type: String,
    /// Nodes: for Redis OSS and Valkey the primary and its replicas; for Memcached the nodes.
    #[serde(default = "default_node_count")]
    #[schemars(range(min = 1, max = 40))]
    pub node_count: i32,
    /// Cache subnet group in the standby region.
    #[schemars(length(min = 1, max = 255))]
    pub subnet_group_name: String,
    /// VPC security groups in the standby region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub security_group_ids: Vec<SecurityGroupId>,
    /// Cache parameter group in the standby region; the engine's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub parameter_group_name: Option<String>,
    /// Whether a failover fails when the cache cannot be created. By default it succeeds with
    /// a Warning: applications run without the cache, colder.
    #[serde(default)]
    pub required: bool,
    /// Keep the DR cache after a Failback (by default the Failback deletes it: it holds only
    /// cached data, and costs money every hour).
    #[serde(default)]
    pub retain_after_failback: bool,
}

fn default_node_count() -> i32 {
    1
}

/// ElastiCache engines.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheEngine {
    Redis,
    Valkey,
    Memcached,
}

impl CacheEngine {
    /// The engine's name in the ElastiCache API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Valkey => "valkey",
            Self::Memcached => "memcached",
        }
    }
}
