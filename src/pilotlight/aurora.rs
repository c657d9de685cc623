//! The Aurora global database: observe it, decide what to create, act, and describe it.
//!
//! The operator adopts or creates the global cluster from the existing primary cluster, creates
//! the standby cluster and its instance in the standby region, and reports membership, writer
//! region and replication lag. It never deletes, detaches or modifies a cluster that holds data.

use crate::aws::states::RdsStatus;
use std::time::Duration;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use crate::{
    api::{AuroraSpec, DatabaseStatus, GlobalClusterMemberStatus, Regions},
    aws::{
        AwsClients, AwsError,
        cloudwatch::{self, LagSample},
        rds::{self, DbCluster, DbInstance, GlobalCluster, StandbyClusterRequest, parse_cluster_arn},
    },
};

use super::{ComponentReport, PlannedChange};

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
    /// Set when the primary region's RDS API could not be reached and the global cluster was
    /// read from the standby region instead.
    pub primary_region_error: Option<AwsError>,
    /// When the observation was made (seconds since the Unix epoch), to judge the lag's age.
    pub observed_at: i64,
    /// Endpoint of the writer cluster; described only when the writer changed.
    pub writer_endpoint: Option<String>,
}

/// Something to create.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    CreateGlobalCluster {
        region: String,
        identifier: String,
        source_cluster_arn: String,
    },
    CreateStandbyCluster {
        region: String,
        request: StandbyClusterRequest,
    },
    CreateStandbyInstance {
        region: String,
        identifier: String,
        cluster_identifier: String,
        instance_class: String,
        engine: String,
    },
    /// The pilot instance was resized by hand while it is the secondary: back to the spec's
    /// class (a larger standby costs money every hour; sizing up is the failover's job).
    ResizeStandbyInstance {
        region: String,
        identifier: String,
        from: String,
        to: String,
    },
}

impl PlannedChange for Change {
    /// Event reason for this change.
    fn reason(&self) -> &'static str {
        match self {
            Self::CreateGlobalCluster { .. } => "CreatingGlobalCluster",
            Self::CreateStandbyCluster { .. } => "CreatingStandbyCluster",
            Self::CreateStandbyInstance { .. } => "CreatingStandbyInstance",
            Self::ResizeStandbyInstance { .. } => "StandbyInstanceClassRepaired",
        }
    }

    fn is_warning(&self) -> bool {
        matches!(self, Self::ResizeStandbyInstance { .. })
    }

    /// Event note for this change.
    fn describe(&self) -> String {
        match self {
            Self::CreateGlobalCluster {
                region,
                identifier,
                source_cluster_arn,
            } => {
                format!("Creating Aurora global cluster {identifier} from {source_cluster_arn} in {region}")
            }
            Self::CreateStandbyCluster { region, request } => format!(
                "Creating standby cluster {} in {region} as a secondary of global cluster {}",
                request.identifier, request.global_cluster_identifier
            ),
            Self::CreateStandbyInstance {
                region,
                identifier,
                cluster_identifier,
                instance_class,
                ..
            } => {
                format!(
                    "Creating standby instance {identifier} ({instance_class}) in cluster {cluster_identifier} in {region}"
                )
            }
            Self::ResizeStandbyInstance {
                region,
                identifier,
                from,
                to,
            } => {
                format!(
                    "Standby instance {identifier} in {region} was {from}; resizing it back to {to} (spec.database.aurora.standbyInstanceClass)"
                )
            }
        }
    }

    fn apply(&self, aws: &AwsClients, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        apply(aws, self, owner)
    }
}

/// A lag datapoint older than this means Aurora stopped reporting: replication may have stopped.
/// (Aurora publishes `AuroraGlobalDBReplicationLag` every minute.)
const LAG_STALE_AFTER: Duration = Duration::from_secs(180);

/// The outcome of [`decide`]: what to create and how to describe the database now.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub changes: Vec<Change>,
    pub report: ComponentReport,
    pub status: DatabaseStatus,
    /// Region of the writer cluster, when known.
    pub writer_region: Option<String>,
    pub lag: Option<Duration>,
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
    let writer_arn = global
        .members
        .iter()
        .find(|m| m.is_writer)
        .map(|m| m.cluster_arn.as_str());
    obs.writer_endpoint = match (writer_arn, known) {
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
    };
    if let Some((region, id)) = secondary(global, regions, spec) {
        let clients = aws.region(region);
        obs.lag = aws
            .replication_lags
            .get(region, id, fresh, async |ids| {
                cloudwatch::replication_lags(&clients, &ids).await
            })
            .await?;
    }
    Ok(obs)
}

