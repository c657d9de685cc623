use super::*;
use crate::{
    api::{AliasTarget, DnsRecordRef, HealthCheckSpec, HealthCheckType, RecordType, Route53Spec, TrafficMode},
    aws::{
        arc::{ArcStatus, Cluster, ClusterEndpoint, ControlPanel, ControlState, RoutingControl, SafetyRule},
        route53::{CheckSettings, FailoverRole, HealthCheck, HealthCheckSettings, Record, RecordAction, RecordValue},
        states::AlarmValue,
    },
    pilotlight::{ComponentHealth, PlannedChange, test_regions as regions},
};
use switch::{ArcObservation, SwitchObservation};

const OWNER: &str = "ns/app";
const PRIMARY_ALB: &str = "primary-alb.us-east-1.elb.amazonaws.com";
const STANDBY_ALB: &str = "dr-alb.us-west-2.elb.amazonaws.com";
const WRITER: &str = "primary-cluster.cluster-abc.us-east-1.rds.amazonaws.com";

fn traffic(mode: TrafficMode, switch: TrafficSwitch) -> TrafficSpec {
    TrafficSpec {
        mode,
        switch,
        routing_control: None,
        load_balancer: None,
        route53: Route53Spec {
            hosted_zone_id: "ZAPP".into(),
            record_name: "API.example.com.".into(),
            record_type: RecordType::A,
            primary_target: AliasTarget {
                dns_name: PRIMARY_ALB.into(),
                hosted_zone_id: "ZEAST".into(),
            },
            standby_target: AliasTarget {
                dns_name: STANDBY_ALB.into(),
                hosted_zone_id: "ZWEST".into(),
            },
            health_check: Some(HealthCheckSpec {
                type_: HealthCheckType::Https,
                fqdn: PRIMARY_ALB.into(),
                port: 443,
                path: "/health".into(),
                request_interval: 10,
                failure_threshold: 3,
            }),
        },
    }
}

fn record_update() -> TrafficSpec {
    traffic(TrafficMode::RecordUpdate, TrafficSwitch::MetricAlarm)
}

fn writer() -> DnsRecordRef {
    DnsRecordRef {
        hosted_zone_id: "ZAPP".into(),
        name: "db.example.com".into(),
        ttl: 60,
    }
}

fn endpoint_settings() -> HealthCheckSettings {
    health_check_settings(&record_update()).unwrap()
}

fn simple(dns: &str, zone: &str) -> Record {
    Record {
        name: "api.example.com".into(),
        type_: "A".into(),
        value: RecordValue::Alias {
            hosted_zone_id: zone.into(),
            dns_name: dns.into(),
        },
        failover: None,
    }
}

fn failover_pair(gate: &str, standby: &str) -> Vec<Record> {
    let role = |primary: bool, id: &str, check: &str| FailoverRole {
        primary,
        set_identifier: id.into(),
        health_check_id: Some(check.into()),
    };
    vec![
        Record {
            failover: Some(role(true, "primary", gate)),
            ..simple(PRIMARY_ALB, "ZEAST")
        },
        Record {
            failover: Some(role(false, "standby", standby)),
            ..simple(STANDBY_ALB, "ZWEST")
        },
    ]
}

fn writer_record(endpoint: &str) -> Record {
    Record {
        name: "db.example.com".into(),
        type_: "CNAME".into(),
        value: RecordValue::Values {
            ttl: 60,
            values: vec![endpoint.into()],
        },
        failover: None,
    }
}

fn ours(id: &str, settings: CheckSettings) -> HealthCheck {
    HealthCheck {
        id: id.into(),
        caller_reference: format!("{}0000000000000001", caller_prefix(OWNER)),
        settings,
    }
}

fn alarm_check(inverted: bool) -> CheckSettings {
    CheckSettings::Alarm {
        region: "us-west-2".into(),
        name: switch::metric_switch(OWNER).alarm_name,
        inverted,
    }
}

