//! The DR load balancer (`spec.traffic.loadBalancer`): readiness of the load balancer, its
//! listener and target group and the standby group's attachment; drift reported, never changed.

use crate::common::{failover::*, *};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum};
use serde_json::json;

/// A DR load balancer of this test's own in us-west-2 whose HTTP:80 listener forwards to
/// `target_group`; returns (name, listener ARN).
async fn create_load_balancer(target_group: &str) -> (String, String) {
    let elbv2 = elbv2("us-west-2").await;
    let seed = seed();
    let network = &seed["vpc"]["us-west-2"];
    let name = format!("lb-{}", unique_suffix());
    let subnets: Vec<String> = network["subnetIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let lb = elbv2
        .create_load_balancer()
        .name(&name)
        .set_subnets(Some(subnets))
        .security_groups(network["securityGroupId"].as_str().unwrap())
        .send()
        .await
        .expect("create load balancer");
    let arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let listener = elbv2
        .create_listener()
        .load_balancer_arn(&arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(target_group))
        .send()
        .await
        .expect("create listener");
    (name, listener.listeners()[0].listener_arn().unwrap().to_owned())
}

fn forward(target_group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

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
