//! The Aurora global database slice end to end: real kube-apiserver, the operator's
//! controllers, and the AWS emulator reached over HTTP by the real SDK clients.

mod common;

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use common::*;
use kube::{Api, api::DeleteParams};
use pilot_light::api::PilotLight;

const CONVERGE: Duration = Duration::from_secs(60);

struct Names {
    global: String,
    primary: String,
    standby: String,
}

fn names() -> Names {
    let s = unique_suffix();
    Names {
        global: format!("g-{s}"),
        primary: format!("p-{s}"),
        standby: format!("s-{s}"),
    }
}

async fn global_members(global: &str) -> Vec<(String, bool)> {
    let out = rds("us-west-2")
        .await
        .describe_global_clusters()
        .global_cluster_identifier(global)
        .send()
        .await
        .unwrap();
    let g = &out.global_clusters()[0];
    g.global_cluster_members()
        .iter()
        .map(|m| {
            (
                m.db_cluster_arn().unwrap().to_owned(),
                m.is_writer().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn creates_global_cluster_standby_cluster_and_instance_then_reports_ready() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "aurora-create").await;
    let n = names();
    let primary_arn = create_primary_cluster("us-east-1", &n.primary).await;
    let operator = Operator::start(&client, fast_settings(&ns.name)).await;

    apply_pilotlight(
        &client,
        &ns.name,
        aurora_pilotlight("app", &n.primary, &n.standby, &n.global),
    )
    .await;
    let pl = wait_condition(&client, &ns.name, "app", "Ready", "True", None, CONVERGE).await;

    // AWS holds what the seed's CLI commands create.
    let members = global_members(&n.global).await;
    let standby_arn = format!("arn:aws:rds:us-west-2:123456789012:cluster:{}", n.standby);
    assert!(
        members.contains(&(primary_arn.clone(), true)),
        "primary is the writer: {members:?}"
    );
    assert!(
        members.contains(&(standby_arn.clone(), false)),
        "standby is a secondary: {members:?}"
    );
    let instance = rds("us-west-2")
        .await
        .describe_db_instances()
        .db_instance_identifier(format!("{}-1", n.standby))
        .send()
        .await
        .unwrap();
    let instance = &instance.db_instances()[0];
    assert_eq!(instance.db_instance_class(), Some("db.r5.large"));
    assert_eq!(instance.db_cluster_identifier(), Some(n.standby.as_str()));

    // Status tells the same story.
    let status = pl.status.unwrap();
    let db = status.database.unwrap();
    assert_eq!(status.active_region.as_deref(), Some("us-east-1"));
    assert_eq!(db.writer_region.as_deref(), Some("us-east-1"));
    assert_eq!(
        db.standby_cluster_arn.as_deref(),
        Some(standby_arn.as_str())
    );
    assert_eq!(db.members.len(), 2);
    assert_eq!(status.observed_generation, Some(1));
    for c in &status.conditions {
        assert_eq!(c.observed_generation, Some(1), "{c:?}");
    }
    let replicating = status
        .conditions
        .iter()
        .find(|c| c.type_ == "DatabaseReplicating")
        .unwrap();
    assert_eq!(replicating.status, "True");

    let reasons = event_reasons(&client, &ns.name, "app").await;
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
    operator.stop().await;
}

#[tokio::test]
async fn adopts_an_existing_global_database_without_creating_anything() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "aurora-adopt").await;
    let n = names();
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

    let operator = Operator::start(&client, fast_settings(&ns.name)).await;
    let operator_app = operator.app.clone();
    apply_pilotlight(
        &client,
        &ns.name,
        aurora_pilotlight("app", &n.primary, &n.standby, &n.global),
    )
    .await;
    wait_condition(&client, &ns.name, "app", "Ready", "True", None, CONVERGE).await;
    operator.stop().await;

    let calls = Emulator::new().calls_by(&operator_app).await;
    assert!(!calls.is_empty(), "the operator's calls are in the log");
    let creates: Vec<_> = calls
        .into_iter()
        .filter(|c| {
            c.action.starts_with("Create")
                || c.action.starts_with("Modify")
                || c.action.starts_with("Delete")
        })
        .collect();
    assert!(
        creates.is_empty(),
        "adoption must not create, modify or delete anything: {creates:?}"
    );
}