/// The metricAlarm switch's checks as they exist once converged: the endpoint (hc-e), the
/// primary switch (hc-p), the standby switch (hc-s) and the primary's gate (hc-g).
fn alarm_checks() -> Vec<HealthCheck> {
    vec![
        ours("hc-e", CheckSettings::Endpoint(endpoint_settings())),
        ours("hc-p", alarm_check(false)),
        ours("hc-s", alarm_check(true)),
        ours(
            "hc-g",
            CheckSettings::AllOf {
                children: vec!["hc-e".into(), "hc-p".into()],
            },
        ),
    ]
}

fn decide_with(t: &TrafficSpec, observed: &Observation, active: Option<&str>) -> Decision {
    let w = writer();
    let r = regions();
    let inputs = TrafficInputs {
        traffic: Some(t),
        writer_record: Some(&w),
        owner: OWNER,
        regions: &r,
    };
    decide(&inputs, active, Some(WRITER), observed)
}

fn reasons(d: &Decision) -> Vec<&'static str> {
    d.changes.iter().map(Change::reason).collect()
}

#[test]
fn record_update_creates_the_health_check_and_both_records_from_nothing() {
    let d = decide_with(&record_update(), &Observation::default(), Some("us-east-1"));
    assert_eq!(reasons(&d), ["CreatingHealthCheck", "PointingRecord", "PointingCname"]);
    let Change::CreateHealthCheck {
        settings: CheckSettings::Endpoint(s),
        ..
    } = &d.changes[0]
    else {
        panic!("{:?}", d.changes[0])
    };
    assert_eq!((s.request_interval, s.failure_threshold), (10, 3));
    let Change::ChangeRecords { batch, .. } = &d.changes[1] else {
        panic!("{:?}", d.changes[1])
    };
    assert_eq!(*batch, vec![(RecordAction::Upsert, simple(PRIMARY_ALB, "ZEAST"))]);
    assert!(!d.changes[1].is_warning());
    assert_eq!(d.report.health, ComponentHealth::Converging);
    assert_eq!(d.status.switch, None, "recordUpdate has no switch");
}

#[test]
fn record_update_follows_the_active_region() {
    let observed = Observation {
        health_checks: vec![ours("hc-1", CheckSettings::Endpoint(endpoint_settings()))],
        app_records: vec![simple(PRIMARY_ALB, "ZEAST")],
        writer_record: Some(writer_record(WRITER)),
        switch: SwitchObservation::None,
    };
    let d = decide_with(&record_update(), &observed, Some("us-east-1"));
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.reason, "Routed");
    assert_eq!(d.status.health_check_id.as_deref(), Some("hc-1"));

    let d = decide_with(&record_update(), &observed, Some("us-west-2"));
    let [Change::ChangeRecords { batch, was, .. }] = d.changes.as_slice() else {
        panic!("{:?}", d.changes)
    };
    assert_eq!(*batch, vec![(RecordAction::Upsert, simple(STANDBY_ALB, "ZWEST"))]);
    assert_eq!(was.as_deref(), Some(PRIMARY_ALB));

    let d = decide_with(&record_update(), &observed, None);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.reason, "WaitingForActiveRegion");
}

#[test]
fn a_repointed_writer_cname_is_a_repair() {
    let observed = Observation {
        health_checks: vec![ours("hc-1", CheckSettings::Endpoint(endpoint_settings()))],
        app_records: vec![simple(PRIMARY_ALB, "ZEAST")],
        writer_record: Some(writer_record("elsewhere.example.com")),
        switch: SwitchObservation::None,
    };
    let d = decide_with(&record_update(), &observed, Some("us-east-1"));
    assert_eq!(d.changes.len(), 1);
    assert!(d.changes[0].is_warning());
    assert!(d.changes[0].describe().contains("elsewhere.example.com"));
}

