//! PilotLight convergence: observe AWS -> decide (pure) -> act -> write status.

pub mod aurora;
pub mod compute;
pub mod dynamodb;
pub mod endpoints;
mod report;
pub mod s3;
pub mod schedule;
pub mod traffic;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::EventType,
        finalizer::{self, finalizer},
        predicates, reflector,
        utils::{Predicate, PredicateConfig},
        watcher,
    },
};
use tracing::{Instrument, info, info_span, warn};

pub use report::{ComponentHealth, ComponentReport};
use schedule::{Component, Due};

use crate::{
    api::{
        ConditionStatus, ConditionType, DeletionPolicy, FailoverRequest, PilotLight, PilotLightStatus, RequestPhase,
        set_condition,
    },
    aws::{AwsClients, AwsError},
    context::{Context, MANAGER},
    error::{Error, Result},
    telemetry::ObjectLabels,
};

const CONTROLLER: &str = "pilotlight";

/// The seed article's regions, for the components' unit tests.
#[cfg(test)]
fn test_regions() -> crate::api::Regions {
    crate::api::Regions {
        primary: "us-east-1".into(),
        standby: "us-west-2".into(),
    }
}

/// Runs the PilotLight controller until `shutdown` completes; sets `ready` once its cache has
/// synced with the API server.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ready: Arc<AtomicBool>,
) {
    let api: Api<PilotLight> = match &ctx.settings.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    // Reconcile on spec changes (generation, which deletion also bumps) and finalizer changes,
    // not on our own status writes: every reconcile costs AWS calls, and the periodic requeue
    // already re-checks AWS.
    let (reader, writer) = reflector::store();
    let changes = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .reflect(writer)
        .inspect_ok(move |event| {
            if matches!(event, watcher::Event::InitDone) && !ready.swap(true, Ordering::Relaxed) {
                info!("PilotLight cache synced");
            }
        })
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            PredicateConfig::default(),
        );
    // Convergence asks the FailoverRequest cache whether a request runs: wait until it is filled.
    if ctx.requests.wait_until_ready().await.is_err() {
        warn!("the FailoverRequest cache is gone; PilotLight controller not started");
        return;
    }
    let mut controller = Controller::for_stream(changes, reader.clone());
    if let Some(triggers) = ctx.take_pilotlight_triggers() {
        controller = controller.reconcile_on(triggers);
    }
    let shutdown = shutdown.shared();
    // Detection and drill schedules read the same cache.
    let detection = crate::detection::run(ctx.clone(), reader, shutdown.clone());
    let controller = controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile loop");
            }
        });
    tokio::join!(controller, detection);
}

async fn reconcile(pl: Arc<PilotLight>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = pl.namespace().ok_or_else(|| Error::MissingNamespace(pl.name_any()))?;
    let span = info_span!("reconcile", kind = "PilotLight", namespace = %namespace, name = %pl.name_any());
    let started = Instant::now();
    let api: Api<PilotLight> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, pl, |event| async {
        match event {
            finalizer::Event::Apply(pl) => converge(&pl, &ctx, &namespace).await,
            finalizer::Event::Cleanup(pl) => cleanup(&pl, &ctx).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(Box::new(other)),
    });
    ctx.metrics.reconciled(CONTROLLER, started.elapsed());
    result
}

/// Held on every PilotLight so that deleting it runs [`cleanup`] first.
pub const FINALIZER: &str = "pilotlight.dev/cleanup";

