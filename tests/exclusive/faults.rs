//! Convergence under injected AWS faults. Fault rules are global to the emulator, so each test
//! holds `SERIAL`.

use std::time::Duration;

use crate::common::*;
use serde_json::json;

/// Undoes what a test changed in the emulator (fault rules, durations) when dropped, even if the
/// test panics. Never panics itself, so a failing test reports its own failure.
struct Faults(Vec<String>);

impl Drop for Faults {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut self.0);
        let base = std::env::var("PILOT_LIGHT_EMULATOR_URL").unwrap_or_default();
        run_to_completion_in_drop(async move {
            let http = reqwest::Client::new();
            for id in ids {
                let _ = http.delete(format!("{base}/_emulator/faults/{id}")).send().await;
            }
            let _ = http
                .put(format!("{base}/_emulator/durations"))
                .json(&json!({}))
                .send()
                .await;
        });
    }
}

#[tokio::test]
async fn converges_while_rds_throttles_half_the_calls() {
    let _serial = crate::SERIAL.lock().await;
    let mut s = Scenario::new("fault-throttle").await;
    create_primary_cluster("us-east-1", &s.names.primary).await;
    let emulator = Emulator::new();
    let _faults = Faults(vec![
        emulator
            .add_fault(json!({"region": "*", "service": "rds", "kind": "throttle", "probability": 0.5}))
            .await,
        emulator
            .add_fault(json!({"region": "*", "service": "rds", "kind": "error5xx", "probability": 0.1}))
            .await,
    ]);
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait("Ready", "True", None, Duration::from_secs(120)).await;

    let calls = emulator.calls_by(&operator.app).await;
    operator.stop().await;
    let throttled = calls.iter().filter(|c| c.outcome == "throttled").count();
    assert!(throttled > 0, "throttling was injected: {calls:?}");
    let creates: Vec<_> = calls
        .iter()
        .filter(|c| c.action.starts_with("Create") && c.outcome == "ok")
        .map(|c| &c.action)
        .collect();
    assert_eq!(
        creates,
        ["CreateGlobalCluster", "CreateDBCluster", "CreateDBInstance"],
        "each resource created exactly once"
    );
}

#[tokio::test]
async fn standby_region_outage_is_reported_and_recovers_by_itself() {
    let _serial = crate::SERIAL.lock().await;
    let mut s = Scenario::new("fault-outage").await;
    create_primary_cluster("us-east-1", &s.names.primary).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;

    let emulator = Emulator::new();
    let outage = Faults(vec![
        emulator
            .add_fault(json!({"region": "us-west-2", "service": "*", "kind": "outage"}))
            .await,
    ]);
    // A spec change makes the operator look now rather than at its next Ready requeue.
    s.apply(|m| m["spec"]["database"]["aurora"]["maxReplicationLag"] = "4s".into())
        .await;
    let (pl, message) = s
        .wait_for_reason("DatabaseReplicating", "Unknown", "RegionUnreachable")
        .await;
    let status = pl.status.unwrap();
    assert!(message.contains("us-west-2"), "names the region: {message}");
    assert_eq!(status.phase, Some(pilot_light::api::Phase::Degraded));
    assert!(s.event_reasons().await.iter().any(|r| r == "RegionUnreachable"));

    drop(outage);
    // Retries back off (capped at 3 s here) and succeed once the region is back.
    s.wait_ready().await;
    let outage_calls = emulator
        .calls_by(&operator.app)
        .await
        .into_iter()
        .filter(|c| c.outcome == "outage")
        .count();
    operator.stop().await;
    assert!(outage_calls > 0, "the operator's calls hit the outage");
}

