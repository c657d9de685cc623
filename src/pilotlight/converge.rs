//! One reconcile of a PilotLight, as a pipeline: [`check_components`] (each component that is
//! due observes AWS, decides, and applies its changes; the running request read once before
//! and once after the database and storage), [`status::conclude`] (pure), then [`write`]
//! (Events, metrics, one status apply, the endpoints ConfigMap).

use std::time::{Duration, SystemTime};

use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt, runtime::controller::Action, runtime::events::EventType};
use tracing::{info, warn};

use super::{
    ComponentHealth, ComponentReport, PilotLightContext, PlannedChange, Serving, aurora, cache, compute,
    compute::prewarm, dynamodb, endpoints, load_balancer, rds, s3, schedule::Due, standby, status, traffic,
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

/// What a component check found: its report, its part of the status (`None`: keep the last
/// one), and an error worth retrying soon.
struct Checked<T> {
    report: ComponentReport,
    part: Option<T>,
    retry: Option<AwsError>,
}

impl<T> Checked<T> {
    fn skipped(report: ComponentReport) -> Self {
        Self {
            report,
            part: None,
            retry: None,
        }
    }

    fn failed(error: &AwsError) -> Self {
        Self {
            report: ComponentReport::from_aws_error(error),
            part: None,
            retry: error.is_retryable().then(|| error.clone()),
        }
    }
}

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
    if let Some(aurora) = spec.database.as_ref().and_then(|d| d.aurora.as_ref()) {
        components.push(Component::Database);
        let checked = due(ctx, pl, key, Component::Database, false, None, async |fresh| {
            database(ctx, pl, key, aurora, fresh, previous).await
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
    if let Some(rds) = spec.database.as_ref().and_then(|d| d.rds.as_ref()) {
        components.push(Component::Database);
        let checked = due(ctx, pl, key, Component::Database, false, None, async |fresh| {
            rds_instances(ctx, pl, key, rds, fresh, previous).await
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
            self::storage(ctx, pl, key, storage, active.as_deref(), previous).await
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
            self::compute(ctx, pl, key, compute, fresh, capacity).await
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
            self::traffic(ctx, pl, key, &inputs, fresh, &current).await
        })
        .await;
        checks.add(ConditionType::TrafficReady, checked, |s, part| s.traffic = Some(part));
    }
    if let Some(cache) = spec.cache.as_ref().map(|c| &c.elasti_cache) {
        components.push(Component::Cache);
        let serving = Serving::of(&spec.regions, checks.status.active_region.as_deref());
        let checked = due(ctx, pl, key, Component::Cache, moved, frozen_by, async |_| {
            self::cache(ctx, pl, cache, serving).await
        })
        .await;
        checks.add(ConditionType::CacheReady, checked, |s, part| s.cache = Some(part));
    }
    if let Some(lb) = spec.traffic.as_ref().and_then(|t| t.load_balancer.as_ref()) {
        components.push(Component::LoadBalancer);
        // Nothing here is ever changed, so it is looked at even while a request runs.
        let checked = due(ctx, pl, key, Component::LoadBalancer, false, None, async |_| {
            self::load_balancer(ctx, pl, lb).await
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

/// Announces and applies `changes` in order and stops at the first failure.
async fn apply_changes<C: PlannedChange, T>(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    changes: &[C],
    planned: ComponentReport,
    part: T,
) -> Checked<T> {
    let mut report = planned;
    let _idle = match changes.iter().any(PlannedChange::sets_standby_capacity) {
        true => match standby::idle(ctx, pl).await {
            Ok(Some(guard)) => Some(guard),
            Ok(None) => {
                // A request started after the standby was observed: its steps own the group.
                return Checked::skipped(ComponentReport::healthy(
                    "InUse",
                    "a FailoverRequest started: the standby group is its to size".into(),
                ));
            }
            Err(e) => {
                warn!(error = %e, "could not tell whether a request runs; standby capacity left as it is");
                return Checked::skipped(ComponentReport::converging(
                    "RequestStarted",
                    format!("could not tell whether a FailoverRequest runs ({e}); the standby group is left as it is"),
                ));
            }
        },
        false => None,
    };
    for change in changes {
        if change.is_warning() {
            // A repair says what it found, which is what a person fighting drift needs to read.
            report.repaired = true;
            report.message = change.describe();
        }
        let type_ = if change.is_warning() {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, pl, type_, change.reason(), change.describe()).await;
        info!(change = ?change, "applying");
        if let Err(e) = change.apply(&ctx.aws, owner).await {
            return Checked {
                part: Some(part),
                ..Checked::failed(&e)
            };
        }
    }
    Checked {
        report,
        part: Some(part),
        retry: None,
    }
}

/// The Aurora global database: its status part and the writer's region. Reads are shared with
/// other PilotLights unless `fresh`.
async fn database(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    spec: &crate::api::AuroraSpec,
    fresh: bool,
    previous: &PilotLightStatus,
) -> Checked<(crate::api::DatabaseStatus, Option<String>)> {
    let regions = &pl.spec.regions;
    match aurora::observe(&ctx.aws, regions, spec, previous.database.as_ref(), fresh).await {
        Ok(observation) => {
            let d = aurora::decide(regions, spec, &observation);
            let part = (d.status.clone(), d.writer_region.clone());
            apply_changes(ctx, pl, owner, &d.changes, d.report, part).await
        }
        Err(e) => Checked::failed(&e),
    }
}

/// The RDS instance and its cross-region read replica: its status part and the writer's region.
async fn rds_instances(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    spec: &crate::api::RdsReplicaSpec,
    fresh: bool,
    previous: &PilotLightStatus,
) -> Checked<(crate::api::DatabaseStatus, Option<String>)> {
    let regions = &pl.spec.regions;
    match rds::observe(&ctx.aws, regions, spec, previous.database.as_ref(), fresh).await {
        Ok(observation) => {
            let running = ctx.requests.running(pl).is_some();
            let d = rds::decide(regions, spec, &observation, previous.database.as_ref(), running);
            let part = (d.status.clone(), d.writer_region.clone());
            apply_changes(ctx, pl, owner, &d.changes, d.report, part).await
        }
        Err(e) => Checked::failed(&e),
    }
}

/// S3 replication and DynamoDB replicas, one condition; each part keeps its last known status
/// when AWS cannot be read.
async fn storage(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    spec: &crate::api::StorageSpec,
    active_region: Option<&str>,
    previous: &PilotLightStatus,
) -> Checked<crate::api::StorageStatus> {
    let regions = &pl.spec.regions;
    let serving = Serving::of(regions, active_region);
    let mut part = previous.storage.clone().unwrap_or_default();
    part.protected_from = Some(serving.active.to_owned());
    part.protected_to = Some(serving.other.to_owned());
    let mut found = Vec::new();
    if !spec.s3.is_empty() {
        found.push(match s3::observe(&ctx.aws, regions, serving, &spec.s3).await {
            Ok(observations) => {
                let running = ctx.requests.running(pl).is_some();
                let d = s3::decide(regions, serving, running, &spec.s3, &observations);
                part.s3 = d.status.clone();
                apply_changes(ctx, pl, owner, &d.changes, d.report, ()).await
            }
            Err(e) => Checked::failed(&e),
        });
    }
    if !spec.dynamodb.is_empty() {
        found.push(match dynamodb::observe(&ctx.aws, serving, &spec.dynamodb).await {
            Ok(observed) => {
                let d = dynamodb::decide(serving, &spec.dynamodb, &observed);
                part.dynamodb = d.status.clone();
                apply_changes(ctx, pl, owner, &d.changes, d.report, ()).await
            }
            Err(e) => Checked::failed(&e),
        });
    }
    let retry = found.iter().find_map(|c| c.retry.clone());
    Checked {
        report: ComponentReport::combine(found.into_iter().map(|c| c.report).collect()),
        part: Some(part),
        retry,
    }
}

/// The standby compute. Reads are shared with other PilotLights unless `fresh`.
async fn compute(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    spec: &crate::api::ComputeSpec,
    fresh: bool,
    capacity: compute::CapacityUse,
) -> Checked<crate::api::ComputeStatus> {
    let regions = &pl.spec.regions;
    match compute::observe(&ctx.aws, regions, spec, fresh).await {
        Ok(observation) => {
            let d = compute::decide(regions, spec, &observation, capacity, Timestamp::now());
            let part = d.status.clone();
            apply_changes(ctx, pl, owner, &d.changes, d.report, part).await
        }
        Err(e) => Checked::failed(&e),
    }
}

/// Route 53. Reads are shared with other PilotLights unless `fresh`.
async fn traffic(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    inputs: &traffic::TrafficInputs<'_>,
    fresh: bool,
    current: &PilotLightStatus,
) -> Checked<crate::api::TrafficStatus> {
    match traffic::observe(&ctx.aws, inputs, fresh).await {
        Ok(observation) => {
            let d = traffic::decide(
                inputs,
                current.active_region.as_deref(),
                writer_endpoint(current),
                &observation,
            );
            let part = d.status.clone();
            apply_changes(ctx, pl, owner, &d.changes, d.report, part).await
        }
        Err(e) => Checked::failed(&e),
    }
}

/// The DR cache: readiness only, nothing is changed.
async fn cache(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    spec: &crate::api::ElastiCacheSpec,
    serving: Serving<'_>,
) -> Checked<crate::api::CacheStatus> {
    match cache::observe(&ctx.aws, &pl.spec.regions, spec).await {
        Ok(observation) => {
            let d = cache::decide(&pl.spec.regions, serving, spec, &observation);
            Checked {
                report: d.report,
                part: Some(d.status),
                retry: None,
            }
        }
        Err(e) => Checked::failed(&e),
    }
}

/// The DR load balancer: readiness only, nothing is changed.
async fn load_balancer(ctx: &PilotLightContext, pl: &PilotLight, spec: &crate::api::LoadBalancerSpec) -> Checked<()> {
    match load_balancer::observe(&ctx.aws, &pl.spec, spec).await {
        Ok(observation) => Checked {
            report: load_balancer::decide(&pl.spec, spec, &observation),
            part: Some(()),
            retry: None,
        },
        Err(e) => Checked::failed(&e),
    }
}

fn writer_endpoint(status: &PilotLightStatus) -> Option<&str> {
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
