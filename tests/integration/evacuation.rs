//! Evacuations that need no fault rules (the others are in the exclusive tier): a dry run.

use std::time::Duration;

use pilot_light::api::{EvacuationPhase, MemberPhase};
use serde_json::json;

use crate::common::{evacuation::*, *};

#[tokio::test]
async fn a_dry_run_needs_no_approval_writes_each_plan_and_names_the_unready() {
    let s = Scenario::new("evac-dry").await;
    let operator = s.start_operator().await;
    let names = members(&s, &[None, None]).await;
    Emulator::new()
        .set_replication_lag("us-west-2", &names[1].standby, Some(60_000.0))
        .await;
    wait_condition(
        &s.client,
        &s.ns.name,
        "app1",
        "Ready",
        "False",
        None,
        Duration::from_secs(60),
    )
    .await;
    let name = format!("dry-{}", s.ns.name);
    let _guard = create_evacuation(&s, &name, "Failover", json!({"dryRun": true})).await;
    let done = wait_evacuation(&s, &name, &[EvacuationPhase::Succeeded], Duration::from_secs(60)).await;
    let status = done.status.clone().unwrap();
    let app1 = status.members.iter().find(|m| m.name == "app1").unwrap();
    assert_eq!(app1.phase, MemberPhase::Skipped);
    assert!(
        app1.message
            .as_deref()
            .is_some_and(|m| m.contains("not Ready") && m.contains("spec.force")),
        "{app1:?}"
    );
    let children = children(&s, &name).await;
    let plan = &children["app0"];
    assert!(plan.spec.dry_run);
    let steps: Vec<&str> = plan
        .status
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert!(steps.contains(&"PromoteDatabase"), "{steps:?}");
    operator.stop().await;
}
