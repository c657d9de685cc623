//! What every reconcile shares: clients, metrics, the event recorder and the settings.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::channel::mpsc;
use kube::{
    ResourceExt,
    runtime::{
        events::{Recorder, Reporter},
        reflector::{self, ObjectRef, Store, store::Writer},
    },
};

use crate::{
    api::{FailoverRequest, PilotLight, RequestPhase},
    aws::AwsClients,
    pilotlight::schedule::{CheckIntervals, Scheduler},
    telemetry::Metrics,
};

/// Field manager for every server-side apply, and the Events' reporting controller.
pub const MANAGER: &str = "pilot-light";

/// Field managers of the PilotLight status fields the failover engine owns, so that
/// convergence's applies (under [`MANAGER`]) leave them alone: `lastFailover` (and the
/// `activeRegion` it moved), and `lastDrill`. One manager each, because an apply drops the fields
/// its manager applied before and leaves out: with one, a failover erased the last drill.
pub const FAILOVER_MANAGER: &str = "pilot-light-failover";
pub const DRILL_MANAGER: &str = "pilot-light-drill";

/// Requeue and backoff timing. Defaults suit production; tests shorten them.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Requeue while resources are being created or changed.
    pub converging_interval: Duration,
    /// Requeue when converged but outside a threshold (lag high, stale): long enough not to burn
    /// AWS calls on a metric published once a minute, short enough to notice recovery.
    pub degraded_interval: Duration,
    /// Checks of healthy components: steady-state AWS cost is driven by these.
    pub check_intervals: CheckIntervals,
    /// Requeue when a person must fix the spec or AWS (spec edits trigger a reconcile anyway).
    pub misconfigured_interval: Duration,
    /// First retry delay after a retryable error; doubles per consecutive failure.
    pub backoff_base: Duration,
    /// Cap of the retry delay.
    pub backoff_max: Duration,
    /// Watch only this namespace (all namespaces when `None`).
    pub namespace: Option<String>,
    /// How often the primary region's health and the drill schedules are looked at.
    pub detection_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            converging_interval: Duration::from_secs(5),
            degraded_interval: Duration::from_secs(60),
            check_intervals: CheckIntervals::default(),
            misconfigured_interval: Duration::from_secs(300),
            detection_interval: Duration::from_secs(30),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(120),
            namespace: None,
        }
    }
}

pub struct Context {
    pub client: kube::Client,
    pub aws: AwsClients,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    pub settings: Settings,
    /// When each PilotLight component is next checked.
    pub scheduler: Scheduler,
    /// Consecutive retryable failures per object, for exponential backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Every FailoverRequest, kept by the FailoverRequest controller's watch: convergence asks
    /// it whether a request is running before it changes compute or traffic.
    pub requests: Store<FailoverRequest>,
    requests_writer: Mutex<Option<Writer<FailoverRequest>>>,
    /// Asks the PilotLight controller to reconcile a PilotLight now (after a failover).
    pilotlight_triggers: mpsc::UnboundedSender<ObjectRef<PilotLight>>,
    pilotlight_trigger_stream: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<PilotLight>>>>,
    /// One admission decision at a time per PilotLight, so two requests created together cannot
    /// both start.
    admissions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The user name the API server knows the operator by (the creator it records on the
    /// requests it creates itself).
    identity: tokio::sync::OnceCell<String>,
}

impl Context {
    pub fn new(client: kube::Client, aws: AwsClients, metrics: Arc<Metrics>, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let (requests, requests_writer) = reflector::store();
        let (pilotlight_triggers, trigger_stream) = mpsc::unbounded();
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            aws,
            metrics,
            settings,
            scheduler: Scheduler::default(),
            failures: Mutex::default(),
            requests,
            requests_writer: Mutex::new(Some(requests_writer)),
            pilotlight_triggers,
            pilotlight_trigger_stream: Mutex::new(Some(trigger_stream)),
            admissions: Mutex::default(),
            identity: tokio::sync::OnceCell::new(),
        }
    }

    /// The operator's own user name, asked of the API server once (a SelfSubjectReview).
    pub async fn identity(&self) -> crate::error::Result<&str> {
        self.identity
            .get_or_try_init(|| whoami(&self.client))
            .await
            .map(String::as_str)
    }

    /// The writer of [`Context::requests`], for the one watch that fills it.
    pub fn take_requests_writer(&self) -> Option<Writer<FailoverRequest>> {
        self.requests_writer
            .lock()
            .expect("requests writer lock poisoned")
            .take()
    }

