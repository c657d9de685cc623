//! The Aurora global database slice end to end: real kube-apiserver, the operator's
//! controllers, and the AWS emulator reached over HTTP by the real SDK clients.

use std::time::Duration;

use crate::common::*;
use kube::Api;
use pilot_light::api::{Phase, PilotLight};

fn mutating(calls: &[Call]) -> Vec<&Call> {
    calls
        .iter()
        .filter(|c| {
            ["Create", "Modify", "Delete", "Remove", "Failover", "Switchover"]
                .iter()
                .any(|p| c.action.starts_with(p))
        })
        .collect()
}

#[tokio::test]
async fn creates_global_cluster_standby_cluster_and_instance_then_reports_ready() {
    let mut s = Scenario::new("aurora-create").await;
    let primary_arn = create_primary_cluster("us-east-1", &s.names.primary).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s.wait_ready().await;

    // AWS holds what the seed's CLI commands create.
    let members = global_members(&s.names.global).await;
    let standby_arn = format!("arn:aws:rds:us-west-2:123456789012:cluster:{}", s.names.standby);
    assert!(
        members.contains(&(primary_arn, true)),
        "primary is the writer: {members:?}"
    );
    assert!(
        members.contains(&(standby_arn.clone(), false)),
        "standby is a secondary: {members:?}"
    );
    let instances = rds("us-west-2")
        .await
        .describe_db_instances()
        .db_instance_identifier(format!("{}-1", s.names.standby))
        .send()
        .await
        .unwrap();
    let instance = &instances.db_instances()[0];
    assert_eq!(instance.db_instance_class(), Some("db.r5.large"));
    assert_eq!(instance.db_cluster_identifier(), Some(s.names.standby.as_str()));

    // Status tells the same story.
    let status = pl.status.unwrap();
    let db = status.database.clone().unwrap();
    assert_eq!(status.active_region.as_deref(), Some("us-east-1"));
    assert_eq!(status.phase, Some(Phase::Ready));
    assert_eq!(db.writer_region.as_deref(), Some("us-east-1"));
    assert_eq!(db.standby_cluster_arn.as_deref(), Some(standby_arn.as_str()));
    assert_eq!(db.members.len(), 2);
    assert_eq!(status.observed_generation, Some(1));
    for c in &status.conditions {
        assert_eq!(c.observed_generation, Some(1), "{c:?}");
    }
    let replicating = condition(&status, "DatabaseReplicating");
    assert_eq!(replicating.status, "True");

    // Applications find the writer in the endpoints ConfigMap.
    let primary = rds("us-east-1")
        .await
        .describe_db_clusters()
        .db_cluster_identifier(&s.names.primary)
        .send()
        .await
        .unwrap();
    let primary_endpoint = primary.db_clusters()[0].endpoint().unwrap().to_owned();
    assert_eq!(db.writer_endpoint.as_deref(), Some(primary_endpoint.as_str()));
    let data = endpoints(&s).await;
    assert_eq!(data.get("activeRegion").map(String::as_str), Some("us-east-1"));
    assert_eq!(data.get("databaseWriterEndpoint"), Some(&primary_endpoint));

    let reasons = s.event_reasons().await;
    for expected in [
        "CreatingGlobalCluster",
        "CreatingStandbyCluster",
        "CreatingStandbyInstance",
        "Ready",
    ] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "missing Event {expected}: {reasons:?}"
        );
    }
    let calls = Emulator::new().calls_by(&operator.app).await;
    let changes: Vec<_> = mutating(&calls)
        .iter()
        .filter(|c| c.outcome == "ok")
        .map(|c| c.action.as_str())
        .collect();
    assert_eq!(
        changes,
        ["CreateGlobalCluster", "CreateDBCluster", "CreateDBInstance"],
        "each created once"
    );
    operator.stop().await;
}

