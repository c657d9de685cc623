use super::*;
use crate::pilotlight::PlannedChange;
use crate::pilotlight::lag::format as format_lag;
use crate::{
    api::{GoDuration, RdsIdentifier},
    aws::rds::GlobalClusterMember,
    pilotlight::ComponentHealth,
};

use crate::pilotlight::test_regions as regions;

fn spec() -> AuroraSpec {
    serde_json::from_value(serde_json::json!({
        "globalClusterIdentifier": "app-global-db",
        "primaryClusterIdentifier": "primary-cluster",
        "standbyClusterIdentifier": "dr-cluster",
        "dbSubnetGroupName": "app-db-subnets",
    }))
    .unwrap()
}

const NOW: i64 = 1_700_000_030;
const PRIMARY_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:primary-cluster";
const STANDBY_ARN: &str = "arn:aws:rds:us-west-2:123456789012:cluster:dr-cluster";

fn cluster(id: &str, arn: &str, status: &str, global: Option<&str>) -> DbCluster {
    DbCluster {
        identifier: id.into(),
        arn: arn.into(),
        status: status.into(),
        engine: Some("aurora-postgresql".into()),
        engine_version: Some("15.4".into()),
        global_cluster_identifier: global.map(Into::into),
        endpoint: None,
    }
}

fn global(status: &str, members: &[(&str, bool)]) -> GlobalCluster {
    GlobalCluster {
        identifier: "app-global-db".into(),
        arn: "arn:aws:rds::123456789012:global-cluster:app-global-db".into(),
        status: status.into(),
        engine: Some("aurora-postgresql".into()),
        engine_version: Some("15.4".into()),
        members: members
            .iter()
            .map(|(arn, w)| GlobalClusterMember {
                cluster_arn: (*arn).into(),
                is_writer: *w,
            })
            .collect(),
        promoting: None,
        endpoint: None,
    }
}

fn instance(status: &str) -> DbInstance {
    DbInstance {
        identifier: "dr-cluster-1".into(),
        status: status.into(),
        instance_class: Some("db.r5.large".into()),
        ..DbInstance::default()
    }
}

fn obs(global: Option<GlobalCluster>) -> Observation {
    Observation {
        global,
        primary: Seen::NotChecked,
        standby: Seen::NotChecked,
        standby_instance: Seen::NotChecked,
        lag: None,
        lag_error: None,
        primary_region_error: None,
        observed_at: NOW,
        writer_endpoint: None,
    }
}

fn replicating() -> Observation {
    Observation {
        standby_instance: Seen::Found(instance("available")),
        ..obs(Some(global("available", &[(PRIMARY_ARN, true), (STANDBY_ARN, false)])))
    }
}

#[test]
fn creates_the_global_cluster_from_the_primary() {
    let o = Observation {
        primary: Seen::Found(cluster("primary-cluster", PRIMARY_ARN, "available", None)),
        ..obs(None)
    };
    let d = decide(&regions(), &spec(), &o);
    assert_eq!(
        d.changes,
        vec![Change::CreateGlobalCluster {
            region: "us-east-1".into(),
            identifier: "app-global-db".into(),
            source_cluster_arn: PRIMARY_ARN.into()
        }]
    );
    assert_eq!(d.report.health, ComponentHealth::Converging);
}

#[test]
fn missing_primary_is_a_configuration_error_with_no_change() {
    let o = Observation {
        primary: Seen::Missing,
        ..obs(None)
    };
    let d = decide(&regions(), &spec(), &o);
    assert!(d.changes.is_empty());
    assert_eq!(d.report.health, ComponentHealth::Misconfigured);
    assert_eq!(d.report.reason, "PrimaryClusterNotFound");
    assert!(
        d.report.message.contains("primary-cluster does not exist in us-east-1"),
        "{}",
        d.report.message
    );
}

#[test]
fn primary_in_another_global_cluster_is_not_touched() {
    let o = Observation {
        primary: Seen::Found(cluster(
            "primary-cluster",
            PRIMARY_ARN,
            "available",
            Some("other-global"),
        )),
        ..obs(None)
    };
    let d = decide(&regions(), &spec(), &o);
    assert!(d.changes.is_empty());
    assert_eq!(d.report.reason, "PrimaryClusterInOtherGlobalCluster");
    assert!(d.report.message.contains("other-global"));
}

#[test]
fn creates_the_standby_cluster_with_the_global_engine() {
    let o = Observation {
        standby: Seen::Missing,
        ..obs(Some(global("available", &[(PRIMARY_ARN, true)])))
    };
    let d = decide(&regions(), &spec(), &o);
    let [Change::CreateStandbyCluster { region, request }] = d.changes.as_slice() else {
        panic!("expected one CreateStandbyCluster, got {:?}", d.changes)
    };
    assert_eq!(region, "us-west-2");
    assert_eq!(request.identifier, "dr-cluster");
    assert_eq!(request.engine, "aurora-postgresql");
    assert_eq!(request.engine_version.as_deref(), Some("15.4"));
    assert_eq!(request.db_subnet_group_name.as_deref(), Some("app-db-subnets"));
    assert_eq!(d.writer_region.as_deref(), Some("us-east-1"));
}

