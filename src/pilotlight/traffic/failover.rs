//! The traffic step of a failover. `failoverRouting`: flip the switch (a metric published in the
//! standby region, or ARC routing controls through any of the cluster's five endpoints), then
//! watch the DNS data plane until the name answers the target; no Route 53 control-plane call.
//! `recordUpdate`: UPSERT the record and wait until Route 53 reports the change INSYNC.

use std::{collections::BTreeSet, net::IpAddr, time::Duration};

use crate::step::{Done, Next, Poll, StepContext, StepError, refused};
use crate::{
    api::{Regions, SwitchStatus, TrafficSpec, TrafficSwitch, object_key},
    aws::{
        GLOBAL_REGION,
        arc::{self, ClusterEndpoint, ControlState},
        cloudwatch,
        route53::{self, Record},
    },
    dns,
    pilotlight::traffic::{self, switch},
};

pub(crate) const INSYNC_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long the name may take to answer the target once the switch is flipped: Route 53's
/// checkers need `requestInterval × failureThreshold` (up to 30 s × 10) to see a health change.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The journaled operation of a flipped switch: a resumed step only waits for the answer.
const FLIPPED: &str = "switch flipped";

pub(crate) async fn switch_traffic(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let spec = sc
        .pl
        .spec
        .traffic
        .as_ref()
        .ok_or_else(|| refused("spec.traffic is not set".into()))?;
    let to_standby = sc.direction.to_standby(&sc.pl.spec);
    match spec.switch() {
        None => update_record(sc, spec, to_standby).await,
        Some(kind) => {
            if sc.journal.operation(sc.kind).is_none() {
                flip(sc, kind, to_standby).await?;
            }
            let republish = (kind == TrafficSwitch::MetricAlarm).then(|| switch::metric_switch(&object_key(sc.pl)));
            wait_for_answer(sc, spec, to_standby, republish.as_ref()).await
        }
    }
}

/// What the traffic step will do, in words (a dry run's plan shows it).
pub fn describe(spec: &TrafficSpec, regions: &Regions, to_standby: bool) -> String {
    let r = &spec.route53;
    let (to, target) = if to_standby {
        (&regions.standby, &r.standby_target)
    } else {
        (&regions.primary, &r.primary_target)
    };
    let name = &r.record_name;
    match spec.switch() {
        None => format!(
            "UPSERT {name} to {} and wait for INSYNC (traffic mode recordUpdate: needs Route 53's control plane in {GLOBAL_REGION})",
            target.dns_name
        ),
        Some(TrafficSwitch::MetricAlarm) => format!(
            "flip the metricAlarm switch (PutMetricData {}/{} = {} in {}), then wait until {name} answers {}",
            cloudwatch::SWITCH_NAMESPACE,
            cloudwatch::SWITCH_METRIC,
            u8::from(to_standby),
            regions.standby,
            target.dns_name
        ),
        Some(TrafficSwitch::RoutingControl) => format!(
            "flip the routingControl switch (UpdateRoutingControlStates: {to} On, the other region Off, on the first of the ARC cluster's endpoints that answers), then wait until {name} answers {}",
            target.dns_name
        ),
    }
}

/// `recordUpdate`: the record's UPSERT, whose failure to reach Route 53's control plane says
/// which mode would not have needed it.
async fn update_record(sc: &StepContext<'_>, spec: &TrafficSpec, to_standby: bool) -> Result<Done, StepError> {
    let r = &spec.route53;
    point_record(sc, r.hosted_zone_id.as_str(), traffic::app_record(r, to_standby))
        .await
        .map_err(|e| match e.unreachable {
            true => StepError {
                message: control_plane_unreachable(&e.message),
                ..e
            },
            false => e,
        })
}

/// The message of a `recordUpdate` failover that could not reach Route 53's control plane.
pub(crate) fn control_plane_unreachable(error: &str) -> String {
    format!(
        "Route 53's control plane (served from {GLOBAL_REGION}) is unreachable, and traffic mode recordUpdate needs it \
         to change the record: {error}. Traffic mode failoverRouting (the default) moves traffic with health checks \
         on Route 53's data plane and would have worked"
    )
}

