//! DynamoDB global-table replicas: each listed table gets a replica in the standby region.
//! Tables are never created or deleted; a replica is only ever added.

use crate::aws::states::TableStatus;
use crate::{
    api::{DynamoDbReplicaStatus, DynamoDbTableSpec, Regions},
    aws::{
        AwsClients, AwsError,
        dynamodb::{self, Table},
    },
};

use super::{ComponentReport, PlannedChange};

/// A replica to add.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateReplica {
    pub region: String,
    pub table: String,
    pub replica_region: String,
}

impl PlannedChange for CreateReplica {
    fn reason(&self) -> &'static str {
        "CreatingTableReplica"
    }

    fn describe(&self) -> String {
        format!(
            "Adding a replica of DynamoDB table {} ({}) in {}",
            self.table, self.region, self.replica_region
        )
    }

    fn apply(&self, aws: &AwsClients, _owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        apply(aws, self)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub changes: Vec<CreateReplica>,
    pub report: ComponentReport,
    pub status: Vec<DynamoDbReplicaStatus>,
}

/// Describes every table in the primary region (`None`: no such table).
pub async fn observe(
    aws: &AwsClients,
    regions: &Regions,
    tables: &[DynamoDbTableSpec],
) -> Result<Vec<Option<Table>>, AwsError> {
    let primary = aws.region(regions.primary.as_str());
    let mut observed = Vec::with_capacity(tables.len());
    for table in tables {
        observed.push(dynamodb::describe_table(&primary, &table.table_name).await?);
    }
    Ok(observed)
}

/// Decides which replicas to add and how healthy the replicas are. Pure: no I/O.
pub fn decide(regions: &Regions, tables: &[DynamoDbTableSpec], observed: &[Option<Table>]) -> Decision {
    let (primary, standby) = (regions.primary.as_str(), regions.standby.as_str());
    let mut changes = Vec::new();
    let mut reports = Vec::new();
    let mut status = Vec::new();
    for (spec, table) in tables.iter().zip(observed) {
        let name = spec.table_name.as_str();
        let Some(table) = table else {
            status.push(DynamoDbReplicaStatus {
                table_name: name.to_owned(),
                table_status: "Missing".into(),
                replica_status: None,
            });
            reports.push(ComponentReport::misconfigured(
                "TableNotFound",
                format!("DynamoDB table {name} does not exist in {primary}: create it or fix spec.storage.dynamodb[].tableName (the operator never creates tables)"),
            ));
            continue;
        };
        let replica = table
            .replicas
            .iter()
            .find(|(region, _)| region == standby)
            .map(|(_, s)| s.clone());
        status.push(DynamoDbReplicaStatus {
            table_name: name.to_owned(),
            table_status: table.status.to_string(),
            replica_status: replica.as_ref().map(TableStatus::to_string),
        });
        reports.push(match &replica {
            None if table.status == TableStatus::Active => {
                changes.push(CreateReplica {
                    region: primary.to_owned(),
                    table: name.to_owned(),
                    replica_region: standby.to_owned(),
                });
                ComponentReport::converging(
                    "CreatingTableReplica",
                    format!("adding a replica of {name} in {standby}"),
                )
            }
            None => ComponentReport::converging(
                "TableNotActive",
                format!(
                    "waiting for table {name} to be ACTIVE (it is {}) before adding its replica",
                    table.status
                ),
            ),
            Some(TableStatus::Active) => {
                ComponentReport::healthy("Replicating", format!("{name} has an ACTIVE replica in {standby}"))
            }
            Some(creating @ (TableStatus::Creating | TableStatus::Updating)) => ComponentReport::converging(
                "TableReplicaCreating",
                format!("the replica of {name} in {standby} is {creating}"),
            ),
            Some(other) => ComponentReport::degraded(
                "TableReplicaUnhealthy",
                format!("the replica of {name} in {standby} is {other}"),
            ),
        });
    }
    let report = ComponentReport::combine(reports);
    Decision {
        changes,
        report,
        status,
    }
}

pub async fn apply(aws: &AwsClients, change: &CreateReplica) -> Result<(), AwsError> {
    dynamodb::create_replica(&aws.region(&change.region), &change.table, &change.replica_region).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pilotlight::ComponentHealth;

    use crate::pilotlight::test_regions as regions;

    fn tables() -> Vec<DynamoDbTableSpec> {
        vec![DynamoDbTableSpec {
            table_name: "app-sessions".into(),
        }]
    }

    fn table(status: &str, replicas: &[(&str, &str)]) -> Option<Table> {
        Some(Table {
            status: status.into(),
            replicas: replicas.iter().map(|(r, s)| ((*r).into(), (*s).into())).collect(),
        })
    }

    #[test]
    fn adds_the_missing_replica() {
        let d = decide(&regions(), &tables(), &[table("ACTIVE", &[])]);
        assert_eq!(
            d.changes,
            vec![CreateReplica {
                region: "us-east-1".into(),
                table: "app-sessions".into(),
                replica_region: "us-west-2".into()
            }]
        );
        assert_eq!(d.report.health, ComponentHealth::Converging);
    }

    #[test]
    fn an_active_replica_is_healthy_and_other_regions_do_not_count() {
        let d = decide(
            &regions(),
            &tables(),
            &[table("ACTIVE", &[("eu-west-1", "ACTIVE"), ("us-west-2", "ACTIVE")])],
        );
        assert!(d.changes.is_empty());
        assert_eq!(d.report.health, ComponentHealth::Healthy);
        assert_eq!(d.status[0].replica_status.as_deref(), Some("ACTIVE"));
        let d = decide(&regions(), &tables(), &[table("ACTIVE", &[("eu-west-1", "ACTIVE")])]);
        assert_eq!(d.changes.len(), 1, "a replica elsewhere is not the standby's");
    }

    #[test]
    fn waits_while_creating_and_degrades_on_failure() {
        let d = decide(
            &regions(),
            &tables(),
            &[table("UPDATING", &[("us-west-2", "CREATING")])],
        );
        assert!(d.changes.is_empty());
        assert_eq!(d.report.reason, "TableReplicaCreating");
        let d = decide(
            &regions(),
            &tables(),
            &[table("ACTIVE", &[("us-west-2", "CREATION_FAILED")])],
        );
        assert_eq!(d.report.health, ComponentHealth::Degraded);
        assert!(d.report.message.contains("CREATION_FAILED"));
    }

    #[test]
    fn a_missing_table_is_a_configuration_error() {
        let d = decide(&regions(), &tables(), &[None]);
        assert!(d.changes.is_empty());
        assert_eq!(d.report.reason, "TableNotFound");
        assert_eq!(d.status[0].table_status, "Missing");
    }
}
