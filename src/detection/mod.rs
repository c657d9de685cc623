//! Watching the primary region and running drills on schedule (the seed's Steps 4 and 5).
//!
//! Every `--detection-interval`, for each PilotLight with `spec.detection` or `spec.drills`:
//! observe (the Route 53 health check's checkers, the named CloudWatch alarms), decide
//! ([`decide::decide`], pure), act (create a Failover or Drill request), and write
//! `primaryHealth`, `drillSchedule` and the `PrimaryHealthy` and `DrillPassed` conditions under a
//! field manager of its own.

mod announce;
pub mod cron;
pub mod decide;
mod drills;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{Api, ResourceExt, api::PostParams, runtime::reflector::Store};
use tracing::{info, warn};

use crate::{
    api::{
        ConditionStatus, ConditionType, DetectionSpec, FailoverRequest, FailoverType, ORIGIN, ORIGIN_DETECTION,
        PilotLight, PrimaryHealthStatus, object_key, set_condition,
    },
    aws::{cloudwatch, route53},
    config::DETECTION_MANAGER,
    context::{Core, Requests, apply_pilotlight_status},
    telemetry::ObjectLabels,
};

use decide::{Decision, Inputs, Verdict};

/// What detection reads besides the shared [`Core`]: the PilotLight controller's cache and the
/// FailoverRequest cache.
pub struct DetectionContext {
    pub core: Arc<Core>,
    pub requests: Requests,
    pub pilotlights: Store<PilotLight>,
}

impl std::ops::Deref for DetectionContext {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

/// PilotLights looked at at once (each look: up to two AWS reads, a status apply, maybe a
/// request and Events).
const CONCURRENCY: usize = 16;

/// What the loop remembers between looks: per PilotLight, the last decision announced (so each
/// Event says something new) and the status last written (so an unchanged one is not written);
/// and the earliest time a hold ends.
#[derive(Default)]
struct Memory {
    announced: HashMap<String, String>,
    written: HashMap<String, serde_json::Value>,
    /// The `primaryHealth` last computed: the cache may not hold our last write yet, and a spell
    /// must not restart because of that.
    health: HashMap<String, PrimaryHealthStatus>,
    /// When a hold time ends before the next regular look: look again then.
    wake: Option<tokio::time::Instant>,
}

impl Memory {
    /// Forgets the PilotLights not in `live`: deleted ones would otherwise stay until a restart.
    fn keep_only(&mut self, live: &HashSet<String>) {
        self.announced.retain(|k, _| live.contains(k));
        self.written.retain(|k, _| live.contains(k));
        self.health.retain(|k, _| live.contains(k));
    }
}

/// Runs until `shutdown` completes, looking at every PilotLight in the PilotLight controller's
/// cache with detection or drills, once both caches are filled.
pub async fn run(ctx: DetectionContext, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    let synced = async {
        let (pilotlights, requests) = futures::join!(
            ctx.pilotlights.wait_until_ready(),
            ctx.requests.store().wait_until_ready()
        );
        pilotlights.is_ok() && requests.is_ok()
    };
    tokio::select! {
        () = &mut shutdown => return,
        synced = synced => if !synced {
            warn!("a cache is gone; detection not started");
            return;
        },
    }
    let memory = Mutex::new(Memory::default());
    let interval = ctx.settings.detection_interval;
    let mut next = tokio::time::Instant::now();
    loop {
        let wake = memory.lock().expect("memory lock").wake.take();
        let until = wake.map_or(next, |w| w.min(next));
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep_until(until) => {}
        }
        if tokio::time::Instant::now() >= next {
            next = tokio::time::Instant::now() + interval;
        }
        let live: Vec<Arc<PilotLight>> = ctx
            .pilotlights
            .state()
            .into_iter()
            .filter(|pl| pl.metadata.deletion_timestamp.is_none())
            .collect();
        memory
            .lock()
            .expect("memory lock")
            .keep_only(&live.iter().map(|pl| key(pl)).collect());
        let watched: Vec<Arc<PilotLight>> = live
            .into_iter()
            .filter(|pl| pl.spec.detection.is_some() || pl.spec.drills.is_some() || was_watched(&memory, pl))
            .collect();
        futures::stream::iter(watched)
            .for_each_concurrent(CONCURRENCY, |pl| {
                let (ctx, memory) = (&ctx, &memory);
                async move {
                    if let Err(e) = look(ctx, &pl, memory).await {
                        warn!(namespace = ?pl.namespace(), name = %pl.name_any(), error = %e, "detection");
                    }
                }
            })
            .await;
    }
}

/// The object's uid: a PilotLight deleted and created again under its name starts afresh (no
/// spell, no announcement and no status write carried over from its predecessor).
fn key(pl: &PilotLight) -> String {
    pl.uid().unwrap_or_else(|| object_key(pl))
}

/// A PilotLight whose detection or drills were just removed still needs its status cleared once.
fn was_watched(memory: &Mutex<Memory>, pl: &PilotLight) -> bool {
    memory.lock().expect("memory lock").written.contains_key(&key(pl))
}

