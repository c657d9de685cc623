use k8s_openapi::jiff::Timestamp;

use super::*;

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + seconds).unwrap())
}

fn step(kind: StepKind, state: StepState, finished: Option<i64>) -> StepStatus {
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

#[test]
fn rto_ends_when_traffic_is_switched() {
    let steps = [
        step(StepKind::PromoteDatabase, StepState::Succeeded, Some(60)),
        step(StepKind::WaitTargetsHealthy, StepState::Succeeded, Some(120)),
        step(StepKind::SwitchTraffic, StepState::Succeeded, Some(181)),
        step(StepKind::ScaleUpDatabase, StepState::Succeeded, Some(900)),
    ];
    assert_eq!(recovery_time(&steps, Some(&at(1))), Some(180.0));
    assert_eq!(recovery_time(&steps, None), None);
}

#[test]
fn without_traffic_rto_ends_with_the_last_serving_step() {
    let steps = [
        step(StepKind::PromoteDatabase, StepState::Succeeded, Some(60)),
        step(StepKind::WaitTargetsHealthy, StepState::Succeeded, Some(95)),
        step(StepKind::FenceOldPrimary, StepState::Deferred, None),
    ];
    assert_eq!(recovery_time(&steps, Some(&at(0))), Some(95.0));
    let failed = [step(StepKind::SwitchTraffic, StepState::Failed, Some(10))];
    assert_eq!(recovery_time(&failed, Some(&at(0))), None);
}

fn request(approved_by: Option<&str>, created_by: Option<&str>) -> FailoverRequest {
    let mut r = FailoverRequest::new(
        "switch",
        crate::api::FailoverRequestSpec {
            pilot_light_ref: crate::api::PilotLightRef { name: "app".into() },
            type_: FailoverType::Switchover,
            reason: "test".into(),
            dry_run: false,
            force: false,
            approved_by: approved_by.map(str::to_owned),
            cancel: false,
        },
    );
    if let Some(creator) = created_by {
        r.metadata.annotations = Some([(CREATED_BY.to_owned(), creator.to_owned())].into());
    }
    r
}

#[test]
fn the_creator_cannot_approve_even_without_the_admission_policy() {
    assert!(!approved(&request(None, Some("alice"))));
    assert!(!approved(&request(Some("alice"), Some("alice"))));
    assert!(approved(&request(Some("bob"), Some("alice"))));
    assert!(
        approved(&request(Some("bob"), None)),
        "creator unknown: the policy is not installed"
    );
}
