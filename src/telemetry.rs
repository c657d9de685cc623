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
struct OriginLabels {
    origin: &'static str,
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
struct RequestLabels {
    #[prometheus(flatten)]
    object: ObjectLabels,
    /// Failover, Switchover, Drill or Failback.
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    r#type: String,
    /// Succeeded, Failed, Rejected or Cancelled.
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PrewarmLabels {
    #[prometheus(flatten)]
    object: ObjectLabels,
    /// used (a request took the warm standby over), scaled_back or expired.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: String,
    state: String,
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
    image_age: Family<ObjectLabels, Gauge<f64, AtomicU64>>,
    primary_healthy: Family<ObjectLabels, Gauge>,
    drill_passed: Family<ObjectLabels, Gauge>,
    created_requests: Family<OriginLabels, Counter>,
    aws_calls: Family<AwsCallLabels, Counter>,
    leader: Gauge,
    requests: Family<OutcomeLabels, Counter>,
    recovery_time: Family<RequestLabels, Gauge<f64, AtomicU64>>,
    data_loss_window: Family<RequestLabels, Gauge<f64, AtomicU64>>,
    step_duration: Family<StepLabels, Histogram>,
    request_duration: Family<OutcomeLabels, Histogram>,
    prewarm_outcomes: Family<PrewarmLabels, Counter>,
    prewarm_seconds: Family<PrewarmLabels, Counter<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Self {
            registry: Registry::default(),
            requests: Family::default(),
            recovery_time: Family::default(),
            data_loss_window: Family::default(),
            step_duration: Family::new_with_constructor(|| Histogram::new(FAILOVER_BUCKETS)),
            request_duration: Family::new_with_constructor(|| Histogram::new(FAILOVER_BUCKETS)),
            leader: Gauge::default(),
            reconciliations: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(|| {
                Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
            }),
            ready: Family::default(),
            component_ready: Family::default(),
            replication_lag: Family::default(),
            image_age: Family::default(),
            primary_healthy: Family::default(),
            drill_passed: Family::default(),
            created_requests: Family::default(),
            aws_calls: Family::default(),
            prewarm_outcomes: Family::default(),
            prewarm_seconds: Family::default(),
        };
        let mut registry = Registry::with_prefix("pilot_light");
        metrics.register_failover(&mut registry);
        metrics.register_convergence(&mut registry);
        Self { registry, ..metrics }
    }
}

impl Metrics {
    /// FailoverRequests, their steps, and who runs them.
    fn register_failover(&self, registry: &mut Registry) {
        registry.register(
            "failover_requests",
            "FailoverRequests that ended, by type and phase",
            self.requests.clone(),
        );
        registry.register(
            "failover_recovery_time_seconds",
            "Measured RTO of the PilotLight's last request of each type (start or approval until traffic switched)",
            self.recovery_time.clone(),
        );
        registry.register(
            "failover_data_loss_window_seconds",
            "RPO of the PilotLight's last request of each type (replication lag when an unplanned failover began)",
            self.data_loss_window.clone(),
        );
        registry.register(
            "failover_step_duration_seconds",
            "Duration of failover plan steps, by step and final state",
            self.step_duration.clone(),
        );
        registry.register(
            "failover_duration_seconds",
            "Duration of FailoverRequests from start (or approval) to their final phase, by type and phase",
            self.request_duration.clone(),
        );
        registry.register(
            "leader",
            "Whether this replica holds the leader Lease and runs the controllers (1) or waits (0)",
            self.leader.clone(),
        );
        registry.register(
            "operator_created_requests",
            "FailoverRequests the operator created itself: detection (a failing primary) or schedule (drills)",
            self.created_requests.clone(),
        );
    }

