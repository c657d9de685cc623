use super::*;
use crate::{
    api::{AliasTarget, DnsRecordRef, HealthCheckSpec, Route53Spec},
    pilotlight::{ComponentHealth, test_regions as regions},
};

fn traffic() -> TrafficSpec {
    TrafficSpec {
        route53: Route53Spec {
            hosted_zone_id: "ZAPP".into(),
            record_name: "API.example.com.".into(),
            record_type: RecordType::A,
            primary_target: AliasTarget {
                dns_name: "primary-alb.us-east-1.elb.amazonaws.com".into(),
                hosted_zone_id: "ZEAST".into(),
            },
            standby_target: AliasTarget {
                dns_name: "dr-alb.us-west-2.elb.amazonaws.com".into(),
                hosted_zone_id: "ZWEST".into(),
            },
            health_check: Some(HealthCheckSpec {
                type_: HealthCheckType::Https,
                fqdn: "primary-alb.us-east-1.elb.amazonaws.com".into(),
                port: 443,
                path: "/health".into(),
                request_interval: 10,
                failure_threshold: 3,
            }),
        },
    }
}

fn writer() -> DnsRecordRef {
    DnsRecordRef {
        hosted_zone_id: "ZAPP".into(),
        name: "db.example.com".into(),
        ttl: 60,
    }
}

fn settings() -> HealthCheckSettings {
    health_check_settings(&traffic()).unwrap()
}

fn app_record(dns: &str, zone: &str) -> Record {
    Record {
        name: "api.example.com".into(),
        type_: "A".into(),
        value: RecordValue::Alias {
            hosted_zone_id: zone.into(),
            dns_name: dns.into(),
        },
    }
}

fn writer_record(endpoint: &str) -> Record {
    Record {
        name: "db.example.com".into(),
        type_: "CNAME".into(),
        value: RecordValue::Values {
            ttl: 60,
            values: vec![endpoint.into()],
        },
    }
}

fn ours(id: &str, settings: HealthCheckSettings) -> HealthCheck {
    HealthCheck {
        id: id.into(),
        caller_reference: format!("{}0000000000000001", caller_prefix("ns/app")),
        settings,
    }
}

const WRITER: &str = "primary-cluster.cluster-abc.us-east-1.rds.amazonaws.com";

fn decide_with(observed: &Observation, active: Option<&str>) -> Decision {
    let t = traffic();
    let w = writer();
    let inputs = TrafficInputs {
        traffic: Some(&t),
        writer_record: Some(&w),
        owner: "ns/app",
    };
    decide(&inputs, &regions(), active, Some(WRITER), observed)
}

#[test]
fn creates_health_check_and_both_records_from_nothing() {
    let observed = Observation {
        health_checks: vec![],
        app_record: None,
        writer_record: None,
    };
    let d = decide_with(&observed, Some("us-east-1"));
    assert_eq!(
        d.changes.iter().map(Change::reason).collect::<Vec<_>>(),
        ["CreatingHealthCheck", "PointingRecord", "PointingCname"]
    );
    let Change::CreateHealthCheck { settings: s, .. } = &d.changes[0] else {
        unreachable!()
    };
    assert_eq!((s.request_interval, s.failure_threshold), (10, 3));
    assert_eq!(
        d.changes[1],
        Change::UpsertRecord {
            zone: "ZAPP".into(),
            record: app_record("primary-alb.us-east-1.elb.amazonaws.com", "ZEAST"),
            was: None
        }
    );
    assert!(!d.changes[1].is_warning());
    assert_eq!(d.report.health, ComponentHealth::Converging);
}

#[test]
fn converged_is_healthy_and_follows_the_active_region() {
    let observed = Observation {
        health_checks: vec![ours("hc-1", settings())],
        app_record: Some(app_record("primary-alb.us-east-1.elb.amazonaws.com", "ZEAST")),
        writer_record: Some(writer_record(WRITER)),
    };
    let d = decide_with(&observed, Some("us-east-1"));
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.reason, "Routed");
    assert_eq!(d.status.health_check_id.as_deref(), Some("hc-1"));

    // After a failover the record moves to the standby target, with the standby ALB's zone.
    let d = decide_with(&observed, Some("us-west-2"));
    assert_eq!(
        d.changes,
        vec![Change::UpsertRecord {
            zone: "ZAPP".into(),
            record: app_record("dr-alb.us-west-2.elb.amazonaws.com", "ZWEST"),
            was: Some("primary-alb.us-east-1.elb.amazonaws.com".into()),
        }]
    );
}

#[test]
fn records_stay_put_while_the_active_region_is_unknown() {
    let observed = Observation {
        health_checks: vec![ours("hc-1", settings())],
        app_record: Some(app_record("dr-alb.us-west-2.elb.amazonaws.com", "ZWEST")),
        writer_record: Some(writer_record(WRITER)),
    };
    let d = decide_with(&observed, None);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.reason, "WaitingForActiveRegion");
}

#[test]
fn a_repointed_cname_is_a_repair() {
    let observed = Observation {
        health_checks: vec![ours("hc-1", settings())],
        app_record: Some(app_record("primary-alb.us-east-1.elb.amazonaws.com", "ZEAST")),
        writer_record: Some(writer_record("elsewhere.example.com")),
    };
    let d = decide_with(&observed, Some("us-east-1"));
    assert_eq!(d.changes.len(), 1);
    assert!(d.changes[0].is_warning());
    assert!(d.changes[0].describe().contains("elsewhere.example.com"));
}

#[test]
fn health_check_changes_update_in_place_or_replace() {
    let mut old = settings();
    old.failure_threshold = 5;
    let observed = Observation {
        health_checks: vec![ours("hc-1", old)],
        app_record: Some(app_record("primary-alb.us-east-1.elb.amazonaws.com", "ZEAST")),
        writer_record: Some(writer_record(WRITER)),
    };
    let d = decide_with(&observed, Some("us-east-1"));
    assert_eq!(
        d.changes,
        vec![Change::UpdateHealthCheck {
            id: "hc-1".into(),
            settings: settings()
        }]
    );
    // The interval cannot change in place: a new check replaces the old one.
    let mut old = settings();
    old.request_interval = 30;
    let observed = Observation {
        health_checks: vec![ours("hc-1", old)],
        ..observed
    };
    let d = decide_with(&observed, Some("us-east-1"));
    assert_eq!(
        d.changes.iter().map(Change::reason).collect::<Vec<_>>(),
        ["CreatingHealthCheck", "DeletingHealthCheck"]
    );
}

#[test]
fn caller_references_are_stable_and_per_owner() {
    assert_eq!(caller_prefix("ns/app"), caller_prefix("ns/app"));
    assert_ne!(caller_prefix("ns/app"), caller_prefix("ns/app2"));
    let reference = new_caller_reference("ns/app");
    assert!(reference.len() <= 64 && reference.starts_with(&caller_prefix("ns/app")));
    assert_ne!(reference, new_caller_reference("ns/app"), "never reused");
    // Pinned (FNV-1a 64, checked independently): changing it would orphan existing health checks.
    assert_eq!(caller_prefix("ns/app"), "pl-2ef2152d34f956ae-");
}
