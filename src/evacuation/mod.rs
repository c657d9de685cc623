//! The Evacuation controller: fixes the set of PilotLights when it first sees an Evacuation,
//! waits for its one approval, then creates one FailoverRequest per PilotLight, tier by tier and
//! a few at a time, and sums their outcomes up in its status. The requests run exactly like any
//! other (the FailoverRequest controller admits them, with the evacuation's approval standing in
//! for their own); this controller never calls AWS.
//!
//! Pipeline: observe (the members' PilotLights, the requests it made) -> [`decide`] (pure) ->
//! act (create or cancel requests) -> write status.

pub mod decide;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{StreamExt, TryStreamExt};
use kube::{
    Api, Resource, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams},
    runtime::{
        Controller, WatchStreamExt,
        controller::{Action, Config},
        events::EventType,
        predicates,
        reflector::{self, ObjectRef},
        utils::PredicateConfig,
        watcher,
    },
};
use serde_json::json;
use tracing::{Instrument, info_span, warn};

use crate::{
    api::{
        CREATED_BY, EVACUATION_LABEL, Evacuation, EvacuationPhase, EvacuationStatus, FailoverRequest, ORIGIN,
        ORIGIN_EVACUATION, PilotLight, PilotLightKey,
    },
    backoff::Retries,
    config::EVACUATION_MANAGER,
    context::{Core, publish_event},
    error::{Error, Result},
};

const CONTROLLER: &str = "evacuation";

/// How often a waiting evacuation looks at its members' readiness again (what an approver sees).
const AWAITING_APPROVAL_RECHECK: Duration = Duration::from_secs(30);

/// Look again this often while requests run, besides every change of one of them.
const RUNNING_RECHECK: Duration = Duration::from_secs(15);

pub struct EvacuationContext {
    pub core: Arc<Core>,
    retries: Retries,
}

impl EvacuationContext {
    pub fn new(core: Arc<Core>) -> Self {
        let retries = Retries::new(core.settings.reconcile_backoff());
        Self { core, retries }
    }
}

/// Whether an operator watching `scope` (one namespace, or all when `None`) handles
/// `evacuation`: an operator of one namespace handles the evacuations of that namespace alone.
pub fn covers(scope: Option<&str>, evacuation: &Evacuation) -> bool {
    let Some(scope) = scope else { return true };
    let spec = &evacuation.spec;
    let named: BTreeSet<&str> = spec
        .namespaces
        .iter()
        .map(String::as_str)
        .chain(spec.pilot_lights.iter().map(|k| k.namespace.as_str()))
        .collect();
    let everywhere = spec.selector.is_some() && spec.namespaces.is_empty();
    !everywhere && named.len() == 1 && named.contains(scope)
}

/// Runs the controller until `shutdown` completes. Spec changes (approval, cancel) and every
/// change of a request it made wake it; its own status writes do not.
pub async fn run(ctx: Arc<EvacuationContext>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.core.client.clone();
    let (reader, writer) = reflector::store::<Evacuation>();
    let evacuations = watcher(
        Api::<Evacuation>::all(client),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .reflect(writer)
    .applied_objects()
    .predicate_filter(predicates::generation, PredicateConfig::default());
    let children = watcher::Config::default().labels(EVACUATION_LABEL);
    Controller::for_stream(evacuations, reader)
        .with_config(Config::default().debounce(Duration::from_millis(500)))
        .watches(ctx.core.watched::<FailoverRequest>(), children, |request| {
            request
                .labels()
                .get(EVACUATION_LABEL)
                .map(|name| ObjectRef::<Evacuation>::new(name))
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "evacuation reconcile loop");
            }
        })
        .await;
}

async fn reconcile(evacuation: Arc<Evacuation>, ctx: Arc<EvacuationContext>) -> Result<Action> {
    if !covers(ctx.core.settings.namespace.as_deref(), &evacuation) {
        return Ok(Action::await_change());
    }
    let span = info_span!("reconcile", kind = "Evacuation", name = %evacuation.name_any());
    let started = Instant::now();
    let result = drive(&evacuation, &ctx).instrument(span).await;
    ctx.core.metrics.reconciled(CONTROLLER, started.elapsed());
    if result.is_ok() {
        ctx.retries.reset(&evacuation.name_any());
    }
    result
}

