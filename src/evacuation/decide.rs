//! The evacuation's decisions, pure: who is in the set ([`members`]), and, from what the set's
//! PilotLights and requests look like now, which requests to start or cancel and the status to
//! write ([`decide`]).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{ResourceExt, core::SelectorExt};

use crate::{
    api::{
        EVACUATION_LABEL, Evacuation, EvacuationMember, EvacuationPhase, EvacuationStatus, FailoverRequest,
        FailoverType, LAST_TIER, MemberCounts, MemberFailure, MemberPhase, PilotLight, PilotLightKey, RequestPhase,
        StepKind, StepState, TIER_LABEL,
    },
    failover::plan,
};

/// The key of a PilotLight.
pub fn key_of(pl: &PilotLight) -> PilotLightKey {
    PilotLightKey {
        namespace: pl.namespace().unwrap_or_default(),
        name: pl.name_any(),
    }
}

/// The tier a PilotLight's label gives it ([`LAST_TIER`] without a usable one).
pub fn tier_of(pl: &PilotLight) -> u32 {
    pl.labels()
        .get(TIER_LABEL)
        .and_then(|t| t.parse::<u32>().ok())
        .filter(|t| *t < LAST_TIER)
        .unwrap_or(LAST_TIER)
}

/// The set `evacuation` names among `candidates` (the PilotLights of its namespaces): those its
/// selector matches, and those it lists (a listed one that does not exist is Skipped), in the
/// order requests start. A PilotLight not active in `fromRegion` is Skipped. `Err` when the
/// selector is not a valid label selector.
pub fn members(evacuation: &Evacuation, candidates: &[PilotLight]) -> Result<Vec<EvacuationMember>, String> {
    let spec = &evacuation.spec;
    let selector = spec
        .selector
        .clone()
        .map(kube::core::Selector::try_from)
        .transpose()
        .map_err(|e| format!("spec.selector is not a valid label selector: {e}"))?;
    let in_namespaces =
        |pl: &PilotLight| spec.namespaces.is_empty() || spec.namespaces.contains(&pl.namespace().unwrap_or_default());
    let by_key: BTreeMap<PilotLightKey, &PilotLight> = candidates.iter().map(|pl| (key_of(pl), pl)).collect();
    let mut chosen: BTreeMap<PilotLightKey, Option<&PilotLight>> = BTreeMap::new();
    if let Some(selector) = &selector {
        for (key, pl) in &by_key {
            if in_namespaces(pl) && selector.matches(pl.labels()) {
                chosen.insert(key.clone(), Some(pl));
            }
        }
    }
    for key in &spec.pilot_lights {
        chosen.insert(key.clone(), by_key.get(key).copied());
    }
    let mut members: Vec<EvacuationMember> = chosen
        .into_iter()
        .map(|(key, pl)| {
            let mut member = EvacuationMember {
                namespace: key.namespace,
                name: key.name,
                tier: pl.map_or(LAST_TIER, tier_of),
                phase: MemberPhase::Waiting,
                readiness: None,
                request: None,
                message: None,
                recovery_time_seconds: None,
                completed_at: None,
            };
            let skip = match (pl, &spec.from_region) {
                (None, _) => Some("PilotLight does not exist".to_owned()),
                (Some(pl), Some(from)) if active_region(pl) != from.as_str() => Some(format!(
                    "active in {}, not in spec.fromRegion {from}",
                    active_region(pl)
                )),
                _ => None,
            };
            if let Some(why) = skip {
                member.phase = MemberPhase::Skipped;
                member.message = Some(why);
            }
            member
        })
        .collect();
    members.sort_by(|a, b| (a.tier, &a.namespace, &a.name).cmp(&(b.tier, &b.namespace, &b.name)));
    Ok(members)
}

fn active_region(pl: &PilotLight) -> String {
    pl.status
        .as_ref()
        .and_then(|s| s.active_region.clone())
        .unwrap_or_else(|| pl.spec.regions.primary.to_string())
}

/// What the evacuation sees now.
pub struct Observed<'a> {
    pub evacuation: &'a Evacuation,
    /// The members' PilotLights that exist.
    pub pilotlights: &'a BTreeMap<PilotLightKey, PilotLight>,
    /// The requests this evacuation made, by PilotLight.
    pub requests: &'a BTreeMap<PilotLightKey, FailoverRequest>,
    pub now: Time,
}

/// What to do, and the status to write afterwards.
#[derive(Debug, PartialEq)]
pub struct Decision {
    pub status: EvacuationStatus,
    /// Start a request for these members (named by [`Evacuation::request_name`]).
    pub start: Vec<PilotLightKey>,
    /// Cancel these members' requests, which have not started yet.
    pub cancel: Vec<PilotLightKey>,
    /// Members that failed since the last status, for Events.
    pub newly_failed: Vec<MemberFailure>,
}