/// Runs when a PilotLight is deleted. `Retain` leaves AWS untouched; `Delete` removes only what
/// the operator created that holds no data: S3 replication rules, the standby Auto Scaling Group
/// and launch template (when they carry its owner tag) and its health checks. Clusters,
/// instances, buckets, tables, AMI copies and DNS records are never deleted. The endpoints
/// ConfigMap goes with its owner.
async fn cleanup(pl: &PilotLight, ctx: &Context) -> Result<Action> {
    let key = object_key(pl);
    if pl.spec.deletion_policy == DeletionPolicy::Delete {
        let mut removed = Vec::new();
        for pair in pl.spec.storage.iter().flat_map(|s| &s.s3) {
            if let Some(bucket) = s3::remove_rule(&ctx.aws, &pl.spec.regions, pair).await? {
                removed.push(format!("replication rule of bucket {bucket}"));
            }
        }
        if let Some(compute) = &pl.spec.compute {
            removed.extend(compute::remove(&ctx.aws, &pl.spec.regions, compute, &key).await?);
        }
        if pl.spec.traffic.is_some() {
            let checks = traffic::remove(&ctx.aws, &key).await?;
            removed.extend(checks.into_iter().map(|id| format!("Route 53 health check {id}")));
        }
        if !removed.is_empty() {
            publish(
                ctx,
                pl,
                EventType::Normal,
                "DeletedAwsResources",
                format!("Removed (deletionPolicy Delete): {}", removed.join(", ")),
            )
            .await;
        }
    }
    ctx.metrics.forget(&ObjectLabels {
        namespace: pl.namespace().unwrap_or_default(),
        name: pl.name_any(),
    });
    ctx.reset_backoff(&key);
    ctx.scheduler.forget(&key, &[]);
    info!(policy = ?pl.spec.deletion_policy, "cleaned up");
    Ok(Action::await_change())
}

