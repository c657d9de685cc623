//! Prewarming the standby while people decide (`spec.failover.prewarm`): on a request awaiting
//! approval, on detection's suspicion, until `maxDuration`; the approved failover only verifies.

use std::time::Duration;

use crate::common::{failover::*, *};
use kube::api::{Patch, PatchParams};
use pilot_light::api::{PilotLight, PrewarmState, RequestPhase::*};
use serde_json::{Value, json};

/// A full pilot light, Ready, whose failovers need approval and which prewarms as `prewarm`
/// says; returns the standby group's name.
async fn prewarming(s: &mut Scenario, prewarm: Value) -> String {
    prewarming_with(s, prewarm, None).await
}

/// [`prewarming`], with `detection` in the spec from the start.
async fn prewarming_with(s: &mut Scenario, prewarm: Value, detection: Option<Value>) -> String {
    let setup = failover_setup_with(s, |m| {
        m["spec"]["failover"] = json!({"approval": {"required": true}, "prewarm": prewarm});
        if let Some(d) = detection {
            m["spec"]["detection"] = d;
        }
    })
    .await;
    setup.full.asg
}

/// Waits until `status.prewarm.state` is `state`, and returns the PilotLight.
async fn prewarm_state(s: &Scenario, state: PrewarmState) -> PilotLight {
    let last = std::sync::Mutex::new(None);
    eventually(Duration::from_secs(60), || async {
        let pl = pilotlight(s).await;
        let p = pl.status.as_ref()?.prewarm.clone();
        *last.lock().unwrap() = p.clone();
        (p?.state == state).then_some(pl)
    })
    .await
    .unwrap_or_else(|| panic!("status.prewarm never {state:?}: {:?}", last.lock().unwrap()))
}

/// Waits until the standby group is at `(min, desired, max)`.
async fn group_at(asg: &str, want: (i32, i32, i32)) {
    let found = eventually(Duration::from_secs(60), || async {
        (capacity("us-west-2", asg).await == want).then_some(())
    })
    .await;
    assert!(
        found.is_some(),
        "{asg} never at {want:?}: {:?}",
        capacity("us-west-2", asg).await
    );
}

fn prewarmed(pl: &PilotLight) -> (String, String, String) {
    let c = condition(pl.status.as_ref().unwrap(), "Prewarmed");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[tokio::test]
async fn a_request_awaiting_approval_prewarms_and_cancelling_it_scales_back() {
    let mut s = Scenario::new("prewarm-cancel").await;
    let operator = s.start_operator().await;
    let asg = prewarming(&mut s, json!({"onRequest": true, "capacity": 2})).await;
    assert_eq!(capacity("us-west-2", &asg).await, (0, 0, 10));
    let pl = pilotlight(&s).await;
    assert_eq!(prewarmed(&pl).1, "NotPrewarmed");

    create_request(&s, "wait", "Failover", json!({})).await;
    wait_phase(&s, "wait", &[AwaitingApproval], Duration::from_secs(30)).await;
    let pl = prewarm_state(&s, PrewarmState::Warm).await;
    group_at(&asg, (2, 2, 10)).await;
    let (status, reason, message) = prewarmed(&pl);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "AwaitingApproval"));
    assert!(message.contains("FailoverRequest wait awaits approval"), "{message}");
    assert!(message.contains("× c5.xlarge at $0.17/h"), "{message}");
    // Intended capacity: compute stays Ready, and no cost-guard Warning.
    let pl = s.wait("ComputeReady", "True", None, Duration::from_secs(30)).await;
    assert_eq!(condition(pl.status.as_ref().unwrap(), "Ready").status, "True");
    assert!(!s.event_reasons().await.contains(&"StandbyScaledUp".to_owned()));

    requests(&s)
        .patch(
            "wait",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cancel": true}})),
        )
        .await
        .expect("cancel");
    wait_phase(&s, "wait", &[Cancelled], Duration::from_secs(30)).await;
    let pl = prewarm_state(&s, PrewarmState::ScaledBack).await;
    group_at(&asg, (0, 0, 10)).await;
    let (status, reason, message) = prewarmed(&pl);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "ScaledBack"));
    assert!(message.contains("no longer awaits approval"), "{message}");
    let reasons = s.event_reasons().await;
    assert!(
        reasons.contains(&"Prewarming".to_owned()) && reasons.contains(&"PrewarmEnded".to_owned()),
        "{reasons:?}"
    );
    assert!(!reasons.contains(&"StandbyScaledUp".to_owned()), "{reasons:?}");
    let metrics = operator.metrics.render();
    assert!(
        metrics.contains(&format!(
            "pilot_light_prewarm_outcomes_total{{namespace=\"{}\",name=\"app\",outcome=\"scaled_back\"}} 1",
            s.ns.name
        )),
        "{metrics}"
    );
    operator.stop().await;
}

