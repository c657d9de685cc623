//! The PilotLight controller: the watch, the finalizer, cleanup on deletion, and the backoff
//! after a failed reconcile.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use futures::{StreamExt, TryStreamExt, channel::mpsc};
use kube::{
    Api, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        events::EventType,
        finalizer::{self, finalizer},
        predicates,
        reflector::{ObjectRef, store::Writer},
        utils::{Predicate, PredicateConfig},
        watcher,
    },
};
use tracing::{Instrument, info, info_span, warn};

use super::{PilotLightContext, compute, converge, s3, traffic};
use crate::{
    api::{DeletionPolicy, PILOTLIGHT_FINALIZER, PilotLight, object_key},
    error::{Error, Result},
    telemetry::ObjectLabels,
};

const CONTROLLER: &str = "pilotlight";

/// Runs the PilotLight controller until `shutdown` completes, filling `cache`; sets `ready` once
/// it has synced. `converge_now` asks for a PilotLight to be converged at once, every
/// component checked afresh (a FailoverRequest ended).
pub async fn run(
    ctx: Arc<PilotLightContext>,
    cache: Writer<PilotLight>,
    converge_now: mpsc::UnboundedReceiver<ObjectRef<PilotLight>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ready: Arc<AtomicBool>,
) {
    // Reconcile on spec changes (generation, which deletion also bumps) and finalizer changes,
    // not on our own status writes: every reconcile costs AWS calls, and the periodic requeue
    // already re-checks AWS.
    let reader = cache.as_reader();
    // A shard's PilotLights only: the API server does the matching, and detection, which reads
    // this cache, inherits the shard.
    let mut config = watcher::Config::default().any_semantic();
    if let Some(selector) = &ctx.settings.pilotlight_selector {
        config = config.labels(selector);
    }
    let changes = watcher(ctx.watched::<PilotLight>(), config)
        .default_backoff()
        .reflect(cache)
        .inspect_ok(move |event| {
            if matches!(event, watcher::Event::InitDone) && !ready.swap(true, Ordering::Relaxed) {
                info!("PilotLight cache synced");
            }
        })
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(predicates::finalizers)
                .combine(primary_health),
            PredicateConfig::default(),
        );
    // Convergence asks the FailoverRequest cache whether a request runs: wait until it is filled.
    if ctx.requests.store().wait_until_ready().await.is_err() {
        warn!("the FailoverRequest cache is gone; PilotLight controller not started");
        return;
    }
    let forget = ctx.clone();
    let converge_now = converge_now.map(move |pl: ObjectRef<PilotLight>| {
        let key = format!("{}/{}", pl.namespace.as_deref().unwrap_or_default(), pl.name);
        forget.scheduler.forget(&key, &[]);
        pl
    });
    Controller::for_stream(changes, reader)
        .with_config(controller::Config::default().concurrency(ctx.settings.max_concurrent_reconciles))
        .reconcile_on(converge_now)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile loop");
            }
        })
        .await;
}

/// Detection's verdict on the primary (`status.primaryHealth`: healthy and since when), which
/// `spec.failover.prewarm.onSuspicion` acts on as soon as detection writes it.
fn primary_health(pl: &PilotLight) -> Option<u64> {
    let health = pl.status.as_ref()?.primary_health.as_ref()?;
    let since = health.since.as_ref().map(|t| t.0.as_second());
    Some(crate::pilotlight::schedule::stable_hash(&format!(
        "{:?}/{since:?}",
        health.healthy
    )))
}

async fn reconcile(pl: Arc<PilotLight>, ctx: Arc<PilotLightContext>) -> Result<Action> {
    let namespace = pl.namespace().ok_or_else(|| Error::MissingNamespace(pl.name_any()))?;
    let span = info_span!("reconcile", kind = "PilotLight", namespace = %namespace, name = %pl.name_any());
    let started = Instant::now();
    let api: Api<PilotLight> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, PILOTLIGHT_FINALIZER, pl, |event| async {
        match event {
            finalizer::Event::Apply(pl) => converge::converge(&pl, &ctx).await,
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

/// Runs when a PilotLight is deleted. `Retain` leaves AWS untouched; `Delete` removes only what
/// the operator created that holds no data: S3 replication rules, the standby Auto Scaling Group
/// and launch template (when they carry its owner tag) and its health checks. Clusters,
/// instances, buckets, tables, AMI copies and DNS records are never deleted. The endpoints
/// ConfigMap goes with its owner.
async fn cleanup(pl: &PilotLight, ctx: &PilotLightContext) -> Result<Action> {
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
            removed.extend(traffic::remove(&ctx.aws, &key, pl.spec.regions.standby.as_str()).await?);
        }
        if !removed.is_empty() {
            converge::publish(
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
    ctx.retries.reset(&key);
    ctx.scheduler.forget(&key, &[]);
    info!(policy = ?pl.spec.deletion_policy, "cleaned up");
    Ok(Action::await_change())
}

fn error_policy(pl: Arc<PilotLight>, error: &Error, ctx: Arc<PilotLightContext>) -> Action {
    ctx.metrics.reconcile_failed(CONTROLLER, error.metric_label());
    let delay = ctx.retries.next(&object_key(pl.as_ref()));
    warn!(name = %pl.name_any(), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}
