//! Logs, Prometheus metrics (one registry) and the health endpoints.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tracing_subscriber::{EnvFilter, prelude::*};

use crate::api::ConditionType;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Installs the global tracing subscriber; `RUST_LOG` overrides the default filter.
pub fn init_tracing(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,kube=warn,aws=warn,hyper=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true))
            .init(),
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).init(),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    controller: &'static str,
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    namespace: String,
    name: String,
    /// The component's condition type, e.g. `ComputeReady`.
    component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsCallLabels {
    service: String,
    operation: String,
    region: String,
    outcome: &'static str,
}

/// Every metric the operator exports, registered in one registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciliations: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Family<ControllerLabels, Histogram>,
    ready: Family<ObjectLabels, Gauge>,
    component_ready: Family<ComponentLabels, Gauge>,
    replication_lag: Family<ObjectLabels, Gauge<f64, AtomicU64>>,
    aws_calls: Family<AwsCallLabels, Counter>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("pilot_light");
        let reconciliations = Family::<ControllerLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
        });
        let ready = Family::<ObjectLabels, Gauge>::default();
        let component_ready = Family::<ComponentLabels, Gauge>::default();
        let replication_lag = Family::<ObjectLabels, Gauge<f64, AtomicU64>>::default();
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        let leader = Gauge::default();
        registry.register(
            "leader",
            "Whether this replica holds the leader Lease and runs the controllers (1) or waits (0)",
            leader.clone(),
        );
        registry.register("reconciliations", "Reconciliations run", reconciliations.clone());
        registry.register(
            "reconcile_errors",
            "Reconciliations that failed, by error kind",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconciliation duration",
            reconcile_duration.clone(),
        );
        registry.register("pilotlight_ready", "1 when the PilotLight is Ready", ready.clone());
        registry.register(
            "component_ready",
            "1 when the PilotLight's component (its condition type) is True",
            component_ready.clone(),
        );
        registry.register(
            "replication_lag_seconds",
            "Latest Aurora global database replication lag",
            replication_lag.clone(),
        );
        registry.register(
            "aws_calls",
            "AWS API call attempts by service, operation, region and outcome",
            aws_calls.clone(),
        );
        Self {
            registry,
            reconciliations,
            reconcile_errors,
            reconcile_duration,
            ready,
            component_ready,
            replication_lag,
            aws_calls,
            leader,
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, controller: &'static str, duration: Duration) {
        self.reconciliations
            .get_or_create(&ControllerLabels { controller })
            .inc();
        self.reconcile_duration
            .get_or_create(&ControllerLabels { controller })
            .observe(duration.as_secs_f64());
    }

    /// Reconciliations run so far by `controller`.
    pub fn reconciliations(&self, controller: &'static str) -> u64 {
        self.reconciliations
            .get_or_create(&ControllerLabels { controller })
            .get()
    }

    pub fn reconcile_failed(&self, controller: &'static str, error: &'static str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels { controller, error })
            .inc();
    }

    /// Sets the per-PilotLight gauges: Ready, each component (by condition type), and the lag.
    pub fn set_readiness(&self, object: ObjectLabels, ready: bool, components: &[(&str, bool)], lag: Option<Duration>) {
        self.forget_components(&object);
        for (component, healthy) in components {
            self.component_ready
                .get_or_create(&ComponentLabels {
                    namespace: object.namespace.clone(),
                    name: object.name.clone(),
                    component: (*component).to_owned(),
                })
                .set(i64::from(*healthy));
        }
        match lag {
            Some(lag) => {
                self.replication_lag.get_or_create(&object).set(lag.as_secs_f64());
            }
            None => {
                self.replication_lag.remove(&object);
            }
        }
        self.ready.get_or_create(&object).set(i64::from(ready));
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Drops the per-object series of a deleted PilotLight.
    pub fn forget(&self, object: &ObjectLabels) {
        self.ready.remove(object);
        self.replication_lag.remove(object);
        self.forget_components(object);
    }

    fn forget_components(&self, object: &ObjectLabels) {
        for component in ConditionType::COMPONENTS {
            self.component_ready.remove(&ComponentLabels {
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                component: component.as_str().to_owned(),
            });
        }
    }

    pub fn aws_call(&self, service: &str, operation: &str, region: &str, outcome: &'static str) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                service: service.to_owned(),
                operation: operation.to_owned(),
                region: region.to_owned(),
                outcome,
            })
            .inc();
    }

    /// The registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// State shared with the admin server.
#[derive(Clone)]
pub struct AdminState {
    pub metrics: Arc<Metrics>,
    /// True while a standby replica waits for the leader Lease (it can take over), and on the
    /// leader once the controllers' cache has synced.
    pub ready: Arc<AtomicBool>,
}

/// Serves `/healthz` (the process is alive), `/readyz` (see [`AdminState::ready`]: ready to lead, or the controllers have synced their
/// caches) and `/metrics` on `listener` until `shutdown` completes.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "admin server listening");
    }
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
