//! One reconcile of a PilotLight, as a pipeline: [`check_components`] (each component that is
//! due observes AWS, decides, and applies its changes; the running request read once before
//! and once after the database and storage), [`status::conclude`] (pure), then [`write`]
//! (Events, metrics, one status apply, the endpoints ConfigMap).

use std::time::{Duration, SystemTime};

use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt, runtime::controller::Action, runtime::events::EventType};

mod components;

use super::{
    ComponentHealth, ComponentReport, PilotLightContext, Serving, compute::prewarm, endpoints, schedule::Due, standby,
    status, traffic,
};
use crate::{
    api::{
        ConditionType, FAILOVER_IN_PROGRESS, FailoverRequest, PilotLight, PilotLightStatus, RequestPhase, object_key,
    },
    aws::AwsError,
    config::{Component, MANAGER},
    error::Result,
    telemetry::ObjectLabels,
};
use components::Checked;

/// Everything the component checks of one reconcile produced.
struct Checks {
    status: PilotLightStatus,
    reports: Vec<(ConditionType, ComponentReport)>,
    retry: Option<AwsError>,
    /// The request that was running while compute and traffic were looked at.
    request: Option<std::sync::Arc<FailoverRequest>>,
    /// What `spec.failover.prewarm` decided (`None`: off, or no compute).
    prewarm: Option<prewarm::Decision>,
}

