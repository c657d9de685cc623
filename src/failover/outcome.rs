//! The end of a request: its phase, RTO and message ([`conclude`], pure; the RTO from
//! [`super::estimate`]), written onto the
//! request and, as `lastFailover` or `lastDrill`, onto the PilotLight ([`pilotlight_patch`],
//! pure), under the failover engine's own field managers.

use kube::{ResourceExt, runtime::controller::Action, runtime::events::EventType};

use super::{FailoverContext, ended, publish, requests_api, set_finalizer};
use crate::{
    api::{
        Estimate, FailoverOutcome, FailoverRequest, FailoverRequestStatus, FailoverType, PilotLight, RequestPhase,
        StepKind, StepState,
    },
    config::{DRILL_MANAGER, FAILOVER_MANAGER},
    error::Result,
    step::{
        Direction,
        journal::{self, Journal, now},
    },
};

/// How often steps left Deferred (their region did not answer) are tried again.
pub const DEFERRED_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// How a plan whose steps all ended concludes.
#[derive(Debug, PartialEq)]
pub struct Conclusion {
    pub phase: RequestPhase,
    pub message: String,
    pub recovery_time: Estimate,
    /// Steps left Deferred: the request stays with its finalizer and retries them.
    pub deferred: bool,
}

/// The phase, message and RTO of `status` once no step runs.
pub fn conclude(status: &FailoverRequestStatus, type_: FailoverType, stopped_by_person: bool) -> Conclusion {
    let failed = status.steps.iter().find(|s| s.state == StepState::Failed);
    let phase = match (failed, stopped_by_person) {
        (Some(_), _) => RequestPhase::Failed,
        (None, true) => RequestPhase::Cancelled,
        (None, false) => RequestPhase::Succeeded,
    };
    let in_state = |state: StepState| -> Vec<&str> {
        status
            .steps
            .iter()
            .filter(|s| s.state == state)
            .map(|s| s.name.as_str())
            .collect()
    };
    let (done, not_run, deferred) = (
        in_state(StepState::Succeeded),
        in_state(StepState::Pending),
        in_state(StepState::Deferred),
    );
    let mut message = match (failed, phase) {
        (Some(step), _) => format!(
            "Failed at {}: {}",
            step.name,
            step.message.as_deref().unwrap_or("no message")
        ),
        (None, RequestPhase::Cancelled) => "Cancelled by spec.cancel".to_owned(),
        _ => format!("{type_:?} succeeded"),
    };
    let traffic_stayed = status
        .steps
        .iter()
        .any(|s| s.name == StepKind::SwitchTraffic.name() && s.state != StepState::Succeeded);
    let split = phase != RequestPhase::Succeeded && done.contains(&StepKind::PromoteDatabase.name()) && traffic_stayed;
    let done = if done.is_empty() {
        "nothing".to_owned()
    } else {
        done.join(", ")
    };
    message.push_str(&format!(". Done: {done}"));
    if !not_run.is_empty() {
        message.push_str(&format!(". Not run: {}", not_run.join(", ")));
    }
    if split {
        message.push_str(
            ". Completed steps are not undone: the database writer moved but traffic did not (SwitchTraffic did not succeed); \
             fix what failed, then move traffic with a new request or by hand",
        );
    } else if phase != RequestPhase::Succeeded && done != "nothing" {
        message.push_str(". Completed steps are not undone");
    }
    if !deferred.is_empty() {
        message.push_str(&format!(
            ". Waiting for the old region to answer: {} (retried every {}s)",
            deferred.join(", "),
            DEFERRED_RETRY.as_secs()
        ));
    }
    Conclusion {
        phase,
        message,
        recovery_time: super::estimate::recovery_time(phase, &status.steps, status.started_at.as_ref()),
        deferred: !deferred.is_empty(),
    }
}

/// The message once every deferred step ended: the waiting part gives way to a note saying so.
pub fn after_deferred(message: &str) -> String {
    format!(
        "{}; the old region answered again and every deferred step ended",
        message.split(". Waiting").next().unwrap_or_default()
    )
}

