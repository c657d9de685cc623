//! FailoverRequests under faults, one test at a time (the emulator's faults and durations are
//! global): a primary region in outage, throttling and 5xx on every service, and a cancel.

use std::time::Duration;

use crate::common::{failover::*, *};
use pilot_light::api::{RequestPhase::*, StepState};
use serde_json::json;

pub(crate) const FINAL: &[pilot_light::api::RequestPhase] = &[Succeeded, Failed, Rejected, Cancelled];

/// Removes the emulator's faults and durations when the test ends, however it ends.
pub(crate) struct CleanEmulator;

impl Drop for CleanEmulator {
    fn drop(&mut self) {
        run_to_completion_in_drop(async {
            let emulator = Emulator::new();
            emulator.clear_faults().await;
            emulator.set_durations(json!({})).await;
        });
    }
}

/// Every regional service of `region` drops its connections; Route 53 (global) keeps working.
pub(crate) async fn outage(emulator: &Emulator, region: &str) {
    for service in [
        "rds",
        "ec2",
        "autoscaling",
        "elasticloadbalancing",
        "s3",
        "dynamodb",
        "monitoring",
    ] {
        emulator
            .add_fault(json!({"region": region, "service": service, "kind": "outage"}))
            .await;
    }
}

#[tokio::test]
async fn a_failover_completes_with_the_primary_region_down_and_a_switchover_refuses() {
    let _serial = crate::SERIAL.lock().await;
    let _clean = CleanEmulator;
    let mut s = Scenario::new("fo-outage").await;
    let operator = s.start_operator().await;
    let setup = failover_setup(&mut s).await;
    let emulator = Emulator::new();
    outage(&emulator, "us-east-1").await;

    create_request(&s, "planned", "Switchover", json!({})).await;
    let refused = wait_phase(&s, "planned", FINAL, Duration::from_secs(60)).await;
    let message = refused.status.unwrap().message.unwrap();
    assert!(
        message.contains("Switchover needs us-east-1, which does not answer") && message.contains("Failover"),
        "{message}"
    );

    let mark = call_log_mark(&emulator).await;
    create_request(&s, "unplanned", "Failover", json!({})).await;
    let r = wait_phase(&s, "unplanned", FINAL, Duration::from_secs(120)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    let states = step_states(&r);
    for step in [
        "PromoteDatabase",
        "ScaleUpCompute",
        "WaitTargetsHealthy",
        "SwitchTraffic",
        "UpdateEndpoints",
    ] {
        assert!(
            states.contains(&(step.into(), StepState::Succeeded)),
            "{step}: {states:?}"
        );
    }
    // The old region's steps wait for it instead of failing the request.
    assert!(
        states.contains(&("FenceOldPrimary".into(), StepState::Deferred)),
        "{states:?}"
    );
    assert!(
        states.contains(&("ReverseReplication".into(), StepState::Deferred)),
        "{states:?}"
    );
    assert!(
        status
            .message
            .as_deref()
            .unwrap()
            .contains("Waiting for the old region")
    );
    assert!(status.recovery_time_seconds.is_some());
    assert_eq!(
        writer(&s.names.global).await,
        ("us-west-2".into(), s.names.standby.clone())
    );
    let calls = mutating_calls(&emulator, &operator.app, mark).await;
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.as_str() == "us-west-2 FailoverGlobalCluster")
            .count(),
        1,
        "{calls:?}"
    );

    // Storage says which way it protects now: the writes stay in us-west-2 until us-east-1
    // answers.
    let (_, message) = s
        .wait_for_reason("StorageReplicating", "False", "OldRegionUnreachable")
        .await;
    assert!(
        message.contains("in us-west-2 (serving since the last failover) are kept there but reach")
            && message.contains("only when us-east-1 answers again"),
        "{message}"
    );

    // A retry of the deferred steps while us-east-1 is still silent keeps them Deferred.
    let retried = call_log_mark(&emulator).await;
    eventually(Duration::from_secs(60), || async {
        let calls = emulator.calls_since(retried).await;
        calls
            .iter()
            .any(|c| c.region == "us-east-1" && c.by_failover_executor_of(&operator.app))
            .then_some(())
    })
    .await
    .expect("the deferred steps were retried during the outage");
    let r = requests(&s).get("unplanned").await.unwrap();
    let states = step_states(&r);
    for step in ["FenceOldPrimary", "ReverseReplication"] {
        assert!(
            states.contains(&(step.into(), StepState::Deferred)),
            "{step} after a retry in the outage: {states:?}"
        );
    }

    // The region returns: the deferred steps finish on their own.
    emulator.clear_faults().await;
    let finished = eventually(Duration::from_secs(90), || async {
        let r = requests(&s).get("unplanned").await.ok()?;
        let states = step_states(&r);
        states.iter().all(|(_, st)| *st == StepState::Succeeded).then_some(r)
    })
    .await;
    let Some(finished) = finished else {
        let r = requests(&s).get("unplanned").await.unwrap();
        panic!(
            "deferred steps not finished once us-east-1 answered: {:#?}",
            r.status.map(|st| st.steps)
        );
    };
    assert_eq!(phase(&finished), Some(Succeeded));
    assert_eq!(
        capacity("us-east-1", &setup.primary_asg).await,
        (0, 0, 4),
        "old primary fenced"
    );
    let pl = s
        .wait("StorageReplicating", "True", None, Duration::from_secs(90))
        .await;
    let message = condition(pl.status.as_ref().unwrap(), "StorageReplicating")
        .message
        .clone();
    assert!(
        message.contains("in us-west-2 (serving since the last failover) replicate back to")
            && message.contains("replicate to its ACTIVE replica in us-east-1"),
        "{message}"
    );
    let storage = pl.status.unwrap().storage.unwrap();
    assert_eq!(storage.s3[0].reverse_rule.as_deref(), Some("Enabled"));
    operator.stop().await;
}

