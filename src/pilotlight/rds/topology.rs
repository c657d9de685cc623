//! Which instance writes and which replicates from it, from what both regions show. Pure.

use super::Observation;
use crate::{
    api::{RdsInstanceRef, RdsReplicaSpec, Regions},
    aws::{
        AwsError,
        rds::{DbInstance, parse_instance_arn},
    },
};

/// An instance and the region it is in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed<'a> {
    pub region: &'a str,
    pub instance: &'a DbInstance,
}

impl Placed<'_> {
    pub(super) fn as_ref(&self) -> RdsInstanceRef {
        RdsInstanceRef {
            region: self.region.to_owned(),
            identifier: self.instance.identifier.clone(),
            status: Some(self.instance.status.to_string()),
            instance_class: self.instance.instance_class.clone(),
            promoted_at: self.instance.promoted_at.clone(),
        }
    }

    pub(super) fn label(&self) -> String {
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