/// The request's phase, RTO and message once no step runs; the PilotLight learns the outcome.
pub async fn finish(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    pl: &PilotLight,
    journal: &Journal,
    stopped_by_person: bool,
) -> Result<Action> {
    let end = conclude(&journal.snapshot(), request.spec.type_, stopped_by_person);
    let leftover = if end.phase == RequestPhase::Cancelled {
        StepState::Cancelled
    } else {
        StepState::Skipped
    };
    journal.note(|s| {
        for step in s.steps.iter_mut().filter(|s| s.state == StepState::Pending) {
            step.state = leftover;
        }
        s.phase = Some(end.phase);
        s.completed_at = Some(now());
        s.recovery_time_seconds = end.recovery_time.seconds;
        s.recovery_time = Some(end.recovery_time.clone());
        s.message = Some(end.message.clone());
        s.current_step = None;
    });
    let status = journal.snapshot();
    // The PilotLight first: whoever sees this request end and asks for the next one finds the
    // active region already moved.
    let patch = pilotlight_patch(request, pl, &status);
    let manager = if request.spec.type_ == FailoverType::Drill {
        DRILL_MANAGER
    } else {
        FAILOVER_MANAGER
    };
    crate::context::apply_pilotlight_status(&ctx.client, pl, manager, &patch).await?;
    let event_type = if end.phase == RequestPhase::Succeeded {
        EventType::Normal
    } else {
        EventType::Warning
    };
    publish(
        ctx,
        request,
        event_type,
        &format!("{:?}", end.phase),
        end.message.clone(),
    );
    journal.flush().await?;
    if !end.deferred {
        // Nothing left to do: the request may be deleted at any time now. Only after the final
        // phase is written: the finalizer's removal wakes the controller, which must not find
        // the request still Running and finish it again.
        set_finalizer(ctx, request, false).await?;
    }
    ended(ctx, request, &status);
    ctx.converge(pl);
    Ok(if end.deferred {
        Action::requeue(DEFERRED_RETRY)
    } else {
        Action::await_change()
    })
}

/// The PilotLight vanished while its request ran: nothing more can be done safely.
pub async fn finish_without_pilotlight(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    mut status: FailoverRequestStatus,
) -> Result<()> {
    status.phase = Some(RequestPhase::Failed);
    status.completed_at = Some(now());
    status.message = Some(format!(
        "PilotLight {} was deleted while the request ran; stopped",
        request.spec.pilot_light_ref.name
    ));
    journal::write(&requests_api(ctx, request), &request.name_any(), &status).await?;
    publish(
        ctx,
        request,
        EventType::Warning,
        "Failed",
        status.message.clone().unwrap_or_default(),
    );
    ended(ctx, request, &status);
    Ok(())
}

/// The outcome as PilotLight status fields: `lastFailover` (with `activeRegion` when traffic
/// and writer moved, so a Failback admitted right after is not refused; convergence confirms it
/// from AWS) or `lastDrill` with the drill trend.
pub fn pilotlight_patch(
    request: &FailoverRequest,
    pl: &PilotLight,
    status: &FailoverRequestStatus,
) -> serde_json::Value {
    let type_ = request.spec.type_;
    let phase = status.phase.unwrap_or(RequestPhase::Failed);
    let direction = Direction::of(&pl.spec, type_);
    let moved = phase == RequestPhase::Succeeded && type_ != FailoverType::Drill;
    // A drill moves nothing; anything that did not succeed is taken to have left traffic where
    // it was (convergence reports where the writer really is).
    let active_region = if moved { direction.to } else { direction.from };
    let outcome = FailoverOutcome {
        request_name: request.name_any(),
        type_,
        phase,
        completed_at: status.completed_at.clone(),
        recovery_time_seconds: status.recovery_time_seconds,
        data_loss_window_seconds: status.data_loss_window_seconds,
        recovery_time: status.recovery_time.clone(),
        data_loss: status.data_loss.clone(),
        active_region: Some(active_region.to_owned()),
        message: status.message.clone(),
    };
    if type_ != FailoverType::Drill {
        let mut patch = serde_json::json!({ "lastFailover": outcome });
        if moved {
            patch["activeRegion"] = serde_json::json!(active_region);
        }
        return patch;
    }
    // The drill trend, under the same manager as lastDrill (one request at a time, so `pl`'s
    // history is the latest).
    let history = pl.status.as_ref().map(|s| s.drill_history.clone()).unwrap_or_default();
    let entry = crate::api::HistoryEntry {
        time: status.completed_at.clone().unwrap_or_else(now),
        event: format!("Drill{phase:?}"),
        message: Some(format!(
            "{}{}",
            request.name_any(),
            status
                .recovery_time_seconds
                .map(|rto| format!(", RTO {rto:.1}s"))
                .unwrap_or_default()
        )),
    };
    serde_json::json!({
        "lastDrill": outcome,
        "drillHistory": crate::api::with_entry(&history, entry),
    })
}

#[cfg(test)]
pub(crate) mod tests;
