//! FailoverRequests end to end on the real API server, against the emulator over HTTP: each
//! request type, dry runs, one request at a time, a missing PilotLight. Tests that change the
//! emulator's faults or durations are in `tests/exclusive/failover_faults.rs`.

use std::time::Duration;

use crate::common::{failover::*, *};
use pilot_light::api::{RequestPhase::*, StepState};
use serde_json::json;

const FINAL: &[pilot_light::api::RequestPhase] = &[Succeeded, Failed, Rejected, Cancelled];

#[tokio::test]
async fn switchover_moves_everything_and_failback_moves_it_back() {
    let mut s = Scenario::new("fo-switch").await;
    let operator = s.start_operator().await;
    let setup = failover_setup(&mut s).await;
    let (full, names) = (&setup.full, s.names.clone());
    let seed = seed();
    // The second seed: the promoted cluster is scaled up and gets a reader.
    s.apply(|m| {
        m["spec"]["database"]["aurora"]["promotedInstanceClass"] = json!("db.r5.xlarge");
        m["spec"]["database"]["aurora"]["promotedReaders"] = json!(1);
    })
    .await;
    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;

    create_request(&s, "switch", "Switchover", json!({})).await;
    let r = wait_phase(&s, "switch", FINAL, Duration::from_secs(90)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    assert_eq!(
        step_states(&r),
        [
            "PromoteDatabase",
            "ScaleUpCompute",
            "WaitTargetsHealthy",
            "SwitchTraffic",
            "UpdateEndpoints",
            "UpdateWriterRecord",
            "ScaleUpDatabase",
            "FenceOldPrimary",
            "ReverseReplication"
        ]
        .map(|n| (n.to_owned(), StepState::Succeeded))
    );
    let mut classes: Vec<_> = cluster_instances("us-west-2", &names.standby)
        .await
        .iter()
        .map(|i| {
            (
                i.db_instance_identifier().unwrap().to_owned(),
                i.db_instance_class().unwrap().to_owned(),
            )
        })
        .collect();
    classes.sort();
    assert_eq!(
        classes,
        [
            (format!("{}-1", names.standby), "db.r5.xlarge".to_owned()),
            (format!("{}-reader-1", names.standby), "db.r5.xlarge".to_owned())
        ]
    );
    assert_eq!(status.data_loss_window_seconds, Some(0.0), "a switchover loses nothing");
    assert_eq!(
        status.data_loss.as_ref().map(|e| e.basis),
        Some(pilot_light::api::EstimateBasis::Zero)
    );
    let rto = status.recovery_time_seconds.expect("RTO measured");
    assert!(rto > 0.0 && rto < 60.0, "RTO {rto}: {status:#?}");

    // AWS moved: writer, compute, traffic, endpoints, the old primary fenced.
    assert_eq!(writer(&names.global).await, ("us-west-2".into(), names.standby.clone()));
    assert_eq!(capacity("us-west-2", &full.asg).await, (2, 4, 10));
    assert_eq!(capacity("us-east-1", &setup.primary_asg).await, (0, 0, 4));
    let standby_alb = seed["alb"]["us-west-2"]["dnsName"].as_str().unwrap();
    assert_eq!(
        record_target(&full.zone, &format!("api.{}", full.domain), "A")
            .await
            .as_deref(),
        Some(standby_alb)
    );
    let db = record_target(&full.zone, &format!("db.{}", full.domain), "CNAME")
        .await
        .unwrap();
    assert!(db.starts_with(&names.standby), "db CNAME -> {db}");
    assert_eq!(endpoints(&s).await["activeRegion"], "us-west-2");
    let calls = mutating_calls(&emulator, &operator.app, mark).await;
    let count = |action: &str| calls.iter().filter(|c| c.as_str() == action).count();
    assert_eq!(count("us-west-2 SwitchoverGlobalCluster"), 1, "{calls:?}");
    assert_eq!(count("us-west-2 UpdateAutoScalingGroup"), 1, "{calls:?}");
    assert_eq!(count("us-east-1 UpdateAutoScalingGroup"), 1, "{calls:?}");
    assert_eq!(count("us-west-2 PutBucketReplication"), 1, "{calls:?}");
    // The request's writes carry the executor's own app name (CloudTrail tells them apart).
    // PromoteDatabase and ReverseReplication do not depend on each other: either may write first.
    let mut by_executor: Vec<_> = emulator
        .calls_since(mark)
        .await
        .into_iter()
        .filter(|c| c.action == "SwitchoverGlobalCluster" || c.action == "PutBucketReplication")
        .map(|c| (c.action.clone(), c.by_failover_executor_of(&operator.app)))
        .collect();
    by_executor.sort();
    assert_eq!(
        by_executor,
        [
            ("PutBucketReplication".to_owned(), true),
            ("SwitchoverGlobalCluster".to_owned(), true)
        ],
        "the executor's writes"
    );

    // The PilotLight learns the outcome, and convergence now protects the other direction:
    // the standby group stays up, traffic stays in us-west-2.
    let pl = eventually(Duration::from_secs(30), || async {
        let pl = pilotlight(&s).await;
        let st = pl.status.clone()?;
        (st.active_region.as_deref() == Some("us-west-2") && st.last_failover.is_some()).then_some(pl)
    })
    .await
    .expect("PilotLight active in us-west-2 with lastFailover");
    let last = pl.status.unwrap().last_failover.unwrap();
    assert_eq!((last.request_name.as_str(), last.phase), ("switch", Succeeded));
    assert_eq!(last.recovery_time_seconds, Some(rto));
    s.wait("Ready", "True", None, Duration::from_secs(60)).await;
    let storage = storage_message(&s, |m| m.contains("replicate back to")).await;
    assert!(
        storage.contains("in us-west-2 (serving since the last failover) replicate back to")
            && storage.contains(
                "in us-west-2 (serving since the last failover) replicate to its ACTIVE replica in us-east-1"
            ),
        "the direction now protected: {storage}"
    );
    assert_eq!(capacity("us-west-2", &full.asg).await, (2, 4, 10), "not scaled down");
    assert!(s.event_reasons().await.iter().any(|r| r == "Ready"));

    // A second switchover is refused: the standby already serves.
    create_request(&s, "again", "Switchover", json!({})).await;
    let again = wait_phase(&s, "again", FINAL, Duration::from_secs(30)).await;
    assert_eq!(phase(&again), Some(Rejected));
    assert!(again.status.unwrap().message.unwrap().contains("already active"));

    // Failback: everything returns to us-east-1 and the standby goes back to zero.
    create_request(&s, "back", "Failback", json!({})).await;
    let back = wait_phase(&s, "back", FINAL, Duration::from_secs(90)).await;
    assert_eq!(phase(&back), Some(Succeeded), "{:#?}", back.status);
    assert_eq!(writer(&names.global).await, ("us-east-1".into(), names.primary.clone()));
    assert_eq!(
        record_target(&full.zone, &format!("api.{}", full.domain), "A")
            .await
            .as_deref(),
        seed["alb"]["us-east-1"]["dnsName"].as_str()
    );
    assert_eq!(capacity("us-west-2", &full.asg).await, (0, 0, 10));
    assert_eq!(capacity("us-east-1", &setup.primary_asg).await, (2, 4, 10));
    eventually(Duration::from_secs(30), || async {
        let st = pilotlight(&s).await.status?;
        (st.active_region.as_deref() == Some("us-east-1") && st.last_failover.as_ref()?.request_name == "back")
            .then_some(())
    })
    .await
    .expect("PilotLight active in us-east-1 again");
    let storage = storage_message(&s, |m| m.contains("(serving) replicate to")).await;
    assert!(
        storage.contains("in us-east-1 replicates to") && storage.contains("in us-east-1 (serving) replicate to"),
        "forward again after the failback: {storage}"
    );
    operator.stop().await;
}

/// The StorageReplicating message once it is True and `wanted`: the check after a move may
/// come a reconcile after the active region changed.
async fn storage_message(s: &Scenario, wanted: impl Fn(&str) -> bool) -> String {
    let last = std::sync::Mutex::new(String::new());
    eventually(Duration::from_secs(30), || async {
        let st = pilotlight(s).await.status?;
        let c = st.conditions.iter().find(|c| c.type_ == "StorageReplicating")?;
        *last.lock().unwrap() = c.message.clone();
        (c.status == "True" && wanted(&c.message)).then(|| c.message.clone())
    })
    .await
    .unwrap_or_else(|| panic!("StorageReplicating never said so: {}", last.lock().unwrap()))
}

#[tokio::test]
async fn a_drill_scales_up_smoke_tests_and_returns_to_zero() {
    let mut s = Scenario::new("fo-drill").await;
    let operator = s.start_operator().await;
    let setup = failover_setup(&mut s).await;
    let asg = setup.full.asg.clone();
    let healthy = http_endpoint(200).await;
    s.apply(|m| m["spec"]["failover"]["smokeTest"] = json!({"url": healthy, "path": "/healthz"}))
        .await;
    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;

    create_request(&s, "drill", "Drill", json!({})).await;
    let r = wait_phase(&s, "drill", FINAL, Duration::from_secs(60)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    assert_eq!(
        step_states(&r),
        ["ScaleUpCompute", "WaitTargetsHealthy", "SmokeTest", "ScaleDownCompute"]
            .map(|n| (n.to_owned(), StepState::Succeeded))
    );
    let smoke = status.steps.iter().find(|x| x.name == "SmokeTest").unwrap();
    assert!(
        smoke.message.as_deref().unwrap().contains("/healthz answered 200"),
        "{smoke:?}"
    );
    assert_eq!(capacity("us-west-2", &asg).await, (0, 0, 10));
    // Nothing but the standby group changed: no data, no DNS.
    let calls = mutating_calls(&emulator, &operator.app, mark).await;
    assert_eq!(
        calls,
        ["us-west-2 UpdateAutoScalingGroup", "us-west-2 UpdateAutoScalingGroup"],
        "a drill changes only the standby group"
    );
    let last = eventually(Duration::from_secs(10), || async {
        pilotlight(&s).await.status?.last_drill
    })
    .await
    .expect("lastDrill");
    assert_eq!((last.phase, last.recovery_time_seconds.is_some()), (Succeeded, true));

    // A failing smoke test fails the drill, and the standby still goes back to zero.
    let broken = http_endpoint(500).await;
    s.apply(|m| m["spec"]["failover"]["smokeTest"]["url"] = json!(broken))
        .await;
    create_request(&s, "drill-2", "Drill", json!({})).await;
    let r = wait_phase(&s, "drill-2", FINAL, Duration::from_secs(60)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Failed), "{status:#?}");
    let states = step_states(&r);
    assert!(states.contains(&("SmokeTest".into(), StepState::Failed)), "{states:?}");
    assert!(
        states.contains(&("ScaleDownCompute".into(), StepState::Succeeded)),
        "{states:?}"
    );
    assert!(status.message.unwrap().contains("answered 500, expected 200"));
    assert_eq!(capacity("us-west-2", &asg).await, (0, 0, 10));
    let last = eventually(Duration::from_secs(10), || async {
        pilotlight(&s)
            .await
            .status?
            .last_drill
            .filter(|d| d.request_name == "drill-2")
    })
    .await
    .expect("lastDrill of the failed drill");
    assert_eq!(last.phase, Failed);
    operator.stop().await;
}

#[tokio::test]
async fn a_dry_run_writes_the_plan_and_calls_nothing_that_changes_aws() {
    let mut s = Scenario::new("fo-dry").await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;

    create_request(&s, "dry", "Failover", json!({"dryRun": true})).await;
    let r = wait_phase(&s, "dry", FINAL, Duration::from_secs(30)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Succeeded));
    assert!(status.message.as_deref().unwrap().starts_with("Dry run"), "{status:#?}");
    let plan: Vec<_> = status
        .steps
        .iter()
        .map(|x| (x.name.as_str(), x.depends_on.clone()))
        .collect();
    assert_eq!(plan[0], ("PromoteDatabase", vec![]));
    assert!(plan.contains(&(
        "SwitchTraffic",
        vec!["PromoteDatabase".into(), "WaitTargetsHealthy".into()]
    )));
    assert!(
        status
            .steps
            .iter()
            .all(|x| x.state == StepState::Pending && x.attempts == 0)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mutating_calls(&emulator, &operator.app, mark).await,
        Vec::<String>::new()
    );
    operator.stop().await;
}

