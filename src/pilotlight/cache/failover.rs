//! The cache steps: `CreateCache` (Failover, Switchover, Drill) builds the DR cache in the
//! standby region in parallel with compute and, for a move, names it in the endpoints ConfigMap;
//! `DeleteCache` (after a Drill, and a Failback unless `retainAfterFailback`) removes it.

use std::time::Duration;

use crate::step::{Done, Next, Poll, StepContext, StepError, refused};
use crate::{
    api::{ElastiCacheSpec, FailoverType},
    aws::{
        elasticache::{self, Cache, CacheRequest},
        states::CacheState,
    },
    pilotlight::endpoints,
};

/// ElastiCache documents no creation time; a replication group takes minutes.
pub(crate) const CACHE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The creation's next move: create once, wait while it is created (or an old one is deleted),
/// done when available.
pub(crate) fn creation(id: &str, cache: Option<&Cache>, called: bool) -> Next<()> {
    match cache {
        None if !called => Next::Call(()),
        None => Next::Wait(format!("DR cache {id} is not visible yet")),
        Some(c) if c.status == CacheState::Available => Next::Done(format!(
            "DR cache {id} is available at {}",
            c.endpoint.as_deref().unwrap_or("an endpoint not reported")
        )),
        Some(c) if c.status == CacheState::Deleting => {
            Next::Wait(format!("DR cache {id} is being deleted; it is created again once gone"))
        }
        Some(c) => Next::Wait(format!("DR cache {id} is {}", c.status)),
    }
}

/// The deletion's next move: delete once it is not being created, done when gone.
pub(crate) fn deletion(id: &str, cache: Option<&Cache>, called: bool) -> Next<()> {
    match cache {
        None => Next::Done(format!("DR cache {id} is deleted")),
        Some(c) if c.status == CacheState::Deleting => Next::Wait(format!("DR cache {id} is being deleted")),
        Some(c) if c.status == CacheState::Creating => Next::Wait(format!("DR cache {id} is still being created")),
        Some(_) if called => Next::Wait(format!("DR cache {id} is not deleting yet")),
        Some(_) => Next::Call(()),
    }
}

fn spec<'a>(sc: &'a StepContext<'_>) -> Result<&'a ElastiCacheSpec, StepError> {
    sc.pl
        .spec
        .cache
        .as_ref()
        .map(|c| &c.elasti_cache)
        .ok_or_else(|| refused("spec.cache.elastiCache is not set".into()))
}

pub(crate) async fn create_cache(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let spec = spec(sc)?;
    let region = sc.pl.spec.regions.standby.as_str();
    let clients = sc.clients(region);
    let id = spec.cache_id.as_str();
    let poll = Poll::new(CACHE_TIMEOUT);
    let mut called = false;
    loop {
        let cache = elasticache::describe(&clients, spec.engine, id).await?;
        match creation(id, cache.as_ref(), called) {
            Next::Done(m) => {
                let endpoint = cache.and_then(|c| c.endpoint);
                if sc.type_ == FailoverType::Drill {
                    return Ok(Done::Succeeded(format!("{m} (a drill's cache: not published)")));
                }
                endpoints::set_cache_endpoint(&sc.ctx.client, sc.pl, endpoint.as_deref()).await?;
                return Ok(Done::Succeeded(format!(
                    "{m}; ConfigMap {} names it as cacheEndpoint",
                    endpoints::name(sc.pl)
                )));
            }
            Next::Fail(m) => return Err(refused(m)),
            Next::Call(()) => {
                let request = CacheRequest {
                    id: id.to_owned(),
                    engine: spec.engine,
                    engine_version: spec.engine_version.clone(),
                    node_type: spec.node_type.clone(),
                    node_count: spec.node_count,
                    subnet_group_name: spec.subnet_group_name.clone(),
                    security_group_ids: spec.security_group_ids.iter().map(|g| g.0.clone()).collect(),
                    parameter_group_name: spec.parameter_group_name.clone(),
                };
                sc.before_call(format!(
                    "Create {} {id} ({} × {}) in {region}",
                    spec.engine.as_str(),
                    spec.node_count,
                    spec.node_type
                ))
                .await?;
                elasticache::create(&clients, &request, &crate::api::object_key(sc.pl)).await?;
                called = true;
                sc.after_call(format!("DR cache {id} creating"), None).await?;
            }
            Next::Wait(m) => poll.next(|| m).await?,
        }
    }
}

pub(crate) async fn delete_cache(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let spec = spec(sc)?;
    // Applications in the region that serves again must not be pointed at the DR cache.
    endpoints::set_cache_endpoint(&sc.ctx.client, sc.pl, None).await?;
    if sc.type_ == FailoverType::Failback && spec.retain_after_failback {
        return Ok(Done::Succeeded(format!(
            "DR cache {} kept (retainAfterFailback); cacheEndpoint removed from the ConfigMap",
            spec.cache_id
        )));
    }
    let region = sc.pl.spec.regions.standby.as_str();
    let clients = sc.clients(region);
    let id = spec.cache_id.as_str();
    let poll = Poll::new(CACHE_TIMEOUT);
    let mut called = false;
    loop {
        let cache = elasticache::describe(&clients, spec.engine, id).await?;
        match deletion(id, cache.as_ref(), called) {
            Next::Done(m) => return Ok(Done::Succeeded(m)),
            Next::Fail(m) => return Err(refused(m)),
            Next::Call(()) => {
                sc.before_call(format!("Delete {} {id} in {region}", spec.engine.as_str()))
                    .await?;
                elasticache::delete(&clients, spec.engine, id).await?;
                called = true;
                sc.after_call(format!("DR cache {id} deleting"), None).await?;
            }
            Next::Wait(m) => poll.next(|| m).await?,
        }
    }
}

#[cfg(test)]
mod tests;
