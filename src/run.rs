//! `pilot-light run`: check the CRDs, start the admin server and the controllers, stop cleanly
//! on SIGTERM.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use kube::{Api, Client, api::ListParams, runtime::reflector};
use tokio::sync::watch;
use tracing::info;

use crate::{
    api::{Evacuation, FailoverRequest, PilotLight},
    aws::AwsClients,
    config::{MANAGER, Settings},
    context::{Core, Requests},
    detection::{self, DetectionContext},
    error::{Error, Result},
    evacuation::{self, EvacuationContext},
    failover::{self, FailoverContext},
    leader::{Leadership, LeaseSettings},
    pilotlight::{self, PilotLightContext},
    telemetry::{AdminState, Metrics, serve_admin},
};

/// Fails with [`Error::CrdNotInstalled`] when a CRD is missing, and with
/// [`Error::BadSelector`] when the API server refuses `pilotlight_selector`, so a misinstalled
/// or misconfigured operator says so at once instead of retrying watches forever.
pub async fn check_crds(client: &Client, namespace: Option<&str>, pilotlight_selector: Option<&str>) -> Result<()> {
    async fn probe<K>(api: Api<K>, crd: &'static str, selector: Option<&str>) -> Result<()>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let mut params = ListParams::default().limit(1);
        if let Some(selector) = selector {
            params = params.labels(selector);
        }
        match (api.list_metadata(&params).await, selector) {
            (Ok(_), _) => Ok(()),
            (Err(kube::Error::Api(status)), _) if status.code == 404 => Err(Error::CrdNotInstalled(crd)),
            (Err(kube::Error::Api(status)), Some(selector)) if status.code == 400 => Err(Error::BadSelector {
                selector: selector.to_owned(),
                message: status.message,
            }),
            (Err(e), _) => Err(e.into()),
        }
    }
    let (pl, fr): (Api<PilotLight>, Api<FailoverRequest>) = match namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    probe(pl, "pilotlights.pilotlight.dev", pilotlight_selector).await?;
    probe(fr, "failoverrequests.pilotlight.dev", None).await?;
    probe(
        Api::<Evacuation>::all(client.clone()),
        "evacuations.pilotlight.dev",
        None,
    )
    .await
}

/// Completes when SIGTERM or SIGINT arrives.
async fn termination_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT received, shutting down"),
    }
}

/// Runs the operator until SIGTERM/SIGINT. With `lease`, the controllers run only while this
/// replica holds the leader Lease; losing it ends the process with [`Error::LeadershipLost`].
pub async fn run(admin_addr: SocketAddr, settings: Settings, lease: Option<LeaseSettings>) -> Result<()> {
    // Fail at once, not at shutdown, when the admin port is taken.
    let listener = tokio::net::TcpListener::bind(admin_addr)
        .await
        .map_err(|source| Error::AdminBind {
            addr: admin_addr,
            source,
        })?;
    let client = Client::try_default().await?;
    check_crds(
        &client,
        settings.namespace.as_deref(),
        settings.pilotlight_selector.as_deref(),
    )
    .await?;
    let metrics = Arc::new(Metrics::default());
    let aws = AwsClients::from_env(metrics.clone(), MANAGER, settings.check_intervals.shared_read_window())
        .await
        .with_rate_budgets(settings.rate_budgets.clone());
    let ctx = Arc::new(Core::new(client, aws, metrics.clone(), settings));

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        termination_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let ready = Arc::new(AtomicBool::new(false));
    let admin = tokio::spawn(serve_admin(
        listener,
        AdminState {
            metrics,
            ready: ready.clone(),
        },
        stopped(),
    ));
    let outcome = match lease {
        None => {
            info!("controllers starting");
            controllers(ctx, stopped(), ready).await;
            Ok(())
        }
        Some(lease) => lead(ctx, lease, stopped, ready).await,
    };
    // Leadership lost: the process ends here, and the admin server with it.
    outcome?;
    match admin.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "admin server failed"),
        Err(e) => tracing::error!(error = %e, "admin server task failed"),
    }
    info!("stopped");
    Ok(())
}

/// Runs the PilotLight and FailoverRequest controllers and detection until `shutdown`
/// completes; `ready` is set once the controllers have synced their caches. Each gets a context
/// of its own around the shared `core`; the caches and the channel between them are made here.
pub async fn controllers(
    core: Arc<Core>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ready: Arc<AtomicBool>,
) {
    use futures::FutureExt;
    let shutdown = shutdown.shared();
    let (requests, requests_cache) = reflector::store::<FailoverRequest>();
    let (pilotlights, pilotlights_cache) = reflector::store::<PilotLight>();
    let requests = Requests::new(requests);
    let (converge_now, converge_requests) = futures::channel::mpsc::unbounded();
    let failover = Arc::new(FailoverContext::new(core.clone(), requests.clone(), converge_now));
    let convergence = Arc::new(PilotLightContext::new(core.clone(), requests.clone()));
    let evacuation = core
        .settings
        .handle_evacuations
        .then(|| Arc::new(EvacuationContext::new(core.clone())));
    let detection = DetectionContext {
        core,
        requests,
        pilotlights,
    };
    // The PilotLight controller waits for the FailoverRequest cache before it starts, so its
    // readiness implies both.
    tokio::join!(
        failover::run(
            failover,
            requests_cache,
            shutdown.clone(),
            Arc::new(AtomicBool::new(false))
        ),
        pilotlight::run(
            convergence,
            pilotlights_cache,
            converge_requests,
            shutdown.clone(),
            ready
        ),
        detection::run(detection, shutdown.clone()),
        async move {
            if let Some(evacuation) = evacuation {
                evacuation::run(evacuation, shutdown).await;
            }
        },
    );
}

/// Waits for the leader Lease, then runs the controllers while holding it. A replica waiting for
/// the Lease is ready (it can take over); `ready` is the controllers' cache state once leading.
async fn lead<S, F>(ctx: Arc<Core>, lease: LeaseSettings, stopped: S, ready: Arc<AtomicBool>) -> Result<()>
where
    S: Fn() -> F,
    F: Future<Output = ()> + Send + Sync + 'static,
{
    let name = lease.name.clone();
    let mut leadership = Leadership::new(ctx.client.clone(), lease);
    info!(identity = leadership.identity(), lease = %name, "waiting for the leader Lease");
    ready.store(true, Ordering::Relaxed);
    ctx.metrics.set_leader(false);
    if !leadership.acquire(stopped()).await {
        return Ok(());
    }
    ready.store(false, Ordering::Relaxed);
    ctx.metrics.set_leader(true);
    info!("controllers starting");
    tokio::select! {
        () = controllers(ctx.clone(), stopped(), ready) => {
            leadership.release().await;
            Ok(())
        }
        () = leadership.hold() => {
            ctx.metrics.set_leader(false);
            Err(Error::LeadershipLost(name))
        }
    }
}