fn error_policy(evacuation: Arc<Evacuation>, error: &Error, ctx: Arc<EvacuationContext>) -> Action {
    ctx.core.metrics.reconcile_failed(CONTROLLER, error.metric_label());
    let delay = ctx.retries.next(&evacuation.name_any());
    warn!(name = %evacuation.name_any(), error = %error, retry_in = ?delay, "evacuation reconcile failed");
    Action::requeue(delay)
}

async fn drive(evacuation: &Evacuation, ctx: &EvacuationContext) -> Result<Action> {
    let core = &ctx.core;
    let mut evacuation = evacuation.clone();
    if evacuation.phase().is_some_and(EvacuationPhase::is_final) {
        return Ok(Action::await_change());
    }
    let pilotlights = list_pilotlights(core, &evacuation).await?;
    if evacuation.status.as_ref().is_none_or(|s| s.phase.is_none()) {
        match decide::members(&evacuation, &pilotlights) {
            Ok(members) => {
                evacuation.status = Some(EvacuationStatus {
                    members,
                    ..Default::default()
                })
            }
            Err(why) => {
                let status = EvacuationStatus {
                    phase: Some(EvacuationPhase::Failed),
                    message: Some(why.clone()),
                    completed_at: Some(crate::step::journal::now()),
                    ..Default::default()
                };
                write_status(core, &evacuation, &status).await?;
                event(core, &evacuation, EventType::Warning, "InvalidSelector", why).await;
                return Ok(Action::await_change());
            }
        }
    }
    let members: BTreeSet<PilotLightKey> = evacuation
        .status
        .iter()
        .flat_map(|s| s.members.iter().map(|m| m.key()))
        .collect();
    let pilotlights: BTreeMap<PilotLightKey, PilotLight> = pilotlights
        .into_iter()
        .map(|pl| (decide::key_of(&pl), pl))
        .filter(|(key, _)| members.contains(key))
        .collect();
    let requests = list_requests(core, &evacuation).await?;
    let was = evacuation.status.as_ref().and_then(|s| s.phase);
    let decision = decide::decide(&decide::Observed {
        evacuation: &evacuation,
        pilotlights: &pilotlights,
        requests: &requests,
        now: crate::step::journal::now(),
    });

    let creator = core.identity().await?.to_owned();
    let evacuation_ref = &evacuation;
    let creator = creator.as_str();
    futures::stream::iter(
        decision
            .start
            .iter()
            .cloned()
            .map(|key| async move { create_request(core, evacuation_ref, &key, creator).await }),
    )
    .buffer_unordered(10)
    .try_collect::<Vec<()>>()
    .await?;
    for key in &decision.cancel {
        let api: Api<FailoverRequest> = Api::namespaced(core.client.clone(), &key.namespace);
        api.patch(
            &evacuation.request_name(&key.name),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cancel": true}})),
        )
        .await?;
    }
    write_status(core, &evacuation, &decision.status).await?;

    let phase = decision.status.phase;
    let message = decision.status.message.clone().unwrap_or_default();
    if was != phase {
        match phase {
            Some(EvacuationPhase::Running) => event(core, &evacuation, EventType::Normal, "Started", message).await,
            Some(EvacuationPhase::Failed) => event(core, &evacuation, EventType::Warning, "Failed", message).await,
            Some(EvacuationPhase::Succeeded | EvacuationPhase::Cancelled) => {
                event(core, &evacuation, EventType::Normal, "Completed", message).await
            }
            _ => {}
        }
    }
    for failure in &decision.newly_failed {
        let note = format!("{}: {}", failure.pilot_light, failure.reason);
        event(core, &evacuation, EventType::Warning, "MemberFailed", note).await;
    }
    Ok(match phase {
        Some(p) if p.is_final() => Action::await_change(),
        Some(EvacuationPhase::AwaitingApproval) => Action::requeue(AWAITING_APPROVAL_RECHECK),
        _ => Action::requeue(RUNNING_RECHECK),
    })
}

/// The namespaces whose PilotLights the evacuation may name (`None`: all).
fn namespaces(evacuation: &Evacuation) -> Option<BTreeSet<String>> {
    let spec = &evacuation.spec;
    if spec.selector.is_some() && spec.namespaces.is_empty() {
        return None;
    }
    Some(
        spec.namespaces
            .iter()
            .cloned()
            .chain(spec.pilot_lights.iter().map(|k| k.namespace.clone()))
            .collect(),
    )
}