#[test]
fn endpoint_check_changes_update_in_place_or_replace() {
    let mut old = endpoint_settings();
    old.failure_threshold = 5;
    let observed = Observation {
        health_checks: vec![ours("hc-1", CheckSettings::Endpoint(old))],
        app_records: vec![simple(PRIMARY_ALB, "ZEAST")],
        writer_record: Some(writer_record(WRITER)),
        switch: SwitchObservation::None,
    };
    let d = decide_with(&record_update(), &observed, Some("us-east-1"));
    assert_eq!(
        d.changes,
        vec![Change::UpdateHealthCheck {
            id: "hc-1".into(),
            settings: endpoint_settings()
        }]
    );
    // The interval cannot change in place: a new check replaces the old one.
    let mut old = endpoint_settings();
    old.request_interval = 30;
    let observed = Observation {
        health_checks: vec![ours("hc-1", CheckSettings::Endpoint(old))],
        ..observed
    };
    let d = decide_with(&record_update(), &observed, Some("us-east-1"));
    assert_eq!(reasons(&d), ["CreatingHealthCheck", "DeletingHealthCheck"]);
}

#[test]
fn metric_alarm_switch_is_built_alarm_first_then_checks_then_gate_then_records() {
    let t = traffic(TrafficMode::FailoverRouting, TrafficSwitch::MetricAlarm);
    let mut observed = Observation {
        app_records: vec![simple(PRIMARY_ALB, "ZEAST")],
        writer_record: Some(writer_record(WRITER)),
        switch: SwitchObservation::Alarm {
            exists: false,
            state: None,
        },
        ..Observation::default()
    };
    let d = decide_with(&t, &observed, Some("us-east-1"));
    assert_eq!(reasons(&d), ["CreatingSwitchAlarm", "CreatingHealthCheck"]);
    let switch = d.status.switch.as_ref().unwrap();
    assert!(!switch.ready);
    assert_eq!(switch.message, "the switch alarm does not exist yet");
    assert_eq!(d.report.health, ComponentHealth::Converging);

    observed.switch = SwitchObservation::Alarm {
        exists: true,
        state: Some(AlarmValue::InsufficientData),
    };
    observed.health_checks = vec![ours("hc-e", CheckSettings::Endpoint(endpoint_settings()))];
    let d = decide_with(&t, &observed, Some("us-east-1"));
    let created: Vec<&CheckSettings> = d
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::CreateHealthCheck { settings, .. } => Some(settings),
            _ => None,
        })
        .collect();
    assert_eq!(created, [&alarm_check(false), &alarm_check(true)]);
    assert!(
        d.changes.iter().all(|c| !matches!(c, Change::ChangeRecords { .. })),
        "the simple record keeps resolving until the switch's checks exist: {:?}",
        d.changes
    );

    observed.health_checks = alarm_checks()[..3].to_vec();
    let d = decide_with(&t, &observed, Some("us-east-1"));
    assert_eq!(
        d.changes,
        vec![Change::CreateHealthCheck {
            settings: CheckSettings::AllOf {
                children: vec!["hc-e".into(), "hc-p".into()]
            },
            name: "primary gate: endpoint healthy and switch on".into(),
        }]
    );
}

#[test]
fn moving_to_failover_routing_replaces_the_simple_record_in_one_batch() {
    let t = traffic(TrafficMode::FailoverRouting, TrafficSwitch::MetricAlarm);
    let observed = Observation {
        health_checks: alarm_checks(),
        app_records: vec![simple(PRIMARY_ALB, "ZEAST")],
        writer_record: Some(writer_record(WRITER)),
        switch: SwitchObservation::Alarm {
            exists: true,
            state: Some(AlarmValue::Ok),
        },
    };
    let d = decide_with(&t, &observed, Some("us-east-1"));
    let [Change::ChangeRecords { batch, after, .. }] = d.changes.as_slice() else {
        panic!("{:?}", d.changes)
    };
    // One atomic change: the name never stops resolving.
    let pair = failover_pair("hc-g", "hc-s");
    assert_eq!(
        *batch,
        vec![
            (RecordAction::Delete, simple(PRIMARY_ALB, "ZEAST")),
            (RecordAction::Upsert, pair[0].clone()),
            (RecordAction::Upsert, pair[1].clone()),
        ]
    );
    assert_eq!(*after, pair);
    assert_eq!(d.report.reason, "PointingFailoverRecords");
}

