//! Evacuations under the emulator's global fault rules: one failure among ten PilotLights,
//! tiers, cancel, and throttling within the rate budget.

use std::time::Duration;

use kube::ResourceExt;
use pilot_light::api::{EvacuationPhase, MemberPhase, RequestPhase};
use serde_json::json;

use crate::common::{evacuation::*, failover::*, *};

#[tokio::test]
async fn one_approval_fails_over_ten_pilotlights_tier_by_tier_and_one_failure_stops_no_other() {
    let _serial = crate::SERIAL.lock().await;
    let s = Scenario::new("evac").await;
    let operator = s.start_operator().await;
    // app0 alone in tier 0 (its promotion is refused by AWS), app1..app3 in tier 1, app4..app9
    // unlabelled (last); app9 is not Ready.
    let tiers = [Some(0), Some(1), Some(1), Some(1), None, None, None, None, None, None];
    let names = members(&s, &tiers).await;
    let emulator = Emulator::new();
    emulator
        .set_replication_lag("us-west-2", &names[9].standby, Some(60_000.0))
        .await;
    wait_condition(
        &s.client,
        &s.ns.name,
        "app9",
        "Ready",
        "False",
        None,
        Duration::from_secs(60),
    )
    .await;

    let _guard = create_evacuation(
        &s,
        &format!("east-{}", s.ns.name),
        "Failover",
        json!({"maxConcurrent": 4}),
    )
    .await;
    let name = format!("east-{}", s.ns.name);
    let waiting = wait_evacuation(&s, &name, &[EvacuationPhase::AwaitingApproval], Duration::from_secs(30)).await;
    let status = waiting.status.clone().unwrap();
    assert_eq!(status.members.len(), 10);
    let order: Vec<&str> = status.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(order[..4], ["app0", "app1", "app2", "app3"], "tiers first");
    let app9 = status.members.iter().find(|m| m.name == "app9").unwrap();
    assert!(
        app9.readiness
            .as_deref()
            .is_some_and(|r| r.contains("DatabaseReplicating is False")),
        "{app9:?}"
    );
    assert!(
        children(&s, &name).await.is_empty(),
        "nothing starts before the approval"
    );

    // AWS refuses app0's promotion once; then one person approves the whole set.
    emulator
        .add_fault(json!({"region": "us-west-2", "service": "rds", "action": "FailoverGlobalCluster", "kind": "rejected", "remaining": 1}))
        .await;
    patch_evacuation(&s, &name, json!({"approvedBy": "bob"})).await;
    let done = wait_evacuation(
        &s,
        &name,
        &[EvacuationPhase::Succeeded, EvacuationPhase::Failed],
        Duration::from_secs(240),
    )
    .await;
    let status = done.status.clone().unwrap();
    let phases = member_phases(&done);
    assert_eq!(done.phase(), Some(EvacuationPhase::Failed), "{status:#?}");
    assert_eq!(phases["app0"], MemberPhase::Failed);
    assert_eq!(phases["app9"], MemberPhase::Skipped);
    for i in 1..9 {
        assert_eq!(
            phases[&format!("app{i}")],
            MemberPhase::Succeeded,
            "app{i}: {status:#?}"
        );
    }
    let counts = status.counts.clone().unwrap();
    assert_eq!(
        (counts.total, counts.succeeded, counts.failed, counts.skipped),
        (10, 8, 1, 1)
    );
    assert_eq!(status.failures.len(), 1);
    assert_eq!(status.failures[0].pilot_light, format!("{}/app0", s.ns.name));
    assert!(status.recovery_time_p50_seconds.is_some() && status.recovery_time_p95_seconds.is_some());
    assert!(status.first_completed_at.is_some() && status.last_completed_at.is_some());

    // Each PilotLight has its own request, approved by the evacuation's one approval.
    let children = children(&s, &name).await;
    assert_eq!(children.len(), 9, "no request for the unready app9");
    for (pl, r) in &children {
        assert_eq!(r.spec.approved_by, None, "{pl}");
        if pl != "app0" {
            assert_eq!(r.status.as_ref().unwrap().phase, Some(RequestPhase::Succeeded), "{pl}");
        }
        assert!(
            r.owner_references()
                .iter()
                .any(|o| o.kind == "Evacuation" && o.name == name),
            "{pl} is owned by the evacuation"
        );
    }
    // Tier 1 started once tier 0 had ended (app0 failed); the unlabelled tier once tier 1 had
    // promoted its databases.
    let tier0_released = released_at(&children["app0"]);
    let tier1_released = (1..4)
        .map(|i| released_at(&children[&format!("app{i}")]))
        .max()
        .unwrap();
    for i in 1..4 {
        assert!(
            started_at(&children[&format!("app{i}")]) >= tier0_released,
            "app{i} before tier 0"
        );
    }
    for i in 4..9 {
        assert!(
            started_at(&children[&format!("app{i}")]) >= tier1_released,
            "app{i} before tier 1"
        );
    }
    let events = event_reasons(&s.client, "default", &name).await;
    assert!(events.iter().any(|r| r == "MemberFailed"), "{events:?}");
    operator.stop().await;
}

