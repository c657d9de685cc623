//! Who sizes the standby Auto Scaling Group outside a request's steps, and to what: dormant,
//! prewarmed (`spec.failover.prewarm`, decided by [`prewarm`]) or left to a request or the
//! serving standby; and the lock under which convergence changes its capacity.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::{PilotLightContext, compute, compute::prewarm};
use crate::{
    api::{FailoverRequest, PilotLight, object_key},
    telemetry::ObjectLabels,
};

/// Standby capacity is in use when the standby region serves, or a FailoverRequest for this
/// PilotLight is running (a drill scales the standby group up on purpose); else a prewarm
/// decides, and without one the group is dormant.
pub(super) fn capacity_use(
    pl: &PilotLight,
    active_region: Option<&str>,
    running: bool,
    prewarm: Option<&prewarm::Decision>,
) -> compute::CapacityUse {
    if active_region == Some(pl.spec.regions.standby.as_str()) || running {
        compute::CapacityUse::InUse
    } else {
        prewarm.map_or(compute::CapacityUse::Dormant, |p| p.capacity)
    }
}

/// What `spec.failover.prewarm` wants of the standby now (`None`: prewarm is off), from
/// detection's `primaryHealth`, the request awaiting approval, and whether a request took the
/// warm standby over: one runs, the awaited one has started (it may already have ended), or
/// the standby serves.
pub(super) fn prewarm_decision(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    compute: &crate::api::ComputeSpec,
    running: Option<&FailoverRequest>,
    active_region: Option<&str>,
) -> Option<prewarm::Decision> {
    let spec = pl.spec.failover.prewarm.as_ref()?;
    let status = pl.status.clone().unwrap_or_default();
    let awaited_and_started = status
        .prewarm
        .as_ref()
        .filter(|p| p.trigger == crate::api::PrewarmTrigger::Request && p.ended_at.is_none())
        .and_then(|p| ctx.requests.named(pl, &p.cause))
        .filter(|r| r.status.as_ref().is_some_and(|s| s.started_at.is_some()));
    let serving = (active_region == Some(pl.spec.regions.standby.as_str()))
        .then(|| status.last_failover.as_ref().map(|o| o.request_name.clone()))
        .map(|name| name.unwrap_or_else(|| "a failover".to_owned()));
    let taken_over = running
        .or(awaited_and_started.as_deref())
        .map(ResourceExt::name_any)
        .or(serving);
    let awaiting = ctx.requests.awaiting_approval(pl).map(|r| r.name_any());
    let health = status.primary_health.as_ref();
    let since = |healthy: bool| {
        health
            .filter(|h| h.healthy == Some(healthy))
            .and_then(|h| h.since.as_ref())
            .map(|t| t.0)
    };
    Some(prewarm::decide(&prewarm::Inputs {
        spec,
        failover_capacity: compute.auto_scaling_group.failover.desired_capacity,
        instance_type: &compute.launch_template.instance_type,
        suspicion: since(false).map(|t| (t, pl.spec.regions.primary.as_str())),
        recovered_since: since(true),
        awaiting: awaiting.as_deref(),
        running: taken_over.as_deref(),
        previous: status.prewarm.as_ref(),
        now: Timestamp::now(),
    }))
}

/// The metrics of a prewarm that ended in this reconcile.
pub(super) fn prewarm_ended(ctx: &PilotLightContext, pl: &PilotLight, decision: &prewarm::Decision) {
    let (Some((_, to)), Some(p)) = (decision.transition, decision.status.as_ref()) else {
        return;
    };
    let outcome = match to {
        crate::api::PrewarmState::Used => "used",
        crate::api::PrewarmState::ScaledBack => "scaled_back",
        crate::api::PrewarmState::Expired => "expired",
        crate::api::PrewarmState::Warm | crate::api::PrewarmState::CoolingDown => return,
    };
    let warm = p
        .ended_at
        .as_ref()
        .map(|end| end.0.duration_since(p.since.0).as_secs_f64().max(0.0))
        .unwrap_or_default();
    let labels = ObjectLabels {
        namespace: pl.namespace().unwrap_or_default(),
        name: pl.name_any(),
    };
    ctx.metrics
        .prewarm_ended(labels, outcome, Duration::from_secs_f64(warm));
}

/// The PilotLight's admission lock, if no request against it is running: read from the API
/// server under the lock, which admission holds until a starting request's Running phase is
/// written, so no cache can hide a request that has just started.
pub(super) async fn idle(
    ctx: &PilotLightContext,
    pl: &PilotLight,
) -> std::result::Result<Option<tokio::sync::OwnedMutexGuard<()>>, kube::Error> {
    let guard = ctx.core.admission_lock(&object_key(pl)).lock_owned().await;
    let api: kube::Api<FailoverRequest> =
        kube::Api::namespaced(ctx.client.clone(), &pl.namespace().unwrap_or_default());
    let requests = api.list(&Default::default()).await?;
    let running = requests
        .items
        .iter()
        .any(|r| r.targets(pl.namespace().as_deref(), &pl.name_any()) && r.is_running());
    Ok((!running).then_some(guard))
}
