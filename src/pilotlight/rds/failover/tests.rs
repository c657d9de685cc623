use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::{aws::cloudwatch::LagSample, step::Next};

const NOW: i64 = 1_796_000_000;

fn started() -> Timestamp {
    Timestamp::from_second(NOW - 60).unwrap()
}

fn instance(id: &str, status: &str, replica: bool, promoted_at: Option<&str>) -> DbInstance {
    DbInstance {
        identifier: id.into(),
        arn: format!("arn:aws:rds:us-west-2:123456789012:db:{id}"),
        status: status.into(),
        instance_class: Some("db.t3.medium".into()),
        replica_source: replica.then(|| "arn:aws:rds:us-east-1:123456789012:db:app-db".into()),
        promoted_at: promoted_at.map(Into::into),
        ..DbInstance::default()
    }
}

fn map(instances: &[DbInstance]) -> HashMap<String, DbInstance> {
    instances.iter().map(|i| (i.identifier.clone(), i.clone())).collect()
}

fn sample(ms: f64, age: i64) -> Option<Option<LagSample>> {
    Some(Some(LagSample {
        milliseconds: ms,
        at_epoch_seconds: NOW - age,
    }))
}

#[test]
fn a_failover_promotes_the_replica_at_once_and_is_done_when_it_is_standalone() {
    let replica = map(&[instance("app-db-dr", "available", true, None)]);
    assert_eq!(
        promotion("us-west-2", &replica, started(), false, None, NOW),
        Next::Call(PromoteCall::Promote("app-db-dr".into()))
    );
    let now = Timestamp::from_second(NOW).unwrap().to_string();
    let promoting = map(&[instance("app-db-dr", "modifying", true, Some(&now))]);
    assert!(matches!(
        promotion("us-west-2", &promoting, started(), false, None, NOW),
        Next::Wait(_)
    ));
    let done = map(&[instance("app-db-dr", "available", false, Some(&now))]);
    assert!(matches!(
        promotion("us-west-2", &done, started(), false, None, NOW),
        Next::Done(_)
    ));
}

#[test]
fn an_instance_promoted_before_the_request_is_not_its_promotion() {
    let earlier = Timestamp::from_second(NOW - 3600).unwrap().to_string();
    let instances = map(&[
        instance("app-db", "available", true, None),
        instance("app-db-dr", "available", false, Some(&earlier)),
    ]);
    assert_eq!(
        promotion("us-west-2", &instances, started(), false, None, NOW),
        Next::Call(PromoteCall::Promote("app-db".into()))
    );
}

#[test]
fn a_planned_move_waits_for_a_fresh_zero_lag_sample() {
    let replica = map(&[instance("app-db-dr", "available", true, None)]);
    let planned = |lag| promotion("us-west-2", &replica, started(), true, lag, NOW);
    assert_eq!(planned(None), Next::Call(PromoteCall::ReadLag("app-db-dr".into())));
    let Next::Wait(m) = planned(sample(1000.0, 10)) else {
        panic!()
    };
    assert!(m.contains("stop writes to the writer first"), "{m}");
    assert!(
        matches!(planned(sample(0.0, 600)), Next::Wait(_)),
        "a stale zero is no proof"
    );
    assert!(matches!(planned(Some(None)), Next::Wait(_)));
    assert_eq!(
        planned(sample(0.0, 10)),
        Next::Call(PromoteCall::Promote("app-db-dr".into()))
    );
}

#[test]
fn no_replica_in_the_target_region_fails_with_what_to_do() {
    let Next::Fail(m) = promotion("us-east-1", &map(&[]), started(), true, None, NOW) else {
        panic!()
    };
    assert!(m.contains("convergence creates it"), "{m}");
}

#[test]
fn scale_up_creates_replicas_of_the_available_writer_first_then_resizes() {
    let replicas = vec!["app-db-dr-replica-1".to_owned()];
    let writer = |status: &str, class: &str| DbInstance {
        instance_class: Some(class.into()),
        ..instance("app-db-dr", status, false, Some("x"))
    };
    let scale = |instances: &[DbInstance]| instance_scale(&map(instances), "app-db-dr", &replicas, "db.r5.xlarge");
    assert_eq!(
        scale(&[writer("available", "db.t3.medium")]),
        Next::Call(InstanceCall::CreateReplica("app-db-dr-replica-1".into()))
    );
    assert!(matches!(scale(&[writer("modifying", "db.t3.medium")]), Next::Wait(_)));
    let creating = instance("app-db-dr-replica-1", "creating", true, None);
    assert_eq!(
        scale(&[writer("available", "db.t3.medium"), creating.clone()]),
        Next::Call(InstanceCall::Resize)
    );
    assert!(matches!(
        scale(&[writer("modifying", "db.t3.medium"), creating]),
        Next::Wait(_)
    ));
    let ready = instance("app-db-dr-replica-1", "available", true, None);
    assert!(matches!(
        scale(&[writer("available", "db.r5.xlarge"), ready]),
        Next::Done(_)
    ));
    assert!(matches!(
        instance_scale(&map(&[]), "app-db-dr", &replicas, "db.r5.xlarge"),
        Next::Fail(_)
    ));
}