#[test]
fn an_existing_standalone_standby_cluster_is_never_adopted() {
    let o = Observation {
        standby: Seen::Found(cluster("dr-cluster", STANDBY_ARN, "available", None)),
        ..obs(Some(global("available", &[(PRIMARY_ARN, true)])))
    };
    let d = decide(&regions(), &spec(), &o);
    assert!(d.changes.is_empty());
    assert_eq!(d.report.reason, "StandbyClusterExists");
    assert_eq!(d.report.health, ComponentHealth::Misconfigured);
}

#[test]
fn a_foreign_global_cluster_is_a_conflict() {
    let other = "arn:aws:rds:eu-west-1:123456789012:cluster:someone-else";
    let d = decide(&regions(), &spec(), &obs(Some(global("available", &[(other, true)]))));
    assert!(d.changes.is_empty());
    assert_eq!(d.report.reason, "GlobalClusterConflict");
}

#[test]
fn creates_the_standby_instance_once_the_cluster_is_a_member() {
    let o = Observation {
        standby_instance: Seen::Missing,
        ..obs(Some(global("available", &[(PRIMARY_ARN, true), (STANDBY_ARN, false)])))
    };
    let mut s = spec();
    s.standby_instance_class = "db.r6g.large".into();
    let d = decide(&regions(), &s, &o);
    assert_eq!(
        d.changes,
        vec![Change::CreateStandbyInstance {
            region: "us-west-2".into(),
            identifier: "dr-cluster-1".into(),
            cluster_identifier: "dr-cluster".into(),
            instance_class: "db.r6g.large".into(),
            engine: "aurora-postgresql".into(),
        }]
    );
}

#[test]
fn waits_for_the_instance() {
    let o = Observation {
        standby_instance: Seen::Found(instance("creating")),
        ..replicating()
    };
    let d = decide(&regions(), &spec(), &o);
    assert!(d.changes.is_empty());
    assert_eq!(d.report.reason, "StandbyInstanceNotAvailable");
    assert_eq!(d.status.standby_instance_status.as_deref(), Some("creating"));
}

#[test]
fn replicating_within_threshold_is_healthy() {
    let o = Observation {
        lag: Some(LagSample {
            milliseconds: 250.0,
            at_epoch_seconds: 1_700_000_000,
        }),
        ..replicating()
    };
    let d = decide(&regions(), &spec(), &o);
    assert!(d.changes.is_empty());
    assert_eq!(d.report.health, ComponentHealth::Healthy);
    assert_eq!(d.report.message, "replicating from us-east-1 to us-west-2, lag 250ms");
    assert_eq!(d.status.replication_lag.as_deref(), Some("250ms"));
    assert_eq!(d.status.members.len(), 2);
    assert_eq!(d.status.standby_cluster_arn.as_deref(), Some(STANDBY_ARN));
    assert_eq!(d.status.replication_lag_ms, Some(250.0));
}

#[test]
fn lag_above_threshold_degrades() {
    let mut s = spec();
    s.max_replication_lag = GoDuration("2s".into());
    let o = Observation {
        lag: Some(LagSample {
            milliseconds: 7200.0,
            at_epoch_seconds: 1_700_000_000,
        }),
        ..replicating()
    };
    let d = decide(&regions(), &s, &o);
    assert_eq!(d.report.health, ComponentHealth::Degraded);
    assert_eq!(d.report.reason, "ReplicationLagHigh");
    assert!(d.report.message.contains("7.2s"), "{}", d.report.message);
}

#[test]
fn no_lag_datapoint_is_still_healthy_and_says_so() {
    let d = decide(&regions(), &spec(), &replicating());
    assert_eq!(d.report.health, ComponentHealth::Healthy);
    assert!(d.report.message.contains("has not reported the lag yet"));
    assert_eq!(d.status.replication_lag, None);
}

#[test]
fn after_a_failover_the_standby_is_the_writer() {
    let o = Observation {
        standby_instance: Seen::Found(instance("available")),
        ..obs(Some(global("available", &[(PRIMARY_ARN, false), (STANDBY_ARN, true)])))
    };
    let d = decide(&regions(), &spec(), &o);
    assert_eq!(d.writer_region.as_deref(), Some("us-west-2"));
    assert_eq!(d.report.health, ComponentHealth::Healthy);
    assert!(d.report.message.contains("from us-west-2 to us-east-1"));
    assert_eq!(
        secondary(o.global.as_ref().unwrap(), &regions(), &spec()),
        Some(("us-east-1", "primary-cluster"))
    );
}