#[tokio::test]
async fn the_approved_failover_finds_the_standby_warm_and_only_verifies_it() {
    let mut s = Scenario::new("prewarm-used").await;
    let operator = s.start_operator().await;
    let asg = prewarming(&mut s, json!({"onRequest": true})).await;
    create_request(&s, "go", "Failover", json!({})).await;
    wait_phase(&s, "go", &[AwaitingApproval], Duration::from_secs(30)).await;
    prewarm_state(&s, PrewarmState::Warm).await;
    group_at(&asg, (4, 4, 10)).await;

    // The dry run of the same move says what the prewarm already did.
    let plan = create_request(&s, "look", "Failover", json!({"dryRun": true})).await;
    let plan = wait_phase(
        &s,
        &kube::ResourceExt::name_any(&plan),
        &[Succeeded],
        Duration::from_secs(30),
    )
    .await;
    let scale = plan
        .status
        .unwrap()
        .steps
        .into_iter()
        .find(|st| st.name == "ScaleUpCompute")
        .unwrap();
    assert!(
        scale
            .message
            .as_deref()
            .unwrap()
            .contains("already done by the prewarm"),
        "{:?}",
        scale.message
    );

    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;
    requests(&s)
        .patch(
            "go",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"approvedBy": "second-person"}})),
        )
        .await
        .expect("approve");
    let r = wait_phase(&s, "go", &[Succeeded, Failed], Duration::from_secs(90)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    let scale = status.steps.iter().find(|st| st.name == "ScaleUpCompute").unwrap();
    assert!(
        scale
            .message
            .as_deref()
            .unwrap()
            .contains("already at 4/4/10: prewarmed since"),
        "{:?}",
        scale.message
    );
    let calls = mutating_calls(&emulator, &operator.app, mark).await;
    assert!(
        !calls.iter().any(|c| c == "us-west-2 UpdateAutoScalingGroup"),
        "the warm group is not scaled again: {calls:?}"
    );
    prewarm_state(&s, PrewarmState::Used).await;
    operator.stop().await;
}

#[tokio::test]
async fn a_prewarm_that_outlasts_max_duration_scales_back_and_says_so() {
    let mut s = Scenario::new("prewarm-expiry").await;
    let operator = s.start_operator().await;
    let asg = prewarming(&mut s, json!({"onRequest": true, "capacity": 1, "maxDuration": "4s"})).await;
    create_request(&s, "slow", "Switchover", json!({})).await;
    wait_phase(&s, "slow", &[AwaitingApproval], Duration::from_secs(30)).await;
    prewarm_state(&s, PrewarmState::Warm).await;
    group_at(&asg, (1, 1, 10)).await;
    let pl = prewarm_state(&s, PrewarmState::Expired).await;
    group_at(&asg, (0, 0, 10)).await;
    let (status, reason, message) = prewarmed(&pl);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Expired"));
    assert!(message.contains("maxDuration (4s)"), "{message}");
    // The request still waits; the same request does not warm the standby again.
    let r = requests(&s).get("slow").await.unwrap();
    assert_eq!(phase(&r), Some(AwaitingApproval));
    let rewarmed = eventually(Duration::from_secs(5), || async {
        (capacity("us-west-2", &asg).await != (0, 0, 10)).then_some(())
    })
    .await;
    assert!(rewarmed.is_none(), "warmed again for the same request");
    operator.stop().await;
}

