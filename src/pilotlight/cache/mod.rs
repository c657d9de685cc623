//! The DR cache (`spec.cache.elastiCache`): nothing runs in steady state; readiness checks what
//! creating it would need in the standby region, and after a failover that it is available.
//! Convergence never creates or deletes it: only the failover's steps do ([`failover`]).

pub(crate) mod failover;

use crate::{
    api::{CacheStatus, ElastiCacheSpec, Regions},
    aws::{
        AwsClients, AwsError, ec2,
        elasticache::{self, Cache},
        states::CacheState,
    },
    pilotlight::{ComponentReport, Serving},
};

/// What the standby region says about the cache and its prerequisites.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub cache: Option<Cache>,
    pub subnet_group_exists: bool,
    pub missing_security_groups: Vec<String>,
    pub node_type_offered: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub report: ComponentReport,
    pub status: CacheStatus,
}

/// Four describes in the standby region.
pub async fn observe(aws: &AwsClients, regions: &Regions, spec: &ElastiCacheSpec) -> Result<Observation, AwsError> {
    let clients = aws.region(regions.standby.as_str());
    let groups: Vec<String> = spec.security_group_ids.iter().map(|g| g.0.clone()).collect();
    Ok(Observation {
        cache: elasticache::describe(&clients, spec.engine, &spec.cache_id).await?,
        subnet_group_exists: elasticache::subnet_group_exists(&clients, &spec.subnet_group_name).await?,
        missing_security_groups: ec2::missing_security_groups(&clients, &groups).await?,
        node_type_offered: elasticache::node_type_offered(&clients, &spec.node_type, spec.engine).await?,
    })
}

/// How ready the cache is. Pure.
pub fn decide(regions: &Regions, serving: Serving, spec: &ElastiCacheSpec, obs: &Observation) -> Decision {
    let standby = regions.standby.as_str();
    let id = spec.cache_id.as_str();
    let status = CacheStatus {
        status: obs.cache.as_ref().map(|c| c.status.to_string()),
        endpoint: obs.cache.as_ref().and_then(|c| c.endpoint.clone()),
    };
    let what = format!(
        "{id} ({}, {} × {})",
        spec.engine.as_str(),
        spec.node_count,
        spec.node_type
    );
    let report = if serving.moved {
        match &obs.cache {
            Some(c) if c.status == CacheState::Available => ComponentReport::healthy(
                "CacheAvailable",
                format!(
                    "DR cache {what} in {standby} is available at {}",
                    c.endpoint.as_deref().unwrap_or("an endpoint not reported yet")
                ),
            ),
            Some(c) => ComponentReport::converging(
                "CacheNotAvailable",
                format!("DR cache {what} in {standby} is {}", c.status),
            ),
            None => ComponentReport::degraded(
                "CacheMissing",
                format!(
                    "{standby} serves but DR cache {id} does not exist there (the failover could not create it, or it was deleted): applications run without it"
                ),
            ),
        }
    } else if !obs.subnet_group_exists {
        ComponentReport::misconfigured(
            "CacheSubnetGroupNotFound",
            format!(
                "cache subnet group {} does not exist in {standby}: a failover could not create DR cache {id}",
                spec.subnet_group_name
            ),
        )
    } else if !obs.missing_security_groups.is_empty() {
        ComponentReport::misconfigured(
            "CacheSecurityGroupsNotFound",
            format!(
                "security group(s) {} do not exist in {standby}: a failover could not create DR cache {id}",
                obs.missing_security_groups.join(", ")
            ),
        )
    } else if !obs.node_type_offered {
        ComponentReport::misconfigured(
            "CacheNodeTypeNotOffered",
            format!(
                "{standby} offers no {} nodes for {}: a failover could not create DR cache {id}",
                spec.node_type,
                spec.engine.as_str()
            ),
        )
    } else {
        match &obs.cache {
            None => ComponentReport::healthy(
                "ReadyToCreate",
                format!(
                    "nothing runs in {standby}; a failover creates DR cache {what} in subnet group {}",
                    spec.subnet_group_name
                ),
            ),
            Some(c) => ComponentReport::healthy(
                "CacheExists",
                format!(
                    "DR cache {what} exists in {standby} ({}) though {} serves: it costs money every hour; a Failback deletes it unless retainAfterFailback",
                    c.status, serving.active
                ),
            ),
        }
    };
    Decision { report, status }
}

#[cfg(test)]
mod tests;
