//! RDS DB instances with a cross-region read replica (`spec.database.rds`) end to end: the real
//! kube-apiserver, the operator's controllers, and the emulator over HTTP with the real SDK.

use std::time::Duration;

use crate::common::{failover::*, *};
use pilot_light::api::{EstimateBasis, PilotLight, RequestPhase::*, StepState};
use serde_json::json;

const FINAL: &[pilot_light::api::RequestPhase] = &[Succeeded, Failed, Rejected, Cancelled];

fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:123456789012:db:{id}")
}

/// A scenario whose PilotLight has only an RDS database; source and replica names are its own.
async fn rds_scenario(prefix: &str) -> (Scenario, String, String) {
    let mut s = Scenario::new(prefix).await;
    let (source, replica) = (format!("{}-db", s.names.primary), format!("{}-dr", s.names.primary));
    s.manifest = rds_pilotlight(&source, &replica);
    (s, source, replica)
}

fn created_by_operator(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.outcome == "ok" && is_mutating(&c.action))
        .map(|c| format!("{} {}", c.action, c.region))
        .collect()
}

#[tokio::test]
async fn creates_the_cross_region_read_replica_then_reports_ready_with_its_lag() {
    let (mut s, source, replica) = rds_scenario("rds-create").await;
    let source_arn = create_source_instance("us-east-1", &source, false).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s.wait_ready().await;

    let made = db_instance("us-west-2", &replica).await.expect("replica exists");
    assert_eq!(
        made.read_replica_source_db_instance_identifier(),
        Some(source_arn.as_str())
    );
    assert_eq!(made.db_instance_class(), Some("db.t3.medium"));
    let status = pl.status.unwrap();
    assert_eq!(status.active_region.as_deref(), Some("us-east-1"));
    let db = status.database.unwrap();
    let rds = db.rds.clone().unwrap();
    assert_eq!(rds.writer.unwrap().identifier, source);
    assert_eq!(rds.replica.unwrap().identifier, replica);
    assert_eq!(rds.replication_state.as_deref(), Some("replicating"));
    let lag = eventually(Duration::from_secs(30), || async {
        pilotlight(&s).await.status?.database?.replication_lag
    })
    .await;
    assert_eq!(lag.as_deref(), Some("1.0s"), "ReplicaLag (seconds) shown as lag");
    let message = condition(&pilotlight(&s).await.status.unwrap(), "DatabaseReplicating")
        .message
        .clone();
    assert!(
        message.contains(&format!(
            "replicating from {source} in us-east-1 to {replica} in us-west-2"
        )),
        "{message}"
    );
    let endpoint = db_instance("us-east-1", &source)
        .await
        .unwrap()
        .endpoint()
        .unwrap()
        .address()
        .unwrap()
        .to_owned();
    assert_eq!(endpoints(&s).await.get("databaseWriterEndpoint"), Some(&endpoint));
    assert!(s.event_reasons().await.iter().any(|r| r == "CreatingReadReplica"));
    let calls = Emulator::new().calls_by(&operator.app).await;
    assert_eq!(
        created_by_operator(&calls),
        ["CreateDBInstanceReadReplica us-west-2"],
        "created once"
    );
    operator.stop().await;
}

