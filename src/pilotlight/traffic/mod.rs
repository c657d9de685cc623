//! Traffic: the Route 53 health check on the primary endpoint, the application record on the
//! active region's target, and the database writer CNAME on the active writer endpoint (the
//! second seed: applications keep one connection string across a failover).

pub(crate) mod failover;

use crate::{
    api::{AuroraSpec, HealthCheckType, RecordType, TrafficSpec, TrafficStatus},
    aws::{
        AwsClients, AwsError,
        route53::{self, HealthCheck, HealthCheckSettings, Record, RecordValue},
    },
};

use super::{ComponentReport, PlannedChange, schedule::stable_hash};

/// What traffic management covers for one PilotLight.
#[derive(Clone, Copy, Debug)]
pub struct TrafficInputs<'a> {
    pub traffic: Option<&'a TrafficSpec>,
    pub writer_record: Option<&'a crate::api::DnsRecordRef>,
    /// `namespace/name`: tags, and the health check's caller reference.
    pub owner: &'a str,
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

fn record_type(t: RecordType) -> &'static str {
    match t {
        RecordType::A => "A",
        RecordType::Aaaa => "AAAA",
        RecordType::Cname => "CNAME",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The health checks this PilotLight created (found by caller reference).
    pub health_checks: Vec<HealthCheck>,
    /// The application record, then the writer record, each when configured.
    pub app_record: Option<Record>,
    pub writer_record: Option<Record>,
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

fn health_check_settings(t: &TrafficSpec) -> Option<HealthCheckSettings> {
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
    let mut found = vec![None; wanted.len()];
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
    Ok(Observation {
        health_checks,
        app_record: inputs.traffic.and_then(|_| found.next().flatten()),
        writer_record: inputs.writer_record.and_then(|_| found.next().flatten()),
    })
}

#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    CreateHealthCheck {
        settings: HealthCheckSettings,
        name: String,
    },
    UpdateHealthCheck {
        id: String,
        settings: HealthCheckSettings,
    },
    /// One of this PilotLight's health checks that the spec no longer describes.
    DeleteHealthCheck {
        id: String,
    },
    UpsertRecord {
        zone: String,
        record: Record,
        /// Where it pointed before, for the Event.
        was: Option<String>,
    },
}

impl PlannedChange for Change {
    fn reason(&self) -> &'static str {
        match self {
            Self::CreateHealthCheck { .. } => "CreatingHealthCheck",
            Self::UpdateHealthCheck { .. } => "UpdatingHealthCheck",
            Self::DeleteHealthCheck { .. } => "DeletingHealthCheck",
            Self::UpsertRecord { record, .. } if record.type_ == "CNAME" => "PointingCname",
            Self::UpsertRecord { .. } => "PointingRecord",
        }
    }

    /// A record that pointed elsewhere was changed by someone: worth a Warning.
    fn is_warning(&self) -> bool {
        matches!(self, Self::UpsertRecord { was: Some(_), .. })
    }

    fn describe(&self) -> String {
        match self {
            Self::CreateHealthCheck { settings, .. } => format!(
                "Creating Route 53 health check on {}://{}:{}{} every {}s, unhealthy after {} failures",
                settings.type_.to_ascii_lowercase(),
                settings.fqdn,
                settings.port,
                settings.path.as_deref().unwrap_or_default(),
                settings.request_interval,
                settings.failure_threshold
            ),
            Self::UpdateHealthCheck { id, .. } => format!("Updating Route 53 health check {id} to match the spec"),
            Self::DeleteHealthCheck { id } => {
                format!("Deleting Route 53 health check {id}: the spec no longer describes it")
            }
            Self::UpsertRecord { record, was, .. } => {
                let to = Record::target(record);
                match was {
                    Some(was) => format!(
                        "{} {} pointed at {was}; pointing it back at {to}",
                        record.type_, record.name
                    ),
                    None => format!("Creating {} record {} pointing at {to}", record.type_, record.name),
                }
            }
        }
    }

    fn apply(&self, aws: &AwsClients, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        apply(aws, self, owner)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub changes: Vec<Change>,
    pub report: ComponentReport,
    pub status: TrafficStatus,
}

/// Decides health check and record changes. `active_region` and `writer_endpoint` come from the
/// database component (`None`: not known, so records are left where they are). Pure.
pub fn decide(
    inputs: &TrafficInputs<'_>,
    regions: &crate::api::Regions,
    active_region: Option<&str>,
    writer_endpoint: Option<&str>,
    observed: &Observation,
) -> Decision {
    let mut changes = Vec::new();
    let mut status = TrafficStatus::default();
    let mut waiting = Vec::new();

    status.health_check_id = decide_health_check(inputs, regions, observed, &mut changes);

    if let Some(t) = inputs.traffic {
        let r = &t.route53;
        status.record_target = observed.app_record.as_ref().map(Record::target);
        match active_region {
            Some(active) => {
                let want = app_record(r, active == regions.standby.as_str());
                keep_record(&mut changes, &r.hosted_zone_id.0, observed.app_record.as_ref(), want);
            }
            None => waiting.push(format!(
                "the active region is not known yet, so {} is left where it points",
                r.record_name
            )),
        }
    }
    if let Some(w) = inputs.writer_record {
        status.writer_record_target = observed.writer_record.as_ref().map(Record::target);
        match writer_endpoint {
            Some(endpoint) => {
                let want = writer_record(w, endpoint);
                keep_record(&mut changes, &w.hosted_zone_id.0, observed.writer_record.as_ref(), want);
            }
            None => waiting.push(format!(
                "the writer endpoint is not known yet, so {} is left where it points",
                w.name
            )),
        }
    }

    let report = report(inputs, &status, &changes, &waiting);
    Decision {
        changes,
        report,
        status,
    }
}

