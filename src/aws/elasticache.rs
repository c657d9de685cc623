//! ElastiCache: the DR cache (a Redis OSS or Valkey replication group, or a Memcached cache
//! cluster) and what creating it needs.

use aws_sdk_elasticache::types::Tag;

use super::{AwsError, OWNER_TAG, RegionalClients, found, states::CacheState};
use crate::api::CacheEngine;

/// A cache as described.
#[derive(Clone, Debug, PartialEq)]
pub struct Cache {
    pub status: CacheState,
    /// `address:port` of the primary (Redis OSS, Valkey) or configuration (Memcached) endpoint.
    pub endpoint: Option<String>,
}

/// What to create.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheRequest {
    pub id: String,
    pub engine: CacheEngine,
    pub engine_version: Option<String>,
    pub node_type: String,
    pub node_count: i32,
    pub subnet_group_name: String,
    pub security_group_ids: Vec<String>,
    pub parameter_group_name: Option<String>,
}

fn endpoint(address: Option<&str>, port: Option<i32>) -> Option<String> {
    address.map(|a| match port {
        Some(p) => format!("{a}:{p}"),
        None => a.to_owned(),
    })
}

/// The cache `id` of `engine`, if it exists.
pub async fn describe(aws: &RegionalClients, engine: CacheEngine, id: &str) -> Result<Option<Cache>, AwsError> {
    let result = match engine {
        CacheEngine::Memcached => aws
            .elasticache
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticache", "DescribeCacheClusters", &aws.region, e))
            .map(|out| {
                out.cache_clusters().first().map(|c| Cache {
                    status: c.cache_cluster_status().unwrap_or("unknown").into(),
                    endpoint: c.configuration_endpoint().and_then(|e| endpoint(e.address(), e.port())),
                })
            }),
        CacheEngine::Redis | CacheEngine::Valkey => aws
            .elasticache
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticache", "DescribeReplicationGroups", &aws.region, e))
            .map(|out| {
                out.replication_groups().first().map(|g| Cache {
                    status: g.status().unwrap_or("unknown").into(),
                    endpoint: g
                        .node_groups()
                        .first()
                        .and_then(|n| n.primary_endpoint())
                        .and_then(|e| endpoint(e.address(), e.port())),
                })
            }),
    };
    Ok(found(result)?.flatten())
}

fn tags(owner: &str) -> Vec<Tag> {
    vec![
        Tag::builder()
            .key("pilotlight.dev/managed-by")
            .value("pilot-light")
            .build(),
        Tag::builder().key(OWNER_TAG).value(owner).build(),
    ]
}

pub async fn create(aws: &RegionalClients, req: &CacheRequest, owner: &str) -> Result<(), AwsError> {
    let groups = (!req.security_group_ids.is_empty()).then(|| req.security_group_ids.clone());
    match req.engine {
        CacheEngine::Memcached => aws
            .elasticache
            .create_cache_cluster()
            .cache_cluster_id(&req.id)
            .engine(req.engine.as_str())
            .set_engine_version(req.engine_version.clone())
            .cache_node_type(&req.node_type)
            .num_cache_nodes(req.node_count)
            .cache_subnet_group_name(&req.subnet_group_name)
            .set_security_group_ids(groups)
            .set_cache_parameter_group_name(req.parameter_group_name.clone())
            .set_tags(Some(tags(owner)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("elasticache", "CreateCacheCluster", &aws.region, e)),
        CacheEngine::Redis | CacheEngine::Valkey => aws
            .elasticache
            .create_replication_group()
            .replication_group_id(&req.id)
            .replication_group_description(format!("pilot-light DR cache {owner}"))
            .engine(req.engine.as_str())
            .set_engine_version(req.engine_version.clone())
            .cache_node_type(&req.node_type)
            .num_cache_clusters(req.node_count)
            .automatic_failover_enabled(req.node_count > 1)
            .cache_subnet_group_name(&req.subnet_group_name)
            .set_security_group_ids(groups)
            .set_cache_parameter_group_name(req.parameter_group_name.clone())
            .set_tags(Some(tags(owner)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("elasticache", "CreateReplicationGroup", &aws.region, e)),
    }
}

pub async fn delete(aws: &RegionalClients, engine: CacheEngine, id: &str) -> Result<(), AwsError> {
    match engine {
        CacheEngine::Memcached => aws
            .elasticache
            .delete_cache_cluster()
            .cache_cluster_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("elasticache", "DeleteCacheCluster", &aws.region, e)),
        CacheEngine::Redis | CacheEngine::Valkey => aws
            .elasticache
            .delete_replication_group()
            .replication_group_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("elasticache", "DeleteReplicationGroup", &aws.region, e)),
    }
}

/// Whether cache subnet group `name` exists in this region.
pub async fn subnet_group_exists(aws: &RegionalClients, name: &str) -> Result<bool, AwsError> {
    let result = aws
        .elasticache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elasticache", "DescribeCacheSubnetGroups", &aws.region, e));
    Ok(found(result)?.is_some())
}

/// Whether this region offers `node_type` for `engine` (its reserved-node offerings name it).
pub async fn node_type_offered(aws: &RegionalClients, node_type: &str, engine: CacheEngine) -> Result<bool, AwsError> {
    let out = aws
        .elasticache
        .describe_reserved_cache_nodes_offerings()
        .cache_node_type(node_type)
        .product_description(engine.as_str())
        .max_records(20)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elasticache", "DescribeReservedCacheNodesOfferings", &aws.region, e))?;
    Ok(!out.reserved_cache_nodes_offerings().is_empty())
}
