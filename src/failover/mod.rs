//! The failover engine: each FailoverRequest is admitted (or rejected) by [`admission`], waits
//! for approval when the PilotLight asks for it, and runs as a journaled plan ([`plan`]) whose
//! steps ([`steps`]) the [`executor`] runs, in parallel where they are independent. The journal
//! (`status.steps`) lets a restarted operator resume where it stopped; [`outcome`] writes the
//! result onto the request and the PilotLight.

pub mod admission;
pub mod estimate;
pub mod executor;
pub mod outcome;
pub mod plan;
pub mod steps;

use std::{
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use futures::{StreamExt, TryStreamExt, channel::mpsc};
use kube::{
    Api, Resource, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::EventType,
        predicates,
        reflector::{ObjectRef, store::Writer},
        utils::{Predicate, PredicateConfig},
        watcher,
    },
};
use tracing::{Instrument, info_span, warn};

use crate::{
    api::{FailoverRequest, FailoverRequestStatus, PilotLight, REQUEST_FINALIZER, RequestPhase, StepState, object_key},
    backoff::Retries,
    config::FINALIZER_MANAGER,
    context::{Core, Requests},
    error::{Error, Result},
    telemetry::ObjectLabels,
};

const CONTROLLER: &str = "failoverrequest";

/// What the FailoverRequest controller owns besides the shared [`Core`].
pub struct FailoverContext {
    pub core: Arc<Core>,
    pub requests: Requests,
    retries: Retries,
    /// Asks the PilotLight controller to converge a PilotLight now (after a request ended).
    converge_now: mpsc::UnboundedSender<ObjectRef<PilotLight>>,
}

impl Deref for FailoverContext {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl FailoverContext {
    pub fn new(
        core: Arc<Core>,
        requests: Requests,
        converge_now: mpsc::UnboundedSender<ObjectRef<PilotLight>>,
    ) -> Self {
        let retries = Retries::new(core.settings.reconcile_backoff());
        Self {
            core,
            requests,
            retries,
            converge_now,
        }
    }

    /// Has the PilotLight controller converge `pl` now, with every component checked afresh.
    fn converge(&self, pl: &PilotLight) {
        let _ = self.converge_now.unbounded_send(ObjectRef::from_obj(pl));
    }

    /// Has the PilotLight of `request` converged once the request cache shows it in `phase`
    /// (convergence reads that cache, e.g. to prewarm for a request awaiting approval), or
    /// after a few seconds whatever the cache says.
    fn converge_when_seen(&self, request: &FailoverRequest, phase: RequestPhase) {
        let pl = ObjectRef::<PilotLight>::new(&request.spec.pilot_light_ref.name)
            .within(&request.namespace().unwrap_or_default());
        let (requests, send, request) = (self.requests.clone(), self.converge_now.clone(), request.clone());
        tokio::spawn(async move {
            let seen = async {
                while requests.latest(&request).and_then(|r| r.phase()) != Some(phase) {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), seen).await;
            let _ = send.unbounded_send(pl);
        });
    }

