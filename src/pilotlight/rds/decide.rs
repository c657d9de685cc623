//! What RDS convergence decides from an observation: which instance writes, its replica in the
//! other region (create it, adopt it, or refuse to touch what holds data), then replication.
//! Pure: no I/O.

use std::time::Duration;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::{Change, Decision, Observation};
use crate::{
    api::{DatabaseStatus, RdsInstanceRef, RdsInstancesStatus, RdsReplicaSpec, Regions},
    aws::{
        AwsError,
        rds::{DbInstance, ReadReplicaRequest, parse_instance_arn},
        states::RdsStatus,
    },
    pilotlight::{ComponentReport, aurora::format_lag},
};

/// RDS publishes `ReplicaLag` every minute; an older datapoint means replication may have stopped.
const LAG_STALE_AFTER: Duration = Duration::from_secs(180);

/// An instance and the region it is in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed<'a> {
    pub region: &'a str,
    pub instance: &'a DbInstance,
}

impl Placed<'_> {
    fn as_ref(&self) -> RdsInstanceRef {
        RdsInstanceRef {
            region: self.region.to_owned(),
            identifier: self.instance.identifier.clone(),
            status: Some(self.instance.status.to_string()),
            instance_class: self.instance.instance_class.clone(),
            promoted_at: self.instance.promoted_at.clone(),
        }
    }

    fn label(&self) -> String {
        format!("{} in {}", self.instance.identifier, self.region)
    }

    fn replicates_from(&self, region: &str, identifier: &str) -> bool {
        match self.instance.replica_source.as_deref() {
            Some(source) if source.starts_with("arn:") => parse_instance_arn(source) == Some((region, identifier)),
            Some(source) => self.region == region && source == identifier,
            None => false,
        }
    }
}

/// The instance that takes the writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Writer<'a> {
    Found(Placed<'a>),
    /// Its region does not answer: the last known writer (or the source) is assumed there.
    Unseen {
        region: &'a str,
        identifier: String,
    },
    /// The source does not exist and nothing was promoted.
    Missing,
    /// The source is itself a read replica (of something the spec does not name).
    SourceIsReplica(Placed<'a>),
}

/// The database as the two regions show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology<'a> {
    pub writer: Writer<'a>,
    pub writer_region: &'a str,
    /// The region the writer's replica belongs in.
    pub other_region: &'a str,
    pub replica: Option<Placed<'a>>,
    /// Former writers (the source, or an instance a failover promoted): kept, never deleted.
    pub orphaned: Vec<Placed<'a>>,
    /// Instances of the spec's identifiers in the other region that are neither.
    pub strangers: Vec<Placed<'a>>,
    /// Why the other region could not be read.
    pub other_unreachable: Option<&'a AwsError>,
}

