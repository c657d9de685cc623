//! Aurora and RDS DB instances through the RDS API, reduced to the facts the operator decides on.

use std::collections::HashMap;

use aws_sdk_rds::{Client, types};

use super::{AwsError, OWNER_TAG, RegionalClients, found, states::RdsStatus};

/// An Aurora global cluster and its members.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalCluster {
    pub identifier: String,
    pub arn: String,
    pub status: RdsStatus,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub members: Vec<GlobalClusterMember>,
    /// The cluster a switchover or failover under way promotes (`FailoverState.ToDbClusterArn`).
    pub promoting: Option<String>,
    /// The global writer endpoint, which Aurora keeps on the current writer through switchover
    /// and failover (<https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-connecting.html>).
    pub endpoint: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GlobalClusterMember {
    pub cluster_arn: String,
    pub is_writer: bool,
}

/// A DB cluster in one region.
#[derive(Clone, Debug, PartialEq)]
pub struct DbCluster {
    pub identifier: String,
    pub arn: String,
    pub status: RdsStatus,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub global_cluster_identifier: Option<String>,
    /// The cluster (writer) endpoint applications connect to.
    pub endpoint: Option<String>,
}

/// A DB instance in one region.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DbInstance {
    pub identifier: String,
    pub arn: String,
    pub status: RdsStatus,
    pub instance_class: Option<String>,
    pub engine: Option<String>,
    /// The instance it replicates from: an identifier in its own region, or an ARN.
    pub replica_source: Option<String>,
    /// The read replication state (`StatusInfos`) and whether RDS calls it normal.
    pub replication: Option<(String, bool)>,
    pub storage_encrypted: bool,
    /// Its endpoint's address.
    pub endpoint: Option<String>,
    /// When pilot-light promoted it ([`PROMOTED_AT_TAG`]): the latest promoted one writes.
    pub promoted_at: Option<String>,
}

/// Tag the failover puts on a read replica just before promoting it: the newest promoted
/// instance is the writer, which RDS itself does not remember once a replica is standalone.
pub const PROMOTED_AT_TAG: &str = "pilotlight.dev/promoted-at";

/// Region and identifier of a DB instance ARN (`arn:aws:rds:REGION:ACCOUNT:db:ID`).
pub fn parse_instance_arn(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "rds", region, _, "db", id] => Some((region, id)),
        _ => None,
    }
}

/// What to create for the standby cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct StandbyClusterRequest {
    pub identifier: String,
    pub global_cluster_identifier: String,
    pub engine: String,
    pub engine_version: Option<String>,
    pub db_subnet_group_name: Option<String>,
    pub vpc_security_group_ids: Vec<String>,
    pub kms_key_id: Option<String>,
}

/// Region and identifier of a cluster ARN (`arn:aws:rds:REGION:ACCOUNT:cluster:ID`).
pub fn parse_cluster_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(7, ':');
    let (_, _, service, region, _, kind, id) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (service == "rds" && kind == "cluster").then_some((region, id))
}

/// Tags every resource the operator creates, so ownership is visible in AWS.
fn tags(owner: &str) -> Vec<types::Tag> {
    vec![
        types::Tag::builder()
            .key("pilotlight.dev/managed-by")
            .value("pilot-light")
            .build(),
        types::Tag::builder().key(OWNER_TAG).value(owner).build(),
    ]
}

/// Every global cluster visible from this region, by identifier (an account has few; one call
/// per 100).
pub async fn describe_global_clusters(aws: &RegionalClients) -> Result<HashMap<String, GlobalCluster>, AwsError> {
    let mut clusters = HashMap::new();
    let mut marker = None;
    loop {
        let out = aws
            .rds
            .describe_global_clusters()
            .set_marker(marker)
            .max_records(100)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("rds", "DescribeGlobalClusters", &aws.region, e))?;
        for g in out.global_clusters() {
            let cluster = global_cluster_from(g);
            clusters.insert(cluster.identifier.clone(), cluster);
        }
        match out.marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
            _ => return Ok(clusters),
        }
    }
}

fn global_cluster_from(g: &types::GlobalCluster) -> GlobalCluster {
    GlobalCluster {
        identifier: g.global_cluster_identifier().unwrap_or_default().to_owned(),
        arn: g.global_cluster_arn().unwrap_or_default().to_owned(),
        status: g.status().unwrap_or("unknown").into(),
        engine: g.engine().map(str::to_owned),
        engine_version: g.engine_version().map(str::to_owned),
        members: g
            .global_cluster_members()
            .iter()
            .map(|m| GlobalClusterMember {
                cluster_arn: m.db_cluster_arn().unwrap_or_default().to_owned(),
                is_writer: m.is_writer().unwrap_or(false),
            })
            .collect(),
        promoting: g
            .failover_state()
            .and_then(|f| f.to_db_cluster_arn())
            .map(str::to_owned),
        endpoint: g.endpoint().map(str::to_owned),
    }
}