#[tokio::test]
async fn adopts_an_existing_replica_repairs_its_class_and_reports_broken_replication() {
    let (mut s, source, replica) = rds_scenario("rds-adopt").await;
    let source_arn = create_source_instance("us-east-1", &source, false).await;
    rds("us-west-2")
        .await
        .create_db_instance_read_replica()
        .db_instance_identifier(&replica)
        .source_db_instance_identifier(&source_arn)
        .db_instance_class("db.r5.4xlarge")
        .send()
        .await
        .expect("replica made by hand");
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    let resized = eventually(Duration::from_secs(30), || async {
        let class = db_instance("us-west-2", &replica)
            .await?
            .db_instance_class()?
            .to_owned();
        (class == "db.t3.medium").then_some(class)
    })
    .await;
    assert!(
        resized.is_some(),
        "the hand-resized replica goes back to replicaInstanceClass"
    );
    assert!(
        s.warning_notes()
            .await
            .iter()
            .any(|n| n.contains("resizing it back to db.t3.medium"))
    );

    Emulator::new().set_replica_status("us-west-2", &replica, "error").await;
    s.apply(|m| m["spec"]["database"]["rds"]["maxReplicationLag"] = json!("45s"))
        .await;
    let (_, message) = s
        .wait_for_reason("DatabaseReplicating", "False", "ReplicationBroken")
        .await;
    assert!(
        message.contains("is error (StatusInfos)") && message.contains("never deletes or recreates"),
        "{message}"
    );
    let calls = Emulator::new().calls_by(&operator.app).await;
    assert_eq!(
        created_by_operator(&calls),
        ["ModifyDBInstance us-west-2"],
        "nothing created, only the class repaired"
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_missing_source_and_an_encrypted_source_without_a_key_are_clear_errors() {
    let (mut s, source, replica) = rds_scenario("rds-bad").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let (_, message) = s
        .wait_for_reason("DatabaseReplicating", "False", "SourceInstanceNotFound")
        .await;
    assert!(
        message.contains(&format!("source instance {source} does not exist in us-east-1")),
        "{message}"
    );

    create_source_instance("us-east-1", &source, true).await;
    s.apply(|m| m["spec"]["database"]["rds"]["maxReplicationLag"] = json!("31s"))
        .await;
    let (_, message) = s
        .wait_for_reason("DatabaseReplicating", "False", "KmsKeyRequired")
        .await;
    assert!(message.contains("set spec.database.rds.kmsKeyId"), "{message}");
    assert!(db_instance("us-west-2", &replica).await.is_none());

    s.apply(|m| m["spec"]["database"]["rds"]["kmsKeyId"] = json!("alias/dr"))
        .await;
    s.wait_ready().await;
    let made = db_instance("us-west-2", &replica).await.unwrap();
    assert_eq!(
        (made.storage_encrypted(), made.kms_key_id()),
        (Some(true), Some("alias/dr"))
    );
    operator.stop().await;
}

/// The PilotLight once condition DatabaseReplicating is True with `writer` writing.
async fn replicating_with_writer(s: &Scenario, region: &str, writer: &str) -> PilotLight {
    eventually(Duration::from_secs(60), || async {
        let pl = pilotlight(s).await;
        let status = pl.status.as_ref()?;
        let w = status.database.as_ref()?.rds.as_ref()?.writer.as_ref()?;
        let replicating = condition(status, "DatabaseReplicating").status == "True";
        (w.region == region && w.identifier == writer && replicating).then_some(pl.clone())
    })
    .await
    .unwrap_or_else(|| panic!("{writer} in {region} never wrote with a replica"))
}

#[tokio::test]
async fn a_switchover_promotes_the_caught_up_replica_and_a_failback_waits_for_zero_lag_on_the_replica_made_back() {
    let (mut s, source, replica) = rds_scenario("rds-move").await;
    create_source_instance("us-east-1", &source, false).await;
    let emulator = Emulator::new();
    // The standby replica has caught up from its first datapoint on (writes stopped).
    emulator.set_replica_lag("us-west-2", &replica, 0.0).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;

    create_request(&s, "planned", "Switchover", json!({})).await;
    let done = wait_phase(&s, "planned", FINAL, Duration::from_secs(60)).await;
    let status = done.status.unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    let rpo = status.data_loss.unwrap();
    assert_eq!(rpo.basis, EstimateBasis::Zero);
    assert!(rpo.reason.contains("RDS has no zero-loss switchover"), "{}", rpo.reason);
    let promoted = db_instance("us-west-2", &replica).await.unwrap();
    assert_eq!(
        promoted.read_replica_source_db_instance_identifier(),
        None,
        "standalone now"
    );

    // Convergence protects the new direction: a replica of the promoted instance in us-east-1,
    // under the replica's name (the source's is taken there by the old writer).
    let pl = replicating_with_writer(&s, "us-west-2", &replica).await;
    let back = db_instance("us-east-1", &replica)
        .await
        .expect("replica back in us-east-1");
    assert_eq!(
        back.read_replica_source_db_instance_identifier(),
        Some(arn("us-west-2", &replica).as_str())
    );
    let rds = pl.status.unwrap().database.unwrap().rds.unwrap();
    assert_eq!(rds.orphaned.len(), 1, "{rds:?}");
    assert_eq!(
        (rds.orphaned[0].region.as_str(), rds.orphaned[0].identifier.as_str()),
        ("us-east-1", source.as_str())
    );
    assert!(
        db_instance("us-east-1", &source).await.is_some(),
        "the old writer is kept"
    );

    // The replica back has the emulator's default ReplicaLag of 1 s: the failback waits for 0,
    // which CloudWatch shows once a whole minute's datapoints are 0 (Maximum over 60 s).
    create_request(&s, "home", "Failback", json!({})).await;
    let waiting = eventually(Duration::from_secs(30), || async {
        let r = requests(&s).get("home").await.ok()?;
        let step = r.status?.steps.into_iter().find(|x| x.name == "PromoteDatabase")?;
        step.message.filter(|m| m.contains("waiting for ReplicaLag"))
    })
    .await
    .expect("the failback waits for the replica to catch up");
    assert!(waiting.contains("stop writes to the writer first"), "{waiting}");
    assert!(
        db_instance("us-east-1", &replica)
            .await
            .unwrap()
            .read_replica_source_db_instance_identifier()
            .is_some()
    );
    emulator.set_replica_lag("us-east-1", &replica, 0.0).await;
    let done = wait_phase(&s, "home", FINAL, Duration::from_secs(150)).await;
    assert_eq!(
        done.status.as_ref().unwrap().phase,
        Some(Succeeded),
        "{:#?}",
        done.status
    );
    let pl = replicating_with_writer(&s, "us-east-1", &replica).await;
    assert_eq!(pl.status.as_ref().unwrap().active_region.as_deref(), Some("us-east-1"));
    let forward = db_instance("us-west-2", &source).await.expect("a new standby replica");
    assert_eq!(
        forward.read_replica_source_db_instance_identifier(),
        Some(arn("us-east-1", &replica).as_str())
    );
    let step = done
        .status
        .unwrap()
        .steps
        .into_iter()
        .find(|x| x.name == "PromoteDatabase")
        .unwrap();
    assert_eq!(step.state, StepState::Succeeded);
    let endpoint = back.endpoint().unwrap().address().unwrap().to_owned();
    assert_eq!(endpoints(&s).await.get("databaseWriterEndpoint"), Some(&endpoint));
    operator.stop().await;
}
