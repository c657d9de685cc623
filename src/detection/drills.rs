//! Scheduled drills: keep `drillSchedule.nextAt` on the schedule, create the drill that falls
//! due, and judge `DrillPassed`.

use std::{sync::Arc, time::Duration};

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{Resource, ResourceExt, runtime::events::EventType};

use super::{DetectionContext, create_request, cron};
use crate::{
    api::{
        ConditionStatus, DrillScheduleSpec, DrillScheduleStatus, FailoverOutcome, FailoverRequest, FailoverType,
        ORIGIN_SCHEDULE, PilotLight, RequestPhase,
    },
    context::publish_event,
};

/// Keeps `drillSchedule.nextAt` on the schedule and creates the drill that falls due (skipped,
/// with an Event, while another request is open). `Err` holds what is wrong with the schedule.
pub(super) async fn follow_schedule(
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
pub(super) fn drill_passed(
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