#[test]
fn the_secondary_follows_only_the_standby_switch_and_the_primary_its_gate() {
    // Traffic never moves on its own: the SECONDARY's health is the switch alone (not the
    // standby's targets, which a drill makes healthy), and the PRIMARY's needs the switch on
    // as well as the endpoint (a flapping primary with the switch off leaves both unhealthy,
    // and Route 53 then answers the PRIMARY).
    let t = traffic(TrafficMode::FailoverRouting, TrafficSwitch::MetricAlarm);
    let observed = Observation {
        health_checks: alarm_checks(),
        app_records: vec![simple(PRIMARY_ALB, "ZEAST")],
        switch: SwitchObservation::Alarm {
            exists: true,
            state: Some(AlarmValue::Ok),
        },
        ..Observation::default()
    };
    let d = decide_with(&t, &observed, Some("us-east-1"));
    let Some(Change::ChangeRecords { after, .. }) = d.changes.first() else {
        panic!("{:?}", d.changes)
    };
    let check_of = |primary: bool| {
        let id = after
            .iter()
            .find_map(|r| r.failover.as_ref().filter(|f| f.primary == primary))
            .and_then(|f| f.health_check_id.clone())
            .unwrap();
        observed
            .health_checks
            .iter()
            .find(|h| h.id == id)
            .unwrap()
            .settings
            .clone()
    };
    assert_eq!(check_of(false), alarm_check(true), "SECONDARY: healthy only in ALARM");
    assert_eq!(
        check_of(true),
        CheckSettings::AllOf {
            children: vec!["hc-e".into(), "hc-p".into()]
        },
        "PRIMARY: endpoint healthy and the alarm not in ALARM"
    );
}

#[test]
fn converged_metric_alarm_is_ready_and_never_flipped_by_convergence() {
    let t = traffic(TrafficMode::FailoverRouting, TrafficSwitch::MetricAlarm);
    for (state, active, sends_to) in [
        (AlarmValue::Ok, "us-east-1", "us-east-1"),
        (AlarmValue::InsufficientData, "us-east-1", "us-east-1"),
        // After a failover; convergence leaves it there (and also when the status still says
        // the primary is active: only a FailoverRequest flips the switch).
        (AlarmValue::Alarm, "us-west-2", "us-west-2"),
        (AlarmValue::Alarm, "us-east-1", "us-west-2"),
    ] {
        let observed = Observation {
            health_checks: alarm_checks(),
            app_records: failover_pair("hc-g", "hc-s"),
            writer_record: Some(writer_record(WRITER)),
            switch: SwitchObservation::Alarm {
                exists: true,
                state: Some(state.clone()),
            },
        };
        let d = decide_with(&t, &observed, Some(active));
        assert!(d.changes.is_empty(), "{state:?} {active}: {:?}", d.changes);
        let switch = d.status.switch.unwrap();
        assert!(switch.ready, "{}", switch.message);
        assert_eq!(switch.sends_to.as_deref(), Some(sends_to));
        assert_eq!(switch.type_, TrafficSwitch::MetricAlarm);
        assert_eq!(
            (
                switch.primary_health_check_id.as_deref(),
                switch.standby_health_check_id.as_deref()
            ),
            (Some("hc-g"), Some("hc-s"))
        );
        assert_eq!(d.report.reason, "Routed");
    }
}

#[test]
fn back_to_record_update_replaces_the_pair_then_removes_the_switch_checks() {
    let observed = Observation {
        health_checks: alarm_checks(),
        app_records: failover_pair("hc-g", "hc-s"),
        writer_record: Some(writer_record(WRITER)),
        switch: SwitchObservation::None,
    };
    let d = decide_with(&record_update(), &observed, Some("us-east-1"));
    let [Change::ChangeRecords { batch, .. }] = d.changes.as_slice() else {
        panic!("{:?}", d.changes)
    };
    let pair = failover_pair("hc-g", "hc-s");
    assert_eq!(
        *batch,
        vec![
            (RecordAction::Delete, pair[0].clone()),
            (RecordAction::Delete, pair[1].clone()),
            (RecordAction::Upsert, simple(PRIMARY_ALB, "ZEAST")),
        ]
    );
    // Once no record refers to them, the switch's checks go, the calculated one first.
    let observed = Observation {
        app_records: vec![simple(PRIMARY_ALB, "ZEAST")],
        ..observed
    };
    let d = decide_with(&record_update(), &observed, Some("us-east-1"));
    assert_eq!(
        d.changes,
        ["hc-g", "hc-p", "hc-s"]
            .map(|id| Change::DeleteHealthCheck { id: id.into() })
            .to_vec()
    );
}

