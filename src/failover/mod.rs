//! The failover engine: each FailoverRequest is admitted (or rejected), waits for approval when
//! the PilotLight asks for it, and runs as a journaled plan whose independent steps run in
//! parallel. The journal (`status.steps`) lets a restarted operator resume where it stopped.

pub mod journal;
pub mod plan;
pub mod steps;

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{FutureExt, StreamExt, TryStreamExt, stream::FuturesUnordered};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, Resource, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::EventType,
        predicates,
        reflector::ObjectRef,
        utils::{Predicate, PredicateConfig},
        watcher,
    },
};
use tracing::{Instrument, info, info_span, warn};

use crate::{
    api::{
        FailoverOutcome, FailoverRequest, FailoverRequestStatus, FailoverType, PilotLight, RequestPhase, StepState,
        StepStatus,
    },
    aws::cloudwatch,
    context::{Context, DRILL_MANAGER, FAILOVER_MANAGER},
    error::{Error, Result},
    telemetry::ObjectLabels,
};

use journal::{Journal, now};
use plan::{Direction, StepKind};
use steps::{Done, StepContext, StepError};

const CONTROLLER: &str = "failoverrequest";

/// Held on every FailoverRequest so that deleting a running one stops it between steps first.
pub const FINALIZER: &str = "pilotlight.dev/failover";

/// Annotation naming the user who created a request; set by the creator and checked at
/// admission (see `deploy/admission/`). Its user cannot approve the request.
pub const CREATED_BY: &str = "pilotlight.dev/created-by";

/// Annotation saying the operator created a request itself: [`ORIGIN_DETECTION`] for a failing
/// primary, [`ORIGIN_SCHEDULE`] for a scheduled drill. Believed only with the operator as
/// [`CREATED_BY`].
pub const ORIGIN: &str = "pilotlight.dev/origin";
pub const ORIGIN_DETECTION: &str = "detection";
pub const ORIGIN_SCHEDULE: &str = "schedule";

/// How long a step's outcome waits for another write to carry it before it is written alone.
const OUTCOME_WRITE_DELAY: Duration = Duration::from_millis(50);

/// How often steps left Deferred (their region did not answer) are tried again.
const DEFERRED_RETRY: Duration = Duration::from_secs(30);

/// Attempts of a step that fails with a retryable error (throttling, 5xx, unreachable) before
/// the request fails. With the backoff below they span about two minutes.
const STEP_ATTEMPTS: u32 = 8;

/// Runs the FailoverRequest controller until `shutdown` completes. Fills [`Context::requests`].
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ready: Arc<AtomicBool>,
) {
    let api: Api<FailoverRequest> = match &ctx.settings.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let Some(writer) = ctx.take_requests_writer() else {
        warn!("the FailoverRequest controller runs once per context");
        return;
    };
    let reader = ctx.requests.clone();
    // Spec changes (approval, cancel; deletion bumps the generation too) and finalizers; our own
    // status writes do not wake the controller.
    let changes = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .reflect(writer)
        .inspect_ok(move |event| {
            if matches!(event, watcher::Event::InitDone) {
                ready.store(true, Ordering::Relaxed);
            }
        })
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            PredicateConfig::default(),
        );
    Controller::for_stream(changes, reader)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "failover reconcile loop");
            }
        })
        .await;
}

async fn reconcile(request: Arc<FailoverRequest>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = request
        .namespace()
        .ok_or_else(|| Error::MissingNamespace(request.name_any()))?;
    let span = info_span!(
        "reconcile",
        kind = "FailoverRequest",
        namespace = %namespace,
        name = %request.name_any(),
        pilotlight = %request.spec.pilot_light_ref.name
    );
    let started = Instant::now();
    let result = async {
        let action = drive(&request, &ctx).await?;
        // A deleted request is a cancelled one: `drive` has stopped it before its next step.
        if request.metadata.deletion_timestamp.is_some() && request.finalizers().iter().any(|f| f == FINALIZER) {
            set_finalizer(&ctx, &request, false).await?;
        }
        Ok(action)
    }
    .instrument(span)
    .await;
    ctx.metrics.reconciled(CONTROLLER, started.elapsed());
    result
}

