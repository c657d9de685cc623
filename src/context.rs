//! What every controller shares: the Kubernetes client, the AWS clients, metrics, the Event
//! recorder and the settings ([`Core`]), and the FailoverRequest cache ([`Requests`]). State that
//! one controller owns (schedules, admission locks, detection's memory, backoff) lives in that
//! controller's own context.

use std::sync::Arc;

use kube::{
    ResourceExt,
    runtime::{
        events::{Recorder, Reporter},
        reflector::{ObjectRef, Store},
    },
};

use crate::{
    api::{FailoverRequest, FailoverType, PilotLight, RequestPhase},
    aws::AwsClients,
    config::{MANAGER, Settings},
};

pub struct Core {
    pub client: kube::Client,
    pub aws: AwsClients,
    pub metrics: Arc<crate::telemetry::Metrics>,
    pub recorder: Recorder,
    pub settings: Settings,
    /// Lookups of the application's name: the traffic step's "done".
    pub dns: crate::dns::Dns,
    /// The user name the API server knows the operator by (the creator it records on the
    /// requests it creates itself), asked once.
    identity: tokio::sync::OnceCell<String>,
    /// Per PilotLight (`namespace/name`): held while a request is admitted until its Running
    /// phase is written, and by convergence while it sets the standby group's capacity, so the
    /// cost guard never scales down a group a request has just started to use.
    admissions: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Core {
    /// The lock of the PilotLight `key` (see `admissions`).
    pub fn admission_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.admissions
            .lock()
            .expect("admission lock poisoned")
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    pub fn new(
        client: kube::Client,
        aws: AwsClients,
        metrics: Arc<crate::telemetry::Metrics>,
        settings: Settings,
    ) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            aws,
            metrics,
            dns: crate::dns::Dns::new(settings.dns_server),
            settings,
            identity: tokio::sync::OnceCell::new(),
            admissions: Default::default(),
        }
    }

    /// The operator's own user name, asked of the API server once (a SelfSubjectReview).
    pub async fn identity(&self) -> crate::error::Result<&str> {
        self.identity
            .get_or_try_init(|| whoami(&self.client))
            .await
            .map(String::as_str)
    }

    /// The API of `K` in every watched namespace: one namespace, or all.
    pub fn watched<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match &self.settings.namespace {
            Some(ns) => kube::Api::namespaced(self.client.clone(), ns),
            None => kube::Api::all(self.client.clone()),
        }
    }
}

/// Every FailoverRequest, kept by the FailoverRequest controller's watch: convergence and
/// detection ask it whether a request runs or is open before they act.
#[derive(Clone)]
pub struct Requests(Store<FailoverRequest>);

impl Requests {
    pub fn new(store: Store<FailoverRequest>) -> Self {
        Self(store)
    }

    pub fn store(&self) -> &Store<FailoverRequest> {
        &self.0
    }

    /// The FailoverRequest now Running against `pl`, if any.
    pub fn running(&self, pl: &PilotLight) -> Option<Arc<FailoverRequest>> {
        self.against(pl, FailoverRequest::is_running)
    }

    /// A request against `pl` (dry runs aside) that ended at `since` or later, if any. Its end is
    /// kept to the second, so one that ended in the second before `since` counts too.
    pub fn ended_since(&self, pl: &PilotLight, since: jiff::Timestamp) -> Option<Arc<FailoverRequest>> {
        let since = since - jiff::SignedDuration::from_secs(1);
        self.against(pl, |r| {
            !r.spec.dry_run
                && r.is_final()
                && r.status
                    .as_ref()
                    .and_then(|s| s.completed_at.as_ref())
                    .is_some_and(|t| t.0 >= since)
        })
    }

    /// A request against `pl` that has not ended yet (pending, awaiting approval or running;
    /// dry runs aside), if any.
    pub fn open(&self, pl: &PilotLight) -> Option<Arc<FailoverRequest>> {
        self.against(pl, FailoverRequest::is_open)
    }

    /// A Failover or Switchover request against `pl` waiting for a person's approval, if any:
    /// what `spec.failover.prewarm.onRequest` warms the standby for.
    pub fn awaiting_approval(&self, pl: &PilotLight) -> Option<Arc<FailoverRequest>> {
        self.against(pl, |r| {
            r.is_open()
                && r.phase() == Some(RequestPhase::AwaitingApproval)
                && matches!(r.spec.type_, FailoverType::Failover | FailoverType::Switchover)
        })
    }

    /// The request `name` in `pl`'s namespace, if the cache has it.
    pub fn named(&self, pl: &PilotLight, name: &str) -> Option<Arc<FailoverRequest>> {
        let reference = ObjectRef::<FailoverRequest>::new(name).within(&pl.namespace().unwrap_or_default());
        self.0.get(&reference)
    }

    /// The cached copy of `request`, which sees a cancel or a deletion within milliseconds.
    pub fn latest(&self, request: &FailoverRequest) -> Option<Arc<FailoverRequest>> {
        self.0.get(&ObjectRef::from_obj(request))
    }

    fn against(&self, pl: &PilotLight, matches: impl Fn(&FailoverRequest) -> bool) -> Option<Arc<FailoverRequest>> {
        let (namespace, name) = (pl.namespace(), pl.name_any());
        self.0
            .state()
            .into_iter()
            .find(|r| r.targets(namespace.as_deref(), &name) && matches(r))
    }
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
/// `manager`. Every writer has a manager of its own (see [`crate::config`]), so an apply never
/// drops another writer's fields.
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
