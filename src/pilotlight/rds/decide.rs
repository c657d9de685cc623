//! What RDS convergence decides from an observation: which instance writes, its replica in the
//! other region (create it, adopt it, or refuse to touch what holds data), then replication.
//! Pure: no I/O.

use std::time::Duration;

use super::{
    Change, Decision, Observation,
    topology::{Placed, Topology, Writer, topology},
};
use crate::{
    api::{DatabaseStatus, RdsInstanceRef, RdsInstancesStatus, RdsReplicaSpec, Regions},
    aws::{rds::ReadReplicaRequest, states::RdsStatus},
    pilotlight::{ComponentReport, lag},
};

/// Decides what to create and how healthy the database is. `known` is the last status. While a
/// request runs (`request_running`) nothing is changed: its steps move the database, and the
/// replica back is created once it has ended.
pub fn decide(
    regions: &Regions,
    spec: &RdsReplicaSpec,
    obs: &Observation,
    known: Option<&DatabaseStatus>,
    request_running: bool,
) -> Decision {
    let known_writer = known.and_then(|k| k.rds.as_ref()).and_then(|r| r.writer.as_ref());
    let t = topology(regions, spec, obs, known_writer);
    let mut decision = Decision {
        changes: Vec::new(),
        report: ComponentReport::converging("Observing", String::new()),
        status: describe(&t, obs, known),
        writer_region: match &t.writer {
            Writer::Missing => None,
            _ => Some(t.writer_region.to_owned()),
        },
    };
    decision.report = judge(regions, spec, obs, &t, &mut decision.changes);
    if request_running && let Some(change) = decision.changes.first() {
        decision.report = ComponentReport::converging(
            "WaitingForRequest",
            format!(
                "a FailoverRequest is moving the database; once it ends: {}",
                crate::pilotlight::PlannedChange::describe(change)
            ),
        );
        decision.changes.clear();
    }
    decision
}

/// The status part: writer, replica, orphans and the lag.
fn describe(t: &Topology, obs: &Observation, known: Option<&DatabaseStatus>) -> DatabaseStatus {
    let mut status = DatabaseStatus::default();
    let writer = match &t.writer {
        Writer::Found(w) => Some(w.as_ref()),
        Writer::Unseen { region, identifier } => Some(
            known
                .and_then(|k| k.rds.as_ref())
                .and_then(|r| r.writer.clone())
                .filter(|w| w.region == *region && w.identifier == *identifier)
                .unwrap_or_else(|| RdsInstanceRef {
                    region: (*region).to_owned(),
                    identifier: identifier.clone(),
                    ..RdsInstanceRef::default()
                }),
        ),
        Writer::Missing | Writer::SourceIsReplica(_) => None,
    };
    status.writer_region = writer.as_ref().map(|w| w.region.clone());
    status.writer_endpoint = match &t.writer {
        Writer::Found(w) => w.instance.endpoint.clone(),
        // Not seen now: the endpoint last seen for the same writer still names it.
        Writer::Unseen { .. } => known
            .filter(|k| k.rds.as_ref().and_then(|r| r.writer.as_ref()) == writer.as_ref())
            .and_then(|k| k.writer_endpoint.clone()),
        _ => None,
    };
    if let (Some(sample), Some(_)) = (obs.lag, t.replica) {
        lag::describe(&mut status, sample, obs.observed_at);
    }
    status.rds = Some(RdsInstancesStatus {
        writer,
        replica: t.replica.map(|r| r.as_ref()),
        replication_state: t
            .replica
            .and_then(|r| r.instance.replication.as_ref())
            .map(|(s, _)| s.clone()),
        orphaned: t.orphaned.iter().map(Placed::as_ref).collect(),
    });
    status
}

