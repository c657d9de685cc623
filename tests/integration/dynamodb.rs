//! DynamoDB global-table replicas end to end: a replica is added in the standby region and
//! reported; a missing table is reported without any write.

use crate::common::*;
use serde_json::json;

async fn scenario(prefix: &str) -> (Scenario, String) {
    let mut s = Scenario::new(prefix).await;
    let table = format!("sessions-{}", unique_suffix());
    s.manifest["spec"] = json!({
        "regions": {"primary": "us-east-1", "standby": "us-west-2"},
        "storage": {"dynamodb": [{"tableName": table}]},
    });
    (s, table)
}

#[tokio::test]
async fn adds_a_replica_in_the_standby_region_and_reports_it() {
    let (mut s, table) = scenario("ddb-replica").await;
    create_table(&table).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s.wait_ready().await;

    let replica = dynamodb("us-west-2")
        .await
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("replica table");
    assert_eq!(
        replica.table().and_then(|t| t.table_status()).map(|s| s.as_str()),
        Some("ACTIVE")
    );
    let status = pl.status.unwrap();
    let reported = &status.storage.clone().unwrap().dynamodb[0];
    assert_eq!(reported.replica_status.as_deref(), Some("ACTIVE"));
    assert_eq!(condition(&status, "StorageReplicating").status, "True");
    assert!(s.event_reasons().await.iter().any(|r| r == "CreatingTableReplica"));
    let calls = Emulator::new().calls_by(&operator.app).await;
    let updates: Vec<_> = calls
        .iter()
        .filter(|c| c.action == "UpdateTable")
        .map(|c| c.region.as_str())
        .collect();
    assert_eq!(updates, ["us-east-1"], "one UpdateTable, in the table's region");
    operator.stop().await;
}

#[tokio::test]
async fn a_missing_table_is_reported_without_writes() {
    let (mut s, table) = scenario("ddb-missing").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let (_, message) = s.wait_for_reason("StorageReplicating", "False", "TableNotFound").await;
    assert!(
        message.contains(&format!("table {table} does not exist in us-east-1")),
        "{message}"
    );
    let calls = Emulator::new().calls_by(&operator.app).await;
    operator.stop().await;
    assert!(!calls.iter().any(|c| c.action == "UpdateTable"), "no write: {calls:?}");
}
