//! DynamoDB global-table replicas (version 2019.11.21) through the DynamoDB API.

use aws_sdk_dynamodb::types::{CreateReplicationGroupMemberAction, ReplicationGroupUpdate};

use super::{AwsError, RegionalClients, found, states::TableStatus};

/// A table and its replicas, as seen from its own region.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub status: TableStatus,
    /// (region, replica status) of every other region's replica.
    pub replicas: Vec<(String, TableStatus)>,
}

/// The table, or `None` when it does not exist.
pub async fn describe_table(aws: &RegionalClients, table: &str) -> Result<Option<Table>, AwsError> {
    let out = aws.dynamodb.describe_table().table_name(table).send().await;
    let out = found(out.map_err(|e| AwsError::from_sdk("dynamodb", "DescribeTable", &aws.region, e)))?;
    Ok(out.as_ref().and_then(|o| o.table()).map(|t| Table {
        status: t.table_status().map_or("UNKNOWN", |s| s.as_str()).into(),
        replicas: t
            .replicas()
            .iter()
            .map(|r| {
                (
                    r.region_name().unwrap_or_default().to_owned(),
                    r.replica_status().map_or("UNKNOWN", |s| s.as_str()).into(),
                )
            })
            .collect(),
    }))
}

/// Adds a replica of `table` in `replica_region` (the table becomes a global table).
pub async fn create_replica(aws: &RegionalClients, table: &str, replica_region: &str) -> Result<(), AwsError> {
    let create = CreateReplicationGroupMemberAction::builder()
        .region_name(replica_region)
        .build()
        .map_err(|e| AwsError::invalid_request("dynamodb", "UpdateTable", &aws.region, e.to_string()))?;
    aws.dynamodb
        .update_table()
        .table_name(table)
        .replica_updates(ReplicationGroupUpdate::builder().create(create).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("dynamodb", "UpdateTable", &aws.region, e))?;
    Ok(())
}