    /// The stream of [`Context::trigger_pilotlight`] calls, for the PilotLight controller.
    pub fn take_pilotlight_triggers(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef<PilotLight>>> {
        self.pilotlight_trigger_stream
            .lock()
            .expect("trigger lock poisoned")
            .take()
    }

    /// Reconciles the PilotLight `namespace/name` now, with every component checked afresh.
    pub fn trigger_pilotlight(&self, namespace: &str, name: &str) {
        self.scheduler.forget(&format!("{namespace}/{name}"), &[]);
        let _ = self
            .pilotlight_triggers
            .unbounded_send(ObjectRef::new(name).within(namespace));
    }

    /// The FailoverRequest now Running against `pl`, if any.
    pub fn running_request(&self, pl: &PilotLight) -> Option<Arc<FailoverRequest>> {
        self.request_of(pl, |r| {
            r.status.as_ref().and_then(|s| s.phase) == Some(RequestPhase::Running)
        })
    }

    /// A request against `pl` that has not ended yet (pending, awaiting approval or running;
    /// dry runs aside), if any.
    pub fn open_request(&self, pl: &PilotLight) -> Option<Arc<FailoverRequest>> {
        self.request_of(pl, |r| {
            !r.spec.dry_run && crate::failover::plan::is_active(r.status.as_ref().and_then(|s| s.phase))
        })
    }

    fn request_of(&self, pl: &PilotLight, matches: impl Fn(&FailoverRequest) -> bool) -> Option<Arc<FailoverRequest>> {
        let (namespace, name) = (pl.namespace(), pl.name_any());
        self.requests
            .state()
            .into_iter()
            .find(|r| r.namespace() == namespace && r.spec.pilot_light_ref.name == name && matches(r))
    }

    /// The lock under which requests against the PilotLight `key` are admitted.
    pub fn admission_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.admissions
            .lock()
            .expect("admission lock poisoned")
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    /// Delay before retrying `key` after another retryable failure: exponential with jitter
    /// ("equal jitter": half fixed, half random) so many objects do not retry in lockstep.
    pub fn next_backoff(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock poisoned");
        let count = failures.entry(key.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        backoff_delay(&self.settings, *count, rand::random_range(0.0..1.0))
    }

    pub fn reset_backoff(&self, key: &str) {
        self.failures.lock().expect("backoff lock poisoned").remove(key);
    }
}

/// `failures` >= 1; `random` in [0, 1).
fn backoff_delay(settings: &Settings, failures: u32, random: f64) -> Duration {
    let exp = settings.backoff_base.saturating_mul(1u32 << (failures - 1).min(20));
    let capped = exp.min(settings.backoff_max);
    capped.mul_f64(0.5 + random / 2.0)
}

/// Publishes an Event about `reference`. A failure is logged, never fatal: Events are for
/// people, and the work they describe has happened.
pub async fn publish_event(
    recorder: &Recorder,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    type_: kube::runtime::events::EventType,
    reason: &str,
    note: String,
    action: &str,
) {
    let event = kube::runtime::events::Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, reference).await {
        tracing::warn!(error = %e, reason, "could not publish event");
    }
}

/// Applies `status` (the PilotLight status fields one writer owns) under field manager
/// `manager`. Every writer has a manager of its own ([`MANAGER`], [`FAILOVER_MANAGER`],
/// [`DRILL_MANAGER`], detection's), so an apply never drops another writer's fields.
pub async fn apply_pilotlight_status(
    client: &kube::Client,
    pl: &PilotLight,
    manager: &str,
    status: &impl serde::Serialize,
) -> Result<(), kube::Error> {
    use kube::{
        Resource,
        api::{Patch, PatchParams},
    };
    let patch = serde_json::json!({
        "apiVersion": PilotLight::api_version(&()),
        "kind": PilotLight::kind(&()),
        "status": status,
    });
    kube::Api::<PilotLight>::namespaced(client.clone(), &pl.namespace().unwrap_or_default())
        .patch_status(
            &pl.name_any(),
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(())
}

/// The user name the API server authenticates `client` as (a SelfSubjectReview, which every
/// authenticated user may create). Never empty: an empty name would match an empty `created-by`.
pub async fn whoami(client: &kube::Client) -> crate::error::Result<String> {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let review: SelfSubjectReview = serde_json::from_value(serde_json::json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"
    }))
    .expect("a SelfSubjectReview");
    let answer = kube::Api::<SelfSubjectReview>::all(client.clone())
        .create(&Default::default(), &review)
        .await?;
    answer
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .filter(|name| !name.is_empty())
        .ok_or(crate::error::Error::NoUserName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_with_jitter() {
        let s = Settings {
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            ..Default::default()
        };
        assert_eq!(backoff_delay(&s, 1, 0.0), Duration::from_secs(1));
        assert_eq!(
            backoff_delay(&s, 1, 0.999_999),
            Duration::from_secs(2).mul_f64(0.5 + 0.999_999 / 2.0)
        );
        assert_eq!(backoff_delay(&s, 3, 0.0), Duration::from_secs(4));
        assert_eq!(backoff_delay(&s, 10, 0.0), Duration::from_secs(30));
        assert_eq!(backoff_delay(&s, 40, 0.0), Duration::from_secs(30));
    }
}