#[tokio::test]
async fn adopts_an_existing_global_database_without_creating_anything() {
    let mut s = Scenario::new("aurora-adopt").await;
    let n = &s.names;
    let primary_arn = create_primary_cluster("us-east-1", &n.primary).await;
    let east = rds("us-east-1").await;
    let west = rds("us-west-2").await;
    east.create_global_cluster()
        .global_cluster_identifier(&n.global)
        .source_db_cluster_identifier(&primary_arn)
        .send()
        .await
        .unwrap();
    west.create_db_cluster()
        .db_cluster_identifier(&n.standby)
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .global_cluster_identifier(&n.global)
        .send()
        .await
        .unwrap();
    west.create_db_instance()
        .db_instance_identifier(format!("{}-1", n.standby))
        .db_cluster_identifier(&n.standby)
        .db_instance_class("db.r5.large")
        .engine("aurora-postgresql")
        .send()
        .await
        .unwrap();

    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    let calls = Emulator::new().calls_by(&operator.app).await;
    operator.stop().await;
    assert!(
        calls.iter().any(|c| c.action == "DescribeGlobalClusters"),
        "the operator's calls are in the log"
    );
    assert!(
        mutating(&calls).is_empty(),
        "adoption changes nothing in AWS: {:?}",
        mutating(&calls)
    );
}

#[tokio::test]
async fn missing_primary_cluster_is_reported_without_a_hot_loop() {
    let mut s = Scenario::new("aurora-missing").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let (pl, message) = s
        .wait_for_reason("DatabaseReplicating", "False", "PrimaryClusterNotFound")
        .await;
    let status = pl.status.unwrap();
    let expected = format!("primary cluster {} does not exist in us-east-1", s.names.primary);
    assert!(message.contains(&expected), "message tells what to fix: {message}");
    assert_eq!(status.phase, Some(Phase::Error));
    assert!(s.event_reasons().await.iter().any(|r| r == "PrimaryClusterNotFound"));

    // Converging requeues every 500 ms here; a configuration error must not: over 5 s there is
    // at most one more reconcile, and AWS is called only for it.
    let emulator = Emulator::new();
    let reconciles_before = operator.metrics.reconciliations("pilotlight");
    let calls_before = emulator.calls_by(&operator.app).await.len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let reconciles = operator.metrics.reconciliations("pilotlight") - reconciles_before;
    let calls = emulator.calls_by(&operator.app).await;
    operator.stop().await;
    assert!(
        reconciles <= 1,
        "{reconciles} reconciles in 5 s for a configuration error"
    );
    let new_calls = calls.len() - calls_before;
    assert!(new_calls <= 2, "{new_calls} AWS calls in 5 s for a configuration error");
    assert!(
        mutating(&calls).is_empty(),
        "nothing is created without a primary cluster: {:?}",
        mutating(&calls)
    );
}

#[tokio::test]
async fn reports_replication_lag_and_degrades_above_the_threshold() {
    let mut s = Scenario::new("aurora-lag").await;
    create_primary_cluster("us-east-1", &s.names.primary).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;

    // Aurora publishes the lag in the secondary's region, per secondary cluster (the emulator
    // as well, at the lag it simulates).
    Emulator::new()
        .set_replication_lag("us-west-2", &s.names.standby, Some(9000.0))
        .await;
    s.apply(|m| m["spec"]["database"]["aurora"]["maxReplicationLag"] = "2s".into())
        .await;
    let (pl, message) = s
        .wait_for_reason("DatabaseReplicating", "False", "ReplicationLagHigh")
        .await;
    assert!(message.contains("from us-east-1 to us-west-2 is 9.0s"), "{message}");
    let status = pl.status.unwrap();
    assert_eq!(
        status.database.as_ref().unwrap().replication_lag.as_deref(),
        Some("9.0s")
    );
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(status.phase, Some(Phase::Degraded));
    let ready = condition(&status, "Ready");
    assert_eq!((ready.status.as_str(), ready.observed_generation), ("False", Some(2)));
    assert!(ready.message.contains("maxReplicationLag 2s"), "{}", ready.message);
    let gauge = format!(
        "pilot_light_replication_lag_seconds{{namespace=\"{}\",name=\"app\"}} 9.0",
        s.ns.name
    );
    assert!(operator.metrics.render().contains(&gauge), "lag gauge exported");
    operator.stop().await;
}

