use super::{topology::Writer, *};
use crate::{
    api::{RdsInstanceRef, RdsInstancesStatus},
    aws::{AwsError, cloudwatch::LagSample, rds::DbInstance},
    pilotlight::{ComponentHealth, PlannedChange, test_regions as regions},
};

const NOW: i64 = 1_700_000_030;

fn spec() -> RdsReplicaSpec {
    serde_json::from_value(serde_json::json!({
        "sourceInstanceIdentifier": "app-db",
        "replicaInstanceIdentifier": "app-db-dr",
        "replicaInstanceClass": "db.t3.medium",
        "dbSubnetGroupName": "dr-subnets",
    }))
    .unwrap()
}

fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:123456789012:db:{id}")
}

fn instance(region: &str, id: &str, source: Option<(&str, &str)>) -> DbInstance {
    DbInstance {
        identifier: id.into(),
        arn: arn(region, id),
        status: "available".into(),
        instance_class: Some(
            if source.is_some() {
                "db.t3.medium"
            } else {
                "db.r5.large"
            }
            .into(),
        ),
        engine: Some("mysql".into()),
        replica_source: source.map(|(r, i)| arn(r, i)),
        replication: source.map(|_| ("replicating".into(), true)),
        storage_encrypted: false,
        endpoint: Some(format!("{id}.aaaaaaaaaa.{region}.rds.amazonaws.com")),
        promoted_at: None,
    }
}

fn promoted(region: &str, id: &str, at: &str) -> DbInstance {
    DbInstance {
        promoted_at: Some(at.into()),
        ..instance(region, id, None)
    }
}

fn seen(instances: &[DbInstance]) -> Seen {
    Ok(instances.iter().map(|i| (i.identifier.clone(), i.clone())).collect())
}

fn down(region: &str) -> Seen {
    Err(AwsError::unreachable("rds", "DescribeDBInstances", region))
}

fn obs(primary: Seen, standby: Seen) -> Observation {
    Observation {
        primary,
        standby,
        lag: Some(LagSample {
            milliseconds: 1000.0,
            at_epoch_seconds: NOW - 20,
        }),
        lag_error: None,
        observed_at: NOW,
    }
}

fn replicating() -> Observation {
    obs(
        seen(&[instance("us-east-1", "app-db", None)]),
        seen(&[instance("us-west-2", "app-db-dr", Some(("us-east-1", "app-db")))]),
    )
}

#[test]
fn a_missing_replica_is_created_from_the_sources_arn_with_the_specs_settings() {
    let o = obs(seen(&[instance("us-east-1", "app-db", None)]), seen(&[]));
    let d = decide(&regions(), &spec(), &o, None, false);
    let [Change::CreateReplica { region, request }] = d.changes.as_slice() else {
        panic!("{:?}", d.changes)
    };
    assert_eq!(region, "us-west-2");
    assert_eq!(request.identifier, "app-db-dr");
    assert_eq!(request.source_arn, arn("us-east-1", "app-db"));
    assert_eq!(request.instance_class.as_deref(), Some("db.t3.medium"));
    assert_eq!(request.db_subnet_group_name.as_deref(), Some("dr-subnets"));
    assert_eq!(d.report.reason, "CreatingReadReplica");
    assert_eq!(d.writer_region.as_deref(), Some("us-east-1"));
    assert_eq!(d.changes[0].reason(), "CreatingReadReplica");
}

#[test]
fn a_replica_of_the_source_is_adopted_and_its_lag_reported() {
    let d = decide(&regions(), &spec(), &replicating(), None, false);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.health, ComponentHealth::Healthy);
    assert_eq!(
        d.report.message,
        "replicating from app-db in us-east-1 to app-db-dr in us-west-2, lag 1.0s"
    );
    assert_eq!(d.status.replication_lag.as_deref(), Some("1.0s"));
    assert_eq!(d.status.replication_lag_ms, Some(1000.0));
    let rds = d.status.rds.unwrap();
    assert_eq!(rds.writer.unwrap().identifier, "app-db");
    assert_eq!(rds.replica.unwrap().region, "us-west-2");
    assert_eq!(rds.replication_state.as_deref(), Some("replicating"));
    assert_eq!(
        d.status.writer_endpoint.as_deref(),
        Some("app-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com")
    );
}

