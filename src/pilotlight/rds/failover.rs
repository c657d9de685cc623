//! The RDS steps of a failover: promote the read replica in the target region (after a planned
//! move's wait for `ReplicaLag` 0), and grow the promoted instance: read replicas of it, then its
//! class. RDS has no managed switchover: stopping writes before a planned move is the user's job.

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;

use crate::step::{Done, Next, Poll, StepContext, StepError, refused};
use crate::{
    api::{FailoverType, RdsReplicaSpec},
    aws::{
        cloudwatch::{self, LagMetric, LagSample},
        rds::{self, DbInstance, ReadReplicaRequest},
        states::RdsStatus,
    },
    config::FRESH_LAG_SAMPLE,
    pilotlight::aurora::failover::{DATABASE_SCALE_TIMEOUT, PROMOTION_TIMEOUT},
};

/// The promotion's next move.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PromoteCall {
    /// Read `ReplicaLag` of this replica: a planned move waits for 0.
    ReadLag(String),
    /// Tag and promote this replica.
    Promote(String),
}

/// The promotion's next move, from the spec's instances in the target region: done once the
/// instance promoted since `started` is standalone and available; else the replica (of an
/// instance in the other region) to promote, once `lag` (`None`: not read yet) allows it.
pub(crate) fn promotion(
    region: &str,
    instances: &HashMap<String, DbInstance>,
    started: Timestamp,
    planned: bool,
    lag: Option<Option<LagSample>>,
    now: i64,
) -> Next<PromoteCall> {
    let ours = |i: &DbInstance| {
        i.promoted_at
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .is_some_and(|t| t >= started)
    };
    let mut sorted: Vec<&DbInstance> = instances.values().collect();
    sorted.sort_by(|a, b| a.identifier.cmp(&b.identifier));
    if let Some(promoted) = sorted.iter().find(|i| ours(i)) {
        return match (&promoted.replica_source, &promoted.status) {
            (None, RdsStatus::Available) => Next::Done(format!(
                "{} in {region} is a standalone writer (promoted from a read replica)",
                promoted.identifier
            )),
            _ => Next::Wait(format!(
                "{} in {region} is being promoted (it is {})",
                promoted.identifier, promoted.status
            )),
        };
    }
    let Some(replica) = sorted.iter().find(|i| i.replica_source.is_some()) else {
        return Next::Fail(format!(
            "no read replica of the writer in {region} to promote (of {}); convergence creates it once both regions answer",
            sorted
                .iter()
                .map(|i| i.identifier.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let id = replica.identifier.clone();
    if replica.status != RdsStatus::Available {
        return Next::Wait(format!(
            "read replica {id} in {region} is {}, not available",
            replica.status
        ));
    }
    if !planned {
        return Next::Call(PromoteCall::Promote(id));
    }
    match lag {
        None => Next::Call(PromoteCall::ReadLag(id)),
        Some(Some(sample))
            if sample.milliseconds <= 0.0 && now - sample.at_epoch_seconds <= FRESH_LAG_SAMPLE.as_secs() as i64 =>
        {
            Next::Call(PromoteCall::Promote(id))
        }
        Some(Some(sample)) if sample.milliseconds <= 0.0 => Next::Wait(format!(
            "waiting for a fresh ReplicaLag sample of {id} in {region} (the last 0 is older than {}s)",
            FRESH_LAG_SAMPLE.as_secs()
        )),
        Some(Some(sample)) => Next::Wait(format!(
            "waiting for ReplicaLag of {id} in {region} to reach 0 (it is {}s): RDS has no managed switchover, so stop writes to the writer first",
            sample.milliseconds / 1000.0
        )),
        Some(None) => Next::Wait(format!(
            "waiting for a ReplicaLag sample of {id} in {region} (none in the last 10 minutes): a planned move promotes only a replica that has caught up"
        )),
    }
}

pub(crate) async fn promote_database(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let spec = sc.rds()?;
    let region = sc.direction.to;
    let clients = sc.clients(region);
    let planned = sc.type_ != FailoverType::Failover;
    let started = sc
        .journal
        .snapshot()
        .started_at
        .map(|t| t.0)
        .unwrap_or_else(Timestamp::now);
    let poll = Poll::new(PROMOTION_TIMEOUT);
    let mut lag = None;
    loop {
        let instances = rds::describe_instances(&clients, &super::identifiers(spec)).await?;
        let now = Timestamp::now();
        match promotion(region, &instances, started, planned, lag, now.as_second()) {
            Next::Done(m) => return Ok(Done::Succeeded(m)),
            Next::Fail(m) => return Err(refused(m)),
            Next::Call(PromoteCall::ReadLag(id)) => {
                let lags = cloudwatch::lags(&clients, LagMetric::ReadReplica, std::slice::from_ref(&id)).await?;
                lag = Some(lags.get(&id).copied());
            }
            Next::Call(PromoteCall::Promote(id)) => {
                let arn = instances.get(&id).map(|i| i.arn.clone()).unwrap_or_default();
                sc.before_call(format!("PromoteReadReplica {id} in {region}")).await?;
                rds::tag_promoted(&clients, &arn, &now.to_string()).await?;
                rds::promote_read_replica(&clients, &id).await?;
                sc.after_call(
                    format!("PromoteReadReplica accepted; waiting for {id} to be a standalone writer"),
                    None,
                )
                .await?;
            }
            Next::Wait(m) => {
                if lag.is_some() {
                    sc.waiting(&m).await?;
                }
                // A planned move reads the lag again on every look.
                lag = None;
                poll.next(|| m).await?;
            }
        }
    }
}

/// The instance a failover promoted into `region` most recently, and its endpoint.
pub(crate) async fn promoted_writer(sc: &StepContext<'_>) -> Result<DbInstance, StepError> {
    let spec = sc.rds()?;
    let region = sc.direction.to;
    let instances = rds::describe_instances(&sc.clients(region), &super::identifiers(spec)).await?;
    writer_in(&instances)
        .cloned()
        .ok_or_else(|| refused(format!("no promoted standalone instance in {region}")))
}

/// The standalone instance with the newest promotion tag.
fn writer_in(instances: &HashMap<String, DbInstance>) -> Option<&DbInstance> {
    instances
        .values()
        .filter(|i| i.replica_source.is_none() && i.promoted_at.is_some())
        .max_by(|a, b| a.promoted_at.cmp(&b.promoted_at))
}

pub(crate) async fn writer_endpoint(sc: &StepContext<'_>) -> Result<String, StepError> {
    let writer = promoted_writer(sc).await?;
    writer
        .endpoint
        .ok_or_else(|| refused(format!("instance {} has no endpoint", writer.identifier)))
}

/// A call [`instance_scale`] asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum InstanceCall {
    CreateReplica(String),
    /// The writer to the promoted instance class.
    Resize,
}

/// The promoted instance's next move: its read replicas first (RDS creates a replica only of an
/// available source, and resizing makes it `modifying`), then its class; done when all are
/// available with it.
pub(crate) fn instance_scale(
    instances: &HashMap<String, DbInstance>,
    writer: &str,
    replicas: &[String],
    class: &str,
) -> Next<InstanceCall> {
    let Some(writer_now) = instances.get(writer) else {
        return Next::Fail(format!("instance {writer} not found"));
    };
    let available = |id: &str| instances.get(id).is_some_and(|i| i.status == RdsStatus::Available);
    if let Some(missing) = replicas.iter().find(|r| !instances.contains_key(*r)) {
        return match available(writer) {
            true => Next::Call(InstanceCall::CreateReplica(missing.clone())),
            false => Next::Wait(format!("{writer} is {}; its replicas wait for it", writer_now.status)),
        };
    }
    let sized = writer_now.instance_class.as_deref() == Some(class);
    if !sized && available(writer) {
        return Next::Call(InstanceCall::Resize);
    }
    if sized && available(writer) && replicas.iter().all(|r| available(r)) {
        return Next::Done(format!(
            "{writer} is {class}; {} read replica(s) available",
            replicas.len()
        ));
    }
    Next::Wait(format!(
        "{writer} or its read replicas are not available as {class} yet"
    ))
}

/// The promoted instance gets `promotedReplicas` read replicas in its region and
/// `promotedInstanceClass` (the first seed: "increase its instance size, add a new read replica").
pub(crate) async fn scale_up_database(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let spec: &RdsReplicaSpec = sc.rds()?;
    let region = sc.direction.to;
    let clients = sc.clients(region);
    let writer = promoted_writer(sc).await?;
    let id = writer.identifier.clone();
    let class = spec
        .promoted_instance_class
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .or(writer.instance_class.clone())
        .unwrap_or_default();
    let replicas: Vec<String> = (1..=spec.promoted_replicas)
        .map(|i| format!("{id}-replica-{i}"))
        .collect();
    let all: Vec<String> = std::iter::once(id.clone()).chain(replicas.iter().cloned()).collect();
    let poll = Poll::new(DATABASE_SCALE_TIMEOUT);
    loop {
        let instances = rds::describe_instances(&clients, &all).await?;
        match instance_scale(&instances, &id, &replicas, &class) {
            Next::Done(m) => return Ok(Done::Succeeded(m)),
            Next::Fail(m) => return Err(refused(format!("{m} in {region}"))),
            Next::Call(InstanceCall::Resize) => {
                sc.before_call(format!("ModifyDBInstance {id} to {class}")).await?;
                rds::modify_instance_class(&clients, &id, &class).await?;
                sc.after_call(format!("{id} resizing to {class}"), None).await?;
            }
            Next::Call(InstanceCall::CreateReplica(replica)) => {
                sc.before_call(format!("CreateDBInstanceReadReplica {replica} of {id}"))
                    .await?;
                let request = ReadReplicaRequest {
                    identifier: replica.clone(),
                    source_arn: writer.arn.clone(),
                    instance_class: Some(class.clone()),
                    storage_type: spec.storage_type.map(|s| s.as_str().to_owned()),
                    db_subnet_group_name: None,
                    vpc_security_group_ids: Vec::new(),
                    kms_key_id: None,
                };
                rds::create_read_replica(&clients, &request, &crate::api::object_key(sc.pl)).await?;
                sc.after_call(format!("read replica {replica} creating"), None).await?;
            }
            Next::Wait(m) => poll.next(|| m).await?,
        }
    }
}

#[cfg(test)]
mod tests;