async fn list_pilotlights(core: &Core, evacuation: &Evacuation) -> Result<Vec<PilotLight>> {
    match namespaces(evacuation) {
        None => Ok(Api::<PilotLight>::all(core.client.clone())
            .list(&ListParams::default())
            .await?
            .items),
        Some(namespaces) => {
            let mut all = Vec::new();
            for ns in namespaces {
                all.extend(
                    Api::<PilotLight>::namespaced(core.client.clone(), &ns)
                        .list(&ListParams::default())
                        .await?
                        .items,
                );
            }
            Ok(all)
        }
    }
}

/// The requests the evacuation made, by PilotLight, read from the API server (not a cache: a
/// member whose request is missing counts as deleted).
async fn list_requests(core: &Core, evacuation: &Evacuation) -> Result<BTreeMap<PilotLightKey, FailoverRequest>> {
    let params = ListParams::default().labels(&decide::requests_selector(evacuation));
    let lists = match namespaces(evacuation) {
        None => vec![
            Api::<FailoverRequest>::all(core.client.clone())
                .list(&params)
                .await?
                .items,
        ],
        Some(namespaces) => {
            let mut lists = Vec::new();
            for ns in namespaces {
                lists.push(
                    Api::<FailoverRequest>::namespaced(core.client.clone(), &ns)
                        .list(&params)
                        .await?
                        .items,
                );
            }
            lists
        }
    };
    Ok(lists
        .into_iter()
        .flatten()
        .filter(|r| {
            r.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == evacuation.metadata.uid.as_ref())
        })
        .map(|r| {
            let key = PilotLightKey {
                namespace: r.namespace().unwrap_or_default(),
                name: r.spec.pilot_light_ref.name.clone(),
            };
            (key, r)
        })
        .collect())
}

/// Creates the member's request, owned by the evacuation; one that exists already (made before
/// a restart) is the same request.
async fn create_request(core: &Core, evacuation: &Evacuation, key: &PilotLightKey, creator: &str) -> Result<()> {
    let mut request = FailoverRequest::against(&key.name, evacuation.spec.type_, &reason(evacuation), creator);
    request.metadata.generate_name = None;
    request.metadata.name = Some(evacuation.request_name(&key.name));
    request.metadata.labels = Some([(EVACUATION_LABEL.to_owned(), evacuation.name_any())].into());
    request.metadata.annotations = Some(
        [
            (CREATED_BY.to_owned(), creator.to_owned()),
            (ORIGIN.to_owned(), ORIGIN_EVACUATION.to_owned()),
        ]
        .into(),
    );
    request.metadata.owner_references = evacuation.controller_owner_ref(&()).map(|o| vec![o]);
    request.spec.force = evacuation.spec.force;
    request.spec.dry_run = evacuation.spec.dry_run;
    let api: Api<FailoverRequest> = Api::namespaced(core.client.clone(), &key.namespace);
    match api
        .create(
            &PostParams {
                field_manager: Some(EVACUATION_MANAGER.into()),
                ..Default::default()
            },
            &request,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The reason every request carries: the evacuation's, and which evacuation made it.
fn reason(evacuation: &Evacuation) -> String {
    let suffix = format!(" (Evacuation {})", evacuation.name_any());
    let mut reason = evacuation.spec.reason.clone();
    while reason.len() + suffix.len() > 1024 {
        reason.pop();
    }
    reason + &suffix
}

async fn write_status(core: &Core, evacuation: &Evacuation, status: &EvacuationStatus) -> Result<()> {
    Api::<Evacuation>::all(core.client.clone())
        .patch_status(
            &evacuation.name_any(),
            &PatchParams {
                field_manager: Some(EVACUATION_MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(json!({ "status": status })),
        )
        .await?;
    Ok(())
}

async fn event(core: &Core, evacuation: &Evacuation, type_: EventType, reason: &str, note: String) {
    publish_event(
        &core.recorder,
        &evacuation.object_ref(&()),
        type_,
        reason,
        note,
        "Evacuate",
    )
    .await;
}