fn labels(pl: &PilotLight) -> ObjectLabels {
    ObjectLabels {
        namespace: pl.namespace().unwrap_or_default(),
        name: pl.name_any(),
    }
}

/// One look at one PilotLight.
async fn look(ctx: &DetectionContext, pl: &PilotLight, memory: &Mutex<Memory>) -> crate::error::Result<()> {
    let now = Timestamp::now();
    let previous = pl.status.clone().unwrap_or_default();
    let mut conditions: Vec<Condition> = previous
        .conditions
        .iter()
        .filter(|c| c.type_ == ConditionType::PrimaryHealthy.as_str() || c.type_ == ConditionType::DrillPassed.as_str())
        .cloned()
        .collect();
    let open = ctx.requests.open(pl);
    let primary_health = look_at_primary(ctx, pl, &previous, open.clone(), now, memory, &mut conditions).await?;
    let drill_schedule = look_at_drills(ctx, pl, &previous, open, now, &mut conditions).await?;
    let patch = serde_json::json!({
        "primaryHealth": primary_health,
        "drillSchedule": drill_schedule,
        "conditions": conditions,
    });
    let unchanged = memory.lock().expect("memory lock").written.get(&key(pl)) == Some(&patch);
    if !unchanged {
        apply_pilotlight_status(&ctx.client, pl, DETECTION_MANAGER, &patch).await?;
        let mut memory = memory.lock().expect("memory lock");
        if pl.spec.detection.is_none() && pl.spec.drills.is_none() {
            memory.written.remove(&key(pl));
            memory.announced.remove(&key(pl));
            memory.health.remove(&key(pl));
        } else {
            memory.written.insert(key(pl), patch);
        }
    }
    Ok(())
}

/// `primaryHealth` and the `PrimaryHealthy` condition (removed without `spec.detection`).
async fn look_at_primary(
    ctx: &DetectionContext,
    pl: &PilotLight,
    previous: &crate::api::PilotLightStatus,
    open: Option<Arc<FailoverRequest>>,
    now: Timestamp,
    memory: &Mutex<Memory>,
    conditions: &mut Vec<Condition>,
) -> crate::error::Result<Option<PrimaryHealthStatus>> {
    let Some(detection) = &pl.spec.detection else {
        conditions.retain(|c| c.type_ != ConditionType::PrimaryHealthy.as_str());
        ctx.metrics.set_primary_healthy(labels(pl), None);
        return Ok(None);
    };
    let health = watch_primary(ctx, pl, detection, previous.primary_health.clone(), open, now, memory).await?;
    let (status, reason) = match health.healthy {
        Some(true) => (ConditionStatus::True, "PrimaryHealthy"),
        Some(false) => (ConditionStatus::False, "PrimaryUnhealthy"),
        None => (ConditionStatus::Unknown, "NoSignal"),
    };
    set_condition(
        conditions,
        ConditionType::PrimaryHealthy,
        status,
        reason,
        health.evidence.join("; "),
        pl.metadata.generation,
        now,
    );
    ctx.metrics.set_primary_healthy(labels(pl), health.healthy);
    Ok(Some(health))
}

/// `drillSchedule` and the `DrillPassed` condition (removed without `spec.drills`).
async fn look_at_drills(
    ctx: &DetectionContext,
    pl: &PilotLight,
    previous: &crate::api::PilotLightStatus,
    open: Option<Arc<FailoverRequest>>,
    now: Timestamp,
    conditions: &mut Vec<Condition>,
) -> crate::error::Result<Option<crate::api::DrillScheduleStatus>> {
    let Some(drills) = &pl.spec.drills else {
        conditions.retain(|c| c.type_ != ConditionType::DrillPassed.as_str());
        ctx.metrics.set_drill_passed(labels(pl), None);
        return Ok(None);
    };
    let schedule = drills::follow_schedule(ctx, pl, drills, previous.drill_schedule.clone(), open, now).await?;
    let (status, reason, message) = drills::drill_passed(previous.last_drill.as_ref(), drills, schedule.as_ref(), now);
    set_condition(
        conditions,
        ConditionType::DrillPassed,
        status,
        reason,
        message,
        pl.metadata.generation,
        now,
    );
    ctx.metrics
        .set_drill_passed(labels(pl), Some(status == ConditionStatus::True));
    Ok(schedule.ok())
}

