//! Traffic: the Route 53 health check on the primary endpoint; the application record, either
//! a failover pair whose health follows a switch (`failoverRouting`) or a simple record on the
//! active region's target (`recordUpdate`); and the database writer CNAME on the active writer
//! endpoint (the second seed: applications keep one connection string across a failover).

mod change;
mod decide;
pub(crate) mod failover;
mod health;
pub(crate) mod records;
pub(crate) mod switch;

pub use change::Change;
pub use decide::{Decision, decide};
pub use records::{app_record, failover_records, writer_record};

use crate::{
    api::{AuroraSpec, HealthCheckType, TrafficSpec, TrafficSwitch},
    aws::{
        AwsClients, AwsError, Caller, arc,
        cloudwatch::{self, MetricSwitch},
        route53::{self, HealthCheck, HealthCheckSettings, Record},
    },
};

use super::schedule::stable_hash;
use records::record_type;
use switch::{ArcObservation, SwitchObservation};

/// What traffic management covers for one PilotLight.
#[derive(Clone, Copy, Debug)]
pub struct TrafficInputs<'a> {
    pub traffic: Option<&'a TrafficSpec>,
    pub writer_record: Option<&'a crate::api::DnsRecordRef>,
    /// `namespace/name`: tags, and the health check's caller reference.
    pub owner: &'a str,
    /// Where the primary and the standby are.
    pub regions: &'a crate::api::Regions,
}

impl<'a> TrafficInputs<'a> {
    pub fn new(spec: &'a crate::api::PilotLightSpec, owner: &'a str) -> Self {
        Self {
            traffic: spec.traffic.as_ref(),
            writer_record: spec
                .database
                .as_ref()
                .and_then(|d| d.aurora.as_ref())
                .and_then(|a: &AuroraSpec| a.writer_endpoint_record.as_ref()),
            owner,
            regions: &spec.regions,
        }
    }

    /// Whether there is anything to manage.
    pub fn is_configured(&self) -> bool {
        self.traffic.is_some() || self.writer_record.is_some()
    }