pub async fn converge(pl: &PilotLight, ctx: &PilotLightContext) -> Result<Action> {
    let key = object_key(pl);
    let previous = status::owned(&pl.status.clone().unwrap_or_default());
    let started = Timestamp::now();
    let checks = check_components(ctx, pl, &key, &previous).await;
    let mut status = status::conclude(
        &pl.spec,
        checks.status,
        &checks.reports,
        pl.metadata.generation,
        Timestamp::now(),
    );
    status::prewarmed(
        &mut status,
        checks.prewarm.as_ref(),
        pl.metadata.generation,
        Timestamp::now(),
    );
    if checks.request.is_some() && ctx.requests.running(pl).is_none() {
        // The request ended during this check, which may have seen the database before it moved:
        // report nothing, forget what was seen, and look again now that it is done.
        ctx.scheduler.forget(&key, &[]);
        return Ok(Action::requeue(Duration::ZERO));
    }
    if ctx.requests.ended_since(pl, started).is_some() {
        // A request started and ended between this check's looks (AWS calls waiting for their
        // rate budget make a check long): the same, and once past its end's second this passes.
        ctx.scheduler.forget(&key, &[]);
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    write(ctx, pl, &previous, &status, &checks.reports, checks.request.is_some()).await?;
    if let Some(e) = checks.retry {
        return Err(e.into());
    }
    ctx.retries.reset(&key);
    if let Some(d) = &checks.prewarm {
        standby::prewarm_ended(ctx, pl, d);
    }
    let next = ctx.scheduler.next_check(&key, &ctx.settings, SystemTime::now());
    let next = next.unwrap_or(ctx.settings.misconfigured_interval);
    Ok(Action::requeue(
        match status.prewarm.as_ref().and_then(prewarm::next_look) {
            Some(at) => next.min(at),
            None => next,
        },
    ))
}

/// Checks every configured component that is due. While a FailoverRequest runs, compute, traffic
/// and the endpoints ConfigMap are its business: their last reports stand and nothing is changed
/// behind its back. The request is looked at before anything is observed (one ending half-way
/// through still freezes them) and again before compute and traffic (one starting half-way does
/// too).
async fn check_components(ctx: &PilotLightContext, pl: &PilotLight, key: &str, previous: &PilotLightStatus) -> Checks {
    let spec = &pl.spec;
    let running_at_start = ctx.requests.running(pl);
    let mut checks = Checks {
        status: previous.clone(),
        reports: Vec::new(),
        retry: None,
        request: None,
        prewarm: None,
    };
    let mut components = Vec::new();
    if let Some(database) = &spec.database {
        components.push(Component::Database);
        let checked = due(ctx, pl, key, Component::Database, false, None, async |fresh| {
            components::database(ctx, pl, key, database, fresh, previous).await
        })
        .await;
        if let Some((part, writer_region)) = &checked.part {
            checks.status.database = Some(part.clone());
            if let Some(region) = writer_region {
                checks.status.active_region = Some(region.clone());
            }
        }
        checks.add(ConditionType::DatabaseReplicating, checked, |_, _| {});
    }
    if spec.database.is_none() {
        checks.status.active_region = Some(active_region_without_database(pl));
    }
    if let Some(storage) = spec
        .storage
        .as_ref()
        .filter(|s| !s.s3.is_empty() || !s.dynamodb.is_empty())
    {
        components.push(Component::Storage);
        let active = checks.status.active_region.clone();
        // A check made for the other direction is out of date however recent it is.
        let protected_from = previous.storage.as_ref().and_then(|s| s.protected_from.clone());
        let serving = Serving::of(&spec.regions, active.as_deref()).active;
        let moved = protected_from.is_some_and(|from| from != serving);
        let checked = due(ctx, pl, key, Component::Storage, moved, None, async |_| {
            components::storage(ctx, pl, key, storage, active.as_deref(), previous).await
        })
        .await;
        checks.add(ConditionType::StorageReplicating, checked, |s, part| {
            s.storage = Some(part)
        });
    }
    let request = running_at_start.or_else(|| ctx.requests.running(pl));
    // Compute and traffic follow the active region and writer: when those move, look at once.
    let moved = checks.status.active_region != previous.active_region
        || writer_endpoint(&checks.status) != writer_endpoint(previous);
    let frozen_by = request.as_deref();
    if let Some(compute) = &spec.compute {
        components.push(Component::Compute);
        let active = checks.status.active_region.clone();
        let prewarm = standby::prewarm_decision(ctx, pl, compute, request.as_deref(), active.as_deref());
        let capacity = standby::capacity_use(pl, active.as_deref(), request.is_some(), prewarm.as_ref());
        // A prewarm that starts or ends changes the group now, however recent the last check.
        let force = moved || prewarm.as_ref().is_some_and(|p| p.transition.is_some());
        let checked = due(ctx, pl, key, Component::Compute, force, frozen_by, async |fresh| {
            components::compute(ctx, pl, key, compute, fresh, capacity).await
        })
        .await;
        checks.add(ConditionType::ComputeReady, checked, |s, part| s.compute = Some(part));
        checks.prewarm = prewarm;
    }
    let inputs = traffic::TrafficInputs::new(spec, key);
    if inputs.is_configured() {
        components.push(Component::Traffic);
        let current = checks.status.clone();
        let checked = due(ctx, pl, key, Component::Traffic, moved, frozen_by, async |fresh| {
            components::traffic(ctx, pl, key, &inputs, fresh, &current).await
        })
        .await;
        checks.add(ConditionType::TrafficReady, checked, |s, part| s.traffic = Some(part));
    }
    if let Some(cache) = spec.cache.as_ref().map(|c| &c.elasti_cache) {
        components.push(Component::Cache);
        let serving = Serving::of(&spec.regions, checks.status.active_region.as_deref());
        let checked = due(ctx, pl, key, Component::Cache, moved, frozen_by, async |_| {
            components::cache(ctx, pl, cache, serving).await
        })
        .await;
        checks.add(ConditionType::CacheReady, checked, |s, part| s.cache = Some(part));
    }
    if let Some(lb) = spec.traffic.as_ref().and_then(|t| t.load_balancer.as_ref()) {
        components.push(Component::LoadBalancer);
        // Nothing here is ever changed, so it is looked at even while a request runs.
        let checked = due(ctx, pl, key, Component::LoadBalancer, false, None, async |_| {
            components::load_balancer(ctx, pl, lb).await
        })
        .await;
        checks.add(ConditionType::LoadBalancerReady, checked, |_, ()| {});
    }
    ctx.scheduler.forget(key, &components);
    checks.request = request;
    checks
}

impl Checks {
    fn add<T>(&mut self, type_: ConditionType, checked: Checked<T>, fill: impl FnOnce(&mut PilotLightStatus, T)) {
        if let Some(part) = checked.part {
            fill(&mut self.status, part);
        }
        if checked.retry.is_some() {
            self.retry = checked.retry;
        }
        self.reports.push((type_, checked.report));
    }
}

/// Without a database the region that serves is the one the last failover, switchover or
/// failback moved to.
fn active_region_without_database(pl: &PilotLight) -> String {
    pl.status
        .as_ref()
        .and_then(|s| s.last_failover.as_ref())
        .filter(|o| o.phase == RequestPhase::Succeeded)
        .and_then(|o| o.active_region.clone())
        .unwrap_or_else(|| pl.spec.regions.primary.to_string())
}

/// Runs `check` for `component` when it is due (or `force`d), records its report, and returns
/// what it found; a component that is not due keeps its last report, and so does one that the
/// running FailoverRequest `frozen_by` is changing.
async fn due<T>(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    key: &str,
    component: Component,
    force: bool,
    frozen_by: Option<&FailoverRequest>,
    check: impl AsyncFnOnce(bool) -> Checked<T>,
) -> Checked<T> {
    let now = SystemTime::now();
    let generation = pl.metadata.generation;
    let due = ctx.scheduler.due(key, component, generation, &ctx.settings, now);
    if let Some(request) = frozen_by {
        return Checked::skipped(match due {
            Due::Skip(report) => report,
            Due::Check { .. } => ComponentReport::converging(
                FAILOVER_IN_PROGRESS,
                format!(
                    "FailoverRequest {} is running; it changes this component",
                    request.name_any()
                ),
            ),
        });
    }
    let fresh = match due {
        Due::Skip(report) if !force => return Checked::skipped(report),
        Due::Skip(_) => true,
        Due::Check { fresh } => fresh,
    };
    let mut checked = check(fresh).await;
    checked.report = ctx.scheduler.record(key, component, generation, checked.report, now);
    checked
}

pub(super) fn writer_endpoint(status: &PilotLightStatus) -> Option<&str> {
    status.database.as_ref().and_then(|d| d.writer_endpoint.as_deref())
}

/// The write end of the pipeline: Events for transitions, the readiness metrics, the status
/// (only when it changed, under [`MANAGER`]) and, unless a request runs, the endpoints ConfigMap.
async fn write(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    previous: &PilotLightStatus,
    status: &PilotLightStatus,
    reports: &[(ConditionType, ComponentReport)],
    request_was_running: bool,
) -> Result<()> {
    let ready = ComponentReport::ready(reports);
    announce_transitions(ctx, pl, previous, reports, &ready).await;
    let lag = status
        .database
        .as_ref()
        .and_then(|d| d.replication_lag_ms)
        .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    let now = Timestamp::now();
    let image_age = status
        .compute
        .as_ref()
        .and_then(|c| c.image_created_at.as_ref())
        .map(|created| Duration::from_secs((now - created.0).get_seconds().max(0) as u64));
    ctx.metrics.set_readiness(
        ObjectLabels {
            namespace: pl.namespace().unwrap_or_default(),
            name: pl.name_any(),
        },
        ready.health == ComponentHealth::Healthy,
        &reports
            .iter()
            .map(|(t, r)| (t.as_str(), r.health == ComponentHealth::Healthy))
            .collect::<Vec<_>>(),
        lag,
        image_age,
    );
    if status != previous {
        crate::context::apply_pilotlight_status(&ctx.client, pl, MANAGER, status).await?;
    }
    if !request_was_running && ctx.requests.running(pl).is_none() {
        endpoints::apply(&ctx.client, &endpoints::desired(pl, status)).await?;
    }
    Ok(())
}

/// Warning Events when a component turns bad (once per new reason, not every reconcile), and a
/// Normal Event when the PilotLight becomes Ready.
async fn announce_transitions(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    previous: &PilotLightStatus,
    reports: &[(ConditionType, ComponentReport)],
    ready: &ComponentReport,
) {
    let previous_reason = |t: ConditionType| {
        previous
            .conditions
            .iter()
            .find(|c| c.type_ == t.as_str())
            .map(|c| c.reason.clone())
    };
    for (type_, report) in reports {
        let is_bad = matches!(
            report.health,
            ComponentHealth::Degraded | ComponentHealth::Misconfigured | ComponentHealth::Unreachable
        );
        if is_bad && previous_reason(*type_).as_deref() != Some(report.reason) {
            publish(ctx, pl, EventType::Warning, report.reason, report.message.clone()).await;
        }
    }
    if ready.health == ComponentHealth::Healthy && status::is_ready(previous) != Some(true) {
        publish(ctx, pl, EventType::Normal, "Ready", ready.message.clone()).await;
    }
}

pub(super) async fn publish(ctx: &PilotLightContext, pl: &PilotLight, type_: EventType, reason: &str, note: String) {
    crate::context::publish_event(&ctx.recorder, &pl.object_ref(&()), type_, reason, note, "Reconcile").await;
}