/// The switch's settings as convergence last wrote them: the failover reaches them without
/// Route 53's or ARC's configuration APIs.
fn armed_switch<'a>(sc: &'a StepContext<'_>) -> Result<&'a SwitchStatus, StepError> {
    let status = sc
        .pl
        .status
        .as_ref()
        .and_then(|s| s.traffic.as_ref())
        .and_then(|t| t.switch.as_ref());
    match status {
        Some(s) if s.ready => Ok(s),
        Some(s) => Err(refused(format!("the traffic switch is not ready: {}", s.message))),
        None => Err(refused(
            "the traffic switch is not in place yet (status.traffic.switch is empty)".into(),
        )),
    }
}

async fn flip(sc: &StepContext<'_>, kind: TrafficSwitch, to_standby: bool) -> Result<(), StepError> {
    let regions = &sc.pl.spec.regions;
    let armed = armed_switch(sc)?;
    if armed.type_ != kind {
        return Err(refused(format!(
            "spec.traffic.switch is {} but the switch in place is {}; wait until the PilotLight is Ready",
            kind.name(),
            armed.type_.name()
        )));
    }
    match kind {
        TrafficSwitch::MetricAlarm => {
            let alarm = switch::metric_switch(&object_key(sc.pl));
            let value = u8::from(to_standby);
            sc.before_call(format!(
                "PutMetricData {}/{} = {value} in {}",
                cloudwatch::SWITCH_NAMESPACE,
                cloudwatch::SWITCH_METRIC,
                regions.standby
            ))
            .await?;
            cloudwatch::publish_switch(&sc.clients(regions.standby.as_str()), &alarm, to_standby).await?;
            sc.after_call(
                format!(
                    "{} = {value} published: alarm {} turns the failover records to {}",
                    cloudwatch::SWITCH_METRIC,
                    alarm.alarm_name,
                    sc.direction.to
                ),
                Some(FLIPPED.into()),
            )
            .await
        }
        TrafficSwitch::RoutingControl => {
            let changes = routing_control_states(armed, sc.direction.to)?;
            let endpoints: Vec<ClusterEndpoint> = armed
                .cluster_endpoints
                .iter()
                .map(|e| ClusterEndpoint {
                    region: e.region.clone(),
                    url: e.endpoint.clone(),
                })
                .collect();
            let clients = sc
                .ctx
                .aws
                .routing_control_endpoints(crate::aws::Caller::Failover, &endpoints);
            sc.before_call(format!(
                "UpdateRoutingControlStates: {} On, the other Off",
                sc.direction.to
            ))
            .await?;
            arc::update_states(&clients, &changes).await?;
            sc.after_call(
                format!("routing control of {} On", sc.direction.to),
                Some(FLIPPED.into()),
            )
            .await
        }
    }
}

/// The target region's routing control On and every other Off, in one update (the safety rule
/// holds for the update as a whole).
pub(crate) fn routing_control_states(armed: &SwitchStatus, to: &str) -> Result<Vec<(String, ControlState)>, StepError> {
    if !armed.routing_controls.iter().any(|c| c.region == to) {
        return Err(refused(format!(
            "status.traffic.switch has no routing control for {to}"
        )));
    }
    if armed.cluster_endpoints.is_empty() {
        return Err(refused("status.traffic.switch lists no ARC cluster endpoints".into()));
    }
    Ok(armed
        .routing_controls
        .iter()
        .map(|c| {
            let state = if c.region == to {
                ControlState::On
            } else {
                ControlState::Off
            };
            (c.arn.clone(), state)
        })
        .collect())
}

