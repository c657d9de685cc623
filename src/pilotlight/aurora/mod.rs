//! The Aurora global database: observe it, decide what to create, act, and describe it.
//!
//! The operator adopts or creates the global cluster from the existing primary cluster, creates
//! the standby cluster and its instance in the standby region, and reports membership, writer
//! region and replication lag. It never deletes, detaches or modifies a cluster that holds data.

mod change;
mod decide;
pub(crate) mod failover;

pub use change::{Change, apply};
pub use decide::decide;

use crate::{
    api::{AuroraSpec, DatabaseStatus, Regions},
    aws::{
        AwsClients, AwsError,
        cloudwatch::{self, LagSample},
        rds::{self, DbCluster, DbInstance, GlobalCluster, parse_cluster_arn},
    },
};

use super::ComponentReport;

/// A lookup that may have been skipped because the answer was already implied.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen<T> {
    NotChecked,
    Missing,
    Found(T),
}

impl<T> From<Option<T>> for Seen<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Missing, Self::Found)
    }
}

/// What AWS says about the database, gathered with as few calls as the state allows.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub global: Option<GlobalCluster>,
    /// Looked up only while the global cluster does not exist yet.
    pub primary: Seen<DbCluster>,
    /// Looked up only while the standby is not a member of the global cluster.
    pub standby: Seen<DbCluster>,
    pub standby_instance: Seen<DbInstance>,
    /// Lag of whichever member is currently the secondary.
    pub lag: Option<LagSample>,
    /// Set when the secondary's region did not answer for its lag (after a failover with the
    /// old primary region down): the rest of the observation still stands.
    pub lag_error: Option<AwsError>,
    /// Set when the primary region's RDS API could not be reached and the global cluster was
    /// read from the standby region instead.
    pub primary_region_error: Option<AwsError>,
    /// When the observation was made (seconds since the Unix epoch), to judge the lag's age.
    pub observed_at: i64,
    /// Endpoint of the writer cluster; described only when the writer changed.
    pub writer_endpoint: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub changes: Vec<Change>,
    pub report: ComponentReport,
    pub status: DatabaseStatus,
    /// Region of the writer cluster, when known.
    pub writer_region: Option<String>,
}

pub fn standby_instance_identifier(spec: &AuroraSpec) -> String {
    spec.standby_instance_identifier
        .as_ref()
        .map_or_else(|| format!("{}-1", spec.standby_cluster_identifier), |i| i.0.clone())
}

fn find_member<'a>(global: &'a GlobalCluster, region: &str, identifier: &str) -> Option<&'a rds::GlobalClusterMember> {
    global
        .members
        .iter()
        .find(|m| parse_cluster_arn(&m.cluster_arn) == Some((region, identifier)))
}

/// The member (region, identifier) that replicates from the writer: the one of our two clusters
/// that is a member and not the writer.
fn secondary<'a>(global: &GlobalCluster, regions: &'a Regions, spec: &'a AuroraSpec) -> Option<(&'a str, &'a str)> {
    [
        (regions.primary.as_str(), spec.primary_cluster_identifier.as_str()),
        (regions.standby.as_str(), spec.standby_cluster_identifier.as_str()),
    ]
    .into_iter()
    .find(|(region, id)| find_member(global, region, id).is_some_and(|m| !m.is_writer))
}

/// Reads the database's state. Every call is a describe; nothing changes. `known` is the last
/// status: the writer's endpoint is described again only when the writer changed. Unless
/// `fresh`, the global cluster, the standby instance and the lag are read together with other
/// PilotLights' (see [`crate::aws::shared`]).
pub async fn observe(
    aws: &AwsClients,
    regions: &Regions,
    spec: &AuroraSpec,
    known: Option<&DatabaseStatus>,
    fresh: bool,
) -> Result<Observation, AwsError> {
    let primary_region = aws.region(regions.primary.as_str());
    let standby_region = aws.region(regions.standby.as_str());
    let global_id = spec.global_cluster_identifier.as_str();
    // Global clusters are visible from every region: ask the standby region when the primary
    // region's API is down, which is exactly when a failover needs the answer.
    let global_cluster = async |clients: &crate::aws::RegionalClients| {
        aws.global_clusters
            .get(&clients.region, global_id, fresh, async |_| {
                rds::describe_global_clusters(clients).await
            })
            .await
    };
    let (global, primary_region_error) = match global_cluster(&primary_region).await {
        Err(e) if e.is_retryable() => (global_cluster(&standby_region).await?, Some(e)),
        other => (other?, None),
    };
    let mut obs = Observation {
        global,
        primary: Seen::NotChecked,
        standby: Seen::NotChecked,
        standby_instance: Seen::NotChecked,
        lag: None,
        lag_error: None,
        primary_region_error,
        observed_at: k8s_openapi::jiff::Timestamp::now().as_second(),
        writer_endpoint: None,
    };
    let Some(global) = &obs.global else {
        obs.primary = rds::describe_cluster(&primary_region, spec.primary_cluster_identifier.as_str())
            .await?
            .into();
        return Ok(obs);
    };
    let standby_id = spec.standby_cluster_identifier.as_str();
    if find_member(global, regions.standby.as_str(), standby_id).is_none() {
        obs.standby = rds::describe_cluster(&standby_region, standby_id).await?.into();
        return Ok(obs);
    }
    obs.standby_instance = aws
        .db_instances
        .get(
            &standby_region.region,
            &standby_instance_identifier(spec),
            fresh,
            async |ids| rds::describe_instances(&standby_region, &ids).await,
        )
        .await?
        .into();
    obs.writer_endpoint = writer_endpoint(aws, global, known).await?;
    if let Some((region, id)) = secondary(global, regions, spec) {
        let clients = aws.region(region);
        let lag = aws
            .replication_lags
            .get(region, id, fresh, async |ids| {
                cloudwatch::replication_lags(&clients, &ids).await
            })
            .await;
        match lag {
            Ok(lag) => obs.lag = lag,
            Err(e) if e.is_retryable() => obs.lag_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Ok(obs)
}

/// The writer's endpoint: the one last observed while the writer is the same cluster, else
/// described afresh (it changes only with the writer).
async fn writer_endpoint(
    aws: &AwsClients,
    global: &GlobalCluster,
    known: Option<&DatabaseStatus>,
) -> Result<Option<String>, AwsError> {
    let writer_arn = global
        .members
        .iter()
        .find(|m| m.is_writer)
        .map(|m| m.cluster_arn.as_str());
    Ok(match (writer_arn, known) {
        (Some(arn), Some(known))
            if known.writer_cluster_arn.as_deref() == Some(arn) && known.writer_endpoint.is_some() =>
        {
            known.writer_endpoint.clone()
        }
        (Some(arn), _) => match parse_cluster_arn(arn) {
            Some((region, id)) => rds::describe_cluster(&aws.region(region), id)
                .await?
                .and_then(|c| c.endpoint),
            None => None,
        },
        (None, _) => None,
    })
}

#[cfg(test)]
mod tests;