/// Observes the primary, decides, creates a Failover request if that is the decision, and
/// announces what changed. Returns the new `primaryHealth`.
async fn watch_primary(
    ctx: &DetectionContext,
    pl: &PilotLight,
    detection: &DetectionSpec,
    previous: Option<PrimaryHealthStatus>,
    open: Option<Arc<FailoverRequest>>,
    now: Timestamp,
    memory: &Mutex<Memory>,
) -> crate::error::Result<PrimaryHealthStatus> {
    let verdict = observe(ctx, pl, detection).await;
    let remembered = memory.lock().expect("memory lock").health.get(&key(pl)).cloned();
    let previous = remembered.or(previous).unwrap_or_default();
    let since = match (&previous.since, previous.healthy == verdict.healthy) {
        (Some(since), true) => since.0,
        _ => now,
    };
    let unhealthy = verdict.healthy == Some(false);
    let created = if unhealthy { previous.request_name.clone() } else { None };
    let decision = decide::decide(&Inputs {
        now,
        pl,
        mode: detection.mode,
        unhealthy_for: detection.unhealthy_for.to_duration().unwrap_or_default(),
        cooldown: detection.cooldown.to_duration().unwrap_or_default(),
        unhealthy_since: unhealthy.then_some(since),
        created: created.as_deref(),
        open_request: open
            .as_deref()
            .map(|r| (r.metadata.name.as_deref().unwrap_or_default(), r.spec.type_)),
    });
    let request_name = match &decision {
        Decision::Create { automatic } => Some(create_failover(ctx, pl, *automatic, &verdict, since).await?),
        _ => created,
    };
    announce::announce(ctx, pl, memory, &verdict, &decision, request_name.as_deref()).await;
    let health = PrimaryHealthStatus {
        healthy: verdict.healthy,
        since: Some(Time(since)),
        evidence: verdict.evidence,
        request_name,
    };
    let mut memory = memory.lock().expect("memory lock");
    memory.health.insert(key(pl), health.clone());
    if let Decision::Hold { remaining } = decision {
        let at = tokio::time::Instant::now() + remaining;
        memory.wake = Some(memory.wake.map_or(at, |w| w.min(at)));
    }
    Ok(health)
}

/// The primary's signals: its Route 53 health check (created by convergence, in
/// `status.traffic.healthCheckId`) and the spec's alarms in the primary region.
async fn observe(ctx: &DetectionContext, pl: &PilotLight, detection: &DetectionSpec) -> Verdict {
    let check = pl
        .status
        .as_ref()
        .and_then(|s| s.traffic.as_ref())
        .and_then(|t| t.health_check_id.clone());
    let checkers = match check {
        Some(id) => route53::health_check_status(&ctx.aws.global(), &id)
            .await
            .map_err(|e| e.to_string()),
        None => Err("no health check yet (spec.traffic.route53)".to_owned()),
    };
    let alarms = if detection.alarms.is_empty() {
        Ok(Vec::new())
    } else {
        cloudwatch::alarm_states(&ctx.aws.region(pl.spec.regions.primary.as_str()), &detection.alarms)
            .await
            .map_err(|e| e.to_string())
    };
    decide::verdict(
        checkers.as_deref().map_err(String::as_str),
        &detection.alarms,
        alarms.as_deref().map_err(String::as_str),
    )
}

/// Creates the spell's Failover request, named after the spell's start so that two replicas or
/// a restart cannot create a second one.
async fn create_failover(
    ctx: &DetectionContext,
    pl: &PilotLight,
    automatic: bool,
    verdict: &Verdict,
    since: Timestamp,
) -> crate::error::Result<String> {
    let name = format!("{}-detected-{}", pl.name_any(), since.as_second());
    let reason = format!(
        "{} detection: primary region {} unhealthy since {since}: {}",
        if automatic { "automatic" } else { "proposed by" },
        pl.spec.regions.primary,
        verdict.evidence.join("; ")
    );
    create_request(ctx, pl, &name, FailoverType::Failover, ORIGIN_DETECTION, reason).await?;
    Ok(name)
}

/// Creates a request as the operator; an existing one of that name counts as created.
async fn create_request(
    ctx: &DetectionContext,
    pl: &PilotLight,
    name: &str,
    type_: FailoverType,
    origin: &'static str,
    reason: String,
) -> crate::error::Result<()> {
    let me = ctx.identity().await?;
    let reason: String = reason.chars().take(1000).collect();
    let mut request = FailoverRequest::against(&pl.name_any(), type_, &reason, me);
    request.metadata.generate_name = None;
    request.metadata.name = Some(name.to_owned());
    request.annotations_mut().insert(ORIGIN.to_owned(), origin.to_owned());
    let api: Api<FailoverRequest> = Api::namespaced(ctx.client.clone(), &pl.namespace().unwrap_or_default());
    match api.create(&PostParams::default(), &request).await {
        Ok(_) => {
            ctx.metrics.request_created(origin);
            info!(request = name, origin, "created a FailoverRequest");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// One Event per change of what the loop thinks: the primary turning unhealthy or recovering,
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_keeps_only_live_pilotlights() {
        let mut memory = Memory::default();
        for uid in ["a", "b"] {
            memory.announced.insert(uid.into(), "said".into());
            memory.written.insert(uid.into(), serde_json::json!({}));
            memory.health.insert(uid.into(), PrimaryHealthStatus::default());
        }
        memory.keep_only(&HashSet::from(["b".to_owned()]));
        let keys = |m: &Memory| {
            (
                m.announced.keys().cloned().collect::<Vec<_>>(),
                m.written.keys().cloned().collect::<Vec<_>>(),
                m.health.keys().cloned().collect::<Vec<_>>(),
            )
        };
        let b = vec!["b".to_owned()];
        assert_eq!(keys(&memory), (b.clone(), b.clone(), b));
    }
}
