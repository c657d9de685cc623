//! Watching the primary region and running drills on schedule (the seed's Steps 4 and 5).
//!
//! Every `--detection-interval`, for each PilotLight with `spec.detection` or `spec.drills`:
//! observe (the Route 53 health check's checkers, the named CloudWatch alarms), decide
//! ([`decide::decide`], pure), act (create a Failover or Drill request), and write
//! `primaryHealth`, `drillSchedule` and the `PrimaryHealthy` and `DrillPassed` conditions under a
//! field manager of its own.

pub mod cron;
pub mod decide;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::PostParams,
    runtime::{events::EventType, reflector::Store},
};
use tracing::{info, warn};

use crate::{
    api::{
        ConditionStatus, ConditionType, DetectionSpec, DrillScheduleSpec, DrillScheduleStatus, FailoverOutcome,
        FailoverRequest, FailoverType, ORIGIN, ORIGIN_DETECTION, ORIGIN_SCHEDULE, PilotLight, PrimaryHealthStatus,
        RequestPhase, object_key, set_condition,
    },
    aws::{cloudwatch, route53},
    config::DETECTION_MANAGER,
    context::{Core, Requests, apply_pilotlight_status, publish_event},
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
    let generation = pl.metadata.generation;
    let open = ctx.requests.open(pl);

    let primary_health = match &pl.spec.detection {
        Some(detection) => {
            let health = watch_primary(
                ctx,
                pl,
                detection,
                previous.primary_health.clone(),
                open.clone(),
                now,
                memory,
            )
            .await?;
            let (status, reason) = match health.healthy {
                Some(true) => (ConditionStatus::True, "PrimaryHealthy"),
                Some(false) => (ConditionStatus::False, "PrimaryUnhealthy"),
                None => (ConditionStatus::Unknown, "NoSignal"),
            };
            set_condition(
                &mut conditions,
                ConditionType::PrimaryHealthy,
                status,
                reason,
                health.evidence.join("; "),
                generation,
                now,
            );
            ctx.metrics.set_primary_healthy(labels(pl), health.healthy);
            Some(health)
        }
        None => {
            conditions.retain(|c| c.type_ != ConditionType::PrimaryHealthy.as_str());
            ctx.metrics.set_primary_healthy(labels(pl), None);
            None
        }
    };

    let drill_schedule = match &pl.spec.drills {
        Some(drills) => {
            let schedule = follow_schedule(ctx, pl, drills, previous.drill_schedule.clone(), open, now).await?;
            let (status, reason, message) = drill_passed(previous.last_drill.as_ref(), drills, schedule.as_ref(), now);
            set_condition(
                &mut conditions,
                ConditionType::DrillPassed,
                status,
                reason,
                message,
                generation,
                now,
            );
            ctx.metrics
                .set_drill_passed(labels(pl), Some(status == ConditionStatus::True));
            schedule.ok()
        }
        None => {
            conditions.retain(|c| c.type_ != ConditionType::DrillPassed.as_str());
            ctx.metrics.set_drill_passed(labels(pl), None);
            None
        }
    };

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
    announce(ctx, pl, memory, &verdict, &decision, request_name.as_deref()).await;
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
    let mut request = crate::plugin::new_request(&pl.name_any(), type_, &reason, me, false, false);
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
/// and each new decision with its reason.
async fn announce(
    ctx: &DetectionContext,
    pl: &PilotLight,
    memory: &Mutex<Memory>,
    verdict: &Verdict,
    decision: &Decision,
    request: Option<&str>,
) {
    let evidence = verdict.evidence.join("; ");
    let (type_, reason, note) = match (verdict.healthy, decision) {
        (Some(true), _) => (
            EventType::Normal,
            "PrimaryHealthy",
            format!("the primary region serves: {evidence}"),
        ),
        (None, _) => (
            EventType::Warning,
            "PrimaryHealthUnknown",
            format!("no signal from the primary region: {evidence}"),
        ),
        (Some(false), Decision::Notify) => (
            EventType::Warning,
            "PrimaryUnhealthy",
            format!(
                "the primary region {} is failing: {evidence} (spec.detection.mode Notify: nothing else is done)",
                pl.spec.regions.primary
            ),
        ),
        (Some(false), Decision::Hold { remaining }) => (
            EventType::Warning,
            "PrimaryUnhealthy",
            format!(
                "the primary region {} is failing: {evidence}; acting if it stays so for {}s more (spec.detection.unhealthyFor)",
                pl.spec.regions.primary,
                remaining.as_secs()
            ),
        ),
        (Some(false), Decision::Blocked(why)) => (
            EventType::Warning,
            "FailoverNotStarted",
            format!(
                "the primary region {} is failing, but no failover: {why}",
                pl.spec.regions.primary
            ),
        ),
        (Some(false), Decision::Create { automatic: false } | Decision::Created(_))
            if pl
                .spec
                .detection
                .as_ref()
                .is_some_and(|d| d.mode == crate::api::DetectionMode::Propose) =>
        {
            (
                EventType::Warning,
                "FailoverProposed",
                format!(
                    "the primary region {} is failing: {evidence}; FailoverRequest {} waits for approval: kubectl pilotlight approve {}",
                    pl.spec.regions.primary,
                    request.unwrap_or("?"),
                    request.unwrap_or("?")
                ),
            )
        }
        (Some(false), _) => (
            EventType::Warning,
            "AutomaticFailover",
            format!(
                "the primary region {} is failing: {evidence}; FailoverRequest {} fails over to {} (spec.detection.mode Automatic)",
                pl.spec.regions.primary,
                request.unwrap_or("?"),
                pl.spec.regions.standby
            ),
        ),
    };
    // Say it again only when the reason, or for a block the reason why, changes.
    let said = format!(
        "{reason}{}",
        if let Decision::Blocked(why) = decision {
            why.as_str()
        } else {
            ""
        }
    );
    {
        let mut memory = memory.lock().expect("memory lock");
        let before = memory.announced.insert(key(pl), said.clone());
        if before.as_deref() == Some(said.as_str()) || (before.is_none() && reason == "PrimaryHealthy") {
            return;
        }
    }
    info!(namespace = ?pl.namespace(), name = %pl.name_any(), reason, %note, "detection");
    publish_event(&ctx.recorder, &pl.object_ref(&()), type_, reason, note, "Detection").await;
}

/// Keeps `drillSchedule.nextAt` on the schedule and creates the drill that falls due (skipped,
/// with an Event, while another request is open). `Err` holds what is wrong with the schedule.
async fn follow_schedule(
    ctx: &DetectionContext,
    pl: &PilotLight,
    drills: &DrillScheduleSpec,
    previous: Option<DrillScheduleStatus>,
    open: Option<Arc<FailoverRequest>>,
    now: Timestamp,
) -> crate::error::Result<Result<DrillScheduleStatus, String>> {
    let schedule = match cron::Schedule::parse(&drills.schedule, &drills.time_zone) {
        Ok(schedule) => schedule,
        Err(why) => return Ok(Err(why)),
    };
    let key = format!("{} {}", drills.schedule, drills.time_zone);
    let mut status = previous
        .filter(|s| s.schedule.as_deref() == Some(key.as_str()))
        .unwrap_or(DrillScheduleStatus {
            schedule: Some(key),
            ..Default::default()
        });
    let due = status.next_at.as_ref().map(|t| t.0);
    if let Some(due) = due.filter(|due| *due <= now) {
        match open {
            Some(open) => {
                let note = format!(
                    "the drill due at {due} was skipped: FailoverRequest {} is open",
                    open.name_any()
                );
                publish_event(
                    &ctx.recorder,
                    &pl.object_ref(&()),
                    EventType::Warning,
                    "DrillSkipped",
                    note,
                    "Drill",
                )
                .await;
            }
            None => {
                let name = format!("{}-drill-{}", pl.name_any(), due.as_second());
                let reason = format!("scheduled drill ({} {}), due {due}", drills.schedule, drills.time_zone);
                create_request(ctx, pl, &name, FailoverType::Drill, ORIGIN_SCHEDULE, reason).await?;
                status.last_request_name = Some(name);
            }
        }
    }
    if due.is_none_or(|due| due <= now) {
        status.next_at = schedule.next_after(now).map(Time);
    }
    Ok(Ok(status))
}

/// `DrillPassed`: the last drill succeeded and is younger than `maxAge`.
fn drill_passed(
    last: Option<&FailoverOutcome>,
    drills: &DrillScheduleSpec,
    schedule: Result<&DrillScheduleStatus, &String>,
    now: Timestamp,
) -> (ConditionStatus, &'static str, String) {
    if let Err(why) = schedule {
        return (ConditionStatus::False, "InvalidSchedule", format!("spec.drills: {why}"));
    }
    let max_age = drills.max_age.to_duration().unwrap_or_default();
    let Some(last) = last else {
        return (ConditionStatus::False, "NeverDrilled", "no drill has run yet".into());
    };
    let completed = last.completed_at.as_ref().map(|t| t.0);
    let age = completed.and_then(|c| Duration::try_from(now.duration_since(c)).ok());
    match (last.phase, age) {
        // The time, not the age: an age would change the message, and so the status, every minute.
        (RequestPhase::Succeeded, Some(age)) if age <= max_age => (
            ConditionStatus::True,
            "DrillSucceeded",
            format!(
                "drill {} succeeded at {}",
                last.request_name,
                completed.map(|c| c.to_string()).unwrap_or_default()
            ),
        ),
        (RequestPhase::Succeeded, _) => (
            ConditionStatus::False,
            "DrillTooOld",
            format!(
                "the last drill ({}) is older than spec.drills.maxAge {}",
                last.request_name, drills.max_age.0
            ),
        ),
        (phase, _) => (
            ConditionStatus::False,
            "DrillFailed",
            format!(
                "the last drill {} ended {phase:?}: {}",
                last.request_name,
                last.message.as_deref().unwrap_or("")
            ),
        ),
    }
}

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