/// Waits until the application name answers what the target name answers, asking the DNS data
/// plane directly (no cache), not Route 53's control plane. With `republish` (the metric
/// switch), the switch's value is published again each alarm period while the answer has not
/// moved: a 0 published in the same period as an earlier 1 leaves the Maximum at 1 and the alarm
/// in ALARM, and missing data keeps that state, so a quick flip back needs the next period's 0.
/// Publishing the same value again changes nothing else.
async fn wait_for_answer(
    sc: &StepContext<'_>,
    spec: &TrafficSpec,
    to_standby: bool,
    republish: Option<&cloudwatch::MetricSwitch>,
) -> Result<Done, StepError> {
    let r = &spec.route53;
    let target = if to_standby {
        &r.standby_target
    } else {
        &r.primary_target
    };
    let poll = Poll::new(ANSWER_TIMEOUT).at_most_every(Duration::from_millis(200));
    let period = Duration::from_secs(cloudwatch::SWITCH_PERIOD.unsigned_abs().into());
    let mut published = std::time::Instant::now();
    loop {
        if let Some(metric) = republish.filter(|_| published.elapsed() >= period) {
            let standby = sc.clients(sc.pl.spec.regions.standby.as_str());
            cloudwatch::publish_switch(&standby, metric, to_standby).await?;
            published = std::time::Instant::now();
        }
        let name = sc.ctx.dns.addresses(&r.record_name).await;
        let wanted = sc.ctx.dns.addresses(&target.dns_name).await;
        match answer(&r.record_name, &target.dns_name, &name, &wanted) {
            Next::Done(m) => return Ok(Done::Succeeded(m)),
            Next::Wait(m) => poll.next(|| m).await?,
            Next::Fail(m) => return Err(refused(m)),
            Next::Call(()) => unreachable!("answer never asks for a call"),
        }
    }
}

/// Whether `name` answers `target`'s addresses yet.
pub(crate) fn answer(
    name: &str,
    target: &str,
    name_answer: &Result<BTreeSet<IpAddr>, String>,
    target_answer: &Result<BTreeSet<IpAddr>, String>,
) -> Next<()> {
    match (name_answer, target_answer) {
        (Ok(have), Ok(want)) if dns::answers_target(have, want) => {
            Next::Done(format!("{name} answers {target} ({})", list(want)))
        }
        (Ok(have), Ok(want)) => Next::Wait(format!(
            "{name} answers {}, not yet {target} ({})",
            list(have),
            list(want)
        )),
        (Err(e), _) | (_, Err(e)) => Next::Wait(format!("DNS lookup failed: {e}")),
    }
}

fn list(addresses: &BTreeSet<IpAddr>) -> String {
    addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Points `want.name` at `want`'s value and waits until Route 53 reports the change INSYNC. A
/// change journaled by an earlier attempt is waited for, not repeated.
pub(crate) async fn point_record(sc: &StepContext<'_>, zone: &str, want: Record) -> Result<Done, StepError> {
    let global = sc.clients(GLOBAL_REGION);
    let target = want.target();
    let change = match sc.journal.operation(sc.kind) {
        Some(change) => change,
        None => {
            let have = route53::record(&global, zone, &want.name, &want.type_).await?;
            if let Next::Done(m) = record_change(have.as_ref(), &want) {
                return Ok(Done::Succeeded(m));
            }
            sc.before_call(format!("ChangeResourceRecordSets {} -> {target}", want.name))
                .await?;
            let change = route53::upsert_record(
                &global,
                zone,
                &want,
                &format!(
                    "pilot-light {:?} {}",
                    sc.type_,
                    sc.pl.metadata.name.as_deref().unwrap_or_default()
                ),
            )
            .await?;
            // Already propagated: the step's Succeeded write is the one after the call.
            if route53::change_in_sync(&global, &change).await? {
                return Ok(Done::Succeeded(format!(
                    "{} -> {target} (change {change} INSYNC)",
                    want.name
                )));
            }
            sc.after_call(
                format!("{} -> {target} submitted as {change}; waiting for INSYNC", want.name),
                Some(change.clone()),
            )
            .await?;
            change
        }
    };
    // Route 53 allows five requests per second per account, for every PilotLight together.
    let poll = Poll::new(INSYNC_TIMEOUT).at_most_every(Duration::from_secs(1));
    while !route53::change_in_sync(&global, &change).await? {
        poll.next(|| format!("Route 53 change {change} is still PENDING"))
            .await?;
    }
    Ok(Done::Succeeded(format!(
        "{} -> {target} (change {change} INSYNC)",
        want.name
    )))
}

/// Whether record `want.name` must be changed: done when it already has `want`'s value. (A
/// change an earlier attempt journaled is waited for before this is asked.)
pub(crate) fn record_change(have: Option<&Record>, want: &Record) -> Next<()> {
    if have == Some(want) {
        Next::Done(format!("{} already points to {}", want.name, want.target()))
    } else {
        Next::Call(())
    }
}

#[cfg(test)]
mod tests;