fn cluster(status: ArcStatus) -> Cluster {
    Cluster {
        arn: "arn:aws:route53-recovery-control::123456789012:cluster/c1".into(),
        name: switch::resource_name(OWNER),
        status,
        endpoints: [
            "us-east-1",
            "us-west-2",
            "eu-west-1",
            "ap-northeast-1",
            "ap-southeast-2",
        ]
        .map(|r| ClusterEndpoint {
            region: r.into(),
            url: format!("https://c1.route53-recovery-cluster.{r}.amazonaws.com/v1"),
        })
        .to_vec(),
    }
}

fn control(region: &str) -> RoutingControl {
    RoutingControl {
        arn: format!("arn:aws:route53-recovery-control::123456789012:controlpanel/p1/routingcontrol/{region}"),
        name: region.into(),
        status: ArcStatus::Deployed,
    }
}

fn arc_converged(primary: ControlState, standby: ControlState) -> ArcObservation {
    ArcObservation {
        cluster: Some(cluster(ArcStatus::Deployed)),
        panel: Some(ControlPanel {
            arn: "arn:aws:route53-recovery-control::123456789012:controlpanel/p1".into(),
            name: switch::resource_name(OWNER),
            status: ArcStatus::Deployed,
        }),
        controls: vec![control("us-east-1"), control("us-west-2")],
        rules: vec![SafetyRule {
            arn: "arn:rule".into(),
            name: switch::SAFETY_RULE.into(),
            status: ArcStatus::Deployed,
        }],
        states: Some(Ok(vec![
            (control("us-east-1").arn, primary),
            (control("us-west-2").arn, standby),
        ])),
    }
}

fn routing_control_checks() -> Vec<HealthCheck> {
    vec![
        ours("hc-e", CheckSettings::Endpoint(endpoint_settings())),
        ours(
            "hc-p",
            CheckSettings::RoutingControl {
                arn: control("us-east-1").arn,
            },
        ),
        ours(
            "hc-s",
            CheckSettings::RoutingControl {
                arn: control("us-west-2").arn,
            },
        ),
        ours(
            "hc-g",
            CheckSettings::AllOf {
                children: vec!["hc-e".into(), "hc-p".into()],
            },
        ),
    ]
}

#[test]
fn routing_control_switch_is_built_in_order() {
    let t = traffic(TrafficMode::FailoverRouting, TrafficSwitch::RoutingControl);
    let with = |arc: ArcObservation| Observation {
        health_checks: vec![ours("hc-e", CheckSettings::Endpoint(endpoint_settings()))],
        app_records: vec![simple(PRIMARY_ALB, "ZEAST")],
        writer_record: Some(writer_record(WRITER)),
        switch: SwitchObservation::RoutingControl(Box::new(arc)),
    };
    let d = decide_with(&t, &with(ArcObservation::default()), Some("us-east-1"));
    assert_eq!(reasons(&d), ["CreatingArcCluster"]);
    assert_eq!(d.status.switch.unwrap().message, "the ARC cluster does not exist yet");

    let pending = ArcObservation {
        cluster: Some(cluster(ArcStatus::Pending)),
        ..ArcObservation::default()
    };
    let d = decide_with(&t, &with(pending), Some("us-east-1"));
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.reason, "WaitingForActiveRegion");

    let mut arc = arc_converged(ControlState::Off, ControlState::Off);
    arc.panel = None;
    arc.controls.clear();
    arc.rules.clear();
    arc.states = None;
    assert_eq!(
        reasons(&decide_with(&t, &with(arc.clone()), Some("us-east-1"))),
        ["CreatingControlPanel"]
    );

    arc.panel = arc_converged(ControlState::Off, ControlState::Off).panel;
    assert_eq!(
        reasons(&decide_with(&t, &with(arc.clone()), Some("us-east-1"))),
        ["CreatingRoutingControl", "CreatingRoutingControl"]
    );

    // New controls are Off: the rule is created and the active region's control turned On.
    let arc = ArcObservation {
        rules: vec![],
        ..arc_converged(ControlState::Off, ControlState::Off)
    };
    let d = decide_with(&t, &with(arc), Some("us-east-1"));
    assert_eq!(reasons(&d)[..2], ["CreatingSafetyRule", "TurningOnRoutingControl"]);
    assert!(matches!(&d.changes[1], Change::TurnOnRoutingControl { region, .. } if region == "us-east-1"));
    let created: Vec<&CheckSettings> = d
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::CreateHealthCheck { settings, .. } => Some(settings),
            _ => None,
        })
        .collect();
    assert_eq!(
        created,
        [
            &CheckSettings::RoutingControl {
                arn: control("us-east-1").arn
            },
            &CheckSettings::RoutingControl {
                arn: control("us-west-2").arn
            },
        ]
    );
}