/// The spec's names, resolved once for the decision functions.
struct Names<'a> {
    global: &'a str,
    primary: &'a str,
    standby: &'a str,
    primary_region: &'a str,
    standby_region: &'a str,
}

/// Decides what to create and how healthy the database is. Pure: no I/O.
pub fn decide(regions: &Regions, spec: &AuroraSpec, obs: &Observation) -> Decision {
    let names = Names {
        global: spec.global_cluster_identifier.as_str(),
        primary: spec.primary_cluster_identifier.as_str(),
        standby: spec.standby_cluster_identifier.as_str(),
        primary_region: regions.primary.as_str(),
        standby_region: regions.standby.as_str(),
    };
    let mut decision = Decision {
        changes: Vec::new(),
        report: ComponentReport::converging("Observing", String::new()),
        status: DatabaseStatus::default(),
        writer_region: None,
        lag: obs
            .lag
            .map(|l| Duration::from_secs_f64(l.milliseconds.max(0.0) / 1000.0)),
    };
    if let Some(sample) = obs.lag {
        decision.status.replication_lag_ms = Some(sample.milliseconds);
        decision.status.replication_lag = Some(format_lag(sample.milliseconds));
        decision.status.replication_lag_observed_at = Timestamp::from_second(sample.at_epoch_seconds).ok().map(Time);
    }
    decision.report = match &obs.global {
        None => decide_global_cluster(&names, obs, &mut decision.changes),
        Some(global) => {
            describe_members(&names, global, obs, &mut decision);
            decide_members(&names, spec, global, obs, &mut decision.changes)
        }
    };
    decision
}

/// Without a global cluster: create it from the primary cluster, if that can be done safely.
fn decide_global_cluster(n: &Names, obs: &Observation, changes: &mut Vec<Change>) -> ComponentReport {
    let (global_id, primary_id, primary_region) = (n.global, n.primary, n.primary_region);
    match &obs.primary {
        Seen::Missing => ComponentReport::misconfigured(
            "PrimaryClusterNotFound",
            format!(
                "primary cluster {primary_id} does not exist in {primary_region}; spec.database.aurora.primaryClusterIdentifier must name an existing Aurora cluster (the operator never creates it)"
            ),
        ),
        Seen::NotChecked => {
            ComponentReport::converging("Observing", "waiting for the primary cluster to be described".into())
        }
        Seen::Found(primary) => match &primary.global_cluster_identifier {
            Some(other) if other != global_id => ComponentReport::misconfigured(
                "PrimaryClusterInOtherGlobalCluster",
                format!(
                    "primary cluster {primary_id} in {primary_region} already belongs to global cluster {other}; to adopt it, create a PilotLight with globalClusterIdentifier {other}"
                ),
            ),
            _ if primary.status != RdsStatus::Available => ComponentReport::converging(
                "PrimaryClusterNotAvailable",
                format!(
                    "waiting for primary cluster {primary_id} in {primary_region} to be available (it is {})",
                    primary.status
                ),
            ),
            _ => {
                changes.push(Change::CreateGlobalCluster {
                    region: primary_region.to_owned(),
                    identifier: global_id.to_owned(),
                    source_cluster_arn: primary.arn.clone(),
                });
                ComponentReport::converging(
                    "CreatingGlobalCluster",
                    format!("creating global cluster {global_id} from primary cluster {primary_id}"),
                )
            }
        },
    }
}

/// Fills the status with what the global cluster says about its members.
fn describe_members(n: &Names, global: &GlobalCluster, obs: &Observation, decision: &mut Decision) {
    let status = &mut decision.status;
    status.global_cluster_arn = Some(global.arn.clone());
    status.global_cluster_status = Some(global.status.to_string());
    status.members = global
        .members
        .iter()
        .map(|m| GlobalClusterMemberStatus {
            cluster_arn: m.cluster_arn.clone(),
            region: parse_cluster_arn(&m.cluster_arn)
                .map(|(r, _)| r.to_owned())
                .unwrap_or_default(),
            is_writer: m.is_writer,
        })
        .collect();
    status.writer_region = status.members.iter().find(|m| m.is_writer).map(|m| m.region.clone());
    status.writer_cluster_arn = status
        .members
        .iter()
        .find(|m| m.is_writer)
        .map(|m| m.cluster_arn.clone());
    status.writer_endpoint = obs.writer_endpoint.clone();
    decision.writer_region = status.writer_region.clone();
    status.standby_cluster_arn = find_member(global, n.standby_region, n.standby).map(|m| m.cluster_arn.clone());
    if let Seen::Found(standby) = &obs.standby {
        status.standby_cluster_status = Some(standby.status.to_string());
    }
    if let Seen::Found(instance) = &obs.standby_instance {
        status.standby_instance_status = Some(instance.status.to_string());
    }
}