#[tokio::test]
async fn a_failover_completes_through_throttling_and_5xx_on_every_service() {
    let _serial = crate::SERIAL.lock().await;
    let _clean = CleanEmulator;
    let mut s = Scenario::new("fo-flaky").await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;
    emulator
        .add_fault(json!({"region": "*", "service": "*", "kind": "throttle", "probability": 0.3}))
        .await;
    emulator
        .add_fault(json!({"region": "*", "service": "*", "kind": "error5xx", "probability": 0.15}))
        .await;

    create_request(&s, "flaky", "Failover", json!({})).await;
    let r = wait_phase(&s, "flaky", FINAL, Duration::from_secs(180)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    let all = emulator.calls_since(mark).await;
    let faulted = all
        .iter()
        // Convergence's calls and the executor's (`<app>-failover`) alike.
        .filter(|c| c.made_by(&operator.app))
        .filter(|c| c.outcome == "throttled" || c.outcome == "fault5xx")
        .count();
    assert!(faulted > 0, "faults were injected");
    // Each mutating call took effect exactly once.
    let calls = mutating_calls(&emulator, &operator.app, mark).await;
    for (call, times) in [
        ("us-west-2 FailoverGlobalCluster", 1),
        ("us-west-2 UpdateAutoScalingGroup", 1),
        ("us-east-1 UpdateAutoScalingGroup", 1),
        ("us-west-2 PutBucketReplication", 1),
    ] {
        assert_eq!(
            calls.iter().filter(|c| c.as_str() == call).count(),
            times,
            "{call}: {calls:?}"
        );
    }
    operator.stop().await;
}

#[tokio::test]
async fn a_cancelled_request_stops_before_its_next_step_and_says_what_was_done() {
    let _serial = crate::SERIAL.lock().await;
    let _clean = CleanEmulator;
    let mut s = Scenario::new("fo-cancel").await;
    let operator = s.start_operator().await;
    let setup = failover_setup(&mut s).await;
    let emulator = Emulator::new();
    emulator
        .set_durations(json!({"rds:SwitchoverGlobalCluster": 3.0}))
        .await;

    create_request(&s, "switch", "Switchover", json!({})).await;
    wait_step(
        &s,
        "switch",
        "PromoteDatabase",
        StepState::Running,
        Duration::from_secs(30),
    )
    .await;
    patch_request(&requests(&s), "switch", json!({"cancel": true}))
        .await
        .unwrap();
    let r = wait_phase(&s, "switch", FINAL, Duration::from_secs(60)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Cancelled), "{status:#?}");
    let states = step_states(&r);
    // The promotion under way finished; nothing after it started.
    // The steps that started with it (reverse replication starts at once) finished too.
    for step in ["PromoteDatabase", "ScaleUpCompute", "ReverseReplication"] {
        assert!(
            states.contains(&(step.into(), StepState::Succeeded)),
            "{step}: {states:?}"
        );
    }
    for step in ["SwitchTraffic", "UpdateEndpoints", "FenceOldPrimary"] {
        assert!(
            states.contains(&(step.into(), StepState::Cancelled)),
            "{step}: {states:?}"
        );
    }
    let message = status.message.unwrap();
    assert!(
        message.starts_with("Cancelled by spec.cancel. Done: PromoteDatabase"),
        "{message}"
    );
    assert!(
        message.contains("Not run: ") && message.contains("SwitchTraffic"),
        "{message}"
    );
    assert_eq!(capacity("us-east-1", &setup.primary_asg).await, (2, 2, 4), "not fenced");
    // A cancel cannot be taken back.
    let undo = patch_request(&requests(&s), "switch", json!({"cancel": false})).await;
    assert!(undo.is_err(), "cancel is set once");
    operator.stop().await;
}

