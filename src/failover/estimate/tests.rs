use super::*;
use crate::failover::outcome::tests::{at, step};

/// The epoch second [`at`] counts from.
const NOW: i64 = 1_800_000_000;

fn sample(milliseconds: f64, age: i64) -> LagSample {
    LagSample {
        milliseconds,
        at_epoch_seconds: NOW - age,
    }
}

fn samples(read: Result<Option<LagSample>, String>, last_observed: Option<LagSample>) -> LagEvidence {
    LagEvidence::Samples {
        metric: "AuroraGlobalDBReplicationLag of app-west in us-west-2".into(),
        read,
        last_observed,
    }
}

#[test]
fn a_fresh_sample_measures_the_rpo() {
    let e = data_loss(FailoverType::Failover, &samples(Ok(Some(sample(800.0, 20))), None), NOW);
    assert_eq!(e.basis, EstimateBasis::Measured);
    assert_eq!((e.seconds, e.sample_age_seconds), (Some(0.8), Some(20.0)));
    assert!(
        e.reason.contains("AuroraGlobalDBReplicationLag of app-west"),
        "{}",
        e.reason
    );
}

#[test]
fn a_stale_sample_bounds_the_rpo_by_its_lag_plus_its_age() {
    let stale = FRESH_LAG_SAMPLE.as_secs() as i64 + 50;
    let e = data_loss(
        FailoverType::Failover,
        &samples(Ok(Some(sample(2000.0, stale))), None),
        NOW,
    );
    assert_eq!(e.basis, EstimateBasis::Bound);
    assert_eq!(e.seconds, Some(2.0 + stale as f64));
    assert_eq!(e.sample_age_seconds, Some(stale as f64));
    assert!(e.describe().starts_with("at most"), "{}", e.describe());
}

#[test]
fn the_newest_of_cloudwatch_and_the_status_sample_counts() {
    // CloudWatch did not answer: the sample convergence saw is used.
    let e = data_loss(
        FailoverType::Failover,
        &samples(Err("throttled".into()), Some(sample(500.0, 30))),
        NOW,
    );
    assert_eq!((e.basis, e.seconds), (EstimateBasis::Measured, Some(0.5)));
    // The status's sample is older than CloudWatch's: CloudWatch's wins.
    let e = data_loss(
        FailoverType::Failover,
        &samples(Ok(Some(sample(100.0, 5))), Some(sample(9000.0, 100))),
        NOW,
    );
    assert_eq!(e.seconds, Some(0.1));
}

#[test]
fn no_sample_at_all_is_unknown_and_says_why() {
    let e = data_loss(FailoverType::Failover, &samples(Ok(None), None), NOW);
    assert_eq!((e.basis, e.seconds), (EstimateBasis::Unknown, None));
    assert!(e.reason.contains("no AuroraGlobalDBReplicationLag"), "{}", e.reason);
    let e = data_loss(
        FailoverType::Failover,
        &samples(Err("endpoint unreachable".into()), None),
        NOW,
    );
    assert!(e.reason.contains("endpoint unreachable"), "{}", e.reason);
    let e = data_loss(FailoverType::Failover, &LagEvidence::NoDatabase, NOW);
    assert_eq!(e.basis, EstimateBasis::Unknown);
    assert!(e.describe().starts_with("unknown: spec.database"), "{}", e.describe());
}

#[test]
fn a_switchover_or_failback_loses_nothing_and_a_drill_says_what_a_failover_would_lose() {
    for type_ in [FailoverType::Switchover, FailoverType::Failback] {
        let e = planned_move(type_, false);
        assert_eq!((e.basis, e.seconds), (EstimateBasis::Zero, Some(0.0)), "{type_:?}");
        let rds = planned_move(type_, true);
        assert!(rds.reason.contains("RDS has no zero-loss switchover"), "{}", rds.reason);
    }
    let e = data_loss(FailoverType::Drill, &samples(Ok(Some(sample(800.0, 1))), None), NOW);
    assert_eq!((e.basis, e.seconds), (EstimateBasis::Measured, Some(0.8)));
    assert!(e.reason.starts_with("a drill loses nothing"), "{}", e.reason);
}

#[test]
fn rto_ends_when_traffic_is_switched_even_if_a_later_step_failed() {
    let steps = [
        step(StepKind::PromoteDatabase, StepState::Succeeded, Some(60)),
        step(StepKind::WaitTargetsHealthy, StepState::Succeeded, Some(120)),
        step(StepKind::SwitchTraffic, StepState::Succeeded, Some(181)),
        step(StepKind::ScaleUpDatabase, StepState::Failed, Some(900)),
    ];
    let e = recovery_time(RequestPhase::Failed, &steps, Some(&at(1)));
    assert_eq!((e.basis, e.seconds), (EstimateBasis::Measured, Some(180.0)));
    assert!(e.reason.contains("SwitchTraffic"), "{}", e.reason);
    assert_eq!(
        recovery_time(RequestPhase::Succeeded, &steps, None).basis,
        EstimateBasis::Unknown
    );
}

#[test]
fn a_warm_drill_measures_from_warm() {
    let steps = [
        step(StepKind::PrewarmCompute, StepState::Succeeded, Some(120)),
        step(StepKind::ScaleUpCompute, StepState::Succeeded, Some(121)),
        step(StepKind::WaitTargetsHealthy, StepState::Succeeded, Some(124)),
        step(StepKind::SmokeTest, StepState::Succeeded, Some(125)),
    ];
    let e = recovery_time(RequestPhase::Succeeded, &steps, Some(&at(0)));
    assert_eq!(e.seconds, Some(5.0));
    assert!(
        e.reason.starts_with("from warm (PrewarmCompute finished)"),
        "{}",
        e.reason
    );
}

#[test]
fn without_traffic_rto_ends_with_the_last_serving_step() {
    let steps = [
        step(StepKind::PromoteDatabase, StepState::Succeeded, Some(60)),
        step(StepKind::WaitTargetsHealthy, StepState::Succeeded, Some(95)),
        step(StepKind::FenceOldPrimary, StepState::Deferred, None),
    ];
    let e = recovery_time(RequestPhase::Succeeded, &steps, Some(&at(0)));
    assert_eq!(e.seconds, Some(95.0));
    assert!(e.reason.contains("WaitTargetsHealthy"), "{}", e.reason);
}

#[test]
fn a_request_that_never_switched_traffic_has_an_unknown_rto_with_the_reason() {
    let failed = [step(StepKind::SwitchTraffic, StepState::Failed, Some(10))];
    let e = recovery_time(RequestPhase::Failed, &failed, Some(&at(0)));
    assert_eq!((e.basis, e.seconds), (EstimateBasis::Unknown, None));
    assert!(e.reason.contains("never switched"), "{}", e.reason);
    let cancelled = [step(StepKind::ScaleUpCompute, StepState::Cancelled, None)];
    let e = recovery_time(RequestPhase::Cancelled, &cancelled, Some(&at(0)));
    assert!(e.reason.starts_with("cancelled"), "{}", e.reason);
}
