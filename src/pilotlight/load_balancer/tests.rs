use super::*;
use crate::{api::PilotLight, pilotlight::ComponentHealth};

const TG: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/dr-targets/0123456789abcdef";

fn spec() -> (PilotLightSpec, LoadBalancerSpec) {
    let pl: PilotLight =
        serde_yaml::from_str(include_str!("../../../examples/pilotlight-full.yaml")).expect("example parses");
    let lb = serde_json::from_value(serde_json::json!({"name": "dr-alb", "listenerPort": 80, "targetGroupArn": TG}))
        .unwrap();
    (pl.spec, lb)
}

fn wired() -> Observation {
    Observation {
        load_balancer: Some(LoadBalancer {
            arn: "arn:lb".into(),
            state: "active".into(),
        }),
        listeners: vec![Listener {
            port: Some(80),
            forwards_to: vec![TG.into()],
        }],
        target_group_exists: true,
        group_target_groups: Some(vec![TG.into()]),
    }
}

fn judge(edit: impl FnOnce(&mut Observation)) -> ComponentReport {
    let (spec, lb) = spec();
    let mut o = wired();
    edit(&mut o);
    decide(&spec, &lb, &o)
}

/// How to break an observation, and what the report then says.
type Case = (fn(&mut Observation), ComponentHealth, &'static str);

#[test]
fn a_wired_load_balancer_is_ready() {
    let r = judge(|_| {});
    assert_eq!(
        (r.health, r.reason),
        (ComponentHealth::Healthy, "Wired"),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("forwards to") && r.message.contains("attached"),
        "{}",
        r.message
    );
}

#[test]
fn each_missing_or_miswired_part_is_named_and_nothing_is_changed() {
    let cases: [Case; 7] = [
        (
            |o| o.load_balancer = None,
            ComponentHealth::Misconfigured,
            "LoadBalancerNotFound",
        ),
        (
            |o| o.load_balancer.as_mut().unwrap().state = "provisioning".into(),
            ComponentHealth::Degraded,
            "LoadBalancerNotActive",
        ),
        (
            |o| o.target_group_exists = false,
            ComponentHealth::Misconfigured,
            "TargetGroupNotFound",
        ),
        (
            |o| o.listeners[0].port = Some(443),
            ComponentHealth::Misconfigured,
            "ListenerNotFound",
        ),
        (
            |o| o.listeners[0].forwards_to = vec!["arn:other".into()],
            ComponentHealth::Degraded,
            "ListenerNotForwarding",
        ),
        (
            |o| o.group_target_groups = Some(vec![]),
            ComponentHealth::Degraded,
            "GroupNotAttached",
        ),
        (
            |o| o.group_target_groups = None,
            ComponentHealth::Converging,
            "GroupNotCreated",
        ),
    ];
    for (edit, health, reason) in cases {
        let r = judge(edit);
        assert_eq!((r.health, r.reason), (health, reason), "{}", r.message);
    }
    let r = judge(|o| o.listeners[0].forwards_to = vec!["arn:other".into()]);
    assert!(
        r.message.contains("arn:other") && r.message.contains("never changes"),
        "{}",
        r.message
    );
}