fn judge(
    regions: &Regions,
    spec: &RdsReplicaSpec,
    obs: &Observation,
    t: &Topology,
    changes: &mut Vec<Change>,
) -> ComponentReport {
    let source = spec.source_instance_identifier.as_str();
    let primary = regions.primary.as_str();
    let writer = match &t.writer {
        Writer::Missing => {
            return ComponentReport::misconfigured(
                "SourceInstanceNotFound",
                format!(
                    "source instance {source} does not exist in {primary}; spec.database.rds.sourceInstanceIdentifier must name an existing RDS DB instance (the operator never creates it)"
                ),
            );
        }
        Writer::SourceIsReplica(x) => {
            return ComponentReport::misconfigured(
                "SourceIsReadReplica",
                format!(
                    "source instance {source} in {primary} is itself a read replica of {}; name the instance that takes the writes",
                    x.instance.replica_source.as_deref().unwrap_or("another instance")
                ),
            );
        }
        Writer::Unseen { region, identifier } => {
            return match t.replica {
                Some(r) => ComponentReport::degraded(
                    "WriterRegionUnreachable",
                    format!(
                        "the RDS API in {region} does not answer, so writer {identifier} is not seen; its replica {} is {}{}",
                        r.label(),
                        r.instance.status,
                        lag_note(obs)
                    ),
                ),
                None => ComponentReport::degraded(
                    "WriterRegionUnreachable",
                    format!(
                        "the RDS API in {region} does not answer, so writer {identifier} is not seen, and no read replica of it is seen in {}",
                        t.other_region
                    ),
                ),
            };
        }
        Writer::Found(w) => *w,
    };
    if writer.instance.status != RdsStatus::Available && t.replica.is_none() {
        return writer_not_available(writer);
    }
    let Some(replica) = t.replica else {
        return decide_replica(regions, spec, t, writer, changes);
    };
    if replica.instance.status != RdsStatus::Available {
        return ComponentReport::converging(
            "ReplicaNotAvailable",
            format!(
                "waiting for read replica {} to be available (it is {})",
                replica.label(),
                replica.instance.status
            ),
        );
    }
    if let Some((state, false)) = &replica.instance.replication {
        return ComponentReport::degraded(
            "ReplicationBroken",
            format!(
                "read replication of {} from {} is {state} (StatusInfos): nothing new reaches {}; the operator never deletes or recreates a replica: repair it, or delete it and a new one is created",
                replica.label(),
                writer.label(),
                t.other_region
            ),
        );
    }
    if let Some(resizing) = resize_replica(regions, spec, writer, replica, changes) {
        return resizing;
    }
    judge_lag(spec, obs, writer, replica, t)
}

/// No replica of the writer in the other region: create one under the first of the spec's two
/// identifiers that is free there, unless an instance that may hold data is in the way.
fn decide_replica(
    regions: &Regions,
    spec: &RdsReplicaSpec,
    t: &Topology,
    writer: Placed,
    changes: &mut Vec<Change>,
) -> ComponentReport {
    let other = t.other_region;
    if let Some(e) = t.other_unreachable {
        return ComponentReport::degraded(
            "ReplicaRegionUnreachable",
            format!(
                "writer {} has no replica that can be seen: the RDS API in {other} does not answer ({}); writes are not protected in another region until it returns",
                writer.label(),
                e.message
            ),
        );
    }
    let taken = |id: &str| t.strangers.iter().find(|x| x.instance.identifier == id);
    let orphan = |id: &str| {
        t.orphaned
            .iter()
            .any(|x| x.region == other && x.instance.identifier == id)
    };
    let [source_id, replica_id] = super::identifiers(spec);
    let mut identifier = None;
    for candidate in [&replica_id, &source_id] {
        if let Some(stranger) = taken(candidate) {
            return ComponentReport::misconfigured(
                "ReplicaInstanceExists",
                format!(
                    "instance {} exists but {}; the operator never modifies or deletes an instance that may hold data: delete it yourself, or create a new PilotLight with another replicaInstanceIdentifier",
                    stranger.label(),
                    match &stranger.instance.replica_source {
                        Some(s) => format!("replicates from {s}, not from writer {}", writer.label()),
                        None => format!("is not a read replica of writer {}", writer.label()),
                    }
                ),
            );
        }
        if !orphan(candidate) {
            identifier = Some(candidate.clone());
            break;
        }
    }
    let Some(identifier) = identifier else {
        return ComponentReport::misconfigured(
            "ReplicaIdentifiersInUse",
            format!(
                "both {source_id} and {replica_id} in {other} are former writers left by earlier failovers; delete the one whose data you no longer need (the operator never deletes a database) and a replica of {} is created under that name",
                writer.label()
            ),
        );
    };
    if writer.instance.status != RdsStatus::Available {
        return writer_not_available(writer);
    }
    let to_standby = other == regions.standby.as_str();
    let (key, key_field) = match to_standby {
        true => (spec.kms_key_id.clone(), "kmsKeyId"),
        false => (spec.primary_kms_key_id.clone(), "primaryKmsKeyId"),
    };
    if writer.instance.storage_encrypted && key.is_none() {
        return ComponentReport::misconfigured(
            "KmsKeyRequired",
            format!(
                "writer {} is encrypted: a read replica in {other} needs a KMS key of that region; set spec.database.rds.{key_field}",
                writer.label()
            ),
        );
    }
    changes.push(Change::CreateReplica {
        region: other.to_owned(),
        request: ReadReplicaRequest {
            identifier: identifier.clone(),
            source_arn: writer.instance.arn.clone(),
            instance_class: match to_standby {
                true => spec.replica_instance_class.as_ref().map(|c| c.0.clone()),
                false => None,
            },
            storage_type: spec.storage_type.map(|s| s.as_str().to_owned()),
            db_subnet_group_name: spec.db_subnet_group_name.clone().filter(|_| to_standby),
            vpc_security_group_ids: match to_standby {
                true => spec.vpc_security_group_ids.iter().map(|g| g.0.clone()).collect(),
                false => Vec::new(),
            },
            kms_key_id: key,
        },
    });
    ComponentReport::converging(
        "CreatingReadReplica",
        format!(
            "creating read replica {identifier} in {other} of writer {}",
            writer.label()
        ),
    )
}

