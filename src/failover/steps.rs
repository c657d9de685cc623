//! Which code runs each step. Every step first observes AWS and acts only when the effect is not
//! there yet, so a step resumed after a restart (or retried after an error) never repeats a
//! mutating call that took effect. Mutating calls are journaled before and after. The steps
//! live with their component; this is the one place that maps a [`StepKind`] to one.

pub use crate::step::{Done, StepContext, StepError};

use crate::{
    api::StepKind,
    pilotlight::{aurora, compute, s3, traffic},
};

/// Runs the step `sc.kind` once.
pub async fn run(sc: &StepContext<'_>) -> Result<Done, StepError> {
    match sc.kind {
        StepKind::PrewarmCompute => compute::failover::prewarm(sc).await,
        StepKind::PromoteDatabase => aurora::failover::promote_database(sc).await,
        StepKind::ScaleUpCompute => {
            let failover = &sc.compute()?.auto_scaling_group.failover;
            compute::failover::set_group_capacity(sc, (failover.min_size, failover.desired_capacity, failover.max_size))
                .await
        }
        StepKind::WaitTargetsHealthy => compute::failover::wait_targets_healthy(sc).await,
        StepKind::SwitchTraffic => traffic::failover::switch_traffic(sc).await,
        StepKind::UpdateEndpoints => aurora::failover::update_endpoints(sc).await,
        StepKind::UpdateWriterRecord => aurora::failover::update_writer_record(sc).await,
        StepKind::ScaleUpDatabase => aurora::failover::scale_up_database(sc).await,
        StepKind::FenceOldPrimary | StepKind::ScaleDownCompute => {
            compute::failover::set_group_capacity(sc, (0, 0, 0)).await
        }
        StepKind::ReverseReplication => s3::failover::reverse_replication(sc).await,
        StepKind::SmokeTest => compute::failover::smoke_test(sc).await,
    }
}