#[tokio::test]
async fn slow_aws_operations_pass_through_their_creating_states() {
    let _serial = crate::SERIAL.lock().await;
    let mut s = Scenario::new("fault-slow").await;
    create_primary_cluster("us-east-1", &s.names.primary).await;
    let emulator = Emulator::new();
    let _restore = Faults(Vec::new());
    emulator
        .set_durations(json!({"rds:CreateDBCluster": 1.5, "rds:CreateDBInstance": 3.0}))
        .await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let waiting = s
        .wait(
            "DatabaseReplicating",
            "False",
            Some("StandbyInstanceNotAvailable"),
            Duration::from_secs(60),
        )
        .await;
    let status = waiting.status.unwrap();
    assert_eq!(
        status.database.unwrap().standby_instance_status.as_deref(),
        Some("creating")
    );
    assert_eq!(status.phase, Some(pilot_light::api::Phase::Converging));
    s.wait_ready().await;
    operator.stop().await;
}

#[tokio::test]
async fn a_create_whose_response_is_lost_takes_effect_once() {
    let _serial = crate::SERIAL.lock().await;
    let mut s = Scenario::new("fault-lost").await;
    create_primary_cluster("us-east-1", &s.names.primary).await;
    let emulator = Emulator::new();
    let rule = json!({"region": "us-west-2", "service": "rds", "action": "CreateDBCluster", "kind": "responseLost", "remaining": 1});
    let _faults = Faults(vec![emulator.add_fault(rule).await]);
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    let calls = emulator.calls_by(&operator.app).await;
    operator.stop().await;

    let creates: Vec<_> = calls
        .iter()
        .filter(|c| c.action == "CreateDBCluster")
        .map(|c| c.outcome.as_str())
        .collect();
    assert_eq!(
        creates.first(),
        Some(&"responseLost"),
        "the first create took effect, its answer was lost: {creates:?}"
    );
    assert!(
        !creates[1..].contains(&"ok"),
        "no second cluster was created: {creates:?}"
    );
    let reasons = s.event_reasons().await;
    assert!(
        !reasons.iter().any(|r| r == "AwsRequestRejected"),
        "a lost answer is not a configuration error: {reasons:?}"
    );
}

#[tokio::test]
async fn the_whole_setup_converges_while_every_service_throttles_and_fails() {
    let _serial = crate::SERIAL.lock().await;
    let mut s = Scenario::new("fault-all").await;
    full_setup(&mut s).await;
    let emulator = Emulator::new();
    const SERVICES: [&str; 7] = ["rds", "monitoring", "s3", "dynamodb", "ec2", "autoscaling", "route53"];
    let mut rules = Vec::new();
    // Every service's first call is throttled and its second fails with a 5xx, so each one is
    // hit however few calls it gets; then 30% throttling and 10% 5xx at random on all.
    for service in SERVICES {
        for kind in ["throttle", "error5xx"] {
            rules.push(
                emulator
                    .add_fault(json!({"region": "*", "service": service, "kind": kind, "remaining": 1}))
                    .await,
            );
        }
    }
    rules.push(
        emulator
            .add_fault(json!({"region": "*", "service": "*", "kind": "throttle", "probability": 0.3}))
            .await,
    );
    rules.push(
        emulator
            .add_fault(json!({"region": "*", "service": "*", "kind": "error5xx", "probability": 0.1}))
            .await,
    );
    let _faults = Faults(rules);
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait("Ready", "True", None, Duration::from_secs(180)).await;

    let calls = emulator.calls_by(&operator.app).await;
    operator.stop().await;
    for service in SERVICES {
        for outcome in ["throttled", "fault5xx"] {
            assert!(
                calls.iter().any(|c| c.service == service && c.outcome == outcome),
                "{outcome} on {service}"
            );
        }
    }
    let mut creates: Vec<&str> = calls
        .iter()
        .filter(|c| {
            c.outcome == "ok"
                && (c.action.starts_with("Create") || c.action.starts_with("Copy") || c.action.starts_with("Put"))
        })
        .map(|c| c.action.as_str())
        .collect();
    creates.sort_unstable();
    assert_eq!(
        creates,
        [
            "CopyImage",
            "CreateAutoScalingGroup",
            "CreateDBCluster",
            "CreateDBInstance",
            "CreateGlobalCluster",
            "CreateHealthCheck",
            "CreateLaunchTemplate",
            "PutBucketReplication",
            "PutBucketVersioning",
            "PutBucketVersioning",
        ],
        "each resource created exactly once"
    );
}
