//! An RDS DB instance and its cross-region read replica: observe both regions, work out which
//! instance writes and which replicates from it, decide what to create, act, and describe it.
//!
//! RDS does not remember a promotion: once a replica is promoted it is a standalone instance
//! like its former source. The failover tags what it promotes ([`rds::PROMOTED_AT_TAG`]), so the
//! writer is the newest promoted instance, or the spec's source while none was. After a move the
//! replica back into the other region takes whichever of the spec's two identifiers is free
//! there; the instances left behind are reported as orphaned and never deleted.

mod change;
mod decide;
pub(crate) mod failover;
mod topology;

pub use change::Change;
pub use decide::decide;
pub use topology::{Topology, topology};

use std::collections::HashMap;

use crate::{
    api::{DatabaseStatus, RdsReplicaSpec, Regions},
    aws::{
        AwsClients, AwsError,
        cloudwatch::{self, LagMetric, LagSample},
        rds::{self, DbInstance},
    },
};

use super::ComponentReport;

/// The spec's two identifiers as found in one region (absent ones are missing), or why that
/// region's RDS API did not answer.
pub type Seen = Result<HashMap<String, DbInstance>, AwsError>;

/// What AWS says about the instances.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub primary: Seen,
    pub standby: Seen,
    /// `ReplicaLag` of the writer's replica, when there is one.
    pub lag: Option<LagSample>,
    /// Set when CloudWatch in the replica's region did not answer.
    pub lag_error: Option<AwsError>,
    /// Seconds since the Unix epoch, to judge the lag's age.
    pub observed_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub changes: Vec<Change>,
    pub report: ComponentReport,
    pub status: DatabaseStatus,
    /// Region of the writer instance, when known.
    pub writer_region: Option<String>,
}

/// The two identifiers whose instances make up the database, in either region.
pub fn identifiers(spec: &RdsReplicaSpec) -> [String; 2] {
    [
        spec.source_instance_identifier.to_string(),
        spec.replica_instance_identifier.to_string(),
    ]
}

/// Reads both regions (two describes) and the replica's lag. Every call is a describe. `known`
/// is the last status: it names the writer when its region does not answer.
pub async fn observe(
    aws: &AwsClients,
    regions: &Regions,
    spec: &RdsReplicaSpec,
    known: Option<&DatabaseStatus>,
    fresh: bool,
) -> Result<Observation, AwsError> {
    let ids = identifiers(spec);
    let describe = async |region: &str| {
        let result = rds::describe_instances(&aws.region(region), &ids).await;
        match result {
            Err(e) if !e.is_retryable() => Err(e),
            other => Ok(other),
        }
    };
    let mut obs = Observation {
        primary: describe(regions.primary.as_str()).await?,
        standby: describe(regions.standby.as_str()).await?,
        lag: None,
        lag_error: None,
        observed_at: k8s_openapi::jiff::Timestamp::now().as_second(),
    };
    let known_writer = known.and_then(|k| k.rds.as_ref()).and_then(|r| r.writer.as_ref());
    let t = topology(regions, spec, &obs, known_writer);
    if let Some(replica) = t.replica {
        let (region, id) = (replica.region.to_owned(), replica.instance.identifier.clone());
        let clients = aws.region(&region);
        let lag = aws
            .replica_lags
            .get(&region, &id, fresh, async |ids| {
                cloudwatch::lags(&clients, LagMetric::ReadReplica, &ids).await
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

#[cfg(test)]
mod tests;