    /// Reconciliation, each PilotLight's readiness, and AWS calls.
    fn register_convergence(&self, registry: &mut Registry) {
        registry.register("reconciliations", "Reconciliations run", self.reconciliations.clone());
        registry.register(
            "reconcile_errors",
            "Reconciliations that failed, by error kind",
            self.reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconciliation duration",
            self.reconcile_duration.clone(),
        );
        registry.register("pilotlight_ready", "1 when the PilotLight is Ready", self.ready.clone());
        registry.register(
            "component_ready",
            "1 when the PilotLight's component (its condition type) is True",
            self.component_ready.clone(),
        );
        registry.register(
            "replication_lag_seconds",
            "Latest Aurora global database replication lag",
            self.replication_lag.clone(),
        );
        registry.register(
            "standby_image_age_seconds",
            "Age of the standby region's AMI copy, as of the last reconcile",
            self.image_age.clone(),
        );
        registry.register(
            "primary_healthy",
            "1 when the primary region's health check and alarms say it serves, 0 when not (absent: unknown)",
            self.primary_healthy.clone(),
        );
        registry.register(
            "drill_passed",
            "1 when the last drill succeeded and is younger than spec.drills.maxAge",
            self.drill_passed.clone(),
        );
        registry.register(
            "prewarm_outcomes",
            "Prewarms of the standby compute that ended, by outcome",
            self.prewarm_outcomes.clone(),
        );
        registry.register(
            "prewarm_seconds",
            "Seconds the standby compute spent prewarmed, by how the prewarm ended",
            self.prewarm_seconds.clone(),
        );
        registry.register(
            "aws_calls",
            "AWS API call attempts by service, operation, region and outcome",
            self.aws_calls.clone(),
        );
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

    /// Sets the per-PilotLight gauges: Ready, each component (by condition type), the lag and the
    /// standby AMI's age (both removed when unknown, so a stale value never lingers).
    pub fn set_readiness(
        &self,
        object: ObjectLabels,
        ready: bool,
        components: &[(&str, bool)],
        lag: Option<Duration>,
        image_age: Option<Duration>,
    ) {
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
        set_or_remove(&self.replication_lag, &object, lag.map(|d| d.as_secs_f64()));
        set_or_remove(&self.image_age, &object, image_age.map(|d| d.as_secs_f64()));
        self.ready.get_or_create(&object).set(i64::from(ready));
    }

    /// A prewarm ended with `outcome` (`used`, `scaled_back`, `expired`) after `warm`.
    pub fn prewarm_ended(&self, object: ObjectLabels, outcome: &'static str, warm: Duration) {
        let labels = PrewarmLabels { object, outcome };
        self.prewarm_outcomes.get_or_create(&labels).inc();
        self.prewarm_seconds.get_or_create(&labels).inc_by(warm.as_secs_f64());
    }

    /// A FailoverRequest ended in `phase`, with its RTO and RPO when measured.
    pub fn request_ended(
        &self,
        object: ObjectLabels,
        type_: &str,
        phase: &str,
        duration: Option<Duration>,
        recovery_time: Option<f64>,
        data_loss_window: Option<f64>,
    ) {
        let outcome = OutcomeLabels {
            r#type: type_.to_owned(),
            phase: phase.to_owned(),
        };
        self.requests.get_or_create(&outcome).inc();
        if let Some(duration) = duration {
            self.request_duration
                .get_or_create(&outcome)
                .observe(duration.as_secs_f64());
        }
        let labels = RequestLabels {
            object,
            r#type: type_.to_owned(),
        };
        if let Some(rto) = recovery_time {
            self.recovery_time.get_or_create(&labels).set(rto);
        }
        if let Some(rpo) = data_loss_window {
            self.data_loss_window.get_or_create(&labels).set(rpo);
        }
    }

    pub fn step_finished(&self, step: &str, state: &str, duration: Duration) {
        self.step_duration
            .get_or_create(&StepLabels {
                step: step.to_owned(),
                state: state.to_owned(),
            })
            .observe(duration.as_secs_f64());
    }

    /// The primary region's health for a PilotLight with detection (`None`: unknown or off).
    pub fn set_primary_healthy(&self, object: ObjectLabels, healthy: Option<bool>) {
        set_or_remove(&self.primary_healthy, &object, healthy.map(i64::from));
    }

    /// Whether a PilotLight with a drill schedule passed its last drill (`None`: no schedule).
    pub fn set_drill_passed(&self, object: ObjectLabels, passed: Option<bool>) {
        set_or_remove(&self.drill_passed, &object, passed.map(i64::from));
    }

    /// The operator created a FailoverRequest itself.
    pub fn request_created(&self, origin: &'static str) {
        self.created_requests.get_or_create(&OriginLabels { origin }).inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Drops the per-object series of a deleted PilotLight.
    pub fn forget(&self, object: &ObjectLabels) {
        self.ready.remove(object);
        self.replication_lag.remove(object);
        self.image_age.remove(object);
        self.primary_healthy.remove(object);
        self.drill_passed.remove(object);
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

/// Buckets of failover steps and requests: sub-second emulated steps up to a 30-minute promotion.
const FAILOVER_BUCKETS: [f64; 11] = [0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

/// Sets the object's gauge, or removes it when the value is unknown (so no stale value lingers).
fn set_or_remove<N, A>(family: &Family<ObjectLabels, Gauge<N, A>>, object: &ObjectLabels, value: Option<N>)
where
    A: prometheus_client::metrics::gauge::Atomic<N> + Default,
{
    match value {
        Some(value) => {
            family.get_or_create(object).set(value);
        }
        None => {
            family.remove(object);
        }
    }
}
