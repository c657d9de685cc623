//! What Aurora convergence decides from an observation: create the global cluster, then the
//! standby cluster and its instance, then judge replication. Pure: no I/O.

use std::time::Duration;

use super::{Change, Decision, Observation, Seen, find_member, standby_instance_identifier};
use crate::{
    api::{AuroraSpec, DatabaseStatus, GlobalClusterMemberStatus, Regions},
    aws::{
        rds::{GlobalCluster, StandbyClusterRequest, parse_cluster_arn},
        states::RdsStatus,
    },
    pilotlight::{ComponentReport, lag},
};

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
    };
    if let Some(sample) = obs.lag {
        lag::describe(&mut decision.status, sample, obs.observed_at);
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
    status.global_writer_endpoint = global.endpoint.clone();
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
    if !primary_is_member && !standby_is_member {
        return ComponentReport::misconfigured(
            "GlobalClusterConflict",
            format!(
                "global cluster {global_id} exists but neither {primary_id} ({primary_region}) nor {standby_id} ({standby_region}) is a member: it belongs to another database; create a new PilotLight with another globalClusterIdentifier"
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
        return decide_standby_cluster(n, spec, global, obs, engine, changes);
    }
    if let Some(waiting) = decide_standby_instance(n, spec, obs, engine, changes) {
        return waiting;
    }
    decide_replication(n, spec, global, obs, primary_is_member, changes)
}

/// The standby is not a member yet: create it, wait for it to join, or refuse to touch a
/// cluster of that name that may hold data.
fn decide_standby_cluster(
    n: &Names,
    spec: &AuroraSpec,
    global: &GlobalCluster,
    obs: &Observation,
    engine: String,
    changes: &mut Vec<Change>,
) -> ComponentReport {
    let (global_id, standby_id, standby_region) = (n.global, n.standby, n.standby_region);
    match &obs.standby {
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
    }
}

/// The standby's instance: created when missing; a report while it is not available yet.
fn decide_standby_instance(
    n: &Names,
    spec: &AuroraSpec,
    obs: &Observation,
    engine: String,
    changes: &mut Vec<Change>,
) -> Option<ComponentReport> {
    let instance_id = standby_instance_identifier(spec);
    match &obs.standby_instance {
        Seen::Missing => {
            changes.push(Change::CreateStandbyInstance {
                region: n.standby_region.to_owned(),
                identifier: instance_id.clone(),
                cluster_identifier: n.standby.to_owned(),
                instance_class: spec.standby_instance_class.0.clone(),
                engine,
            });
            Some(ComponentReport::converging(
                "CreatingStandbyInstance",
                format!("creating standby instance {instance_id} in {}", n.standby_region),
            ))
        }
        Seen::NotChecked => Some(ComponentReport::converging(
            "Observing",
            "waiting for the standby instance to be described".into(),
        )),
        Seen::Found(instance) if instance.status != RdsStatus::Available => Some(ComponentReport::converging(
            "StandbyInstanceNotAvailable",
            format!(
                "waiting for standby instance {instance_id} to be available (it is {})",
                instance.status
            ),
        )),
        Seen::Found(_) => None,
    }
}

/// Both clusters are members and the standby has its instance: the global cluster, the writer,
/// the standby's size and the lag.
fn decide_replication(
    n: &Names,
    spec: &AuroraSpec,
    global: &GlobalCluster,
    obs: &Observation,
    primary_is_member: bool,
    changes: &mut Vec<Change>,
) -> ComponentReport {
    let (global_id, primary_id) = (n.global, n.primary);
    let (primary_region, standby_region) = (n.primary_region, n.standby_region);
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
        && let Some(resizing) = resize_standby(n, spec, obs, changes)
    {
        return resizing;
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

/// A standby instance of another class than the spec's is resized (only while it is the
/// secondary: after a failover its size is the promoted writer's business).
fn resize_standby(
    n: &Names,
    spec: &AuroraSpec,
    obs: &Observation,
    changes: &mut Vec<Change>,
) -> Option<ComponentReport> {
    let Seen::Found(instance) = &obs.standby_instance else {
        return None;
    };
    let class = instance.instance_class.as_ref()?;
    let want = &spec.standby_instance_class.0;
    if class == want {
        return None;
    }
    let instance_id = standby_instance_identifier(spec);
    changes.push(Change::ResizeStandbyInstance {
        region: n.standby_region.to_owned(),
        identifier: instance_id.clone(),
        from: class.clone(),
        to: want.clone(),
    });
    Some(ComponentReport::converging(
        "ResizingStandbyInstance",
        format!("resizing standby instance {instance_id} from {class} to {want}"),
    ))
}

fn judge_lag(spec: &AuroraSpec, obs: &Observation, writer_region: &str, secondary_region: &str) -> ComponentReport {
    let max_lag = spec.max_replication_lag.to_duration().unwrap_or(Duration::from_secs(5));
    if let Some(e) = &obs.lag_error {
        return ComponentReport::degraded(
            "SecondaryRegionUnreachable",
            format!(
                "the writer is in {writer_region}; {secondary_region} does not answer ({e}), so replication to it is not observed: writes in {writer_region} are not protected in another region until it returns"
            ),
        );
    }
    let Some(sample) = obs.lag else {
        return ComponentReport::healthy(
            "Replicating",
            format!("replicating from {writer_region} to {secondary_region}; CloudWatch has not reported the lag yet"),
        );
    };
    let lag = lag::format(sample.milliseconds);
    match lag::judge(sample, obs.observed_at, max_lag) {
        lag::Verdict::Stale(age) => ComponentReport::degraded(
            "ReplicationLagStale",
            format!(
                "the last replication lag datapoint ({lag}) is {age}s old: Aurora stopped reporting AuroraGlobalDBReplicationLag for {secondary_region}, so replication may have stopped"
            ),
        ),
        lag::Verdict::High => ComponentReport::degraded(
            "ReplicationLagHigh",
            format!(
                "replication lag from {writer_region} to {secondary_region} is {lag} (maxReplicationLag {})",
                spec.max_replication_lag
            ),
        ),
        lag::Verdict::Within => ComponentReport::healthy(
            "Replicating",
            format!("replicating from {writer_region} to {secondary_region}, lag {lag}"),
        ),
    }
}
