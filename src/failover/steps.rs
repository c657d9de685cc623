//! Which code runs each step. Every step first observes AWS and acts only when the effect is not
//! there yet, so a step resumed after a restart (or retried after an error) never repeats a
//! mutating call that took effect. Mutating calls are journaled before and after. The steps
//! live with their component; this is the one place that maps a [`StepKind`] to one.

pub use crate::step::{Done, StepContext, StepError};

use crate::{
    api::StepKind,
    pilotlight::{aurora, cache, compute, endpoints, rds, s3, traffic},
};

/// Which database engine the PilotLight's steps act on.
fn is_rds(sc: &StepContext<'_>) -> bool {
    sc.pl.spec.database.as_ref().is_some_and(|d| d.rds.is_some())
}

/// The promoted writer's endpoint, whichever engine.
async fn writer_endpoint(sc: &StepContext<'_>) -> Result<String, StepError> {
    match is_rds(sc) {
        true => rds::failover::writer_endpoint(sc).await,
        false => aurora::failover::writer_endpoint(sc).await,
    }
}

/// Runs the step `sc.kind` once.
pub async fn run(sc: &StepContext<'_>) -> Result<Done, StepError> {
    match sc.kind {
        StepKind::PrewarmCompute => compute::failover::prewarm(sc).await,
        StepKind::PromoteDatabase if is_rds(sc) => rds::failover::promote_database(sc).await,
        StepKind::PromoteDatabase => aurora::failover::promote_database(sc).await,
        StepKind::ScaleUpCompute => {
            let failover = &sc.compute()?.auto_scaling_group.failover;
            compute::failover::set_group_capacity(sc, (failover.min_size, failover.desired_capacity, failover.max_size))
                .await
        }
        StepKind::WaitTargetsHealthy => compute::failover::wait_targets_healthy(sc).await,
        StepKind::SwitchTraffic => traffic::failover::switch_traffic(sc).await,
        StepKind::UpdateEndpoints => endpoints::failover::update_endpoints(sc, writer_endpoint(sc).await?).await,
        StepKind::UpdateWriterRecord => endpoints::failover::update_writer_record(sc, writer_endpoint(sc).await?).await,
        StepKind::ScaleUpDatabase if is_rds(sc) => rds::failover::scale_up_database(sc).await,
        StepKind::ScaleUpDatabase => aurora::failover::scale_up_database(sc).await,
        StepKind::FenceOldPrimary | StepKind::ScaleDownCompute => {
            compute::failover::set_group_capacity(sc, (0, 0, 0)).await
        }
        StepKind::ReverseReplication => s3::failover::reverse_replication(sc).await,
        StepKind::SmokeTest => compute::failover::smoke_test(sc).await,
        StepKind::CreateCache => cache::failover::create_cache(sc).await,
        StepKind::DeleteCache => cache::failover::delete_cache(sc).await,
    }
}

/// A step whose effect is optional ends `Skipped` instead of failing the request: the DR cache
/// unless `spec.cache.elastiCache.required` (applications run without it, colder).
pub fn optional(sc: &StepContext<'_>, e: &StepError) -> Option<Done> {
    let cache = sc.pl.spec.cache.as_ref().map(|c| &c.elasti_cache)?;
    (sc.kind == StepKind::CreateCache && !cache.required).then(|| {
        Done::Skipped(format!(
            "DR cache {} not created ({}); spec.cache.elastiCache.required is false, so the {:?} goes on without it",
            cache.cache_id, e.message, sc.type_
        ))
    })
}