#[tokio::test]
async fn missing_primary_cluster_is_reported_without_a_hot_loop() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "aurora-missing").await;
    let n = names();
    let operator = Operator::start(&client, fast_settings(&ns.name)).await;
    apply_pilotlight(
        &client,
        &ns.name,
        aurora_pilotlight("app", &n.primary, &n.standby, &n.global),
    )
    .await;

    let pl = wait_condition(
        &client,
        &ns.name,
        "app",
        "DatabaseReplicating",
        "False",
        Some("PrimaryClusterNotFound"),
        CONVERGE,
    )
    .await;
    let condition = pl
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "DatabaseReplicating")
        .unwrap();
    assert!(
        condition.message.contains(&format!(
            "primary cluster {} does not exist in us-east-1",
            n.primary
        )),
        "message tells what to fix: {}",
        condition.message
    );
    assert_eq!(
        pl.status.as_ref().unwrap().phase,
        Some(pilot_light::api::Phase::Error)
    );
    assert!(
        event_reasons(&client, &ns.name, "app")
            .await
            .iter()
            .any(|r| r == "PrimaryClusterNotFound")
    );

    // Converging requeues every 500 ms here; a configuration error must not: over 5 s the
    // operator reconciles at most twice and calls AWS only for those reconciles.
    let reconciles_before = operator.metrics.reconciliations("pilotlight");
    let calls_before = Emulator::new().calls_by(&operator.app).await.len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let reconciles = operator.metrics.reconciliations("pilotlight") - reconciles_before;
    let calls = Emulator::new().calls_by(&operator.app).await;
    assert!(
        reconciles <= 1,
        "{reconciles} reconciles in 5 s for a configuration error"
    );
    assert!(
        calls.len() - calls_before <= 2,
        "{} AWS calls in 5 s for a configuration error",
        calls.len() - calls_before
    );
    let creates: Vec<_> = calls
        .iter()
        .filter(|c| c.action.starts_with("Create"))
        .collect();
    assert!(
        creates.is_empty(),
        "nothing is created without a primary cluster: {creates:?}"
    );
    operator.stop().await;
}