    /// The records to look at, as (zone, name, type).
    fn records(&self) -> Vec<(String, String, String)> {
        let mut records = Vec::new();
        if let Some(t) = self.traffic {
            let r = &t.route53;
            records.push((
                r.hosted_zone_id.to_string(),
                route53::normalize_name(&r.record_name),
                record_type(r.record_type).to_owned(),
            ));
        }
        if let Some(w) = self.writer_record {
            records.push((
                w.hosted_zone_id.to_string(),
                route53::normalize_name(&w.name),
                "CNAME".to_owned(),
            ));
        }
        records
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observation {
    /// The health checks this PilotLight created (found by caller reference).
    pub health_checks: Vec<HealthCheck>,
    /// The application record's sets (one simple record, or a failover pair), when configured.
    pub app_records: Vec<Record>,
    /// The writer record, when configured.
    pub writer_record: Option<Record>,
    pub switch: SwitchObservation,
}

/// Prefix of the caller reference of every health check this PilotLight creates.
fn caller_prefix(owner: &str) -> String {
    format!("pl-{:016x}-", stable_hash(owner))
}

/// A caller reference for a new health check. Route 53 refuses a reference ever used before
/// (even by a deleted check), so each creation gets its own; the SDK's retries of one request
/// reuse it, so a retried create whose response was lost does not create a second check, and
/// the next observe finds a created check by its prefix.
fn new_caller_reference(owner: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{}{:016x}", caller_prefix(owner), nanos as u64)
}

pub(crate) fn health_check_settings(t: &TrafficSpec) -> Option<HealthCheckSettings> {
    t.route53.health_check.as_ref().map(|h| {
        let (type_, path) = match h.type_ {
            HealthCheckType::Http => ("HTTP", Some(h.path.clone())),
            HealthCheckType::Https => ("HTTPS", Some(h.path.clone())),
            HealthCheckType::Tcp => ("TCP", None),
        };
        HealthCheckSettings {
            type_: type_.to_owned(),
            fqdn: route53::normalize_name(&h.fqdn),
            port: h.port,
            path,
            request_interval: h.request_interval,
            failure_threshold: h.failure_threshold,
        }
    })
}

/// Reads health checks and records through the shared [`route53::Route53View`]; `fresh` skips
/// the sharing.
pub async fn observe(aws: &AwsClients, inputs: &TrafficInputs<'_>, fresh: bool) -> Result<Observation, AwsError> {
    let global = aws.global();
    let view = &aws.route53_view;
    let prefix = caller_prefix(inputs.owner);
    let health_checks = if inputs.traffic.is_some() {
        view.health_checks(&global, fresh)
            .await?
            .into_iter()
            .filter(|h| h.caller_reference.starts_with(&prefix))
            .collect()
    } else {
        Vec::new()
    };
    // One read per zone, however many of the records live in it.
    let wanted = inputs.records();
    let mut found = vec![Vec::new(); wanted.len()];
    let mut zones: Vec<&str> = wanted.iter().map(|(zone, _, _)| zone.as_str()).collect();
    zones.sort_unstable();
    zones.dedup();
    for zone in zones {
        let (indexes, keys): (Vec<usize>, Vec<(String, String)>) = wanted
            .iter()
            .enumerate()
            .filter(|(_, (z, _, _))| z == zone)
            .map(|(i, (_, name, type_))| (i, (name.clone(), type_.clone())))
            .unzip();
        let records = view.records(&global, zone, &keys, fresh).await?;
        for (i, record) in indexes.into_iter().zip(records) {
            found[i] = record;
        }
    }
    let mut found = found.into_iter();
    let app_records = inputs.traffic.and_then(|_| found.next()).unwrap_or_default();
    let writer_record = inputs
        .writer_record
        .and_then(|_| found.next())
        .and_then(|sets| sets.into_iter().find(|r| r.failover.is_none()));
    Ok(Observation {
        health_checks,
        app_records,
        writer_record,
        switch: observe_switch(aws, inputs).await?,
    })
}

/// The switch's parts: the alarm in the standby region, or the ARC cluster, control panel,
/// routing controls and their states.
async fn observe_switch(aws: &AwsClients, inputs: &TrafficInputs<'_>) -> Result<SwitchObservation, AwsError> {
    match inputs.traffic.and_then(TrafficSpec::switch) {
        None => Ok(SwitchObservation::None),
        Some(TrafficSwitch::MetricAlarm) => {
            let clients = aws.region(inputs.regions.standby.as_str());
            let alarm = switch::metric_switch(inputs.owner);
            let exists = cloudwatch::switch_alarm_exists(&clients, &alarm).await?;
            let state = if exists {
                cloudwatch::alarm_states(&clients, std::slice::from_ref(&alarm.alarm_name))
                    .await?
                    .into_iter()
                    .next()
                    .map(|a| a.state)
            } else {
                None
            };
            Ok(SwitchObservation::Alarm { exists, state })
        }
        Some(TrafficSwitch::RoutingControl) => Ok(SwitchObservation::RoutingControl(Box::new(
            observe_routing_controls(aws, inputs).await?,
        ))),
    }
}

async fn observe_routing_controls(aws: &AwsClients, inputs: &TrafficInputs<'_>) -> Result<ArcObservation, AwsError> {
    let config = aws.region(arc::CONTROL_CONFIG_REGION);
    let name = switch::resource_name(inputs.owner);
    let given = inputs
        .traffic
        .and_then(|t| t.routing_control.as_ref())
        .and_then(|r| r.cluster_arn.as_deref());
    let cluster = match given {
        Some(arn) => arc::describe_cluster(&config, arn).await?,
        None => arc::find_cluster_named(&config, &name).await?,
    };
    let mut observed = ArcObservation {
        cluster: cluster.clone(),
        ..ArcObservation::default()
    };
    let Some(cluster) = cluster else {
        return Ok(observed);
    };
    observed.panel = arc::find_control_panel(&config, &cluster.arn, &name).await?;
    if let Some(panel) = &observed.panel {
        observed.controls = arc::routing_controls(&config, &panel.arn).await?;
        observed.rules = arc::safety_rules(&config, &panel.arn).await?;
    }
    if cluster.status == arc::ArcStatus::Deployed && !observed.controls.is_empty() {
        let endpoints = aws.routing_control_endpoints(Caller::Convergence, &cluster.endpoints);
        let arns: Vec<String> = observed.controls.iter().map(|c| c.arn.clone()).collect();
        observed.states = Some(arc::states(&endpoints, &arns).await.map_err(|e| e.to_string()));
    }
    Ok(observed)
}

/// Deletes this PilotLight's health checks and switch alarm (deletionPolicy `Delete`). Records
/// stay: they carry the application's traffic; so do the routing controls, whose health checks
/// are gone with the rest. Returns what was deleted.
pub async fn remove(aws: &AwsClients, owner: &str, standby: &str) -> Result<Vec<String>, AwsError> {
    let global = aws.global();
    let prefix = caller_prefix(owner);
    let mut removed = Vec::new();
    for check in aws.route53_view.health_checks(&global, true).await? {
        if check.caller_reference.starts_with(&prefix) {
            route53::delete_health_check(&global, &check.id).await?;
            removed.push(format!("Route 53 health check {}", check.id));
        }
    }
    aws.route53_view.invalidate_health_checks().await;
    let alarm: MetricSwitch = switch::metric_switch(owner);
    let standby = aws.region(standby);
    if cloudwatch::switch_alarm_exists(&standby, &alarm).await? {
        cloudwatch::delete_alarm(&standby, &alarm.alarm_name).await?;
        removed.push(format!("CloudWatch alarm {} in {}", alarm.alarm_name, standby.region));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