#[test]
fn drift_wrong_source_wrong_class_broken_replica_high_lag() {
    let mut o = replicating();
    o.standby = seen(&[instance("us-west-2", "app-db-dr", Some(("us-east-1", "other-db")))]);
    let d = decide(&regions(), &spec(), &o, None, false);
    assert_eq!(
        (d.report.health, d.report.reason),
        (ComponentHealth::Misconfigured, "ReplicaInstanceExists")
    );
    assert!(
        d.report
            .message
            .contains("replicates from arn:aws:rds:us-east-1:123456789012:db:other-db")
    );
    assert!(d.changes.is_empty());

    let mut o = replicating();
    o.standby = seen(&[DbInstance {
        instance_class: Some("db.r5.4xlarge".into()),
        ..instance("us-west-2", "app-db-dr", Some(("us-east-1", "app-db")))
    }]);
    let d = decide(&regions(), &spec(), &o, None, false);
    assert_eq!(
        d.changes,
        vec![Change::ResizeReplica {
            region: "us-west-2".into(),
            identifier: "app-db-dr".into(),
            from: "db.r5.4xlarge".into(),
            to: "db.t3.medium".into(),
        }]
    );
    assert!(d.changes[0].is_warning());

    let mut o = replicating();
    o.standby = seen(&[DbInstance {
        replication: Some(("error".into(), false)),
        ..instance("us-west-2", "app-db-dr", Some(("us-east-1", "app-db")))
    }]);
    let d = decide(&regions(), &spec(), &o, None, false);
    assert_eq!(
        (d.report.health, d.report.reason),
        (ComponentHealth::Degraded, "ReplicationBroken")
    );
    assert!(d.changes.is_empty(), "a broken replica is never recreated");

    let mut o = replicating();
    o.lag = Some(LagSample {
        milliseconds: 45_000.0,
        at_epoch_seconds: NOW - 5,
    });
    assert_eq!(
        decide(&regions(), &spec(), &o, None, false).report.reason,
        "ReplicationLagHigh"
    );
    o.lag = Some(LagSample {
        milliseconds: 100.0,
        at_epoch_seconds: NOW - 600,
    });
    let d = decide(&regions(), &spec(), &o, None, false);
    assert_eq!(d.report.reason, "ReplicationLagStale");
    assert_eq!(d.status.replication_lag.as_deref(), Some("100ms (600s old, stale)"));
}

#[test]
fn bad_input_missing_source_standalone_replica_name_and_encrypted_source_without_key() {
    let d = decide(&regions(), &spec(), &obs(seen(&[]), seen(&[])), None, false);
    assert_eq!(
        (d.report.health, d.report.reason),
        (ComponentHealth::Misconfigured, "SourceInstanceNotFound")
    );
    assert_eq!(d.writer_region, None);

    let o = obs(
        seen(&[instance("us-east-1", "app-db", None)]),
        seen(&[instance("us-west-2", "app-db-dr", None)]),
    );
    let d = decide(&regions(), &spec(), &o, None, false);
    assert_eq!(d.report.reason, "ReplicaInstanceExists");
    assert!(
        d.report
            .message
            .contains("is not a read replica of writer app-db in us-east-1")
    );

    let encrypted = DbInstance {
        storage_encrypted: true,
        ..instance("us-east-1", "app-db", None)
    };
    let o = obs(seen(std::slice::from_ref(&encrypted)), seen(&[]));
    let d = decide(&regions(), &spec(), &o, None, false);
    assert_eq!(d.report.reason, "KmsKeyRequired");
    assert!(
        d.report.message.contains("spec.database.rds.kmsKeyId"),
        "{}",
        d.report.message
    );
    assert!(d.changes.is_empty());
    let mut keyed = spec();
    keyed.kms_key_id = Some("alias/dr".into());
    let d = decide(&regions(), &keyed, &o, None, false);
    let [Change::CreateReplica { request, .. }] = d.changes.as_slice() else {
        panic!("{:?}", d.changes)
    };
    assert_eq!(request.kms_key_id.as_deref(), Some("alias/dr"));
}

#[test]
fn with_the_primary_region_down_the_promoted_replica_writes_and_the_source_is_unseen() {
    let before = obs(
        down("us-east-1"),
        seen(&[instance("us-west-2", "app-db-dr", Some(("us-east-1", "app-db")))]),
    );
    let d = decide(&regions(), &spec(), &before, None, false);
    assert_eq!(
        (d.report.health, d.report.reason),
        (ComponentHealth::Degraded, "WriterRegionUnreachable")
    );
    assert_eq!(d.writer_region.as_deref(), Some("us-east-1"));

    let after = obs(
        down("us-east-1"),
        seen(&[promoted("us-west-2", "app-db-dr", "2026-12-07T10:00:00Z")]),
    );
    let known = DatabaseStatus {
        rds: Some(RdsInstancesStatus {
            writer: Some(RdsInstanceRef {
                region: "us-east-1".into(),
                identifier: "app-db".into(),
                ..RdsInstanceRef::default()
            }),
            ..RdsInstancesStatus::default()
        }),
        ..DatabaseStatus::default()
    };
    let d = decide(&regions(), &spec(), &after, Some(&known), false);
    assert_eq!(
        d.writer_region.as_deref(),
        Some("us-west-2"),
        "a visible promotion beats a never-promoted writer"
    );
    assert_eq!(d.report.reason, "ReplicaRegionUnreachable");
    assert!(d.changes.is_empty());
}