#[test]
fn converged_routing_controls_report_where_they_send_and_how_to_reach_them() {
    let t = traffic(TrafficMode::FailoverRouting, TrafficSwitch::RoutingControl);
    for (primary, standby, sends_to) in [
        (ControlState::On, ControlState::Off, "us-east-1"),
        (ControlState::Off, ControlState::On, "us-west-2"),
    ] {
        let observed = Observation {
            health_checks: routing_control_checks(),
            app_records: failover_pair("hc-g", "hc-s"),
            writer_record: Some(writer_record(WRITER)),
            switch: SwitchObservation::RoutingControl(Box::new(arc_converged(primary, standby))),
        };
        // Convergence never flips: the active region it believes in does not matter.
        let d = decide_with(&t, &observed, Some("us-east-1"));
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        let switch = d.status.switch.unwrap();
        assert!(switch.ready, "{}", switch.message);
        assert_eq!(switch.sends_to.as_deref(), Some(sends_to));
        assert_eq!(
            switch
                .routing_controls
                .iter()
                .map(|c| c.region.as_str())
                .collect::<Vec<_>>(),
            ["us-east-1", "us-west-2"]
        );
        assert_eq!(switch.cluster_endpoints.len(), 5);
    }
}

#[test]
fn unreachable_cluster_endpoints_make_the_switch_not_ready() {
    let t = traffic(TrafficMode::FailoverRouting, TrafficSwitch::RoutingControl);
    let mut arc = arc_converged(ControlState::On, ControlState::Off);
    arc.states = Some(Err("all 5 cluster endpoints failed".into()));
    let observed = Observation {
        health_checks: routing_control_checks(),
        app_records: failover_pair("hc-g", "hc-s"),
        writer_record: Some(writer_record(WRITER)),
        switch: SwitchObservation::RoutingControl(Box::new(arc)),
    };
    let d = decide_with(&t, &observed, Some("us-east-1"));
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.reason, "SwitchNotReady");
    assert_eq!(d.report.health, ComponentHealth::Degraded);
    assert!(
        d.report.message.contains("no ARC cluster endpoint answered"),
        "{}",
        d.report.message
    );
}

#[test]
fn caller_references_are_stable_and_per_owner() {
    assert_eq!(caller_prefix(OWNER), caller_prefix(OWNER));
    assert_ne!(caller_prefix(OWNER), caller_prefix("ns/app2"));
    let reference = new_caller_reference(OWNER);
    assert!(reference.len() <= 64 && reference.starts_with(&caller_prefix(OWNER)));
    assert_ne!(reference, new_caller_reference(OWNER), "never reused");
    // Pinned (FNV-1a 64, checked independently): changing it would orphan existing health checks.
    assert_eq!(caller_prefix(OWNER), "pl-2ef2152d34f956ae-");
}
