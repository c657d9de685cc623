//! Two operators, each owning the PilotLights of one label shard (`--pilotlight-selector`):
//! neither converges, reports on nor runs the requests of the other's PilotLights.

use std::time::Duration;

use pilot_light::api::RequestPhase;
use serde_json::json;

use crate::common::{evacuation::*, failover::*, *};

fn shard(s: &Scenario, name: &str) -> pilot_light::config::Settings {
    pilot_light::config::Settings {
        pilotlight_selector: Some(format!("shard={name}")),
        handle_evacuations: false,
        ..fast_settings(&s.ns.name)
    }
}

/// The PilotLights the operator's Ready gauge names.
fn reported(operator: &Operator) -> Vec<String> {
    let mut names: Vec<String> = operator
        .metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("pilot_light_pilotlight_ready{"))
        .filter_map(|l| l.split("name=\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn two_shards_never_act_on_each_others_pilotlights() {
    let s = Scenario::new("shards").await;
    let (a, b) = tokio::join!(
        Operator::start(&s.client, shard(&s, "a")),
        Operator::start(&s.client, shard(&s, "b"))
    );
    let labels = ["a", "b", "a", "b"].map(|shard| json!({"shard": shard}));
    let names = labelled_members(&s, &labels, Duration::from_secs(120)).await;
    assert_eq!(reported(&a), ["app0", "app2"]);
    assert_eq!(reported(&b), ["app1", "app3"]);

    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;
    create_request(&s, "switch", "Switchover", json!({"pilotLightRef": {"name": "app1"}})).await;
    wait_phase(&s, "switch", &[RequestPhase::AwaitingApproval], Duration::from_secs(30)).await;
    patch_request(&requests(&s), "switch", json!({"approvedBy": "bob"}))
        .await
        .expect("approve");
    wait_phase(&s, "switch", &[RequestPhase::Succeeded], Duration::from_secs(60)).await;
    assert_eq!(writer(&names[1].global).await.0, "us-west-2", "app1 switched over");
    assert_eq!(writer(&names[0].global).await.0, "us-east-1", "app0 untouched");
    let calls = emulator.calls_since(mark).await;
    let switchovers = |app: &str| {
        calls
            .iter()
            .filter(|c| c.made_by(app) && c.action == "SwitchoverGlobalCluster")
            .count()
    };
    assert_eq!(switchovers(&b.app), 1, "made once, by app1's shard");
    assert_eq!(switchovers(&a.app), 0, "the other shard left it alone");
    assert!(
        !calls
            .iter()
            .any(|c| c.made_by(&a.app) && c.by_failover_executor_of(&a.app)),
        "shard a's failover executor made no call"
    );
    let ended = |operator: &Operator| {
        operator
            .metrics
            .render()
            .lines()
            .any(|l| l.starts_with("pilot_light_failover_requests_total{") && l.contains("Switchover"))
    };
    assert!(ended(&b) && !ended(&a), "only shard b ran the request");
    tokio::join!(a.stop(), b.stop());
}