fn error_policy(pl: Arc<PilotLight>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(CONTROLLER, error.metric_label());
    let delay = ctx.next_backoff(&object_key(&pl));
    warn!(name = %pl.name_any(), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn object_key(pl: &PilotLight) -> String {
    format!("{}/{}", pl.namespace().unwrap_or_default(), pl.name_any())
}

/// Runs `check` for `component` when it is due (or `force`d), records its report, and returns
/// the report; a component that is not due keeps its last report, and so does one that the
/// running FailoverRequest `frozen_by` is changing.
async fn checked(
    ctx: &Context,
    key: &str,
    component: Component,
    generation: Option<i64>,
    force: bool,
    frozen_by: Option<&FailoverRequest>,
    check: impl AsyncFnOnce(bool) -> ComponentReport,
) -> ComponentReport {
    let now = SystemTime::now();
    let due = ctx.scheduler.due(key, component, generation, &ctx.settings, now);
    if let Some(request) = frozen_by {
        return match due {
            Due::Skip(report) => report,
            Due::Check { .. } => ComponentReport::converging(
                crate::failover::plan::FAILOVER_IN_PROGRESS,
                format!(
                    "FailoverRequest {} is running; it changes this component",
                    request.name_any()
                ),
            ),
        };
    }
    let fresh = match due {
        Due::Skip(report) if !force => return report,
        Due::Skip(_) => true,
        Due::Check { fresh } => fresh,
    };
    let report = check(fresh).await;
    ctx.scheduler.record(key, component, generation, report, now)
}

async fn converge(pl: &PilotLight, ctx: &Context, namespace: &str) -> Result<Action> {
    let spec = &pl.spec;
    let owner = object_key(pl);
    let generation = pl.metadata.generation;
    let previous = owned_status(&pl.status.clone().unwrap_or_default());
    let mut status = previous.clone();
    let mut reports = Vec::new();
    let mut components = Vec::new();
    let mut retry_error = None;
    // While a FailoverRequest runs, compute, traffic and the endpoints ConfigMap are its business:
    // their last reports stand and nothing is changed behind its back. Looked at before anything
    // is observed (a request ending half-way through this check still freezes them) and again
    // before compute and traffic (one starting half-way does too).
    let running_at_start = ctx.running_request(pl);

    if let Some(aurora) = spec.database.as_ref().and_then(|d| d.aurora.as_ref()) {
        components.push(Component::Database);
        let report = checked(
            ctx,
            &owner,
            Component::Database,
            generation,
            false,
            None,
            async |fresh| converge_database(ctx, pl, &owner, aurora, fresh, &mut status, &mut retry_error).await,
        )
        .await;
        reports.push((ConditionType::DatabaseReplicating, report));
    }
    if let Some(storage) = spec
        .storage
        .as_ref()
        .filter(|s| !s.s3.is_empty() || !s.dynamodb.is_empty())
    {
        components.push(Component::Storage);
        let report = checked(ctx, &owner, Component::Storage, generation, false, None, async |_| {
            converge_storage(ctx, pl, &owner, storage, &mut status, &mut retry_error).await
        })
        .await;
        reports.push((ConditionType::StorageReplicating, report));
    }
    if spec.database.is_none() {
        // Without a database the region that serves is the one the last failover, switchover or
        // failback moved to.
        status.active_region = Some(
            pl.status
                .as_ref()
                .and_then(|s| s.last_failover.as_ref())
                .filter(|o| o.phase == RequestPhase::Succeeded)
                .and_then(|o| o.active_region.clone())
                .unwrap_or_else(|| spec.regions.primary.to_string()),
        );
    }
    let request = running_at_start.or_else(|| ctx.running_request(pl));
    // Compute and traffic follow the active region and writer: when those move, look at once.
    let moved =
        status.active_region != previous.active_region || writer_endpoint(&status) != writer_endpoint(&previous);
    if let Some(compute) = &spec.compute {
        components.push(Component::Compute);
        let report = checked(
            ctx,
            &owner,
            Component::Compute,
            generation,
            moved,
            request.as_deref(),
            async |fresh| converge_compute(ctx, pl, &owner, compute, fresh, &mut status, &mut retry_error).await,
        )
        .await;
        reports.push((ConditionType::ComputeReady, report));
    }
    let traffic_inputs = traffic::TrafficInputs::new(spec, &owner);
    if traffic_inputs.is_configured() {
        components.push(Component::Traffic);
        let report = checked(
            ctx,
            &owner,
            Component::Traffic,
            generation,
            moved,
            request.as_deref(),
            async |fresh| {
                converge_traffic(ctx, pl, &owner, &traffic_inputs, fresh, &mut status, &mut retry_error).await
            },
        )
        .await;
        reports.push((ConditionType::TrafficReady, report));
    }
    ctx.scheduler.forget(&owner, &components);

    let now = Timestamp::now();
    // Conditions of components no longer in the spec go.
    status
        .conditions
        .retain(|c| c.type_ == ConditionType::Ready.as_str() || reports.iter().any(|(t, _)| t.as_str() == c.type_));
    for (type_, report) in &reports {
        set_condition(
            &mut status.conditions,
            *type_,
            report.condition_status(),
            report.reason,
            &report.message,
            generation,
            now,
        );
    }
    let ready = ComponentReport::ready(&reports);
    let was_ready = previous
        .conditions
        .iter()
        .find(|c| c.type_ == ConditionType::Ready.as_str())
        .map(|c| c.status.clone());
    set_condition(
        &mut status.conditions,
        ConditionType::Ready,
        ready.condition_status(),
        ready.reason,
        &ready.message,
        generation,
        now,
    );
    // The trend `kubectl pilotlight status` shows: every change of Ready between True and not.
    let is_ready = ready.condition_status() == ConditionStatus::True;
    if was_ready.as_deref().map(|s| s == ConditionStatus::True.as_str()) != Some(is_ready) {
        status.readiness_history = crate::api::with_entry(
            &status.readiness_history,
            crate::api::HistoryEntry {
                time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now),
                event: if is_ready { "Ready" } else { "NotReady" }.to_owned(),
                message: Some(format!("{}: {}", ready.reason, ready.message)),
            },
        );
    }
    status.phase = Some(ComponentReport::phase(&reports));
    status.observed_generation = generation;
    if spec.storage.is_none() {
        status.storage = None;
    }
    if spec.compute.is_none() {
        status.compute = None;
    }
    if !traffic_inputs.is_configured() {
        status.traffic = None;
    }

    if request.is_some() && ctx.running_request(pl).is_none() {
        // The request ended during this check, which may have seen the database before it moved:
        // report nothing, forget what was seen, and look again now that it is done.
        ctx.scheduler.forget(&owner, &[]);
        return Ok(Action::requeue(Duration::ZERO));
    }
    announce_transitions(ctx, pl, &previous, &reports, &ready).await;
    let lag = status
        .database
        .as_ref()
        .and_then(|d| d.replication_lag_ms)
        .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    let image_age = status
        .compute
        .as_ref()
        .and_then(|c| c.image_created_at.as_ref())
        .map(|created| Duration::from_secs((now - created.0).get_seconds().max(0) as u64));
    ctx.metrics.set_readiness(
        ObjectLabels {
            namespace: namespace.to_owned(),
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
        // Only the fields this controller owns ([`owned_status`]).
        crate::context::apply_pilotlight_status(&ctx.client, pl, MANAGER, &status).await?;
    }
    if request.is_none() && ctx.running_request(pl).is_none() {
        endpoints::apply(&ctx.client, &endpoints::desired(pl, &status)).await?;
    }
    if let Some(e) = retry_error {
        return Err(e.into());
    }
    ctx.reset_backoff(&owner);
    let next = ctx.scheduler.next_check(&owner, &ctx.settings, SystemTime::now());
    Ok(Action::requeue(next.unwrap_or(ctx.settings.misconfigured_interval)))
}

fn writer_endpoint(status: &PilotLightStatus) -> Option<&str> {
    status.database.as_ref().and_then(|d| d.writer_endpoint.as_deref())
}

/// A change a component decided on: how people see it in Events, and how it is carried out.
pub trait PlannedChange: std::fmt::Debug + Sync {
    /// Event reason; each kind of change has its own, because Events with the same reason are
    /// folded into one series that keeps only the first note.
    fn reason(&self) -> &'static str;
    fn describe(&self) -> String;
    /// Repairs of what a person or tool changed, and the cost guard, are Warnings: someone
    /// should know.
    fn is_warning(&self) -> bool {
        false
    }
    /// `owner` (`namespace/name`) tags what the change creates.
    fn apply(&self, aws: &AwsClients, owner: &str) -> impl Future<Output = std::result::Result<(), AwsError>> + Send;
}

/// Announces and applies `changes` in order and stops at the first failure. Returns `planned`,
/// or the failure's report; a failure worth retrying soon is left in `retry_error`.
async fn apply_changes<C: PlannedChange>(
    ctx: &Context,
    pl: &PilotLight,
    owner: &str,
    changes: &[C],
    planned: ComponentReport,
    retry_error: &mut Option<AwsError>,
) -> ComponentReport {
    let mut planned = planned;
    for change in changes {
        if change.is_warning() {
            // A repair says what it found, which is what a person fighting drift needs to read.
            planned.repaired = true;
            planned.message = change.describe();
        }
        let type_ = if change.is_warning() {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, pl, type_, change.reason(), change.describe()).await;
        info!(change = ?change, "applying");
        if let Err(e) = change.apply(&ctx.aws, owner).await {
            return failed(&e, retry_error);
        }
    }
    planned
}

/// The report for a failed AWS call; keeps the error for backoff when it is worth retrying.
fn failed(error: &AwsError, retry_error: &mut Option<AwsError>) -> ComponentReport {
    if error.is_retryable() {
        *retry_error = Some(error.clone());
    }
    ComponentReport::from_aws_error(error)
}

/// The Aurora global database; fills `status.database` and `status.activeRegion`. Reads are
/// shared with other PilotLights unless `fresh`.
async fn converge_database(
    ctx: &Context,
    pl: &PilotLight,
    owner: &str,
    aurora: &crate::api::AuroraSpec,
    fresh: bool,
    status: &mut PilotLightStatus,
    retry_error: &mut Option<AwsError>,
) -> ComponentReport {
    let regions = &pl.spec.regions;
    match aurora::observe(&ctx.aws, regions, aurora, status.database.as_ref(), fresh).await {
        Ok(observation) => {
            let decision = aurora::decide(regions, aurora, &observation);
            status.database = Some(decision.status.clone());
            if let Some(region) = &decision.writer_region {
                status.active_region = Some(region.clone());
            }
            apply_changes(ctx, pl, owner, &decision.changes, decision.report, retry_error).await
        }
        Err(e) => failed(&e, retry_error),
    }
}

/// S3 replication and DynamoDB replicas, one condition; each part keeps its last known status
/// when AWS cannot be read.
async fn converge_storage(
    ctx: &Context,
    pl: &PilotLight,
    owner: &str,
    storage: &crate::api::StorageSpec,
    status: &mut PilotLightStatus,
    retry_error: &mut Option<AwsError>,
) -> ComponentReport {
    let regions = &pl.spec.regions;
    let mut storage_status = status.storage.clone().unwrap_or_default();
    let mut parts = Vec::new();
    if !storage.s3.is_empty() {
        parts.push(match s3::observe(&ctx.aws, regions, &storage.s3).await {
            Ok(observations) => {
                let decision = s3::decide(regions, &storage.s3, &observations);
                storage_status.s3 = decision.status.clone();
                apply_changes(ctx, pl, owner, &decision.changes, decision.report, retry_error).await
            }
            Err(e) => failed(&e, retry_error),
        });
    }
    if !storage.dynamodb.is_empty() {
        parts.push(match dynamodb::observe(&ctx.aws, regions, &storage.dynamodb).await {
            Ok(observed) => {
                let decision = dynamodb::decide(regions, &storage.dynamodb, &observed);
                storage_status.dynamodb = decision.status.clone();
                apply_changes(ctx, pl, owner, &decision.changes, decision.report, retry_error).await
            }
            Err(e) => failed(&e, retry_error),
        });
    }
    status.storage = Some(storage_status);
    ComponentReport::combine(parts)
}

/// The standby compute; fills `status.compute`. Reads are shared with other PilotLights unless
/// `fresh`.
async fn converge_compute(
    ctx: &Context,
    pl: &PilotLight,
    owner: &str,
    spec: &crate::api::ComputeSpec,
    fresh: bool,
    status: &mut PilotLightStatus,
    retry_error: &mut Option<AwsError>,
) -> ComponentReport {
    let regions = &pl.spec.regions;
    match compute::observe(&ctx.aws, regions, spec, fresh).await {
        Ok(observation) => {
            let capacity = standby_capacity_use(ctx, pl, status);
            let decision = compute::decide(regions, spec, &observation, capacity, Timestamp::now());
            status.compute = Some(decision.status.clone());
            apply_changes(ctx, pl, owner, &decision.changes, decision.report, retry_error).await
        }
        Err(e) => failed(&e, retry_error),
    }
}

/// Standby capacity is in use when the standby region serves, or a FailoverRequest for this
/// PilotLight is running (a drill scales the standby group up on purpose).
fn standby_capacity_use(ctx: &Context, pl: &PilotLight, status: &PilotLightStatus) -> compute::CapacityUse {
    if status.active_region.as_deref() == Some(pl.spec.regions.standby.as_str()) || ctx.running_request(pl).is_some() {
        compute::CapacityUse::InUse
    } else {
        compute::CapacityUse::Dormant
    }
}

/// Route 53; fills `status.traffic`. Reads are shared with other PilotLights unless `fresh`.
async fn converge_traffic(
    ctx: &Context,
    pl: &PilotLight,
    owner: &str,
    inputs: &traffic::TrafficInputs<'_>,
    fresh: bool,
    status: &mut PilotLightStatus,
    retry_error: &mut Option<AwsError>,
) -> ComponentReport {
    match traffic::observe(&ctx.aws, inputs, fresh).await {
        Ok(observation) => {
            let decision = traffic::decide(
                inputs,
                &pl.spec.regions,
                status.active_region.as_deref(),
                writer_endpoint(status),
                &observation,
            );
            status.traffic = Some(decision.status.clone());
            apply_changes(ctx, pl, owner, &decision.changes, decision.report, retry_error).await
        }
        Err(e) => failed(&e, retry_error),
    }
}

/// The status fields this controller computes and applies. Everything else (`lastFailover`,
/// `lastDrill`, `primaryHealth`, conditions of other types) is left to whoever owns it: server-side apply only
/// touches the fields in the patch, and a stale cached copy must not overwrite newer values.
fn owned_status(status: &PilotLightStatus) -> PilotLightStatus {
    PilotLightStatus {
        observed_generation: status.observed_generation,
        active_region: status.active_region.clone(),
        phase: status.phase,
        conditions: status
            .conditions
            .iter()
            .filter(|c| {
                c.type_ == ConditionType::Ready.as_str()
                    || ConditionType::COMPONENTS.iter().any(|t| t.as_str() == c.type_)
            })
            .cloned()
            .collect(),
        database: status.database.clone(),
        storage: status.storage.clone(),
        compute: status.compute.clone(),
        traffic: status.traffic.clone(),
        readiness_history: status.readiness_history.clone(),
        ..Default::default()
    }
}

/// Warning Events when a component turns bad (once per new reason, not every reconcile), and a
/// Normal Event when the PilotLight becomes Ready.
async fn announce_transitions(
    ctx: &Context,
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
    let was_ready = previous
        .conditions
        .iter()
        .any(|c| c.type_ == ConditionType::Ready.as_str() && c.status == ConditionStatus::True.as_str());
    if ready.health == ComponentHealth::Healthy && !was_ready {
        publish(ctx, pl, EventType::Normal, "Ready", ready.message.clone()).await;
    }
}

async fn publish(ctx: &Context, pl: &PilotLight, type_: EventType, reason: &str, note: String) {
    crate::context::publish_event(&ctx.recorder, &pl.object_ref(&()), type_, reason, note, "Reconcile").await;
}