/// Moves the evacuation on: each member follows its request; once approved (or for a dry
/// run), waiting members start tier by tier, at most `maxConcurrent` at a time, a member that
/// would be refused (not Ready without `force`, nothing to do) is Skipped instead; a cancel
/// starts nothing more. `status.members` must be set already (by [`members`]).
pub fn decide(observed: &Observed<'_>) -> Decision {
    let evacuation = observed.evacuation;
    let spec = &evacuation.spec;
    let mut status = evacuation.status.clone().unwrap_or_default();
    let before: BTreeMap<PilotLightKey, MemberPhase> = status.members.iter().map(|m| (m.key(), m.phase)).collect();
    for member in &mut status.members {
        follow_request(member, observed.requests.get(&member.key()));
        if member.phase == MemberPhase::Waiting {
            member.readiness = observed.pilotlights.get(&member.key()).map_or_else(
                || Some("PilotLight was deleted".to_owned()),
                |pl| readiness(pl, spec.type_, spec.force),
            );
        } else {
            member.readiness = None;
        }
    }

    let may_start = (spec.dry_run || evacuation.approved()) && !spec.cancel;
    let mut start = Vec::new();
    let mut cancel = Vec::new();
    if may_start {
        status.started_at.get_or_insert_with(|| observed.now.clone());
        start = start_members(&mut status.members, observed, spec.max_concurrent as usize);
    }
    if spec.cancel {
        for member in &mut status.members {
            match member.phase {
                MemberPhase::Waiting => {
                    member.phase = MemberPhase::Cancelled;
                    member.message = Some("the evacuation was cancelled before its request started".into());
                    member.readiness = None;
                }
                MemberPhase::Running
                    if observed
                        .requests
                        .get(&member.key())
                        .is_some_and(|r| !r.is_running() && !r.is_final() && !r.spec.cancel) =>
                {
                    cancel.push(member.key());
                }
                _ => {}
            }
        }
    }

    let newly_failed = status
        .members
        .iter()
        .filter(|m| m.phase == MemberPhase::Failed && before.get(&m.key()) != Some(&MemberPhase::Failed))
        .map(failure)
        .collect();
    summarize(&mut status, evacuation, &observed.now);
    Decision {
        status,
        start,
        cancel,
        newly_failed,
    }
}

/// A member with a request takes its request's state.
fn follow_request(member: &mut EvacuationMember, request: Option<&FailoverRequest>) {
    let Some(request) = request else {
        if member.phase == MemberPhase::Running {
            member.phase = MemberPhase::Cancelled;
            member.message = Some(format!(
                "its FailoverRequest {} was deleted",
                member.request.clone().unwrap_or_default()
            ));
        }
        return;
    };
    let status = request.status.clone().unwrap_or_default();
    member.request = Some(request.name_any());
    member.phase = match status.phase {
        None | Some(RequestPhase::Pending | RequestPhase::AwaitingApproval | RequestPhase::Running) => {
            MemberPhase::Running
        }
        Some(RequestPhase::Succeeded) => MemberPhase::Succeeded,
        Some(RequestPhase::Failed) => MemberPhase::Failed,
        Some(RequestPhase::Rejected) => MemberPhase::Skipped,
        Some(RequestPhase::Cancelled) => MemberPhase::Cancelled,
    };
    if status.message.is_some() {
        member.message = status.message;
    }
    member.recovery_time_seconds = status.recovery_time_seconds;
    member.completed_at = status.completed_at;
}

/// Why a request for `pl` would be refused now (the refusal says when `force` would help).
fn readiness(pl: &PilotLight, type_: FailoverType, force: bool) -> Option<String> {
    plan::refusal(pl, type_, force)
}

/// Whether a member no longer holds back the next tier: it ended, or its database has moved.
fn released(member: &EvacuationMember, request: Option<&FailoverRequest>) -> bool {
    member.phase.is_final()
        || request.is_some_and(|r| {
            r.status.as_ref().is_some_and(|s| {
                s.steps.iter().any(|step| {
                    step.name == StepKind::PromoteDatabase.name()
                        && matches!(step.state, StepState::Succeeded | StepState::Skipped)
                })
            })
        })
}

/// Starts (or skips) waiting members in order while their tier is open and slots are free.
fn start_members(
    members: &mut [EvacuationMember],
    observed: &Observed<'_>,
    max_concurrent: usize,
) -> Vec<PilotLightKey> {
    let spec = &observed.evacuation.spec;
    let mut running = members.iter().filter(|m| m.phase == MemberPhase::Running).count();
    let mut start = Vec::new();
    for i in 0..members.len() {
        if members[i].phase != MemberPhase::Waiting {
            continue;
        }
        let tier = members[i].tier;
        let held = members[..i]
            .iter()
            .any(|m| m.tier < tier && !released(m, observed.requests.get(&m.key())));
        if held || running >= max_concurrent {
            break;
        }
        let member = &mut members[i];
        let refusal = observed.pilotlights.get(&member.key()).map_or_else(
            || Some("PilotLight was deleted".to_owned()),
            |pl| readiness(pl, spec.type_, spec.force),
        );
        match refusal {
            Some(why) => {
                member.phase = MemberPhase::Skipped;
                member.message = Some(format!("not started: {why}"));
            }
            None => {
                member.phase = MemberPhase::Running;
                member.request = Some(observed.evacuation.request_name(&member.name));
                member.message = Some("request created".into());
                running += 1;
                start.push(member.key());
            }
        }
        member.readiness = None;
    }
    start
}