#[tokio::test]
async fn one_request_at_a_time_and_a_missing_pilotlight_is_rejected() {
    let mut s = Scenario::new("fo-one").await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    // With approval required, the admitted request holds the PilotLight while it waits.
    s.apply(|m| m["spec"]["failover"] = json!({"approval": {"required": true}}))
        .await;

    tokio::join!(
        create_request(&s, "first", "Switchover", json!({})),
        create_request(&s, "second", "Switchover", json!({}))
    );
    let (a, b) = tokio::join!(
        wait_phase(&s, "first", &[AwaitingApproval, Rejected], Duration::from_secs(30)),
        wait_phase(&s, "second", &[AwaitingApproval, Rejected], Duration::from_secs(30))
    );
    let mut phases = [phase(&a).unwrap(), phase(&b).unwrap()];
    phases.sort_by_key(|p| format!("{p:?}"));
    assert_eq!(phases, [AwaitingApproval, Rejected], "exactly one holds the PilotLight");
    let (holder, rejected) = if phase(&a) == Some(Rejected) {
        (&b, &a)
    } else {
        (&a, &b)
    };
    let why = rejected.status.as_ref().unwrap().message.clone().unwrap();
    assert!(
        why.contains(&format!(
            "FailoverRequest {} (Switchover) is already",
            holder.metadata.name.as_deref().unwrap()
        )),
        "{why}"
    );
    // The plan is visible while it waits.
    assert_eq!(holder.status.as_ref().unwrap().steps.len(), 8);

    // Cancelling the waiting request frees the PilotLight.
    let holder_name = holder.metadata.name.clone().unwrap();
    patch_request(&requests(&s), &holder_name, json!({"cancel": true}))
        .await
        .unwrap();
    let cancelled = wait_phase(&s, &holder_name, FINAL, Duration::from_secs(30)).await;
    assert_eq!(phase(&cancelled), Some(Cancelled));
    create_request(&s, "third", "Drill", json!({"dryRun": true})).await;
    assert_eq!(
        phase(&wait_phase(&s, "third", FINAL, Duration::from_secs(30)).await),
        Some(Succeeded)
    );

    create_request(&s, "nowhere", "Failover", json!({"pilotLightRef": {"name": "nowhere"}})).await;
    let r = wait_phase(&s, "nowhere", FINAL, Duration::from_secs(30)).await;
    assert_eq!(phase(&r), Some(Rejected));
    assert!(
        r.status
            .unwrap()
            .message
            .unwrap()
            .contains("PilotLight nowhere does not exist"),
        "a clear reason"
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_failover_into_a_standby_that_is_not_ready_needs_force() {
    let mut s = Scenario::new("fo-force").await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    // Any AMI copy is too old for a one-second limit: ComputeReady turns False.
    s.apply(|m| m["spec"]["compute"]["maxImageAge"] = json!("1s")).await;
    s.wait("ComputeReady", "False", Some("ImageStale"), Duration::from_secs(30))
        .await;

    create_request(&s, "unforced", "Failover", json!({})).await;
    let refused = wait_phase(&s, "unforced", FINAL, Duration::from_secs(30)).await;
    assert_eq!(phase(&refused), Some(Rejected));
    let why = refused.status.unwrap().message.unwrap();
    assert!(
        why.contains("the standby is not Ready: ComputeReady is False (ImageStale") && why.contains("force: true"),
        "{why}"
    );
    assert_eq!(writer(&s.names.global).await.0, "us-east-1", "nothing moved");

    create_request(&s, "forced", "Failover", json!({"force": true})).await;
    let forced = wait_phase(&s, "forced", FINAL, Duration::from_secs(60)).await;
    assert_eq!(phase(&forced), Some(Succeeded), "{:#?}", forced.status);
    assert_eq!(writer(&s.names.global).await.0, "us-west-2");
    operator.stop().await;
}