#[test]
fn switchover_in_progress_is_converging() {
    let o = Observation {
        standby_instance: Seen::Found(instance("available")),
        ..obs(Some(global(
            "switching-over",
            &[(PRIMARY_ARN, true), (STANDBY_ARN, false)],
        )))
    };
    let d = decide(&regions(), &spec(), &o);
    assert_eq!(d.report.health, ComponentHealth::Converging);
    assert_eq!(d.status.global_cluster_status.as_deref(), Some("switching-over"));
}

#[test]
fn instance_identifier_defaults_from_the_cluster() {
    assert_eq!(standby_instance_identifier(&spec()), "dr-cluster-1");
    let mut s = spec();
    s.standby_instance_identifier = Some(RdsIdentifier("dr-instance-1".into()));
    assert_eq!(standby_instance_identifier(&s), "dr-instance-1");
}

#[test]
fn formats_lag_for_people() {
    assert_eq!(format_lag(12.4), "12ms");
    assert_eq!(format_lag(3250.0), "3.2s");
    assert_eq!(format_lag(125_000.0), "2m5s");
}

#[test]
fn a_stale_lag_datapoint_degrades() {
    let o = Observation {
        lag: Some(LagSample {
            milliseconds: 100.0,
            at_epoch_seconds: NOW - 600,
        }),
        ..replicating()
    };
    let d = decide(&regions(), &spec(), &o);
    assert_eq!(d.report.health, ComponentHealth::Degraded);
    assert_eq!(d.report.reason, "ReplicationLagStale");
    assert!(d.report.message.contains("600s old"), "{}", d.report.message);
    assert_eq!(
        d.status.replication_lag.as_deref(),
        Some("100ms (600s old, stale)"),
        "the LAG column says the sample is old"
    );
}

#[test]
fn reading_through_the_standby_region_reports_the_primary_region_unreachable() {
    let o = Observation {
        primary_region_error: Some(crate::aws::AwsError::unreachable(
            "rds",
            "DescribeGlobalClusters",
            "us-east-1",
        )),
        ..replicating()
    };
    let d = decide(&regions(), &spec(), &o);
    assert_eq!(d.report.health, ComponentHealth::Degraded);
    assert_eq!(d.report.reason, "PrimaryRegionUnreachable");
    assert!(
        d.report.message.contains("us-east-1 is unreachable"),
        "{}",
        d.report.message
    );
    assert_eq!(d.writer_region.as_deref(), Some("us-east-1"));
}

#[test]
fn an_unreachable_secondary_region_is_reported_and_the_writer_still_known() {
    let o = Observation {
        lag_error: Some(crate::aws::AwsError::unreachable(
            "monitoring",
            "GetMetricData",
            "us-west-2",
        )),
        ..replicating()
    };
    let d = decide(&regions(), &spec(), &o);
    assert_eq!(d.report.health, ComponentHealth::Degraded);
    assert_eq!(d.report.reason, "SecondaryRegionUnreachable");
    assert!(
        d.report
            .message
            .starts_with("the writer is in us-east-1; us-west-2 does not answer"),
        "{}",
        d.report.message
    );
    assert_eq!(d.writer_region.as_deref(), Some("us-east-1"));
}

#[test]
fn unchecked_lookups_never_count_as_missing() {
    let d = decide(&regions(), &spec(), &obs(None));
    assert!(d.changes.is_empty());
    assert_eq!(d.report.health, ComponentHealth::Converging);
    let o = obs(Some(global("available", &[(PRIMARY_ARN, true)])));
    let d = decide(&regions(), &spec(), &o);
    assert!(d.changes.is_empty(), "no standby is created before it was looked up");
}

#[test]
fn a_resized_standby_instance_is_sized_back_only_while_it_is_the_secondary() {
    let mut o = replicating();
    o.standby_instance = Seen::Found(DbInstance {
        instance_class: Some("db.r5.4xlarge".into()),
        ..instance("available")
    });
    let d = decide(&regions(), &spec(), &o);
    assert_eq!(
        d.changes,
        vec![Change::ResizeStandbyInstance {
            region: "us-west-2".into(),
            identifier: "dr-cluster-1".into(),
            from: "db.r5.4xlarge".into(),
            to: "db.r5.large".into(),
        }]
    );
    assert!(d.changes[0].is_warning());
    assert_eq!(d.report.reason, "ResizingStandbyInstance");
    // After a failover the standby cluster is the writer: its size is the failover's business.
    o.global = Some(global("available", &[(PRIMARY_ARN, false), (STANDBY_ARN, true)]));
    let d = decide(&regions(), &spec(), &o);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
}