fn writer_not_available(writer: Placed) -> ComponentReport {
    ComponentReport::converging(
        "WriterNotAvailable",
        format!(
            "waiting for writer {} to be available (it is {})",
            writer.label(),
            writer.instance.status
        ),
    )
}

/// The standby replica of the source resized by hand goes back to `replicaInstanceClass` (only
/// while the source writes: after a failover sizes are the promoted writer's business).
fn resize_replica(
    regions: &Regions,
    spec: &RdsReplicaSpec,
    writer: Placed,
    replica: Placed,
    changes: &mut Vec<Change>,
) -> Option<ComponentReport> {
    let want = spec.replica_instance_class.as_ref()?.as_str();
    let class = replica.instance.instance_class.as_deref()?;
    if writer.region != regions.primary.as_str() || class == want {
        return None;
    }
    changes.push(Change::ResizeReplica {
        region: replica.region.to_owned(),
        identifier: replica.instance.identifier.clone(),
        from: class.to_owned(),
        to: want.to_owned(),
    });
    Some(ComponentReport::converging(
        "ResizingReadReplica",
        format!("resizing read replica {} from {class} to {want}", replica.label()),
    ))
}

fn lag_note(obs: &Observation) -> String {
    obs.lag
        .map(|l| format!(", last ReplicaLag {}", lag::format(l.milliseconds)))
        .unwrap_or_default()
}

fn judge_lag(
    spec: &RdsReplicaSpec,
    obs: &Observation,
    writer: Placed,
    replica: Placed,
    t: &Topology,
) -> ComponentReport {
    let max_lag = spec
        .max_replication_lag
        .to_duration()
        .unwrap_or(Duration::from_secs(30));
    let orphans = match t.orphaned.is_empty() {
        true => String::new(),
        false => format!(
            "; kept from earlier failovers (never deleted by the operator): {}",
            t.orphaned.iter().map(Placed::label).collect::<Vec<_>>().join(", ")
        ),
    };
    let way = format!("replicating from {} to {}", writer.label(), replica.label());
    if let Some(e) = &obs.lag_error {
        return ComponentReport::degraded(
            "ReplicaLagUnknown",
            format!(
                "{way}; CloudWatch in {} does not answer ({e}), so the lag is not known",
                replica.region
            ),
        );
    }
    let Some(sample) = obs.lag else {
        return ComponentReport::healthy(
            "Replicating",
            format!("{way}; CloudWatch has not reported ReplicaLag yet{orphans}"),
        );
    };
    let shown = lag::format(sample.milliseconds);
    match lag::judge(sample, obs.observed_at, max_lag) {
        lag::Verdict::Stale(age) => ComponentReport::degraded(
            "ReplicationLagStale",
            format!(
                "the last ReplicaLag datapoint of {} ({shown}) is {age}s old: RDS stopped reporting it, so replication may have stopped",
                replica.label()
            ),
        ),
        lag::Verdict::High => ComponentReport::degraded(
            "ReplicationLagHigh",
            format!(
                "{way}: ReplicaLag {shown} (maxReplicationLag {})",
                spec.max_replication_lag
            ),
        ),
        lag::Verdict::Within => ComponentReport::healthy("Replicating", format!("{way}, lag {shown}{orphans}")),
    }
}