pub async fn describe_cluster(aws: &RegionalClients, identifier: &str) -> Result<Option<DbCluster>, AwsError> {
    let result = aws
        .rds
        .describe_db_clusters()
        .db_cluster_identifier(identifier)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds", "DescribeDBClusters", &aws.region, e))
        .map(|out| {
            out.db_clusters().first().map(|c| DbCluster {
                identifier: c.db_cluster_identifier().unwrap_or_default().to_owned(),
                arn: c.db_cluster_arn().unwrap_or_default().to_owned(),
                status: c.status().unwrap_or("unknown").into(),
                engine: c.engine().map(str::to_owned),
                engine_version: c.engine_version().map(str::to_owned),
                global_cluster_identifier: c.global_cluster_identifier().map(str::to_owned),
                endpoint: c.endpoint().map(str::to_owned),
            })
        });
    Ok(found(result)?.flatten())
}

fn instance_from(i: &types::DbInstance) -> DbInstance {
    DbInstance {
        identifier: i.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: i.db_instance_arn().unwrap_or_default().to_owned(),
        status: i.db_instance_status().unwrap_or("unknown").into(),
        instance_class: i.db_instance_class().map(str::to_owned),
        engine: i.engine().map(str::to_owned),
        replica_source: i
            .read_replica_source_db_instance_identifier()
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        replication: i
            .status_infos()
            .iter()
            .find(|s| s.status_type() == Some("read replication"))
            .map(|s| (s.status().unwrap_or("unknown").to_owned(), s.normal().unwrap_or(false))),
        storage_encrypted: i.storage_encrypted().unwrap_or(false),
        endpoint: i.endpoint().and_then(|e| e.address()).map(str::to_owned),
        promoted_at: i
            .tag_list()
            .iter()
            .find(|t| t.key() == Some(PROMOTED_AT_TAG))
            .and_then(|t| t.value())
            .map(str::to_owned),
    }
}