fn failure(member: &EvacuationMember) -> MemberFailure {
    MemberFailure {
        pilot_light: member.key().to_string(),
        reason: member.message.clone().unwrap_or_else(|| "failed".into()),
    }
}

/// Counts, completion times, RTO percentiles, failures, phase and message.
fn summarize(status: &mut EvacuationStatus, evacuation: &Evacuation, now: &Time) {
    let members = &status.members;
    let count = |phase| members.iter().filter(|m| m.phase == phase).count() as u32;
    let counts = MemberCounts {
        total: members.len() as u32,
        waiting: count(MemberPhase::Waiting),
        running: count(MemberPhase::Running),
        succeeded: count(MemberPhase::Succeeded),
        failed: count(MemberPhase::Failed),
        skipped: count(MemberPhase::Skipped),
        cancelled: count(MemberPhase::Cancelled),
    };
    let completions: Vec<&Time> = members
        .iter()
        .filter(|m| m.phase.is_final())
        .filter_map(|m| m.completed_at.as_ref())
        .collect();
    status.first_completed_at = completions.iter().min_by_key(|t| t.0).map(|t| (*t).clone());
    status.last_completed_at = completions.iter().max_by_key(|t| t.0).map(|t| (*t).clone());
    let mut rtos: Vec<f64> = members
        .iter()
        .filter(|m| m.phase == MemberPhase::Succeeded)
        .filter_map(|m| m.recovery_time_seconds)
        .collect();
    rtos.sort_by(f64::total_cmp);
    status.recovery_time_p50_seconds = percentile(&rtos, 0.50);
    status.recovery_time_p95_seconds = percentile(&rtos, 0.95);
    status.failures = members
        .iter()
        .filter(|m| m.phase == MemberPhase::Failed)
        .map(failure)
        .collect();
    status.observed_generation = evacuation.metadata.generation;

    let spec = &evacuation.spec;
    let open = counts.waiting + counts.running;
    let (phase, message) = if counts.total == 0 {
        (
            EvacuationPhase::Failed,
            "no PilotLight matches spec.selector or spec.pilotLights".to_owned(),
        )
    } else if !spec.dry_run && !spec.cancel && !evacuation.approved() {
        let unready = members.iter().filter(|m| m.readiness.is_some()).count();
        let approval = match (&spec.approved_by, evacuation.annotations().get(crate::api::CREATED_BY)) {
            (Some(by), Some(creator)) if by == creator => format!(
                "{by} created this evacuation and approved it themselves, which does not count; spec.approvedBy cannot change, so cancel it and create a new one for another person to approve"
            ),
            _ => "another person must set spec.approvedBy to their user name".to_owned(),
        };
        (
            EvacuationPhase::AwaitingApproval,
            format!(
                "Awaiting approval of a {:?} of {} PilotLights ({unready} would not start now, {} skipped): {approval}",
                spec.type_, counts.total, counts.skipped
            ),
        )
    } else if open > 0 {
        let verb = if spec.cancel { "Cancelling" } else { "Running" };
        (
            EvacuationPhase::Running,
            format!(
                "{verb}: {} succeeded, {} running, {} waiting, {} failed, {} skipped of {}",
                counts.succeeded, counts.running, counts.waiting, counts.failed, counts.skipped, counts.total
            ),
        )
    } else {
        let phase = if spec.cancel {
            EvacuationPhase::Cancelled
        } else if counts.failed > 0 {
            EvacuationPhase::Failed
        } else {
            EvacuationPhase::Succeeded
        };
        (
            phase,
            format!(
                "{phase:?}: {} succeeded, {} failed, {} skipped, {} cancelled of {}",
                counts.succeeded, counts.failed, counts.skipped, counts.cancelled, counts.total
            ),
        )
    };
    if phase.is_final() {
        status.completed_at.get_or_insert_with(|| now.clone());
    }
    status.phase = Some(phase);
    status.message = Some(message);
    status.counts = Some(counts);
}

/// The nearest-rank percentile of sorted `values`.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = (p * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

/// The label selector of the requests `evacuation` made.
pub fn requests_selector(evacuation: &Evacuation) -> String {
    format!("{EVACUATION_LABEL}={}", evacuation.name_any())
}

#[cfg(test)]
mod tests;