#[tokio::test]
async fn cancel_starts_nothing_more_and_the_running_request_finishes() {
    let _serial = crate::SERIAL.lock().await;
    let s = Scenario::new("evac-cancel").await;
    let operator = s.start_operator().await;
    members(&s, &[None, None, None, None]).await;
    // Promotions take a while, so the cancel lands while the first request runs.
    let emulator = Emulator::new();
    emulator
        .add_fault(json!({"region": "us-west-2", "service": "rds", "action": "FailoverGlobalCluster", "kind": "latency", "latencyMs": 1500}))
        .await;
    let name = format!("cancel-{}", s.ns.name);
    let _guard = create_evacuation(&s, &name, "Failover", json!({"maxConcurrent": 1})).await;
    wait_evacuation(&s, &name, &[EvacuationPhase::AwaitingApproval], Duration::from_secs(30)).await;
    patch_evacuation(&s, &name, json!({"approvedBy": "bob"})).await;
    eventually(Duration::from_secs(60), || async {
        let c = children(&s, &name).await;
        c.get("app0").filter(|r| r.is_running()).map(|_| ())
    })
    .await
    .expect("app0's request runs");
    patch_evacuation(&s, &name, json!({"cancel": true})).await;
    let done = wait_evacuation(&s, &name, &[EvacuationPhase::Cancelled], Duration::from_secs(120)).await;
    let phases = member_phases(&done);
    assert_eq!(phases["app0"], MemberPhase::Succeeded, "{:#?}", done.status);
    for i in 1..4 {
        assert_eq!(phases[&format!("app{i}")], MemberPhase::Cancelled);
    }
    let children = children(&s, &name).await;
    assert_eq!(
        children.keys().collect::<Vec<_>>(),
        ["app0"],
        "nothing started after the cancel"
    );
    operator.stop().await;
}

#[tokio::test]
async fn throttling_within_the_rate_budget_fails_no_request() {
    let _serial = crate::SERIAL.lock().await;
    let s = Scenario::new("evac-throttle").await;
    let mut settings = fast_settings(&s.ns.name);
    settings.rate_budgets = pilot_light::aws::budget::BudgetRates::parse(["rds=4"]).unwrap();
    let operator = Operator::start(&s.client, settings).await;
    members(&s, &[None, None, None, None, None]).await;
    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;
    // AWS's own limit above the budget, and throttling on top at random.
    let limit = emulator
        .add_fault(json!({"service": "rds", "kind": "rateLimit", "ratePerSecond": 6}))
        .await;
    let random = emulator
        .add_fault(json!({"service": "rds", "kind": "throttle", "probability": 0.3}))
        .await;
    let name = format!("throttle-{}", s.ns.name);
    let _guard = create_evacuation(&s, &name, "Failover", json!({"maxConcurrent": 5})).await;
    wait_evacuation(&s, &name, &[EvacuationPhase::AwaitingApproval], Duration::from_secs(30)).await;
    patch_evacuation(&s, &name, json!({"approvedBy": "bob"})).await;
    let done = wait_evacuation(
        &s,
        &name,
        &[EvacuationPhase::Succeeded, EvacuationPhase::Failed],
        Duration::from_secs(240),
    )
    .await;
    emulator.remove_fault(&random).await;
    emulator.remove_fault(&limit).await;
    assert_eq!(done.phase(), Some(EvacuationPhase::Succeeded), "{:#?}", done.status);
    let calls: Vec<Call> = emulator
        .calls_since(mark)
        .await
        .into_iter()
        .filter(|c| c.service == "rds" && c.made_by(&operator.app))
        .collect();
    let throttled = calls.iter().filter(|c| c.outcome == "throttled").count();
    assert!(throttled > 0, "the test throttled nothing");
    // Paced at 4 a second per region: no second holds more than 4 requests to RDS in one region
    // as sent; as they arrive, no 0.95 s does (a request's trip varies by a few milliseconds, so
    // a burst at a second's end and the next at the following one's may arrive a little closer).
    // Unpaced, the five requests' reads and promotions start together.
    for region in ["us-east-1", "us-west-2"] {
        let times: Vec<f64> = calls.iter().filter(|c| c.region == region).map(|c| c.time).collect();
        let peak = times
            .iter()
            .map(|t| times.iter().filter(|u| **u >= *t && **u < t + 0.95).count())
            .max()
            .unwrap_or(0);
        println!(
            "{region}: {} RDS requests, at most {peak} in 0.95 s, {throttled} throttled in all",
            times.len()
        );
        assert!(peak <= 4, "{peak} RDS requests within 0.95 s in {region}");
    }
    operator.stop().await;
}
