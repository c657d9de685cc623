use super::*;

fn error(retryable: bool, unreachable: bool) -> StepError {
    StepError {
        message: "boom".into(),
        retryable,
        unreachable,
        throttled: false,
    }
}

#[test]
fn a_deferrable_step_without_an_answer_is_deferred_at_once() {
    let deferred = deferral(StepKind::FenceOldPrimary, "us-east-1", &error(true, true), true);
    assert_eq!(
        deferred,
        Some(Done::Deferred(
            "us-east-1 does not answer; retrying until it does (boom)".into()
        ))
    );
}

#[test]
fn a_5xx_is_retried_first_and_defers_only_when_the_retries_are_spent() {
    let answered = error(true, false);
    assert_eq!(
        deferral(StepKind::ReverseReplication, "us-east-1", &answered, true),
        None
    );
    assert!(matches!(
        deferral(StepKind::ReverseReplication, "us-east-1", &answered, false),
        Some(Done::Deferred(_))
    ));
}

#[test]
fn refusals_and_steps_on_the_critical_path_are_never_deferred() {
    assert_eq!(
        deferral(StepKind::FenceOldPrimary, "us-east-1", &error(false, false), false),
        None
    );
    for kind in [
        StepKind::PromoteDatabase,
        StepKind::ScaleUpCompute,
        StepKind::SwitchTraffic,
    ] {
        assert_eq!(deferral(kind, "us-east-1", &error(true, true), false), None, "{kind:?}");
    }
}

#[test]
fn the_writer_record_names_route_53s_control_plane_not_the_old_region() {
    let Some(Done::Deferred(m)) = deferral(StepKind::UpdateWriterRecord, "us-east-1", &error(true, true), true) else {
        panic!("deferred");
    };
    assert!(
        m.starts_with("Route 53's control plane (us-east-1) does not answer"),
        "{m}"
    );
}