/// With a global cluster: make the standby a member with an instance, then judge replication.
fn decide_members(
    n: &Names,
    spec: &AuroraSpec,
    global: &GlobalCluster,
    obs: &Observation,
    changes: &mut Vec<Change>,
) -> ComponentReport {
    let (global_id, primary_id, standby_id) = (n.global, n.primary, n.standby);
    let (primary_region, standby_region) = (n.primary_region, n.standby_region);
    let primary_is_member = find_member(global, primary_region, primary_id).is_some();
    let standby_is_member = find_member(global, standby_region, standby_id).is_some();
    let new_pilotlight = "create a new PilotLight with another globalClusterIdentifier";

    if !primary_is_member && !standby_is_member {
        return ComponentReport::misconfigured(
            "GlobalClusterConflict",
            format!(
                "global cluster {global_id} exists but neither {primary_id} ({primary_region}) nor {standby_id} ({standby_region}) is a member: it belongs to another database; {new_pilotlight}"
            ),
        );
    }
    let Some(engine) = global.engine.clone() else {
        return ComponentReport::misconfigured(
            "GlobalClusterHasNoEngine",
            format!(
                "global cluster {global_id} reports no engine, so no standby cluster or instance can be created for it"
            ),
        );
    };
    if !standby_is_member {
        return match &obs.standby {
            Seen::Found(standby) if standby.global_cluster_identifier.as_deref() == Some(global_id) => {
                ComponentReport::converging(
                    "StandbyClusterJoining",
                    format!(
                        "standby cluster {standby_id} is joining global cluster {global_id} (it is {})",
                        standby.status
                    ),
                )
            }
            Seen::Found(_) => ComponentReport::misconfigured(
                "StandbyClusterExists",
                format!(
                    "cluster {standby_id} already exists in {standby_region} outside global cluster {global_id}; the operator never attaches or deletes a cluster that may hold data: delete it yourself, or create a new PilotLight with another standbyClusterIdentifier"
                ),
            ),
            Seen::NotChecked => {
                ComponentReport::converging("Observing", "waiting for the standby cluster to be described".into())
            }
            Seen::Missing if global.status != RdsStatus::Available => ComponentReport::converging(
                "GlobalClusterNotAvailable",
                format!(
                    "waiting for global cluster {global_id} to be available (it is {})",
                    global.status
                ),
            ),
            Seen::Missing => {
                changes.push(Change::CreateStandbyCluster {
                    region: standby_region.to_owned(),
                    request: StandbyClusterRequest {
                        identifier: standby_id.to_owned(),
                        global_cluster_identifier: global_id.to_owned(),
                        engine,
                        engine_version: global.engine_version.clone(),
                        db_subnet_group_name: spec.db_subnet_group_name.clone(),
                        vpc_security_group_ids: spec.vpc_security_group_ids.iter().map(|g| g.0.clone()).collect(),
                        kms_key_id: spec.kms_key_id.clone(),
                    },
                });
                ComponentReport::converging(
                    "CreatingStandbyCluster",
                    format!("creating standby cluster {standby_id} in {standby_region}"),
                )
            }
        };
    }
    let instance_id = standby_instance_identifier(spec);
    match &obs.standby_instance {
        Seen::Missing => {
            changes.push(Change::CreateStandbyInstance {
                region: standby_region.to_owned(),
                identifier: instance_id.clone(),
                cluster_identifier: standby_id.to_owned(),
                instance_class: spec.standby_instance_class.0.clone(),
                engine,
            });
            return ComponentReport::converging(
                "CreatingStandbyInstance",
                format!("creating standby instance {instance_id} in {standby_region}"),
            );
        }
        Seen::NotChecked => {
            return ComponentReport::converging("Observing", "waiting for the standby instance to be described".into());
        }
        Seen::Found(instance) if instance.status != RdsStatus::Available => {
            return ComponentReport::converging(
                "StandbyInstanceNotAvailable",
                format!(
                    "waiting for standby instance {instance_id} to be available (it is {})",
                    instance.status
                ),
            );
        }
        Seen::Found(_) => {}
    }
    if global.status != RdsStatus::Available {
        return ComponentReport::converging(
            "GlobalClusterNotAvailable",
            format!("global cluster {global_id} is {}", global.status),
        );
    }
    if !primary_is_member {
        return ComponentReport::degraded(
            "PrimaryClusterDetached",
            format!(
                "primary cluster {primary_id} ({primary_region}) is no longer a member of global cluster {global_id}: nothing replicates into it"
            ),
        );
    }
    let Some((writer_region, _)) = global
        .members
        .iter()
        .find(|m| m.is_writer)
        .and_then(|m| parse_cluster_arn(&m.cluster_arn))
    else {
        return ComponentReport::degraded("NoWriter", format!("global cluster {global_id} has no writer member"));
    };
    let secondary_region = if writer_region == primary_region {
        standby_region
    } else {
        primary_region
    };
    if writer_region == primary_region
        && let Seen::Found(instance) = &obs.standby_instance
        && let Some(class) = &instance.instance_class
        && class != &spec.standby_instance_class.0
    {
        changes.push(Change::ResizeStandbyInstance {
            region: standby_region.to_owned(),
            identifier: instance_id.clone(),
            from: class.clone(),
            to: spec.standby_instance_class.0.clone(),
        });
        return ComponentReport::converging(
            "ResizingStandbyInstance",
            format!(
                "resizing standby instance {instance_id} from {class} to {}",
                spec.standby_instance_class.0
            ),
        );
    }
    if let Some(e) = &obs.primary_region_error {
        return ComponentReport::degraded(
            "PrimaryRegionUnreachable",
            format!(
                "the RDS API in {primary_region} is unreachable ({}); replication into {standby_region} cannot be confirmed",
                e.message
            ),
        );
    }
    judge_lag(spec, obs, writer_region, secondary_region)
}

