//! DynamoDB global-table replicas: each listed table gets a replica in the standby region (after a
//! failover: in the primary region, the one the serving region's writes must reach).
//! Tables are never created or deleted; a replica is only ever added.

use crate::aws::states::TableStatus;
use crate::{
    api::{DynamoDbReplicaStatus, DynamoDbTableSpec},
    aws::{
        AwsClients, AwsError,
        dynamodb::{self, Table},
    },
};

use super::{ComponentReport, PlannedChange, Serving};

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

/// Describes every table in the serving region (`None`: no such table). A global table lists
/// its replicas from any of them, and the serving one answers in an outage of the other.
pub async fn observe(
    aws: &AwsClients,
    serving: Serving<'_>,
    tables: &[DynamoDbTableSpec],
) -> Result<Vec<Option<Table>>, AwsError> {
    let active = aws.region(serving.active);
    let mut observed = Vec::with_capacity(tables.len());
    for table in tables {
        observed.push(dynamodb::describe_table(&active, &table.table_name).await?);
    }
    Ok(observed)
}

/// Decides which replicas to add and how healthy the replicas are: the serving region's table
/// must have an ACTIVE replica in the other region. Pure: no I/O.
pub fn decide(serving: Serving<'_>, tables: &[DynamoDbTableSpec], observed: &[Option<Table>]) -> Decision {
    let (active, other) = (serving.active, serving.other);
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
            let fix = match serving.moved {
                false => "create it or fix spec.storage.dynamodb[].tableName (the operator never creates tables)",
                true => {
                    "the serving region has lost its replica; the other region's table holds the data (the operator never creates or deletes tables)"
                }
            };
            reports.push(ComponentReport::misconfigured(
                "TableNotFound",
                format!(
                    "DynamoDB table {name} does not exist in {}: {fix}",
                    serving.active_label()
                ),
            ));
            continue;
        };
        let replica = table
            .replicas
            .iter()
            .find(|(region, _)| region == other)
            .map(|(_, s)| s.clone());
        status.push(DynamoDbReplicaStatus {
            table_name: name.to_owned(),
            table_status: table.status.to_string(),
            replica_status: replica.as_ref().map(TableStatus::to_string),
        });
        reports.push(match &replica {
            None if table.status == TableStatus::Active => {
                changes.push(CreateReplica {
                    region: active.to_owned(),
                    table: name.to_owned(),
                    replica_region: other.to_owned(),
                });
                ComponentReport::converging(
                    "CreatingTableReplica",
                    format!(
                        "writes to {name} in {} are not replicated: adding its replica in {other}",
                        serving.active_label()
                    ),
                )
            }
            None => ComponentReport::converging(
                "TableNotActive",
                format!(
                    "waiting for table {name} in {active} to be ACTIVE (it is {}) before adding its replica in {other}",
                    table.status
                ),
            ),
            Some(TableStatus::Active) => ComponentReport::healthy(
                "Replicating",
                format!(
                    "writes to {name} in {} replicate to its ACTIVE replica in {other}",
                    serving.active_label()
                ),
            ),
            Some(creating @ (TableStatus::Creating | TableStatus::Updating)) => ComponentReport::converging(
                "TableReplicaCreating",
                format!("the replica of {name} in {other} is {creating}; writes in {active} reach it once it is ACTIVE"),
            ),
            Some(other_status) => ComponentReport::degraded(
                "TableReplicaUnhealthy",
                format!(
                    "the replica of {name} in {other} is {other_status}: writes in {} are not protected; see the table's replica in the DynamoDB console",
                    serving.active_label()
                ),
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

    /// Decides with the spec's primary serving, or with `active` serving.
    fn decide_in(active: Option<&str>, observed: &[Option<Table>]) -> Decision {
        let regions = regions();
        decide(Serving::of(&regions, active), &tables(), observed)
    }

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
        let d = decide_in(None, &[table("ACTIVE", &[])]);
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
        let d = decide_in(
            None,
            &[table("ACTIVE", &[("eu-west-1", "ACTIVE"), ("us-west-2", "ACTIVE")])],
        );
        assert!(d.changes.is_empty());
        assert_eq!(d.report.health, ComponentHealth::Healthy);
        assert_eq!(d.status[0].replica_status.as_deref(), Some("ACTIVE"));
        let d = decide_in(None, &[table("ACTIVE", &[("eu-west-1", "ACTIVE")])]);
        assert_eq!(d.changes.len(), 1, "a replica elsewhere is not the standby's");
    }

    #[test]
    fn waits_while_creating_and_degrades_on_failure() {
        let d = decide_in(None, &[table("UPDATING", &[("us-west-2", "CREATING")])]);
        assert!(d.changes.is_empty());
        assert_eq!(d.report.reason, "TableReplicaCreating");
        let d = decide_in(None, &[table("ACTIVE", &[("us-west-2", "CREATION_FAILED")])]);
        assert_eq!(d.report.health, ComponentHealth::Degraded);
        assert!(d.report.message.contains("CREATION_FAILED"));
    }

    #[test]
    fn a_missing_table_is_a_configuration_error() {
        let d = decide_in(None, &[None]);
        assert!(d.changes.is_empty());
        assert_eq!(d.report.reason, "TableNotFound");
        assert_eq!(d.status[0].table_status, "Missing");
    }

    #[test]
    fn after_a_failover_the_replica_that_counts_is_the_old_primary_region() {
        let d = decide_in(Some("us-west-2"), &[table("ACTIVE", &[("us-east-1", "ACTIVE")])]);
        assert!(d.changes.is_empty());
        assert_eq!(d.report.health, ComponentHealth::Healthy);
        assert_eq!(
            d.report.message,
            "writes to app-sessions in us-west-2 (serving since the last failover) replicate to its ACTIVE replica in us-east-1"
        );
        let d = decide_in(Some("us-west-2"), &[table("ACTIVE", &[])]);
        assert_eq!(
            d.changes,
            vec![CreateReplica {
                region: "us-west-2".into(),
                table: "app-sessions".into(),
                replica_region: "us-east-1".into()
            }],
            "the serving region adds the replica its writes must reach"
        );
        assert!(
            d.report.message.contains("adding its replica in us-east-1"),
            "{}",
            d.report.message
        );
        let d = decide_in(None, &[table("ACTIVE", &[("us-west-2", "ACTIVE")])]);
        assert_eq!(
            d.report.message,
            "writes to app-sessions in us-east-1 (serving) replicate to its ACTIVE replica in us-west-2"
        );
    }
}