#[tokio::test]
async fn reports_replication_lag_and_degrades_above_the_threshold() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "aurora-lag").await;
    let n = names();
    create_primary_cluster("us-east-1", &n.primary).await;
    let operator = Operator::start(&client, fast_settings(&ns.name)).await;
    let mut manifest = aurora_pilotlight("app", &n.primary, &n.standby, &n.global);
    apply_pilotlight(&client, &ns.name, manifest.clone()).await;
    wait_condition(&client, &ns.name, "app", "Ready", "True", None, CONVERGE).await;

    // Aurora publishes the lag in the secondary's region, per secondary cluster.
    let put_lag = |ms: f64| {
        let standby = n.standby.clone();
        async move {
            cloudwatch("us-west-2")
                .await
                .put_metric_data()
                .namespace("AWS/RDS")
                .metric_data(
                    MetricDatum::builder()
                        .metric_name("AuroraGlobalDBReplicationLag")
                        .dimensions(
                            Dimension::builder()
                                .name("DBClusterIdentifier")
                                .value(standby)
                                .build(),
                        )
                        .value(ms)
                        .unit(StandardUnit::Milliseconds)
                        .timestamp(aws_smithy_types::DateTime::from(
                            std::time::SystemTime::now(),
                        ))
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    put_lag(9000.0).await;
    // A spec change triggers a reconcile at once (the metric alone waits for the next requeue).
    manifest["spec"]["database"]["aurora"]["maxReplicationLag"] = "2s".into();
    apply_pilotlight(&client, &ns.name, manifest).await;
    let pl = wait_condition(
        &client,
        &ns.name,
        "app",
        "DatabaseReplicating",
        "False",
        Some("ReplicationLagHigh"),
        CONVERGE,
    )
    .await;
    let status = pl.status.unwrap();
    assert_eq!(
        status.database.as_ref().unwrap().replication_lag.as_deref(),
        Some("9.0s")
    );
    assert_eq!(status.observed_generation, Some(2));
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "False");
    assert_eq!(ready.observed_generation, Some(2));
    assert!(
        ready.message.contains("maxReplicationLag 2s"),
        "{}",
        ready.message
    );
    let metrics = operator.metrics.render();
    assert!(
        metrics.contains(&format!(
            "pilot_light_replication_lag_seconds{{namespace=\"{}\",name=\"app\"}} 9.0",
            ns.name
        )),
        "lag gauge exported"
    );
    operator.stop().await;
}

#[tokio::test]
async fn condition_transition_time_changes_only_on_transitions() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "aurora-ltt").await;
    let n = names();
    create_primary_cluster("us-east-1", &n.primary).await;
    let operator = Operator::start(&client, fast_settings(&ns.name)).await;
    let mut manifest = aurora_pilotlight("app", &n.primary, &n.standby, &n.global);
    apply_pilotlight(&client, &ns.name, manifest.clone()).await;
    let before = wait_condition(&client, &ns.name, "app", "Ready", "True", None, CONVERGE).await;
    let ready_before = before
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();

    // A spec change that keeps everything Ready bumps observedGeneration but not the time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    manifest["spec"]["database"]["aurora"]["maxReplicationLag"] = "10s".into();
    apply_pilotlight(&client, &ns.name, manifest).await;
    let api: Api<PilotLight> = Api::namespaced(client.clone(), &ns.name);
    let after = eventually(CONVERGE, || async {
        let pl = api.get("app").await.ok()?;
        (pl.status.as_ref()?.observed_generation == Some(2)).then_some(pl)
    })
    .await
    .expect("observedGeneration 2");
    let ready_after = after
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready_after.status, "True");
    assert_eq!(ready_after.observed_generation, Some(2));
    assert_eq!(
        ready_after.last_transition_time,
        ready_before.last_transition_time
    );
    operator.stop().await;
}

#[tokio::test]
async fn deleting_the_pilotlight_retains_every_aws_resource() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "aurora-retain").await;
    let n = names();
    create_primary_cluster("us-east-1", &n.primary).await;
    let operator = Operator::start(&client, fast_settings(&ns.name)).await;
    let operator_app = operator.app.clone();
    apply_pilotlight(
        &client,
        &ns.name,
        aurora_pilotlight("app", &n.primary, &n.standby, &n.global),
    )
    .await;
    wait_condition(&client, &ns.name, "app", "Ready", "True", None, CONVERGE).await;

    let api: Api<PilotLight> = Api::namespaced(client.clone(), &ns.name);
    api.delete("app", &DeleteParams::default()).await.unwrap();
    eventually(Duration::from_secs(20), || async {
        api.get_opt("app").await.ok()?.is_none().then_some(())
    })
    .await
    .expect("PilotLight deleted");
    tokio::time::sleep(Duration::from_secs(1)).await;
    operator.stop().await;

    let deletes: Vec<_> = Emulator::new()
        .calls_by(&operator_app)
        .await
        .into_iter()
        .filter(|c| c.action.starts_with("Delete") || c.action.starts_with("Remove"))
        .collect();
    assert!(
        deletes.is_empty(),
        "deletionPolicy Retain must not delete: {deletes:?}"
    );
    assert_eq!(
        global_members(&n.global).await.len(),
        2,
        "global cluster and both members remain"
    );
    let west = rds("us-west-2").await;
    assert!(
        west.describe_db_clusters()
            .db_cluster_identifier(&n.standby)
            .send()
            .await
            .is_ok()
    );
    assert!(
        west.describe_db_instances()
            .db_instance_identifier(format!("{}-1", n.standby))
            .send()
            .await
            .is_ok()
    );
}