/// Which instance writes, and which replicates from it. `known` is the last status's writer:
/// it stands for a writer whose region does not answer, unless a newer promotion is visible.
pub fn topology<'a>(
    regions: &'a Regions,
    spec: &RdsReplicaSpec,
    obs: &'a Observation,
    known: Option<&RdsInstanceRef>,
) -> Topology<'a> {
    let (primary, standby) = (regions.primary.as_str(), regions.standby.as_str());
    let source_id = spec.source_instance_identifier.as_str();
    let mut all: Vec<Placed<'a>> = [(primary, &obs.primary), (standby, &obs.standby)]
        .into_iter()
        .filter_map(|(region, seen)| seen.as_ref().ok().map(|found| (region, found)))
        .flat_map(|(region, found)| found.values().map(move |instance| Placed { region, instance }))
        .collect();
    all.sort_by(|a, b| (a.region, &a.instance.identifier).cmp(&(b.region, &b.instance.identifier)));
    let unreachable = |region: &str| match region == primary {
        true => obs.primary.as_ref().err(),
        false => obs.standby.as_ref().err(),
    };
    let is_source = |x: &Placed| x.region == primary && x.instance.identifier == source_id;
    let promoted = all
        .iter()
        .filter(|x| x.instance.replica_source.is_none() && x.instance.promoted_at.is_some())
        .max_by(|a, b| a.instance.promoted_at.cmp(&b.instance.promoted_at))
        .copied();
    // A writer last seen in a region that does not answer still writes, unless a promotion
    // newer than its own is visible.
    let hidden = known
        .filter(|k| unreachable(&k.region).is_some())
        .filter(|k| promoted.is_none_or(|p| k.promoted_at.is_some() && k.promoted_at > p.instance.promoted_at));
    let writer = match (hidden, promoted) {
        (Some(k), _) => Writer::Unseen {
            region: if k.region == primary { primary } else { standby },
            identifier: k.identifier.clone(),
        },
        (None, Some(p)) => Writer::Found(p),
        (None, None) => match all.iter().find(|x| is_source(x)) {
            Some(x) if x.instance.replica_source.is_none() => Writer::Found(*x),
            Some(x) => Writer::SourceIsReplica(*x),
            None if unreachable(primary).is_some() => Writer::Unseen {
                region: primary,
                identifier: source_id.to_owned(),
            },
            None => Writer::Missing,
        },
    };
    let (writer_region, writer_id) = match &writer {
        Writer::Found(w) | Writer::SourceIsReplica(w) => (w.region, w.instance.identifier.as_str()),
        Writer::Unseen { region, identifier } => (*region, identifier.as_str()),
        Writer::Missing => (primary, source_id),
    };
    let other_region = if writer_region == primary { standby } else { primary };
    let is_writer = |x: &Placed| x.region == writer_region && x.instance.identifier == writer_id;
    let replica = all
        .iter()
        .find(|x| x.region == other_region && x.replicates_from(writer_region, writer_id))
        .copied();
    let orphaned: Vec<Placed> = all
        .iter()
        .filter(|x| !is_writer(x) && x.instance.replica_source.is_none())
        .filter(|x| is_source(x) || x.instance.promoted_at.is_some())
        .copied()
        .collect();
    let strangers = all
        .iter()
        .filter(|x| x.region == other_region && Some(**x) != replica && !orphaned.contains(x))
        .copied()
        .collect();
    Topology {
        writer,
        writer_region,
        other_region,
        replica,
        orphaned,
        strangers,
        other_unreachable: unreachable(other_region),
    }
}

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
        lag: obs
            .lag
            .filter(|_| t.replica.is_some())
            .map(|l| Duration::from_secs_f64(l.milliseconds.max(0.0) / 1000.0)),
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
        let age = obs.observed_at.saturating_sub(sample.at_epoch_seconds);
        status.replication_lag_ms = Some(sample.milliseconds);
        status.replication_lag = Some(match age > LAG_STALE_AFTER.as_secs() as i64 {
            true => format!("{} ({}s old, stale)", format_lag(sample.milliseconds), age),
            false => format_lag(sample.milliseconds),
        });
        status.replication_lag_observed_at = Timestamp::from_second(sample.at_epoch_seconds).ok().map(Time);
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
        return ComponentReport::converging(
            "WriterNotAvailable",
            format!(
                "waiting for writer {} to be available (it is {})",
                writer.label(),
                writer.instance.status
            ),
        );
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
        return ComponentReport::converging(
            "WriterNotAvailable",
            format!(
                "waiting for writer {} to be available (it is {})",
                writer.label(),
                writer.instance.status
            ),
        );
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
        .map(|l| format!(", last ReplicaLag {}", format_lag(l.milliseconds)))
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
    let age = obs.observed_at.saturating_sub(sample.at_epoch_seconds);
    let lag = format_lag(sample.milliseconds);
    if age > LAG_STALE_AFTER.as_secs() as i64 {
        ComponentReport::degraded(
            "ReplicationLagStale",
            format!(
                "the last ReplicaLag datapoint of {} ({lag}) is {age}s old: RDS stopped reporting it, so replication may have stopped",
                replica.label()
            ),
        )
    } else if sample.milliseconds > max_lag.as_secs_f64() * 1000.0 {
        ComponentReport::degraded(
            "ReplicationLagHigh",
            format!(
                "{way}: ReplicaLag {lag} (maxReplicationLag {})",
                spec.max_replication_lag
            ),
        )
    } else {
        ComponentReport::healthy("Replicating", format!("{way}, lag {lag}{orphans}"))
    }
}
