use super::*;
use crate::api::{ClusterEndpointRef, RoutingControlRef, TrafficMode};
use crate::aws::route53::RecordValue;

fn alias(dns_name: &str) -> Record {
    Record {
        name: "api.example.com".into(),
        type_: "A".into(),
        value: RecordValue::Alias {
            hosted_zone_id: "Z1".into(),
            dns_name: dns_name.into(),
        },
        failover: None,
    }
}

#[test]
fn a_record_is_changed_unless_it_already_has_the_value() {
    let want = alias("standby-alb.us-west-2.elb.amazonaws.com");
    assert_eq!(record_change(None, &want), Next::Call(()));
    assert_eq!(
        record_change(Some(&alias("primary-alb.us-east-1.elb.amazonaws.com")), &want),
        Next::Call(())
    );
    assert_eq!(
        record_change(Some(&want), &want),
        Next::Done("api.example.com already points to standby-alb.us-west-2.elb.amazonaws.com".into())
    );
}

fn ips(list: &[&str]) -> Result<BTreeSet<IpAddr>, String> {
    Ok(list.iter().map(|a| a.parse().unwrap()).collect())
}

#[test]
fn traffic_has_moved_when_the_name_answers_exactly_the_targets_addresses() {
    let target = ips(&["198.18.0.7", "198.18.0.8"]);
    let done = answer(
        "api.example.com",
        "dr-alb",
        &ips(&["198.18.0.8", "198.18.0.7"]),
        &target,
    );
    assert_eq!(
        done,
        Next::Done("api.example.com answers dr-alb (198.18.0.7, 198.18.0.8)".into())
    );
    for name in [
        ips(&["198.18.1.1"]),
        ips(&["198.18.0.7"]),
        ips(&["198.18.0.7", "198.18.0.8", "198.18.1.1"]),
    ] {
        assert!(matches!(
            answer("api.example.com", "dr-alb", &name, &target),
            Next::Wait(_)
        ));
    }
    let failed: Result<BTreeSet<IpAddr>, String> = Err("api.example.com: no record found".into());
    assert_eq!(
        answer("api.example.com", "dr-alb", &failed, &target),
        Next::Wait("DNS lookup failed: api.example.com: no record found".into())
    );
    // A target that answers nothing is never matched by a name that answers nothing.
    assert!(matches!(answer("a", "b", &ips(&[]), &ips(&[])), Next::Wait(_)));
}

fn armed() -> SwitchStatus {
    SwitchStatus {
        type_: TrafficSwitch::RoutingControl,
        ready: true,
        routing_controls: vec![
            RoutingControlRef {
                region: "us-east-1".into(),
                arn: "arn:rc/east".into(),
            },
            RoutingControlRef {
                region: "us-west-2".into(),
                arn: "arn:rc/west".into(),
            },
        ],
        cluster_endpoints: vec![ClusterEndpointRef {
            region: "eu-west-1".into(),
            endpoint: "https://e".into(),
        }],
        ..SwitchStatus::default()
    }
}

#[test]
fn a_flip_turns_the_target_region_on_and_every_other_off_in_one_update() {
    let states = routing_control_states(&armed(), "us-west-2").unwrap();
    assert_eq!(
        states,
        vec![
            ("arn:rc/east".to_owned(), ControlState::Off),
            ("arn:rc/west".to_owned(), ControlState::On)
        ]
    );
    let back = routing_control_states(&armed(), "us-east-1").unwrap();
    assert_eq!(back[0], ("arn:rc/east".to_owned(), ControlState::On));

    let err = routing_control_states(&armed(), "eu-central-1").unwrap_err();
    assert!(err.message.contains("no routing control for eu-central-1"));
    let no_endpoints = SwitchStatus {
        cluster_endpoints: vec![],
        ..armed()
    };
    assert!(routing_control_states(&no_endpoints, "us-west-2").is_err());
}

#[test]
fn the_record_update_failure_names_the_mode_that_would_have_worked() {
    let m = control_plane_unreachable("route53 ChangeResourceRecordSets in us-east-1 failed: endpoint unreachable");
    assert!(
        m.contains("control plane (served from us-east-1) is unreachable"),
        "{m}"
    );
    assert!(m.contains("failoverRouting"), "{m}");
    assert!(m.contains("ChangeResourceRecordSets"), "{m}");
}

#[test]
fn the_dry_run_names_the_switch() {
    let spec = |mode, switch| TrafficSpec {
        mode,
        switch,
        routing_control: None,
        load_balancer: None,
        route53: crate::api::Route53Spec {
            hosted_zone_id: "Z".into(),
            record_name: "api.example.com".into(),
            record_type: crate::api::RecordType::A,
            primary_target: crate::api::AliasTarget {
                dns_name: "east-alb".into(),
                hosted_zone_id: "ZE".into(),
            },
            standby_target: crate::api::AliasTarget {
                dns_name: "west-alb".into(),
                hosted_zone_id: "ZW".into(),
            },
            health_check: None,
        },
    };
    let regions = crate::api::Regions {
        primary: "us-east-1".into(),
        standby: "us-west-2".into(),
    };
    let alarm = describe(
        &spec(TrafficMode::FailoverRouting, TrafficSwitch::MetricAlarm),
        &regions,
        true,
    );
    assert!(
        alarm.starts_with("flip the metricAlarm switch (PutMetricData PilotLight/TrafficToStandby = 1 in us-west-2)"),
        "{alarm}"
    );
    assert!(alarm.ends_with("api.example.com answers west-alb"), "{alarm}");
    let back = describe(
        &spec(TrafficMode::FailoverRouting, TrafficSwitch::MetricAlarm),
        &regions,
        false,
    );
    assert!(
        back.contains("= 0 in us-west-2") && back.ends_with("answers east-alb"),
        "{back}"
    );
    let control = describe(
        &spec(TrafficMode::FailoverRouting, TrafficSwitch::RoutingControl),
        &regions,
        true,
    );
    assert!(
        control.starts_with("flip the routingControl switch (UpdateRoutingControlStates: us-west-2 On"),
        "{control}"
    );
    let record = describe(
        &spec(TrafficMode::RecordUpdate, TrafficSwitch::MetricAlarm),
        &regions,
        true,
    );
    assert!(
        record.contains("recordUpdate: needs Route 53's control plane in us-east-1"),
        "{record}"
    );
}