#[tokio::test]
async fn condition_transition_time_changes_only_on_transitions() {
    let mut s = Scenario::new("aurora-ltt").await;
    create_primary_cluster("us-east-1", &s.names.primary).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let before = s.wait_ready().await;
    let ready_before = condition(&before.status.unwrap(), "Ready").clone();

    // A spec change that keeps everything Ready bumps observedGeneration but not the time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let emulator = Emulator::new();
    let calls_before = emulator.calls_by(&operator.app).await.len();
    s.apply(|m| m["spec"]["database"]["aurora"]["maxReplicationLag"] = "10s".into())
        .await;
    let api: Api<PilotLight> = Api::namespaced(s.client.clone(), &s.ns.name);
    let after = eventually(Duration::from_secs(60), || async {
        let pl = api.get("app").await.ok()?;
        (pl.status.as_ref()?.observed_generation == Some(2)).then_some(pl)
    })
    .await
    .expect("observedGeneration 2");
    let ready_after = condition(&after.status.unwrap(), "Ready").clone();
    assert_eq!(
        (ready_after.status.as_str(), ready_after.observed_generation),
        ("True", Some(2))
    );
    assert_eq!(ready_after.last_transition_time, ready_before.last_transition_time);

    // A converged database costs three reads per check (the README's steady-state claim): the
    // writer's endpoint is not described again while the writer stays the same.
    let calls = emulator.calls_by(&operator.app).await;
    let check: Vec<_> = calls[calls_before..].iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        check,
        ["DescribeGlobalClusters", "DescribeDBInstances", "GetMetricData"]
    );
    operator.stop().await;
}

#[tokio::test]
async fn deleting_the_pilotlight_retains_every_aws_resource() {
    let mut s = Scenario::new("aurora-retain").await;
    create_primary_cluster("us-east-1", &s.names.primary).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    let series = format!("namespace=\"{}\",name=\"app\"", s.ns.name);
    assert!(
        operator.metrics.render().contains(&series),
        "the PilotLight's series exist before it is deleted"
    );

    s.delete_pilotlight().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let calls = Emulator::new().calls_by(&operator.app).await;
    let metrics = operator.metrics.render();
    operator.stop().await;
    assert!(
        !metrics.contains(&series),
        "the deleted PilotLight's series are dropped:\n{metrics}"
    );

    let deletes: Vec<_> = calls
        .iter()
        .filter(|c| c.action.starts_with("Delete") || c.action.starts_with("Remove"))
        .collect();
    assert!(deletes.is_empty(), "deletionPolicy Retain must not delete: {deletes:?}");
    assert_eq!(
        global_members(&s.names.global).await.len(),
        2,
        "global cluster and both members remain"
    );
    let west = rds("us-west-2").await;
    assert!(
        west.describe_db_clusters()
            .db_cluster_identifier(&s.names.standby)
            .send()
            .await
            .is_ok()
    );
    assert!(
        west.describe_db_instances()
            .db_instance_identifier(format!("{}-1", s.names.standby))
            .send()
            .await
            .is_ok()
    );
}

async fn standby_instance_class(identifier: &str) -> Option<String> {
    rds("us-west-2")
        .await
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
        .ok()?
        .db_instances()
        .first()?
        .db_instance_class()
        .map(str::to_owned)
}

#[tokio::test]
async fn a_standby_instance_resized_by_hand_is_sized_back_with_a_warning() {
    let mut s = Scenario::new("aurora-resize").await;
    create_primary_cluster("us-east-1", &s.names.primary).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    operator.stop().await;

    let instance = format!("{}-1", s.names.standby);
    rds("us-west-2")
        .await
        .modify_db_instance()
        .db_instance_identifier(&instance)
        .db_instance_class("db.r5.4xlarge")
        .apply_immediately(true)
        .send()
        .await
        .expect("resize by hand");
    let operator = s.start_operator().await;
    let back = eventually(Duration::from_secs(60), || async {
        (standby_instance_class(&instance).await.as_deref() == Some("db.r5.large")).then_some(())
    })
    .await;
    assert!(back.is_some(), "the pilot instance is db.r5.large again");
    s.wait_ready().await;
    let reasons = s.event_reasons().await;
    assert!(
        reasons.iter().any(|r| r == "StandbyInstanceClassRepaired"),
        "{reasons:?}"
    );
    operator.stop().await;
}