#[test]
fn after_a_failover_the_replica_back_takes_the_promoted_ones_name_and_the_source_is_orphaned() {
    let o = obs(
        seen(&[instance("us-east-1", "app-db", None)]),
        seen(&[promoted("us-west-2", "app-db-dr", "2026-12-07T10:00:00Z")]),
    );
    let d = decide(&regions(), &spec(), &o, None, false);
    let [Change::CreateReplica { region, request }] = d.changes.as_slice() else {
        panic!("{:?}", d.changes)
    };
    assert_eq!(
        (region.as_str(), request.identifier.as_str()),
        ("us-east-1", "app-db-dr")
    );
    assert_eq!(request.source_arn, arn("us-west-2", "app-db-dr"));
    assert_eq!(request.instance_class, None, "the way back keeps the writer's class");
    let orphaned = d.status.rds.unwrap().orphaned;
    assert_eq!(orphaned.len(), 1);
    assert_eq!(
        (orphaned[0].region.as_str(), orphaned[0].identifier.as_str()),
        ("us-east-1", "app-db")
    );

    // Once it replicates: healthy, and the orphan is named.
    let o = obs(
        seen(&[
            instance("us-east-1", "app-db", None),
            instance("us-east-1", "app-db-dr", Some(("us-west-2", "app-db-dr"))),
        ]),
        seen(&[promoted("us-west-2", "app-db-dr", "2026-12-07T10:00:00Z")]),
    );
    let d = decide(&regions(), &spec(), &o, None, false);
    assert_eq!(d.report.health, ComponentHealth::Healthy, "{}", d.report.message);
    assert!(
        d.report
            .message
            .contains("kept from earlier failovers (never deleted by the operator): app-db in us-east-1")
    );
}

#[test]
fn after_a_failback_the_newest_promotion_writes_and_the_standby_replica_takes_the_free_name() {
    let o = obs(
        seen(&[
            instance("us-east-1", "app-db", None),
            promoted("us-east-1", "app-db-dr", "2026-12-07T11:00:00Z"),
        ]),
        seen(&[promoted("us-west-2", "app-db-dr", "2026-12-07T10:00:00Z")]),
    );
    let regions = regions();
    let t = topology(&regions, &spec(), &o, None);
    assert!(matches!(t.writer, Writer::Found(w) if w.region == "us-east-1" && w.instance.identifier == "app-db-dr"));
    assert_eq!(t.orphaned.len(), 2);
    let d = decide(&regions, &spec(), &o, None, false);
    let [Change::CreateReplica { region, request }] = d.changes.as_slice() else {
        panic!("{:?}", d.changes)
    };
    assert_eq!((region.as_str(), request.identifier.as_str()), ("us-west-2", "app-db"));
    assert_eq!(request.instance_class.as_deref(), Some("db.t3.medium"));

    // A second failover later: both names in us-east-1 are former writers.
    let o = obs(
        seen(&[
            instance("us-east-1", "app-db", None),
            promoted("us-east-1", "app-db-dr", "2026-12-07T11:00:00Z"),
        ]),
        seen(&[
            promoted("us-west-2", "app-db", "2026-12-07T12:00:00Z"),
            promoted("us-west-2", "app-db-dr", "2026-12-07T10:00:00Z"),
        ]),
    );
    let d = decide(&regions, &spec(), &o, None, false);
    assert_eq!(
        (d.report.health, d.report.reason),
        (ComponentHealth::Misconfigured, "ReplicaIdentifiersInUse")
    );
    assert!(d.changes.is_empty());
}

#[test]
fn a_writer_whose_region_is_down_stands_unless_a_newer_promotion_is_visible() {
    let known = |at: Option<&str>| RdsInstanceRef {
        region: "us-east-1".into(),
        identifier: "app-db-dr".into(),
        promoted_at: at.map(Into::into),
        ..RdsInstanceRef::default()
    };
    let o = obs(
        down("us-east-1"),
        seen(&[promoted("us-west-2", "app-db-dr", "2026-12-07T10:00:00Z")]),
    );
    let newer = known(Some("2026-12-07T11:00:00Z"));
    let regions = regions();
    let t = topology(&regions, &spec(), &o, Some(&newer));
    assert!(
        matches!(&t.writer, Writer::Unseen { region, identifier } if *region == "us-east-1" && identifier == "app-db-dr")
    );
    let older = known(Some("2026-12-07T09:00:00Z"));
    let t = topology(&regions, &spec(), &o, Some(&older));
    assert!(matches!(t.writer, Writer::Found(w) if w.region == "us-west-2"));
}

#[test]
fn the_lag_of_no_replica_is_not_reported() {
    let o = obs(seen(&[instance("us-east-1", "app-db", None)]), seen(&[]));
    let d = decide(&regions(), &spec(), &o, None, false);
    assert_eq!((d.status.replication_lag_ms, d.status.replication_lag), (None, None));
}

#[test]
fn while_a_request_runs_nothing_is_created_and_the_report_says_what_waits() {
    let o = obs(
        seen(&[instance("us-east-1", "app-db", None)]),
        seen(&[promoted("us-west-2", "app-db-dr", "2026-12-07T10:00:00Z")]),
    );
    let d = decide(&regions(), &spec(), &o, None, true);
    assert!(d.changes.is_empty());
    assert_eq!(d.report.reason, "WaitingForRequest");
    assert!(
        d.report
            .message
            .contains("Creating read replica app-db-dr in us-east-1"),
        "{}",
        d.report.message
    );
    assert_eq!(
        d.writer_region.as_deref(),
        Some("us-west-2"),
        "the writer is still reported"
    );
}