fn judge_lag(spec: &AuroraSpec, obs: &Observation, writer_region: &str, secondary_region: &str) -> ComponentReport {
    let max_lag = spec.max_replication_lag.to_duration().unwrap_or(Duration::from_secs(5));
    let Some(sample) = obs.lag else {
        return ComponentReport::healthy(
            "Replicating",
            format!("replicating from {writer_region} to {secondary_region}; CloudWatch has not reported the lag yet"),
        );
    };
    let age = obs.observed_at.saturating_sub(sample.at_epoch_seconds);
    let lag = format_lag(sample.milliseconds);
    if age > LAG_STALE_AFTER.as_secs() as i64 {
        ComponentReport::degraded(
            "ReplicationLagStale",
            format!(
                "the last replication lag datapoint ({lag}) is {age}s old: Aurora stopped reporting AuroraGlobalDBReplicationLag for {secondary_region}, so replication may have stopped"
            ),
        )
    } else if sample.milliseconds > max_lag.as_secs_f64() * 1000.0 {
        ComponentReport::degraded(
            "ReplicationLagHigh",
            format!(
                "replication lag from {writer_region} to {secondary_region} is {lag} (maxReplicationLag {})",
                spec.max_replication_lag
            ),
        )
    } else {
        ComponentReport::healthy(
            "Replicating",
            format!("replicating from {writer_region} to {secondary_region}, lag {lag}"),
        )
    }
}

/// `120ms`, `3.2s`, `2m5s`.
fn format_lag(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{}ms", ms.round() as i64)
    } else if ms < 60_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else {
        let secs = (ms / 1000.0).round() as i64;
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

/// Carries out one change.
pub async fn apply(aws: &AwsClients, change: &Change, owner: &str) -> Result<(), AwsError> {
    match change {
        Change::CreateGlobalCluster {
            region,
            identifier,
            source_cluster_arn,
        } => rds::create_global_cluster(&aws.region(region), identifier, source_cluster_arn).await,
        Change::CreateStandbyCluster { region, request } => {
            rds::create_standby_cluster(&aws.region(region), request, owner).await
        }
        Change::CreateStandbyInstance {
            region,
            identifier,
            cluster_identifier,
            instance_class,
            engine,
        } => {
            rds::create_instance(
                &aws.region(region),
                identifier,
                cluster_identifier,
                instance_class,
                engine,
                owner,
            )
            .await
        }
        Change::ResizeStandbyInstance {
            region, identifier, to, ..
        } => rds::modify_instance_class(&aws.region(region), identifier, to).await,
    }
}

#[cfg(test)]
mod tests;