#[tokio::test]
async fn a_request_awaiting_approval_prewarms_the_standby_in_a_primary_region_outage() {
    let _serial = crate::SERIAL.lock().await;
    let _clean = CleanEmulator;
    let mut s = Scenario::new("prewarm-outage").await;
    let operator = s.start_operator().await;
    let setup = failover_setup_with(&mut s, |m| {
        m["spec"]["failover"] = json!({"approval": {"required": true}, "prewarm": {"onRequest": true, "capacity": 2}});
    })
    .await;
    let emulator = Emulator::new();
    outage(&emulator, "us-east-1").await;
    let mark = call_log_mark(&emulator).await;

    create_request(&s, "unplanned", "Failover", json!({})).await;
    wait_phase(&s, "unplanned", &[AwaitingApproval], Duration::from_secs(30)).await;
    let warm = eventually(Duration::from_secs(60), || async {
        (capacity("us-west-2", &setup.full.asg).await == (2, 2, 10)).then_some(())
    })
    .await;
    assert!(warm.is_some(), "the standby warmed while us-east-1 is down");
    // The group changes first, then the status says so.
    s.wait("Prewarmed", "True", Some("AwaitingApproval"), Duration::from_secs(30))
        .await;
    let calls = mutating_calls(&emulator, &operator.app, mark).await;
    assert!(
        calls.iter().all(|c| !c.starts_with("us-east-1 ")),
        "the prewarm calls nothing in the primary region: {calls:?}"
    );
    assert!(
        calls.iter().any(|c| c == "us-west-2 UpdateAutoScalingGroup"),
        "{calls:?}"
    );
    operator.stop().await;
}

#[tokio::test]
async fn an_rds_failover_promotes_resizes_and_adds_a_replica_with_the_primary_region_down() {
    let _serial = crate::SERIAL.lock().await;
    let _clean = CleanEmulator;
    let mut s = Scenario::new("fo-rds-outage").await;
    let (source, replica) = (format!("{}-db", s.names.primary), format!("{}-dr", s.names.primary));
    create_source_instance("us-east-1", &source, false).await;
    s.manifest = rds_pilotlight(&source, &replica);
    s.manifest["spec"]["database"]["rds"]["promotedInstanceClass"] = json!("db.r5.xlarge");
    s.manifest["spec"]["database"]["rds"]["promotedReplicas"] = json!(1);
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    eventually(Duration::from_secs(30), || async {
        pilotlight(&s).await.status?.database?.replication_lag
    })
    .await
    .expect("a ReplicaLag sample before the outage");
    let emulator = Emulator::new();
    emulator
        .set_durations(
            json!({"rds:PromoteReadReplica": 1, "rds:ModifyDBInstance": 1, "rds:CreateDBInstanceReadReplica": 1}),
        )
        .await;
    outage(&emulator, "us-east-1").await;
    let mark = call_log_mark(&emulator).await;

    create_request(&s, "unplanned", "Failover", json!({})).await;
    let done = wait_phase(&s, "unplanned", FINAL, Duration::from_secs(120)).await;
    let status = done.status.unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    let rpo = status.data_loss.unwrap();
    assert_eq!(
        (rpo.basis, rpo.seconds),
        (pilot_light::api::EstimateBasis::Measured, Some(1.0)),
        "{rpo:?}"
    );
    assert!(
        rpo.reason.contains(&format!("ReplicaLag of {replica} in us-west-2")),
        "{}",
        rpo.reason
    );

    let promoted = db_instance("us-west-2", &replica).await.unwrap();
    assert_eq!(promoted.read_replica_source_db_instance_identifier(), None);
    assert_eq!(promoted.db_instance_class(), Some("db.r5.xlarge"));
    let added = db_instance("us-west-2", &format!("{replica}-replica-1"))
        .await
        .expect("a replica of the new writer");
    assert_eq!(
        added.read_replica_source_db_instance_identifier(),
        Some(replica.as_str()),
        "the seed's new read replica, of the promoted instance in its own region"
    );
    let endpoint = promoted.endpoint().unwrap().address().unwrap().to_owned();
    assert_eq!(endpoints(&s).await.get("databaseWriterEndpoint"), Some(&endpoint));
    let into_east: Vec<String> = emulator
        .calls_since(mark)
        .await
        .into_iter()
        .filter(|c| c.made_by(&operator.app) && c.region == "us-east-1" && is_mutating(&c.action))
        .map(|c| c.action)
        .collect();
    assert!(
        into_east.is_empty(),
        "no mutating call was even tried in us-east-1: {into_east:?}"
    );
    // Convergence sees the promoted writer, and no replica back while us-east-1 is down.
    let (pl, message) = s
        .wait_for_reason("DatabaseReplicating", "False", "ReplicaRegionUnreachable")
        .await;
    assert_eq!(pl.status.as_ref().unwrap().active_region.as_deref(), Some("us-west-2"));
    assert!(message.contains(&format!("writer {replica} in us-west-2")), "{message}");
    operator.stop().await;
}
