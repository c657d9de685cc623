//! The Aurora steps of a failover: promote the standby (or switch over), name the new writer's
//! endpoint (for the endpoints ConfigMap and writer record), and grow the promoted cluster.

use std::{collections::HashMap, time::Duration};

use crate::step::{Done, Next, Poll, StepContext, StepError, refused};
use crate::{
    api::FailoverType,
    aws::{
        rds::{self, DbInstance, GlobalCluster, Promotion, parse_cluster_arn},
        states::RdsStatus,
    },
    pilotlight::aurora::standby_instance_identifier,
};

/// How long each kind of wait may take before the step fails.
pub(crate) const PROMOTION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub(crate) const DATABASE_SCALE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub(crate) async fn promote_database(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let aurora = sc.aurora()?;
    let global = aurora.global_cluster_identifier.as_str();
    let (region, cluster) = sc.promoted_cluster()?;
    // Asked in the target's region: it answers when the old writer's region does not.
    let clients = sc.clients(region);
    let how = match sc.type_ {
        FailoverType::Failover => Promotion::FailoverAllowingDataLoss,
        _ => Promotion::Switchover,
    };
    let call = match how {
        Promotion::Switchover => "SwitchoverGlobalCluster",
        Promotion::FailoverAllowingDataLoss => "FailoverGlobalCluster (AllowDataLoss)",
    };
    let poll = Poll::new(PROMOTION_TIMEOUT);
    let mut called = false;
    // After the call the cluster is looked at once more before the journal says it is waiting:
    // when it is done already, the write that marks the step Succeeded is the one after the call.
    let mut waiting_written = false;
    loop {
        let clusters = rds::describe_global_clusters(&clients).await?;
        let g = clusters.get(global);
        match promotion(global, g, region, cluster, called) {
            Next::Done(m) => return Ok(Done::Succeeded(m)),
            Next::Fail(m) => return Err(refused(m)),
            Next::Call(target) => {
                sc.before_call(format!("{call} {global} to {cluster} in {region}"))
                    .await?;
                rds::promote(&clients, global, &target, how).await?;
                called = true;
            }
            Next::Wait(m) => {
                if called && !waiting_written {
                    sc.after_call(
                        format!("{call} accepted; waiting for {cluster} to become the writer"),
                        None,
                    )
                    .await?;
                    waiting_written = true;
                }
                poll.next(|| m).await?;
            }
        }
    }
}

/// The promotion's next move, from the global cluster as seen from the target's region: promote
/// `cluster` (its ARN) once, unless a promotion to it is under way; done when it is the writer
/// and the global cluster is available again.
pub(crate) fn promotion(
    global: &str,
    g: Option<&GlobalCluster>,
    region: &str,
    cluster: &str,
    called: bool,
) -> Next<String> {
    let Some(g) = g else {
        return Next::Fail(format!("global cluster {global} not found from {region}"));
    };
    let Some(target) = g
        .members
        .iter()
        .find(|m| parse_cluster_arn(&m.cluster_arn) == Some((region, cluster)))
    else {
        return Next::Fail(format!(
            "{cluster} in {region} is not a member of global cluster {global}"
        ));
    };
    if target.is_writer && g.status == RdsStatus::Available {
        return Next::Done(format!("{cluster} in {region} is the writer of {global}"));
    }
    let under_way = target.is_writer || g.promoting.as_deref() == Some(target.cluster_arn.as_str());
    if !under_way && !called && g.status == RdsStatus::Available {
        return Next::Call(target.cluster_arn.clone());
    }
    Next::Wait(format!(
        "global cluster {global} is {} and {cluster} is not the writer",
        g.status
    ))
}

/// The promoted cluster's writer endpoint.
pub(crate) async fn writer_endpoint(sc: &StepContext<'_>) -> Result<String, StepError> {
    let (region, cluster) = sc.promoted_cluster()?;
    rds::describe_cluster(&sc.clients(region), cluster)
        .await?
        .and_then(|c| c.endpoint)
        .ok_or_else(|| refused(format!("cluster {cluster} in {region} has no endpoint")))
}

/// The promoted writer gets `promotedInstanceClass`, and `promotedReaders` readers of that class
/// are added (the second seed: "the instance size increased and a DB slave created").
pub(crate) async fn scale_up_database(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let aurora = sc.aurora()?;
    let (region, cluster) = sc.promoted_cluster()?;
    let clients = sc.clients(region);
    let writer = standby_instance_identifier(aurora);
    let class = aurora
        .promoted_instance_class
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_else(|| aurora.standby_instance_class.as_str().to_owned());
    let readers: Vec<String> = (1..=aurora.promoted_readers)
        .map(|i| format!("{cluster}-reader-{i}"))
        .collect();
    let all: Vec<String> = std::iter::once(writer.clone()).chain(readers.iter().cloned()).collect();
    let engine = rds::describe_cluster(&clients, cluster)
        .await?
        .and_then(|c| c.engine)
        .unwrap_or_else(|| "aurora-postgresql".into());
    let poll = Poll::new(DATABASE_SCALE_TIMEOUT);
    loop {
        let instances = rds::describe_instances(&clients, &all).await?;
        match database_scale(&instances, &writer, &readers, &class) {
            Next::Done(m) => return Ok(Done::Succeeded(m)),
            Next::Fail(m) => return Err(refused(format!("{m} in {region}"))),
            Next::Call(DatabaseCall::Resize) => {
                sc.before_call(format!("ModifyDBInstance {writer} to {class}")).await?;
                rds::modify_instance_class(&clients, &writer, &class).await?;
                sc.after_call(format!("{writer} resizing to {class}"), None).await?;
            }
            Next::Call(DatabaseCall::CreateReader(reader)) => {
                sc.before_call(format!("CreateDBInstance {reader} ({class}) in {cluster}"))
                    .await?;
                let owner = crate::api::object_key(sc.pl);
                rds::create_instance(&clients, &reader, cluster, &class, &engine, &owner).await?;
                sc.after_call(format!("reader {reader} creating"), None).await?;
            }
            Next::Wait(m) => poll.next(|| m).await?,
        }
    }
}

/// A call [`database_scale`] asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DatabaseCall {
    /// The writer to the promoted instance class.
    Resize,
    CreateReader(String),
}

/// The promoted cluster's next move: resize the writer (once it is available), then create each
/// missing reader; done when all are available with the class.
pub(crate) fn database_scale(
    instances: &HashMap<String, DbInstance>,
    writer: &str,
    readers: &[String],
    class: &str,
) -> Next<DatabaseCall> {
    let Some(writer_now) = instances.get(writer) else {
        return Next::Fail(format!("instance {writer} not found"));
    };
    let sized = writer_now.instance_class.as_deref() == Some(class);
    if !sized && writer_now.status == RdsStatus::Available {
        return Next::Call(DatabaseCall::Resize);
    }
    if let Some(missing) = readers.iter().find(|r| !instances.contains_key(*r)) {
        return Next::Call(DatabaseCall::CreateReader(missing.clone()));
    }
    let available = |id: &str| instances.get(id).is_some_and(|i| i.status == RdsStatus::Available);
    if sized && available(writer) && readers.iter().all(|r| available(r)) {
        return Next::Done(format!("{writer} is {class}; {} reader(s) available", readers.len()));
    }
    Next::Wait(format!("{writer} or its readers are not available as {class} yet"))
}

#[cfg(test)]
mod tests;