    /// Whether a person asked the request to stop: `spec.cancel`, or deleting it. Read from the
    /// watch cache, which sees the change within milliseconds.
    fn stop_requested(&self, request: &FailoverRequest) -> bool {
        let latest = self.requests.latest(request);
        let latest = latest.as_deref().unwrap_or(request);
        latest.spec.cancel || latest.metadata.deletion_timestamp.is_some()
    }
}

/// Runs the FailoverRequest controller until `shutdown` completes, filling `cache` (the store
/// behind [`FailoverContext::requests`]); sets `ready` once it has synced.
pub async fn run(
    ctx: Arc<FailoverContext>,
    cache: Writer<FailoverRequest>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ready: Arc<AtomicBool>,
) {
    let reader = ctx.requests.store().clone();
    // Spec changes (approval, cancel; deletion bumps the generation too) and finalizers; our own
    // status writes do not wake the controller.
    let changes = watcher(
        ctx.watched::<FailoverRequest>(),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .reflect(cache)
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

async fn reconcile(request: Arc<FailoverRequest>, ctx: Arc<FailoverContext>) -> Result<Action> {
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
        if request.metadata.deletion_timestamp.is_some() && has_finalizer(&request) {
            set_finalizer(&ctx, &request, false).await?;
        }
        ctx.retries.reset(&object_key(request.as_ref()));
        Ok(action)
    }
    .instrument(span)
    .await;
    ctx.metrics.reconciled(CONTROLLER, started.elapsed());
    result
}

fn error_policy(request: Arc<FailoverRequest>, error: &Error, ctx: Arc<FailoverContext>) -> Action {
    ctx.metrics.reconcile_failed(CONTROLLER, error.metric_label());
    let delay = ctx.retries.next(&object_key(request.as_ref()));
    warn!(name = %request.name_any(), error = %error, retry_in = ?delay, "failover reconcile failed");
    Action::requeue(delay)
}

/// Moves the request as far as it can go now.
async fn drive(request: &FailoverRequest, ctx: &FailoverContext) -> Result<Action> {
    let status = request.status.clone().unwrap_or_default();
    let acts = !status.phase.is_some_and(RequestPhase::is_final)
        || status.steps.iter().any(|s| s.state == StepState::Deferred);
    if acts && !in_shard(ctx, request).await? {
        // Another shard's: looked at again in case the PilotLight is relabelled.
        return Ok(Action::requeue(ctx.settings.misconfigured_interval));
    }
    match status.phase {
        Some(RequestPhase::Running) => match pilotlight(ctx, request).await? {
            // The cache can lag behind the end this operator has just written (a reconcile
            // queued by an earlier write): resuming from it would finish the request a second
            // time, from timestamps the API server keeps only to the second. Only the API
            // server's word resumes a plan; otherwise look again once the cache has caught up
            // (it may have deferred steps to retry).
            Some(_) if still_running(ctx, request).await? == Some(false) => {
                Ok(Action::requeue(std::time::Duration::from_secs(1)))
            }
            Some(pl) => executor::execute(ctx, request, &pl, status, None).await,
            None => {
                outcome::finish_without_pilotlight(ctx, request, status).await?;
                Ok(Action::await_change())
            }
        },
        Some(RequestPhase::Succeeded) if status.steps.iter().any(|s| s.state == StepState::Deferred) => {
            match pilotlight(ctx, request).await? {
                Some(pl) => executor::retry_deferred(ctx, request, &pl, status).await,
                None => Ok(Action::await_change()),
            }
        }
        Some(phase) if phase.is_final() => {
            // An operator that stopped between the last write and the finalizer's removal.
            if has_finalizer(request) {
                set_finalizer(ctx, request, false).await?;
            }
            Ok(Action::await_change())
        }
        _ => admission::admit(ctx, request, status).await,
    }
}

/// Whether the API server still shows `request` Running (`None`: it is gone).
async fn still_running(ctx: &FailoverContext, request: &FailoverRequest) -> Result<Option<bool>> {
    let fresh = requests_api(ctx, request).get_opt(&request.name_any()).await?;
    Ok(fresh.map(|r| r.status.and_then(|s| s.phase) == Some(RequestPhase::Running)))
}

fn has_finalizer(request: &FailoverRequest) -> bool {
    request.finalizers().iter().any(|f| f == REQUEST_FINALIZER)
}

/// Adds or removes [`REQUEST_FINALIZER`]: server-side apply of `metadata.finalizers` (a set)
/// under a field manager of its own, so other finalizers stay. Held only while a request is
/// active, so that deleting it mid-step stops it first.
async fn set_finalizer(ctx: &FailoverContext, request: &FailoverRequest, present: bool) -> Result<()> {
    let finalizers: &[&str] = if present { &[REQUEST_FINALIZER] } else { &[] };
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

/// Whether this operator runs `request`: every request without `--pilotlight-selector`, else
/// those whose PilotLight matches it. The API server decides (a LIST by label and name), so its
/// matching is the only one. A request whose PilotLight does not exist is every shard's, and each
/// answers it the same way.
async fn in_shard(ctx: &Core, request: &FailoverRequest) -> Result<bool> {
    let Some(selector) = &ctx.settings.pilotlight_selector else {
        return Ok(true);
    };
    let api: Api<PilotLight> = Api::namespaced(ctx.client.clone(), &request.namespace().unwrap_or_default());
    let name = &request.spec.pilot_light_ref.name;
    let params = ListParams::default()
        .labels(selector)
        .fields(&format!("metadata.name={name}"));
    if !api.list_metadata(&params).await?.items.is_empty() {
        return Ok(true);
    }
    Ok(api.get_metadata_opt(name).await?.is_none())
}

async fn pilotlight(ctx: &Core, request: &FailoverRequest) -> Result<Option<PilotLight>> {
    let api: Api<PilotLight> = Api::namespaced(ctx.client.clone(), &request.namespace().unwrap_or_default());
    Ok(api.get_opt(&request.spec.pilot_light_ref.name).await?)
}

fn requests_api(ctx: &Core, request: &FailoverRequest) -> Api<FailoverRequest> {
    Api::namespaced(ctx.client.clone(), &request.namespace().unwrap_or_default())
}

/// Metrics for a request that reached a final phase.
fn ended(ctx: &Core, request: &FailoverRequest, status: &FailoverRequestStatus) {
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
            .and_then(|(start, end)| std::time::Duration::try_from(end.0.duration_since(start.0)).ok()),
        status.recovery_time_seconds,
        status.data_loss_window_seconds,
    );
}

/// Publishes an Event on the request without holding up the plan.
fn publish(ctx: &Core, request: &FailoverRequest, type_: EventType, reason: &str, note: String) {
    let recorder = ctx.recorder.clone();
    let reference = request.object_ref(&());
    let reason = reason.to_owned();
    tokio::spawn(async move {
        crate::context::publish_event(&recorder, &reference, type_, &reason, note, "Failover").await;
    });
}