/// Adds or removes [`FINALIZER`]: server-side apply of `metadata.finalizers` (a set) under a field
/// manager of its own, so other finalizers stay. Held only while a request is active, so that
/// deleting it mid-step stops it first.
async fn set_finalizer(ctx: &Context, request: &FailoverRequest, present: bool) -> Result<()> {
    let finalizers: &[&str] = if present { &[FINALIZER] } else { &[] };
    let patch = serde_json::json!({
        "apiVersion": FailoverRequest::api_version(&()),
        "kind": FailoverRequest::kind(&()),
        "metadata": {"name": request.name_any(), "finalizers": finalizers},
    });
    requests_api(ctx, request)
        .patch(
            &request.name_any(),
            &PatchParams::apply(FINALIZER_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(())
}

/// Field manager of [`FINALIZER`].
const FINALIZER_MANAGER: &str = "pilot-light-finalizer";

fn error_policy(request: Arc<FailoverRequest>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(CONTROLLER, error.metric_label());
    let key = format!("fr/{}/{}", request.namespace().unwrap_or_default(), request.name_any());
    let delay = ctx.next_backoff(&key);
    warn!(name = %request.name_any(), error = %error, retry_in = ?delay, "failover reconcile failed");
    Action::requeue(delay)
}

/// Moves the request as far as it can go now.
async fn drive(request: &FailoverRequest, ctx: &Context) -> Result<Action> {
    let status = request.status.clone().unwrap_or_default();
    let action = match status.phase {
        Some(RequestPhase::Running) => {
            let pl = pilotlight(ctx, request).await?;
            match pl {
                Some(pl) => execute(ctx, request, &pl, status, None).await?,
                None => {
                    finish_without_pilotlight(ctx, request, status).await?;
                    Action::await_change()
                }
            }
        }
        Some(RequestPhase::Succeeded) if status.steps.iter().any(|s| s.state == StepState::Deferred) => {
            match pilotlight(ctx, request).await? {
                Some(pl) => retry_deferred(ctx, request, &pl, status).await?,
                None => Action::await_change(),
            }
        }
        Some(RequestPhase::Succeeded | RequestPhase::Failed | RequestPhase::Rejected | RequestPhase::Cancelled) => {
            // An operator that stopped between the last write and the finalizer's removal.
            if request.finalizers().iter().any(|f| f == FINALIZER) {
                set_finalizer(ctx, request, false).await?;
            }
            Action::await_change()
        }
        None | Some(RequestPhase::Pending | RequestPhase::AwaitingApproval) => admit(ctx, request, status).await?,
    };
    ctx.reset_backoff(&format!(
        "fr/{}/{}",
        request.namespace().unwrap_or_default(),
        request.name_any()
    ));
    Ok(action)
}

async fn pilotlight(ctx: &Context, request: &FailoverRequest) -> Result<Option<PilotLight>> {
    let api: Api<PilotLight> = Api::namespaced(ctx.client.clone(), &request.namespace().unwrap_or_default());
    Ok(api.get_opt(&request.spec.pilot_light_ref.name).await?)
}

fn requests_api(ctx: &Context, request: &FailoverRequest) -> Api<FailoverRequest> {
    Api::namespaced(ctx.client.clone(), &request.namespace().unwrap_or_default())
}

/// Whether a person asked the request to stop: `spec.cancel`, or deleting it. Read from the
/// watch cache, which sees the change within milliseconds.
fn stop_requested(ctx: &Context, request: &FailoverRequest) -> bool {
    let latest = ctx
        .requests
        .get(&ObjectRef::from_obj(request))
        .map(|r| (*r).clone())
        .unwrap_or_else(|| request.clone());
    latest.spec.cancel || latest.metadata.deletion_timestamp.is_some()
}

/// Admission: the checks that may reject the request, then approval, then the start.
async fn admit(ctx: &Context, request: &FailoverRequest, mut status: FailoverRequestStatus) -> Result<Action> {
    let api = requests_api(ctx, request);
    let name = request.name_any();
    let type_ = request.spec.type_;
    let pl_name = &request.spec.pilot_light_ref.name;
    if stop_requested(ctx, request) {
        status.phase = Some(RequestPhase::Cancelled);
        status.completed_at = Some(now());
        status.message = Some("Cancelled before it started; nothing was changed".into());
        journal::write(&api, &name, &status).await?;
        set_finalizer(ctx, request, false).await?;
        publish(
            ctx,
            request,
            EventType::Normal,
            "Cancelled",
            status.message.clone().unwrap_or_default(),
        );
        ended(ctx, request, &status);
        return Ok(Action::await_change());
    }
    let key = format!("{}/{pl_name}", request.namespace().unwrap_or_default());
    let admitting = ctx.admission_lock(&key).lock_owned().await;

    let (pl, holder) = tokio::try_join!(pilotlight(ctx, request), holder_of(&api, request))?;
    let Some(pl) = pl else {
        return reject(
            ctx,
            request,
            status,
            format!(
                "PilotLight {pl_name} does not exist in namespace {}",
                request.namespace().unwrap_or_default()
            ),
        )
        .await;
    };
    if let Some(holder) = holder {
        return reject(ctx, request, status, holder).await;
    }
    if let Some(why) = plan::refusal(&pl, type_, request.spec.force) {
        return reject(ctx, request, status, why).await;
    }
    if matches!(type_, FailoverType::Switchover | FailoverType::Failback) {
        let from = Direction::of(&pl.spec, type_).from;
        if let Err(e) = probe(ctx, from).await {
            return reject(
                ctx,
                request,
                status,
                format!("a {type_:?} needs {from}, which does not answer ({e}); a Failover works without it"),
            )
            .await;
        }
    }
    if status.steps.is_empty() {
        status.steps = plan::plan(&pl.spec, type_);
    }
    if request.spec.dry_run {
        for step in &mut status.steps {
            step.message = Some("dry run: not executed".into());
        }
        status.phase = Some(RequestPhase::Succeeded);
        status.completed_at = Some(now());
        status.message = Some(format!(
            "Dry run: the plan has {} steps ({}); nothing was changed",
            status.steps.len(),
            status
                .steps
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        journal::write(&api, &name, &status).await?;
        publish(
            ctx,
            request,
            EventType::Normal,
            "DryRun",
            status.message.clone().unwrap_or_default(),
        );
        ended(ctx, request, &status);
        return Ok(Action::await_change());
    }
    let needs_approval = plan::needs_approval(&pl, type_, origin(ctx, request).await);
    if needs_approval && !approved(request) {
        let message = match (&request.spec.approved_by, creator(request)) {
            (Some(by), Some(creator)) if *by == creator => format!(
                "Awaiting approval: {by} created this request and cannot approve it; another person must set spec.approvedBy"
            ),
            _ => "Awaiting approval: another person must set spec.approvedBy to their user name".to_owned(),
        };
        if status.phase != Some(RequestPhase::AwaitingApproval) || status.message.as_ref() != Some(&message) {
            status.phase = Some(RequestPhase::AwaitingApproval);
            status.message = Some(message.clone());
            status.observed_generation = request.metadata.generation;
            tokio::try_join!(
                async { journal::write(&api, &name, &status).await.map_err(Error::from) },
                set_finalizer(ctx, request, true)
            )?;
            publish(ctx, request, EventType::Normal, "AwaitingApproval", message);
        }
        return Ok(Action::await_change());
    }

    // Start. The recovery time counts from creation, or from the approval when one was needed.
    let started_at = if needs_approval {
        now()
    } else {
        request.metadata.creation_timestamp.clone().unwrap_or_else(now)
    };
    status.data_loss_window_seconds = match type_ {
        FailoverType::Failover => data_loss_window(ctx, &pl).await,
        FailoverType::Switchover | FailoverType::Failback => Some(0.0),
        FailoverType::Drill => None,
    };
    status.phase = Some(RequestPhase::Running);
    status.started_at = Some(started_at);
    status.observed_generation = request.metadata.generation;
    status.message = Some(match &request.spec.approved_by {
        Some(by) if needs_approval => format!("Running; approved by {by}"),
        _ => "Running".to_owned(),
    });
    publish(
        ctx,
        request,
        EventType::Normal,
        "Started",
        format!(
            "{type_:?} of {pl_name} started: {}",
            status
                .steps
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    // The Running phase is written (with the finalizer) while the steps make their first reads;
    // the PilotLight is held until it is, and no step calls anything mutating before it is.
    execute(ctx, request, &pl, status, Some(admitting)).await
}

/// Who asked: the operator itself only when the request says so and records the operator as
/// its creator (which the approval policy makes truthful); anyone else is a person.
async fn origin(ctx: &Context, request: &FailoverRequest) -> plan::Origin {
    let claimed = match request.annotations().get(ORIGIN).map(String::as_str) {
        Some(ORIGIN_DETECTION) => plan::Origin::Detection,
        Some(ORIGIN_SCHEDULE) => plan::Origin::Schedule,
        _ => return plan::Origin::Person,
    };
    match (creator(request), ctx.identity().await) {
        (Some(creator), Ok(me)) if creator == me => claimed,
        _ => plan::Origin::Person,
    }
}

fn creator(request: &FailoverRequest) -> Option<String> {
    request.annotations().get(CREATED_BY).cloned()
}

/// Approved by someone, and not by its creator (the admission policy refuses that too; this
/// holds where the policy is not installed).
fn approved(request: &FailoverRequest) -> bool {
    match (&request.spec.approved_by, creator(request)) {
        (Some(by), Some(creator)) => *by != creator,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Another request that holds the PilotLight: one already awaiting approval or running, or an
/// older one not yet admitted. Read from the API server, under the admission lock.
async fn holder_of(api: &Api<FailoverRequest>, request: &FailoverRequest) -> Result<Option<String>> {
    let me = (request.metadata.creation_timestamp.clone(), request.name_any());
    let others = api.list(&ListParams::default()).await?;
    let holder = others
        .items
        .iter()
        .filter(|r| r.name_any() != request.name_any())
        .filter(|r| r.spec.pilot_light_ref.name == request.spec.pilot_light_ref.name)
        .filter(|r| plan::is_active(r.status.as_ref().and_then(|s| s.phase)))
        .filter(|r| r.metadata.deletion_timestamp.is_none() && !r.spec.cancel)
        .filter(|r| {
            let phase = r.status.as_ref().and_then(|s| s.phase);
            matches!(phase, Some(RequestPhase::AwaitingApproval | RequestPhase::Running))
                || (r.metadata.creation_timestamp.clone(), r.name_any()) < me
        })
        .min_by_key(|r| (r.metadata.creation_timestamp.clone(), r.name_any()));
    Ok(holder.map(|h| {
        let phase = h.status.as_ref().and_then(|s| s.phase).unwrap_or(RequestPhase::Pending);
        format!(
            "FailoverRequest {} ({:?}) is already {phase:?} for PilotLight {}; one request at a time",
            h.name_any(),
            h.spec.type_,
            request.spec.pilot_light_ref.name
        )
    }))
}

async fn reject(
    ctx: &Context,
    request: &FailoverRequest,
    mut status: FailoverRequestStatus,
    why: String,
) -> Result<Action> {
    status.phase = Some(RequestPhase::Rejected);
    status.completed_at = Some(now());
    status.message = Some(format!("Rejected: {why}"));
    status.observed_generation = request.metadata.generation;
    journal::write(&requests_api(ctx, request), &request.name_any(), &status).await?;
    if request.finalizers().iter().any(|f| f == FINALIZER) {
        set_finalizer(ctx, request, false).await?;
    }
    info!(reason = %why, "rejected");
    publish(ctx, request, EventType::Warning, "Rejected", why);
    ended(ctx, request, &status);
    Ok(Action::await_change())
}

/// A cheap call to `region`'s EC2 API: does the region answer at all?
async fn probe(ctx: &Context, region: &str) -> std::result::Result<(), crate::aws::AwsError> {
    let clients = ctx.aws.region(region);
    clients
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map(|_| ())
        .map_err(|e| crate::aws::AwsError::from_sdk("ec2", "DescribeAvailabilityZones", region, e))
}

/// The RPO of an unplanned failover: the standby's replication lag as it begins, read fresh
/// from CloudWatch in the standby region, else the PilotLight's last observed lag.
async fn data_loss_window(ctx: &Context, pl: &PilotLight) -> Option<f64> {
    let aurora = pl.spec.database.as_ref().and_then(|d| d.aurora.as_ref())?;
    let standby = ctx.aws.region(pl.spec.regions.standby.as_str());
    let id = aurora.standby_cluster_identifier.to_string();
    match cloudwatch::replication_lags(&standby, std::slice::from_ref(&id)).await {
        Ok(lags) if lags.contains_key(&id) => lags.get(&id).map(|l| l.milliseconds / 1000.0),
        other => {
            if let Err(e) = other {
                warn!(error = %e, "replication lag unavailable; using the last observed one");
            }
            pl.status
                .as_ref()
                .and_then(|s| s.database.as_ref())
                .and_then(|d| d.replication_lag_ms)
                .map(|ms| ms / 1000.0)
        }
    }
}

/// Runs the plan from the journal until every step ended, then records the outcome. A request
/// just admitted (`admitted` holds its PilotLight's admission lock) has its Running phase and
/// finalizer written first, concurrently with the steps' first reads; the lock is released once
/// they are.
async fn execute(
    ctx: &Context,
    request: &FailoverRequest,
    pl: &PilotLight,
    status: FailoverRequestStatus,
    admitted: Option<tokio::sync::OwnedMutexGuard<()>>,
) -> Result<Action> {
    let type_ = request.spec.type_;
    let direction = Direction::of(&pl.spec, type_);
    let journal = Journal::new(requests_api(ctx, request), request.name_any(), status);
    // Each yields whether it was a step (true) or a journal write (false).
    let mut in_flight: FuturesUnordered<futures::future::BoxFuture<'_, Result<bool>>> = FuturesUnordered::new();
    if let Some(admission) = admitted {
        journal.note(|_| {});
        let journal = &journal;
        in_flight.push(
            async move {
                tokio::try_join!(
                    async { journal.flush().await.map_err(Error::from) },
                    set_finalizer(ctx, request, true)
                )?;
                drop(admission);
                Ok(false)
            }
            .boxed(),
        );
    }
    let mut started = HashSet::new();
    let mut stopped_by_person = false;
    // Step outcomes noted but not yet written.
    let mut unwritten = false;
    let mut running = 0_usize;
    // Set once no step runs: outcome writes still waiting for their turn are then left to
    // `finish`, which writes everything with the phase.
    let (steps_done, steps_done_rx) = tokio::sync::watch::channel(false);
    // The loop awaits nothing but the steps (and journal flushes among them): a step holding the
    // journal's write lock must keep being polled, so everything else here is synchronous.
    loop {
        let snapshot = journal.snapshot();
        stopped_by_person |= stop_requested(ctx, request);
        let failed = snapshot.steps.iter().any(|s| s.state == StepState::Failed);
        for name in plan::startable(&snapshot.steps, stopped_by_person || failed) {
            let Some(kind) = StepKind::from_name(&name) else {
                continue;
            };
            if !started.insert(name.clone()) {
                continue;
            }
            journal.note(|s| {
                if let Some(step) = s.steps.iter_mut().find(|s| s.name == name) {
                    step.state = StepState::Running;
                    step.started_at.get_or_insert_with(now);
                }
            });
            let sc = StepContext {
                ctx,
                pl,
                type_,
                direction,
                journal: &journal,
                kind,
            };
            running += 1;
            in_flight.push(
                async move {
                    let began = Instant::now();
                    let result = run_with_retries(&sc).await;
                    record_step(ctx, request, sc.journal, kind, result, began.elapsed());
                    Ok(true)
                }
                .boxed(),
            );
        }
        if running == 0 {
            let _ = steps_done.send(true);
        } else if unwritten {
            // Steps ended while others run. Their outcome rides on the next write a running step
            // makes before or after a call; if none comes soon, it is written on its own, so that
            // `kubectl get fr -w` shows progress during long waits.
            let journal = &journal;
            let mut done = steps_done_rx.clone();
            in_flight.push(
                async move {
                    let alone = tokio::select! {
                        () = tokio::time::sleep(OUTCOME_WRITE_DELAY) => true,
                        _ = done.wait_for(|d| *d) => false,
                    };
                    if alone {
                        journal.flush().await?;
                    }
                    Ok(false)
                }
                .boxed(),
            );
            unwritten = false;
        }
        match in_flight.next().await {
            Some(step_ended) => {
                if step_ended? {
                    running -= 1;
                    unwritten = true;
                }
            }
            None => break,
        }
    }
    finish(ctx, request, pl, &journal, stopped_by_person).await
}

/// Runs a step, trying again (with jittered, growing delays) after retryable errors. Each try
/// observes first, so a retry never repeats a call that took effect.
async fn run_with_retries(sc: &StepContext<'_>) -> std::result::Result<Done, StepError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match steps::run(sc).await {
            Err(e) if e.retryable && attempt < STEP_ATTEMPTS => {
                let delay = Duration::from_millis(250 * (1 << attempt.min(7))).mul_f64(rand::random_range(0.5..1.0));
                warn!(step = sc.kind.name(), error = %e.message, retry_in = ?delay, "step failed; retrying");
                sc.journal.note(|s| {
                    if let Some(step) = s.steps.iter_mut().find(|s| s.name == sc.kind.name()) {
                        step.message = Some(format!("retrying: {}", e.message));
                    }
                });
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

/// Notes how a step ended (the executor has it written), with an Event and a metric.
fn record_step(
    ctx: &Context,
    request: &FailoverRequest,
    journal: &Journal,
    kind: StepKind,
    result: std::result::Result<Done, StepError>,
    took: Duration,
) {
    let (state, message, event_type) = match result {
        Ok(Done::Succeeded(m)) => (StepState::Succeeded, m, EventType::Normal),
        Ok(Done::Deferred(m)) => (StepState::Deferred, m, EventType::Warning),
        Err(e) => (StepState::Failed, e.message, EventType::Warning),
    };
    journal.note(|status| {
        if let Some(s) = status.steps.iter_mut().find(|s| s.name == kind.name()) {
            s.state = state;
            s.finished_at = (state != StepState::Deferred).then(now);
            s.message = Some(message.clone());
        }
    });
    ctx.metrics.step_finished(kind.name(), &format!("{state:?}"), took);
    info!(step = kind.name(), ?state, %message, "step ended");
    // One reason per step and outcome: Events with the same reason are folded into one series.
    publish(ctx, request, event_type, &format!("{}{state:?}", kind.name()), message);
}

/// The request's phase, RTO and message once no step runs; the PilotLight learns the outcome.
async fn finish(
    ctx: &Context,
    request: &FailoverRequest,
    pl: &PilotLight,
    journal: &Journal,
    stopped_by_person: bool,
) -> Result<Action> {
    let snapshot = journal.snapshot();
    let failed = snapshot.steps.iter().find(|s| s.state == StepState::Failed).cloned();
    let phase = match (&failed, stopped_by_person) {
        (Some(_), _) => RequestPhase::Failed,
        (None, true) => RequestPhase::Cancelled,
        (None, false) => RequestPhase::Succeeded,
    };
    let in_state = |state: StepState| -> Vec<String> {
        snapshot
            .steps
            .iter()
            .filter(|s| s.state == state)
            .map(|s| s.name.clone())
            .collect()
    };
    let (done, not_run, deferred) = (
        in_state(StepState::Succeeded),
        in_state(StepState::Pending),
        in_state(StepState::Deferred),
    );
    let rto = recovery_time(&snapshot.steps, snapshot.started_at.as_ref());
    let mut message = match (&failed, phase) {
        (Some(step), _) => format!(
            "Failed at {}: {}",
            step.name,
            step.message.as_deref().unwrap_or("no message")
        ),
        (None, RequestPhase::Cancelled) => "Cancelled".to_owned(),
        _ => format!("{:?} succeeded", request.spec.type_),
    };
    message.push_str(&format!(
        ". Done: {}",
        if done.is_empty() {
            "nothing".to_owned()
        } else {
            done.join(", ")
        }
    ));
    if !not_run.is_empty() {
        message.push_str(&format!(". Not run: {}", not_run.join(", ")));
    }
    if !deferred.is_empty() {
        message.push_str(&format!(
            ". Waiting for the old region to answer: {} (retried every {}s)",
            deferred.join(", "),
            DEFERRED_RETRY.as_secs()
        ));
    }
    let final_state = if phase == RequestPhase::Cancelled {
        StepState::Cancelled
    } else {
        StepState::Skipped
    };
    journal.note(|s| {
        for step in s.steps.iter_mut().filter(|s| s.state == StepState::Pending) {
            step.state = final_state;
        }
        s.phase = Some(phase);
        s.completed_at = Some(now());
        s.recovery_time_seconds = if phase == RequestPhase::Succeeded { rto } else { None };
        s.message = Some(message.clone());
        s.current_step = None;
    });
    let status = journal.snapshot();
    // The PilotLight first: whoever sees this request end and asks for the next one finds the
    // active region already moved.
    record_outcome(ctx, request, pl, &status).await?;
    let event_type = if phase == RequestPhase::Succeeded {
        EventType::Normal
    } else {
        EventType::Warning
    };
    publish(ctx, request, event_type, &format!("{phase:?}"), message.clone());
    journal.flush().await?;
    if deferred.is_empty() {
        // Nothing left to do: the request may be deleted at any time now. Only after the final
        // phase is written: the finalizer's removal wakes the controller, which must not find
        // the request still Running and finish it again.
        set_finalizer(ctx, request, false).await?;
    }
    ended(ctx, request, &status);
    ctx.trigger_pilotlight(&pl.namespace().unwrap_or_default(), &pl.name_any());
    Ok(if deferred.is_empty() {
        Action::await_change()
    } else {
        Action::requeue(DEFERRED_RETRY)
    })
}

/// The PilotLight vanished while its request ran: nothing more can be done safely.
async fn finish_without_pilotlight(
    ctx: &Context,
    request: &FailoverRequest,
    mut status: FailoverRequestStatus,
) -> Result<()> {
    status.phase = Some(RequestPhase::Failed);
    status.completed_at = Some(now());
    status.message = Some(format!(
        "PilotLight {} was deleted while the request ran; stopped",
        request.spec.pilot_light_ref.name
    ));
    journal::write(&requests_api(ctx, request), &request.name_any(), &status).await?;
    publish(
        ctx,
        request,
        EventType::Warning,
        "Failed",
        status.message.clone().unwrap_or_default(),
    );
    ended(ctx, request, &status);
    Ok(())
}

/// Steps left Deferred after success: try them again now that time has passed.
async fn retry_deferred(
    ctx: &Context,
    request: &FailoverRequest,
    pl: &PilotLight,
    status: FailoverRequestStatus,
) -> Result<Action> {
    let type_ = request.spec.type_;
    let journal = Journal::new(requests_api(ctx, request), request.name_any(), status.clone());
    let deferred: Vec<StepKind> = status
        .steps
        .iter()
        .filter(|s| s.state == StepState::Deferred)
        .filter_map(|s| StepKind::from_name(&s.name))
        .collect();
    let mut remaining = 0;
    for kind in deferred {
        let sc = StepContext {
            ctx,
            pl,
            type_,
            direction: Direction::of(&pl.spec, type_),
            journal: &journal,
            kind,
        };
        let began = Instant::now();
        match steps::run(&sc).await {
            Ok(Done::Deferred(_)) => remaining += 1,
            result => {
                record_step(ctx, request, &journal, kind, result, began.elapsed());
                journal.flush().await?;
            }
        }
    }
    if remaining == 0 {
        set_finalizer(ctx, request, false).await?;
        journal
            .update(|s| {
                s.message = Some(format!(
                    "{}; the old region answered again and every deferred step ended",
                    s.message
                        .as_deref()
                        .unwrap_or_default()
                        .split(". Waiting")
                        .next()
                        .unwrap_or_default()
                ));
            })
            .await?;
        return Ok(Action::await_change());
    }
    Ok(Action::requeue(DEFERRED_RETRY))
}

/// RTO: from the start (creation or approval) until traffic was switched; without traffic
/// management, until the last step that restores service (promotion, healthy targets, smoke
/// test) finished.
pub fn recovery_time(steps: &[StepStatus], started_at: Option<&Time>) -> Option<f64> {
    let started = started_at?;
    let finished = |kind: StepKind| {
        steps
            .iter()
            .find(|s| s.name == kind.name() && s.state == StepState::Succeeded)
            .and_then(|s| s.finished_at.clone())
    };
    let end = finished(StepKind::SwitchTraffic).or_else(|| {
        [
            StepKind::PromoteDatabase,
            StepKind::WaitTargetsHealthy,
            StepKind::SmokeTest,
        ]
        .into_iter()
        .filter_map(finished)
        .max_by_key(|t| t.0)
    })?;
    let millis = end.0.as_millisecond() - started.0.as_millisecond();
    Some((millis.max(0) as f64) / 1000.0)
}

/// Copies the outcome onto the PilotLight (`lastFailover` or `lastDrill`) under the failover
/// engine's own field manager.
async fn record_outcome(
    ctx: &Context,
    request: &FailoverRequest,
    pl: &PilotLight,
    status: &FailoverRequestStatus,
) -> Result<()> {
    let type_ = request.spec.type_;
    let phase = status.phase.unwrap_or(RequestPhase::Failed);
    let direction = Direction::of(&pl.spec, type_);
    // A drill moves nothing; anything that did not succeed is taken to have left traffic where
    // it was (convergence reports where the writer really is).
    let active_region = if phase == RequestPhase::Succeeded && type_ != FailoverType::Drill {
        direction.to
    } else {
        direction.from
    };
    let outcome = FailoverOutcome {
        request_name: request.name_any(),
        type_,
        phase,
        completed_at: status.completed_at.clone(),
        recovery_time_seconds: status.recovery_time_seconds,
        data_loss_window_seconds: status.data_loss_window_seconds,
        active_region: Some(active_region.to_owned()),
        message: status.message.clone(),
    };
    let (field, manager) = if type_ == FailoverType::Drill {
        ("lastDrill", DRILL_MANAGER)
    } else {
        ("lastFailover", FAILOVER_MANAGER)
    };
    let mut patch = serde_json::json!({ field: outcome });
    if type_ == FailoverType::Drill {
        // The drill trend, under the same manager as lastDrill (one request at a time, so `pl`'s
        // history is the latest).
        let history = pl.status.as_ref().map(|s| s.drill_history.clone()).unwrap_or_default();
        let entry = crate::api::HistoryEntry {
            time: status.completed_at.clone().unwrap_or_else(now),
            event: format!("Drill{phase:?}"),
            message: Some(format!(
                "{}{}",
                request.name_any(),
                status
                    .recovery_time_seconds
                    .map(|rto| format!(", RTO {rto:.1}s"))
                    .unwrap_or_default()
            )),
        };
        patch["drillHistory"] = serde_json::json!(crate::api::with_entry(&history, entry));
    }
    // Traffic and writer moved: say so now rather than at the next convergence, which confirms
    // it from AWS, so that a Failback admitted right after this request is not refused.
    if phase == RequestPhase::Succeeded && type_ != FailoverType::Drill {
        patch["activeRegion"] = serde_json::json!(active_region);
    }
    crate::context::apply_pilotlight_status(&ctx.client, pl, manager, &patch).await?;
    Ok(())
}

/// Metrics for a request that reached a final phase.
fn ended(ctx: &Context, request: &FailoverRequest, status: &FailoverRequestStatus) {
    ctx.metrics.request_ended(
        ObjectLabels {
            namespace: request.namespace().unwrap_or_default(),
            name: request.spec.pilot_light_ref.name.clone(),
        },
        &format!("{:?}", request.spec.type_),
        &format!("{:?}", status.phase.unwrap_or(RequestPhase::Failed)),
        status
            .started_at
            .as_ref()
            .zip(status.completed_at.as_ref())
            .and_then(|(start, end)| Duration::try_from(end.0.duration_since(start.0)).ok()),
        status.recovery_time_seconds,
        status.data_loss_window_seconds,
    );
}

/// Publishes an Event on the request without holding up the plan.
fn publish(ctx: &Context, request: &FailoverRequest, type_: EventType, reason: &str, note: String) {
    let recorder = ctx.recorder.clone();
    let reference = request.object_ref(&());
    let reason = reason.to_owned();
    tokio::spawn(async move {
        crate::context::publish_event(&recorder, &reference, type_, &reason, note, "Failover").await;
    });
}

#[cfg(test)]
mod tests;