/// The health check to keep (updated in place when only its settings changed, else created),
/// and the deletion of every other one the PilotLight owns.
fn decide_health_check(
    inputs: &TrafficInputs<'_>,
    regions: &crate::api::Regions,
    observed: &Observation,
    changes: &mut Vec<Change>,
) -> Option<String> {
    let wanted_check = inputs.traffic.and_then(health_check_settings);
    let mut keep = None;
    if let Some(settings) = &wanted_check {
        let exact = observed.health_checks.iter().find(|h| &h.settings == settings);
        // Type and interval cannot change in place; anything else can.
        let updatable = observed
            .health_checks
            .iter()
            .find(|h| h.settings.type_ == settings.type_ && h.settings.request_interval == settings.request_interval);
        match (exact, updatable) {
            (Some(h), _) => keep = Some(h.id.clone()),
            (None, Some(h)) => {
                keep = Some(h.id.clone());
                changes.push(Change::UpdateHealthCheck {
                    id: h.id.clone(),
                    settings: settings.clone(),
                });
            }
            (None, None) => changes.push(Change::CreateHealthCheck {
                settings: settings.clone(),
                name: format!("{} primary ({})", inputs.owner, regions.primary),
            }),
        }
    }
    for h in &observed.health_checks {
        if Some(&h.id) != keep.as_ref() {
            changes.push(Change::DeleteHealthCheck { id: h.id.clone() });
        }
    }

    keep
}

/// What the component reports: the first change, else what it waits for, else where it routes.
fn report(
    inputs: &TrafficInputs<'_>,
    status: &TrafficStatus,
    changes: &[Change],
    waiting: &[String],
) -> ComponentReport {
    if !changes.is_empty() {
        ComponentReport::converging(
            changes[0].reason(),
            changes.iter().map(Change::describe).collect::<Vec<_>>().join("; "),
        )
    } else if !waiting.is_empty() {
        ComponentReport::converging("WaitingForActiveRegion", waiting.join("; "))
    } else {
        let mut parts = Vec::new();
        if let Some(id) = &status.health_check_id {
            parts.push(format!("health check {id}"));
        }
        if let (Some(t), Some(target)) = (inputs.traffic, &status.record_target) {
            parts.push(format!("{} -> {target}", t.route53.record_name));
        }
        if let (Some(w), Some(target)) = (inputs.writer_record, &status.writer_record_target) {
            parts.push(format!("{} -> {target}", w.name));
        }
        ComponentReport::healthy("Routed", parts.join("; "))
    }
}

/// The application record pointing at the standby target (`to_standby`) or the primary one.
pub fn app_record(r: &crate::api::Route53Spec, to_standby: bool) -> Record {
    let target = if to_standby {
        &r.standby_target
    } else {
        &r.primary_target
    };
    let value = if r.record_type == RecordType::Cname {
        RecordValue::Values {
            ttl: 60,
            values: vec![route53::normalize_name(&target.dns_name)],
        }
    } else {
        RecordValue::Alias {
            hosted_zone_id: target.hosted_zone_id.to_string(),
            dns_name: route53::normalize_name(&target.dns_name),
        }
    };
    Record {
        name: route53::normalize_name(&r.record_name),
        type_: record_type(r.record_type).to_owned(),
        value,
    }
}

/// The database writer CNAME pointing at `endpoint`.
pub fn writer_record(w: &crate::api::DnsRecordRef, endpoint: &str) -> Record {
    Record {
        name: route53::normalize_name(&w.name),
        type_: "CNAME".into(),
        value: RecordValue::Values {
            ttl: w.ttl,
            values: vec![route53::normalize_name(endpoint)],
        },
    }
}

/// Upserts `want` in `zone` unless `have` already is it.
fn keep_record(changes: &mut Vec<Change>, zone: &str, have: Option<&Record>, want: Record) {
    if have != Some(&want) {
        changes.push(Change::UpsertRecord {
            zone: zone.to_owned(),
            was: have.map(Record::target),
            record: want,
        });
    }
}

pub async fn apply(aws: &AwsClients, change: &Change, owner: &str) -> Result<(), AwsError> {
    let global = aws.global();
    let view = &aws.route53_view;
    match change {
        Change::CreateHealthCheck { settings, name } => {
            let id = route53::create_health_check(&global, &new_caller_reference(owner), settings).await?;
            view.invalidate_health_checks().await;
            return route53::tag_health_check(&global, &id, name, owner).await;
        }
        Change::UpdateHealthCheck { id, settings } => route53::update_health_check(&global, id, settings).await?,
        Change::DeleteHealthCheck { id } => route53::delete_health_check(&global, id).await?,
        Change::UpsertRecord { zone, record, .. } => {
            route53::upsert_record(&global, zone, record, &format!("pilot-light {owner}")).await?;
            view.remember(zone, record).await;
            return Ok(());
        }
    }
    view.invalidate_health_checks().await;
    Ok(())
}

/// Deletes this PilotLight's health checks (deletionPolicy `Delete`). Records stay: they carry
/// the application's traffic. Returns the deleted ids.
pub async fn remove(aws: &AwsClients, owner: &str) -> Result<Vec<String>, AwsError> {
    let global = aws.global();
    let prefix = caller_prefix(owner);
    let mut removed = Vec::new();
    for check in aws.route53_view.health_checks(&global, true).await? {
        if check.caller_reference.starts_with(&prefix) {
            route53::delete_health_check(&global, &check.id).await?;
            removed.push(check.id);
        }
    }
    aws.route53_view.invalidate_health_checks().await;
    Ok(removed)
}

#[cfg(test)]
mod tests;
