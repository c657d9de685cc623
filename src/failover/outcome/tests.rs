use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::api::{EstimateBasis, StepKind, StepStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// `seconds` after the epoch second 1 800 000 000 (shared with `estimate`'s tests).
pub(crate) fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + seconds).unwrap())
}

/// A journal entry of `kind` in `state`, finished at [`at`]`(finished)`.
pub(crate) fn step(kind: StepKind, state: StepState, finished: Option<i64>) -> StepStatus {
    StepStatus {
        name: kind.name().into(),
        state,
        depends_on: vec![],
        started_at: None,
        finished_at: finished.map(at),
        attempts: 0,
        message: None,
        operation: None,
    }
}

fn status(steps: Vec<StepStatus>) -> FailoverRequestStatus {
    FailoverRequestStatus {
        started_at: Some(at(0)),
        steps,
        ..Default::default()
    }
}

#[test]
fn a_failed_step_fails_the_request_and_names_what_was_not_run() {
    let mut failed = step(StepKind::SwitchTraffic, StepState::Failed, Some(30));
    failed.message = Some("Route 53 unavailable".into());
    let end = conclude(
        &status(vec![
            step(StepKind::PromoteDatabase, StepState::Succeeded, Some(20)),
            failed,
            step(StepKind::FenceOldPrimary, StepState::Pending, None),
        ]),
        FailoverType::Failover,
        false,
    );
    assert_eq!(end.phase, RequestPhase::Failed);
    assert_eq!(
        end.message,
        "Failed at SwitchTraffic: Route 53 unavailable. Done: PromoteDatabase. Not run: FenceOldPrimary. \
         Completed steps are not undone: the database writer moved but traffic did not (SwitchTraffic did not succeed); \
         fix what failed, then move traffic with a new request or by hand"
    );
    assert_eq!(end.recovery_time.basis, EstimateBasis::Unknown, "traffic never moved");
    assert!(
        end.recovery_time.reason.contains("never switched"),
        "{:?}",
        end.recovery_time
    );
    assert!(!end.deferred);
}

#[test]
fn a_stopped_request_is_cancelled_and_deferred_steps_keep_it_open() {
    let stopped = conclude(
        &status(vec![step(StepKind::ScaleUpCompute, StepState::Pending, None)]),
        FailoverType::Drill,
        true,
    );
    assert_eq!(stopped.phase, RequestPhase::Cancelled);
    assert_eq!(
        stopped.message,
        "Cancelled by spec.cancel. Done: nothing. Not run: ScaleUpCompute"
    );

    let deferred = conclude(
        &status(vec![
            step(StepKind::PromoteDatabase, StepState::Succeeded, Some(42)),
            step(StepKind::FenceOldPrimary, StepState::Deferred, None),
        ]),
        FailoverType::Failover,
        false,
    );
    assert_eq!(deferred.phase, RequestPhase::Succeeded);
    assert_eq!(deferred.recovery_time.seconds, Some(42.0));
    assert!(deferred.deferred);
    assert!(
        deferred
            .message
            .ends_with("Waiting for the old region to answer: FenceOldPrimary (retried every 30s)")
    );
    assert_eq!(
        after_deferred(&deferred.message),
        "Failover succeeded. Done: PromoteDatabase; the old region answered again and every deferred step ended"
    );
}

fn pilotlight() -> PilotLight {
    let mut pl: PilotLight =
        serde_yaml::from_str(include_str!("../../../examples/pilotlight-full.yaml")).expect("example parses");
    pl.metadata.namespace = Some("shop".into());
    pl
}

fn request(type_: FailoverType) -> FailoverRequest {
    FailoverRequest::new(
        "r1",
        crate::api::FailoverRequestSpec {
            pilot_light_ref: crate::api::PilotLightRef { name: "app".into() },
            type_,
            reason: "test".into(),
            dry_run: false,
            force: false,
            approved_by: None,
            prewarm: false,
            cancel: false,
        },
    )
}

#[test]
fn a_successful_failover_moves_the_active_region_and_a_failed_one_does_not() {
    let pl = pilotlight();
    let mut done = status(vec![]);
    done.phase = Some(RequestPhase::Succeeded);
    let patch = pilotlight_patch(&request(FailoverType::Failover), &pl, &done);
    assert_eq!(patch["activeRegion"], "us-west-2");
    assert_eq!(patch["lastFailover"]["activeRegion"], "us-west-2");
    assert!(patch.get("lastDrill").is_none());

    done.phase = Some(RequestPhase::Failed);
    let patch = pilotlight_patch(&request(FailoverType::Failover), &pl, &done);
    assert!(patch.get("activeRegion").is_none());
    assert_eq!(patch["lastFailover"]["activeRegion"], "us-east-1");
}

#[test]
fn a_drill_records_last_drill_and_its_trend_but_moves_nothing() {
    let pl = pilotlight();
    let mut done = status(vec![]);
    done.phase = Some(RequestPhase::Succeeded);
    done.recovery_time_seconds = Some(12.34);
    let patch = pilotlight_patch(&request(FailoverType::Drill), &pl, &done);
    assert!(patch.get("activeRegion").is_none() && patch.get("lastFailover").is_none());
    assert_eq!(patch["lastDrill"]["phase"], "Succeeded");
    assert_eq!(patch["drillHistory"][0]["event"], "DrillSucceeded");
    assert_eq!(patch["drillHistory"][0]["message"], "r1, RTO 12.3s");
}