#[tokio::test]
async fn a_suspicion_prewarms_before_the_hold_ends_and_a_recovery_scales_back_after_the_cooldown() {
    let mut s = Scenario::new("prewarm-suspect").await;
    let operator = s.start_operator().await;
    let detection = json!({"mode": "Propose", "unhealthyFor": "1h"});
    let prewarm = json!({"onSuspicion": true, "capacity": 2, "cooldown": "2s"});
    let asg = prewarming_with(&mut s, prewarm, Some(detection.clone())).await;
    let check = detect(&mut s, detection).await;
    let emulator = Emulator::new();
    emulator.set_health_check_status(&check, "Failure").await;
    primary_healthy(&s, "False").await;
    let pl = prewarm_state(&s, PrewarmState::Warm).await;
    group_at(&asg, (2, 2, 10)).await;
    let (_, reason, message) = prewarmed(&pl);
    assert_eq!(reason, "OnSuspicion");
    assert!(
        message.contains("primary region us-east-1 unhealthy since"),
        "{message}"
    );
    assert!(
        requests(&s).list(&Default::default()).await.unwrap().items.is_empty(),
        "still within unhealthyFor: nothing proposed, yet the standby is warm"
    );

    emulator.set_health_check_status(&check, "Success").await;
    primary_healthy(&s, "True").await;
    prewarm_state(&s, PrewarmState::ScaledBack).await;
    group_at(&asg, (0, 0, 10)).await;
    operator.stop().await;
}

#[tokio::test]
async fn a_warm_drill_prewarms_first_and_measures_from_warm() {
    let mut s = Scenario::new("prewarm-drill").await;
    let operator = s.start_operator().await;
    let asg = prewarming(&mut s, json!({"onRequest": true})).await;
    let endpoint = http_endpoint(200).await;
    s.apply(|m| m["spec"]["failover"]["smokeTest"] = json!({"url": endpoint}))
        .await;
    // Convergence of that change first: a compute check that observed the group before the
    // drill started could still return it to zero under the drill.
    eventually(Duration::from_secs(30), || async {
        let pl = pilotlight(&s).await;
        (pl.status?.observed_generation == pl.metadata.generation).then_some(())
    })
    .await
    .expect("the smoke test URL converged");
    create_request(&s, "warm", "Drill", json!({"prewarm": true})).await;
    let r = wait_phase(&s, "warm", &[Succeeded, Failed], Duration::from_secs(90)).await;
    let status = r.status.unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    let names: Vec<&str> = status.steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(names[0], "PrewarmCompute", "{names:?}");
    let scale = status.steps.iter().find(|st| st.name == "ScaleUpCompute").unwrap();
    assert!(
        scale.message.as_deref().unwrap().contains("already at 4/4/10"),
        "{:?}",
        scale.message
    );
    let rto = status.recovery_time.unwrap();
    assert!(
        rto.reason.starts_with("from warm (PrewarmCompute finished)"),
        "{}",
        rto.reason
    );
    group_at(&asg, (0, 0, 10)).await;

    // A Failover cannot ask for it: admission says where prewarming a failover lives.
    let refused = requests(&s)
        .create(
            &Default::default(),
            &serde_json::from_value(json!({
                "apiVersion": "pilotlight.dev/v1alpha1", "kind": "FailoverRequest",
                "metadata": {"name": "not-a-drill"},
                "spec": {"pilotLightRef": {"name": "app"}, "type": "Failover", "reason": "x", "prewarm": true}
            }))
            .unwrap(),
        )
        .await
        .expect_err("refused at admission");
    assert!(refused.to_string().contains("spec.prewarm is for a Drill"), "{refused}");
    operator.stop().await;
}
