//! The DR load balancer (`spec.traffic.loadBalancer`): readiness of the load balancer, its
//! listener and target group and the standby group's attachment; drift reported, never changed.

use crate::common::{failover::*, *};
use serde_json::json;

#[tokio::test]
async fn a_wired_dr_load_balancer_is_ready_and_drift_is_reported_not_repaired() {
    let mut s = Scenario::new("lb-ready").await;
    let operator = s.start_operator().await;
    let setup = failover_setup(&mut s).await;
    let target_group = setup.target_group.clone();
    let (name, listener) = create_load_balancer(&target_group).await;
    s.apply(|m| {
        m["spec"]["traffic"]["loadBalancer"] = json!({"name": name, "listenerPort": 80, "targetGroupArn": target_group})
    })
    .await;
    let (_, message) = s.wait_for_reason("LoadBalancerReady", "True", "Wired").await;
    assert!(message.contains(&format!("forwards to {target_group}")), "{message}");

    // Someone points the listener elsewhere.
    let other = create_target_group().await;
    elbv2("us-west-2")
        .await
        .modify_listener()
        .listener_arn(&listener)
        .default_actions(forward(&other))
        .send()
        .await
        .expect("modify listener");
    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;
    // A spec change makes the operator look at once (any listener now).
    s.apply(|m| m["spec"]["traffic"]["loadBalancer"] = json!({"name": name, "targetGroupArn": target_group}))
        .await;
    let (_, message) = s
        .wait_for_reason("LoadBalancerReady", "False", "ListenerNotForwarding")
        .await;
    assert!(message.contains(&other), "{message}");
    let changed: Vec<String> = mutating_calls(&emulator, &operator.app, mark)
        .await
        .into_iter()
        .filter(|c| c.contains("Listener") || c.contains("LoadBalancer"))
        .collect();
    assert!(
        changed.is_empty(),
        "the operator never changes the load balancer: {changed:?}"
    );

    s.apply(|m| m["spec"]["traffic"]["loadBalancer"]["name"] = json!("no-such-lb"))
        .await;
    let (_, message) = s
        .wait_for_reason("LoadBalancerReady", "False", "LoadBalancerNotFound")
        .await;
    assert!(message.contains("no-such-lb"), "{message}");
    operator.stop().await;
}