/// The named instances that exist, by identifier; one call per 100 names (missing ones are
/// simply absent, as filters do not fail on them).
pub async fn describe_instances(
    aws: &RegionalClients,
    identifiers: &[String],
) -> Result<HashMap<String, DbInstance>, AwsError> {
    let mut instances = HashMap::new();
    for chunk in identifiers.chunks(100) {
        let out = aws
            .rds
            .describe_db_instances()
            .filters(
                types::Filter::builder()
                    .name("db-instance-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .max_records(100)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("rds", "DescribeDBInstances", &aws.region, e))?;
        for i in out.db_instances() {
            let instance = instance_from(i);
            instances.insert(instance.identifier.clone(), instance);
        }
    }
    Ok(instances)
}

pub async fn create_global_cluster(
    aws: &RegionalClients,
    identifier: &str,
    source_cluster_arn: &str,
) -> Result<(), AwsError> {
    aws.rds
        .create_global_cluster()
        .global_cluster_identifier(identifier)
        .source_db_cluster_identifier(source_cluster_arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds", "CreateGlobalCluster", &aws.region, e))?;
    Ok(())
}

pub async fn create_standby_cluster(
    aws: &RegionalClients,
    req: &StandbyClusterRequest,
    owner: &str,
) -> Result<(), AwsError> {
    let client: &Client = &aws.rds;
    client
        .create_db_cluster()
        .db_cluster_identifier(&req.identifier)
        .global_cluster_identifier(&req.global_cluster_identifier)
        .engine(&req.engine)
        .set_engine_version(req.engine_version.clone())
        .set_db_subnet_group_name(req.db_subnet_group_name.clone())
        .set_vpc_security_group_ids(
            (!req.vpc_security_group_ids.is_empty()).then(|| req.vpc_security_group_ids.clone()),
        )
        .set_kms_key_id(req.kms_key_id.clone())
        .set_tags(Some(tags(owner)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds", "CreateDBCluster", &aws.region, e))?;
    Ok(())
}

pub async fn create_instance(
    aws: &RegionalClients,
    identifier: &str,
    cluster_identifier: &str,
    instance_class: &str,
    engine: &str,
    owner: &str,
) -> Result<(), AwsError> {
    aws.rds
        .create_db_instance()
        .db_instance_identifier(identifier)
        .db_cluster_identifier(cluster_identifier)
        .db_instance_class(instance_class)
        .engine(engine)
        .set_tags(Some(tags(owner)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds", "CreateDBInstance", &aws.region, e))?;
    Ok(())
}

/// Changes an instance's class now (not in the next maintenance window).
pub async fn modify_instance_class(
    aws: &RegionalClients,
    identifier: &str,
    instance_class: &str,
) -> Result<(), AwsError> {
    aws.rds
        .modify_db_instance()
        .db_instance_identifier(identifier)
        .db_instance_class(instance_class)
        .apply_immediately(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds", "ModifyDBInstance", &aws.region, e))?;
    Ok(())
}

/// What to create for a read replica.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadReplicaRequest {
    pub identifier: String,
    /// The source's ARN (a cross-region replica must name its source by ARN).
    pub source_arn: String,
    pub instance_class: Option<String>,
    pub storage_type: Option<String>,
    pub db_subnet_group_name: Option<String>,
    pub vpc_security_group_ids: Vec<String>,
    pub kms_key_id: Option<String>,
}

/// `CreateDBInstanceReadReplica`, called in the replica's region.
pub async fn create_read_replica(aws: &RegionalClients, req: &ReadReplicaRequest, owner: &str) -> Result<(), AwsError> {
    aws.rds
        .create_db_instance_read_replica()
        .db_instance_identifier(&req.identifier)
        .source_db_instance_identifier(&req.source_arn)
        .set_db_instance_class(req.instance_class.clone())
        .set_storage_type(req.storage_type.clone())
        .set_db_subnet_group_name(req.db_subnet_group_name.clone())
        .set_vpc_security_group_ids(
            (!req.vpc_security_group_ids.is_empty()).then(|| req.vpc_security_group_ids.clone()),
        )
        .set_kms_key_id(req.kms_key_id.clone())
        .set_tags(Some(tags(owner)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds", "CreateDBInstanceReadReplica", &aws.region, e))?;
    Ok(())
}

/// Marks `arn` as promoted by pilot-light at `at` (see [`PROMOTED_AT_TAG`]).
pub async fn tag_promoted(aws: &RegionalClients, arn: &str, at: &str) -> Result<(), AwsError> {
    aws.rds
        .add_tags_to_resource()
        .resource_name(arn)
        .tags(types::Tag::builder().key(PROMOTED_AT_TAG).value(at).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds", "AddTagsToResource", &aws.region, e))?;
    Ok(())
}

/// `PromoteReadReplica`: served by the replica's region alone.
pub async fn promote_read_replica(aws: &RegionalClients, identifier: &str) -> Result<(), AwsError> {
    aws.rds
        .promote_read_replica()
        .db_instance_identifier(identifier)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds", "PromoteReadReplica", &aws.region, e))?;
    Ok(())
}

/// How the standby becomes the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Promotion {
    /// `SwitchoverGlobalCluster`: waits for the replicas to catch up; needs the old writer's region.
    Switchover,
    /// `FailoverGlobalCluster` with `AllowDataLoss`: works without the old writer's region.
    FailoverAllowingDataLoss,
}

/// Makes `target_cluster_arn` the writer of `global_cluster`; called in the target's region.
pub async fn promote(
    aws: &RegionalClients,
    global_cluster: &str,
    target_cluster_arn: &str,
    how: Promotion,
) -> Result<(), AwsError> {
    match how {
        Promotion::Switchover => aws
            .rds
            .switchover_global_cluster()
            .global_cluster_identifier(global_cluster)
            .target_db_cluster_identifier(target_cluster_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("rds", "SwitchoverGlobalCluster", &aws.region, e)),
        Promotion::FailoverAllowingDataLoss => aws
            .rds
            .failover_global_cluster()
            .global_cluster_identifier(global_cluster)
            .target_db_cluster_identifier(target_cluster_arn)
            .allow_data_loss(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("rds", "FailoverGlobalCluster", &aws.region, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_arns() {
        assert_eq!(
            parse_cluster_arn("arn:aws:rds:us-west-2:123456789012:cluster:dr-cluster"),
            Some(("us-west-2", "dr-cluster"))
        );
        assert_eq!(parse_cluster_arn("arn:aws:rds:us-west-2:123456789012:db:dr-1"), None);
        assert_eq!(parse_cluster_arn("not-an-arn"), None);
    }

    #[test]
    fn parses_instance_arns() {
        assert_eq!(
            parse_instance_arn("arn:aws:rds:us-east-1:123456789012:db:app-db"),
            Some(("us-east-1", "app-db"))
        );
        assert_eq!(parse_instance_arn("arn:aws:rds:us-east-1:123456789012:cluster:c"), None);
        assert_eq!(parse_instance_arn("app-db"), None);
    }
}
