//! The database steps of a failover: promote the standby (or switch over), point the
//! endpoints ConfigMap and writer record at the new writer, and grow the promoted cluster.

use std::time::Duration;

use crate::step::{Done, Poll, StepContext, StepError, refused};
use crate::{
    api::FailoverType,
    aws::{
        rds::{self, Promotion, parse_cluster_arn},
        states::RdsStatus,
    },
    pilotlight::{aurora::standby_instance_identifier, endpoints, traffic},
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
        let g = clusters
            .get(global)
            .ok_or_else(|| refused(format!("global cluster {global} not found from {region}")))?;
        let target = g
            .members
            .iter()
            .find(|m| parse_cluster_arn(&m.cluster_arn) == Some((region, cluster)))
            .ok_or_else(|| {
                refused(format!(
                    "{cluster} in {region} is not a member of global cluster {global}"
                ))
            })?;
        if target.is_writer && g.status == RdsStatus::Available {
            return Ok(Done::Succeeded(format!(
                "{cluster} in {region} is the writer of {global}"
            )));
        }
        let under_way = target.is_writer || g.promoting.as_deref() == Some(target.cluster_arn.as_str());
        if !under_way && !called && g.status == RdsStatus::Available {
            sc.before_call(format!("{call} {global} to {cluster} in {region}"))
                .await?;
            rds::promote(&clients, global, &target.cluster_arn, how).await?;
            called = true;
            continue;
        }
        if called && !waiting_written {
            sc.after_call(
                format!("{call} accepted; waiting for {cluster} to become the writer"),
                None,
            )
            .await?;
            waiting_written = true;
        }
        poll.next(|| {
            format!(
                "global cluster {global} is {} and {cluster} is not the writer",
                g.status
            )
        })
        .await?;
    }
}

pub(crate) async fn update_endpoints(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let aurora = sc.aurora()?;
    let (region, cluster) = sc.promoted_cluster()?;
    let endpoint = rds::describe_cluster(&sc.clients(region), cluster)
        .await?
        .and_then(|c| c.endpoint)
        .ok_or_else(|| refused(format!("cluster {cluster} in {region} has no endpoint")))?;
    let mut status = sc.pl.status.clone().unwrap_or_default();
    status.active_region = Some(sc.direction.to.to_owned());
    status.database.get_or_insert_with(Default::default).writer_endpoint = Some(endpoint.clone());
    endpoints::apply(&sc.ctx.client, &endpoints::desired(sc.pl, &status)).await?;
    let config_map = format!("ConfigMap {}: activeRegion {}", endpoints::name(sc.pl), sc.direction.to);
    match &aurora.writer_endpoint_record {
        Some(w) => {
            match traffic::failover::point_record(sc, w.hosted_zone_id.as_str(), traffic::writer_record(w, &endpoint))
                .await?
            {
                Done::Succeeded(m) => Ok(Done::Succeeded(format!("{config_map}; {m}"))),
                deferred => Ok(deferred),
            }
        }
        None => Ok(Done::Succeeded(format!("{config_map}, writer {endpoint}"))),
    }
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
        let writer_now = instances
            .get(&writer)
            .ok_or_else(|| refused(format!("instance {writer} not found in {region}")))?;
        if writer_now.instance_class.as_deref() != Some(class.as_str()) && writer_now.status == RdsStatus::Available {
            sc.before_call(format!("ModifyDBInstance {writer} to {class}")).await?;
            rds::modify_instance_class(&clients, &writer, &class).await?;
            sc.after_call(format!("{writer} resizing to {class}"), None).await?;
            continue;
        }
        if let Some(missing) = readers.iter().find(|r| !instances.contains_key(*r)) {
            sc.before_call(format!("CreateDBInstance {missing} ({class}) in {cluster}"))
                .await?;
            let owner = crate::api::object_key(sc.pl);
            rds::create_instance(&clients, missing, cluster, &class, &engine, &owner).await?;
            sc.after_call(format!("reader {missing} creating"), None).await?;
            continue;
        }
        let done = instances
            .get(&writer)
            .is_some_and(|w| w.status == RdsStatus::Available && w.instance_class.as_deref() == Some(class.as_str()))
            && readers
                .iter()
                .all(|r| instances.get(r).is_some_and(|i| i.status == RdsStatus::Available));
        if done {
            return Ok(Done::Succeeded(format!(
                "{writer} is {class}; {} reader(s) available",
                readers.len()
            )));
        }
        poll.next(|| format!("{writer} or its readers are not available as {class} yet"))
            .await?;
    }
}
