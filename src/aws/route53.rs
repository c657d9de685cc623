//! Route 53: the primary endpoint's health check and the records that move traffic.
//!
//! Route 53 allows 5 requests per second per account, shared with every other tool, so periodic
//! convergence checks read through [`Route53View`]: one listing of health checks and one listing
//! per hosted zone serve every PilotLight that checks within `Route53View::shared_for`.
//! Detection's [`health_check_status`] is the exception: one call per watched PilotLight per
//! `--detection-interval`, which at the default 30 s fills the limit at about 150 PilotLights.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_sdk_route53::{
    error::{ProvideErrorMetadata, SdkError},
    types::{
        AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
        ResourceRecordSet, RrType, Tag, TagResourceType,
    },
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::{AwsError, OWNER_TAG, RegionalClients, found};

fn error<E>(operation: &'static str, region: &str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsError::from_sdk("route53", operation, region, e)
}

fn invalid(operation: &'static str, region: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::invalid_request("route53", operation, region, e.to_string())
}

/// A health check's settings, as the spec states them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HealthCheckSettings {
    /// `HTTP`, `HTTPS` or `TCP`.
    pub type_: String,
    pub fqdn: String,
    pub port: i32,
    /// `None` for TCP.
    pub path: Option<String>,
    pub request_interval: i32,
    pub failure_threshold: i32,
}

/// A health check that exists.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck {
    pub id: String,
    pub caller_reference: String,
    pub settings: HealthCheckSettings,
}

impl From<&aws_sdk_route53::types::HealthCheck> for HealthCheck {
    fn from(h: &aws_sdk_route53::types::HealthCheck) -> Self {
        let c = h.health_check_config();
        Self {
            id: h.id().to_owned(),
            caller_reference: h.caller_reference().to_owned(),
            settings: HealthCheckSettings {
                type_: c.map(|c| c.r#type().as_str().to_owned()).unwrap_or_default(),
                fqdn: c
                    .and_then(|c| c.fully_qualified_domain_name())
                    .map(normalize_name)
                    .unwrap_or_default(),
                port: c.and_then(|c| c.port()).unwrap_or_default(),
                path: c.and_then(|c| c.resource_path()).map(str::to_owned),
                request_interval: c.and_then(|c| c.request_interval()).unwrap_or(30),
                failure_threshold: c.and_then(|c| c.failure_threshold()).unwrap_or(3),
            },
        }
    }
}

/// Lower case without the trailing dot, as records and health checks are compared.
pub fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A record's value: an alias or plain values with a TTL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordValue {
    Alias { hosted_zone_id: String, dns_name: String },
    Values { ttl: i64, values: Vec<String> },
}

/// One record set (simple routing) as read or written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    /// `A`, `AAAA`, `CNAME`.
    pub type_: String,
    pub value: RecordValue,
}

impl Record {
    /// What the record points at, in words: the alias target, or its values.
    pub fn target(&self) -> String {
        match &self.value {
            RecordValue::Alias { dns_name, .. } => dns_name.clone(),
            RecordValue::Values { values, .. } => values.join(","),
        }
    }
}

impl Record {
    fn from_sdk(r: &ResourceRecordSet) -> Self {
        let value = match r.alias_target() {
            Some(a) => RecordValue::Alias {
                hosted_zone_id: a.hosted_zone_id().to_owned(),
                dns_name: normalize_name(a.dns_name()),
            },
            None => RecordValue::Values {
                ttl: r.ttl().unwrap_or_default(),
                values: r.resource_records().iter().map(|v| normalize_name(v.value())).collect(),
            },
        };
        Self {
            name: normalize_name(r.name()),
            type_: r.r#type().as_str().to_owned(),
            value,
        }
    }

    fn to_sdk(&self, region: &str) -> Result<ResourceRecordSet, AwsError> {
        const OP: &str = "ChangeResourceRecordSets";
        let builder = ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(RrType::from(self.type_.as_str()));
        let builder = match &self.value {
            RecordValue::Alias {
                hosted_zone_id,
                dns_name,
            } => builder.alias_target(
                AliasTarget::builder()
                    .hosted_zone_id(hosted_zone_id)
                    .dns_name(dns_name)
                    .evaluate_target_health(false)
                    .build()
                    .map_err(|e| invalid(OP, region, e))?,
            ),
            RecordValue::Values { ttl, values } => {
                let mut builder = builder.ttl(*ttl);
                for v in values {
                    builder = builder.resource_records(
                        ResourceRecord::builder()
                            .value(v)
                            .build()
                            .map_err(|e| invalid(OP, region, e))?,
                    );
                }
                builder
            }
        };
        builder.build().map_err(|e| invalid(OP, region, e))
    }
}

/// Every health check of the account (paginated, up to 1000 per call).
pub async fn list_health_checks(aws: &RegionalClients) -> Result<Vec<HealthCheck>, AwsError> {
    let mut checks = Vec::new();
    let mut marker = None;
    loop {
        let out = aws
            .route53
            .list_health_checks()
            .set_marker(marker)
            .max_items(1000)
            .send()
            .await
            .map_err(|e| error("ListHealthChecks", &aws.region, e))?;
        checks.extend(out.health_checks().iter().map(HealthCheck::from));
        match out.next_marker() {
            Some(next) if out.is_truncated() => marker = Some(next.to_owned()),
            _ => return Ok(checks),
        }
    }
}

/// Creates a health check. Route 53 is idempotent on `caller_reference`: a retry after a lost
/// response returns the same health check instead of a second one.
pub async fn create_health_check(
    aws: &RegionalClients,
    caller_reference: &str,
    settings: &HealthCheckSettings,
) -> Result<String, AwsError> {
    const OP: &str = "CreateHealthCheck";
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::from(settings.type_.as_str()))
        .fully_qualified_domain_name(&settings.fqdn)
        .port(settings.port)
        .set_resource_path(settings.path.clone())
        .request_interval(settings.request_interval)
        .failure_threshold(settings.failure_threshold)
        .build()
        .map_err(|e| invalid(OP, &aws.region, e))?;
    let out = aws
        .route53
        .create_health_check()
        .caller_reference(caller_reference)
        .health_check_config(config)
        .send()
        .await
        .map_err(|e| error(OP, &aws.region, e))?;
    Ok(out.health_check().map(|h| h.id().to_owned()).unwrap_or_default())
}

/// Tags a health check with its owner and a `Name` (what the console shows).
pub async fn tag_health_check(aws: &RegionalClients, id: &str, name: &str, owner: &str) -> Result<(), AwsError> {
    aws.route53
        .change_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id(id)
        .add_tags(Tag::builder().key("Name").value(name).build())
        .add_tags(Tag::builder().key(OWNER_TAG).value(owner).build())
        .send()
        .await
        .map_err(|e| error("ChangeTagsForResource", &aws.region, e))?;
    Ok(())
}

/// Sets the settings Route 53 can change in place (not type or interval).
pub async fn update_health_check(
    aws: &RegionalClients,
    id: &str,
    settings: &HealthCheckSettings,
) -> Result<(), AwsError> {
    aws.route53
        .update_health_check()
        .health_check_id(id)
        .fully_qualified_domain_name(&settings.fqdn)
        .port(settings.port)
        .set_resource_path(settings.path.clone())
        .failure_threshold(settings.failure_threshold)
        .send()
        .await
        .map_err(|e| error("UpdateHealthCheck", &aws.region, e))?;
    Ok(())
}

/// Deletes a health check; one that is already gone counts as deleted.
pub async fn delete_health_check(aws: &RegionalClients, id: &str) -> Result<(), AwsError> {
    let out = aws
        .route53
        .delete_health_check()
        .health_check_id(id)
        .send()
        .await
        .map_err(|e| error("DeleteHealthCheck", &aws.region, e));
    found(out).map(|_| ())
}

/// One page of a hosted zone's records from `start` (name, type) on: the records, and whether
/// more follow.
async fn list_records_page(
    aws: &RegionalClients,
    zone: &str,
    start: Option<(&str, &str)>,
    max_items: i32,
) -> Result<(Vec<Record>, bool), AwsError> {
    let out = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .set_start_record_name(start.map(|(name, _)| name.to_owned()))
        .set_start_record_type(start.map(|(_, t)| RrType::from(t)))
        .max_items(max_items)
        .send()
        .await
        .map_err(|e| error("ListResourceRecordSets", &aws.region, e))?;
    Ok((
        out.resource_record_sets().iter().map(Record::from_sdk).collect(),
        out.is_truncated(),
    ))
}

/// The record `name`/`type_` of `zone`, if it exists (one small read).
pub async fn record(aws: &RegionalClients, zone: &str, name: &str, type_: &str) -> Result<Option<Record>, AwsError> {
    let name = normalize_name(name);
    let (page, _) = list_records_page(aws, zone, Some((&name, type_)), 1).await?;
    Ok(page.into_iter().find(|r| r.name == name && r.type_ == type_))
}

/// Whether change `id` has propagated to every Route 53 name server (`INSYNC`).
pub async fn change_in_sync(aws: &RegionalClients, id: &str) -> Result<bool, AwsError> {
    let out = aws
        .route53
        .get_change()
        .id(id)
        .send()
        .await
        .map_err(|e| error("GetChange", &aws.region, e))?;
    Ok(out
        .change_info()
        .is_some_and(|c| c.status() == &aws_sdk_route53::types::ChangeStatus::Insync))
}

/// Creates or replaces `record` in `zone`; returns the change id (INSYNC once propagated).
pub async fn upsert_record(
    aws: &RegionalClients,
    zone: &str,
    record: &Record,
    comment: &str,
) -> Result<String, AwsError> {
    change_record(aws, zone, record, ChangeAction::Upsert, comment).await
}

async fn change_record(
    aws: &RegionalClients,
    zone: &str,
    record: &Record,
    action: ChangeAction,
    comment: &str,
) -> Result<String, AwsError> {
    const OP: &str = "ChangeResourceRecordSets";
    let change = Change::builder()
        .action(action)
        .resource_record_set(record.to_sdk(&aws.region)?)
        .build()
        .map_err(|e| invalid(OP, &aws.region, e))?;
    let batch = ChangeBatch::builder()
        .comment(comment)
        .changes(change)
        .build()
        .map_err(|e| invalid(OP, &aws.region, e))?;
    let out = aws
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| error(OP, &aws.region, e))?;
    Ok(out.change_info().map(|c| c.id().to_owned()).unwrap_or_default())
}

/// Records of one hosted zone as last read, keyed by (name, type).
#[derive(Clone, Debug)]
struct ZoneRecords {
    records: HashMap<(String, String), Option<Record>>,
    /// The whole zone fitted in the first page: a record not in `records` does not exist.
    complete: bool,
}

impl ZoneRecords {
    /// The zone's first page.
    async fn read(aws: &RegionalClients, zone: &str) -> Result<Self, AwsError> {
        let (page, truncated) = list_records_page(aws, zone, None, ZONE_PAGE).await?;
        Ok(Self {
            records: page
                .into_iter()
                .map(|r| ((r.name.clone(), r.type_.clone()), Some(r)))
                .collect(),
            complete: !truncated,
        })
    }

    /// The `wanted` records, looking up one by one those a large zone's first page lacked.
    async fn pick(
        &mut self,
        aws: &RegionalClients,
        zone: &str,
        wanted: &[(String, String)],
    ) -> Result<Vec<Option<Record>>, AwsError> {
        let mut result = Vec::with_capacity(wanted.len());
        for key in wanted {
            let key = (normalize_name(&key.0), key.1.clone());
            if !self.records.contains_key(&key) && !self.complete {
                let (page, _) = list_records_page(aws, zone, Some((&key.0, &key.1)), 1).await?;
                let record = page.into_iter().find(|r| r.name == key.0 && r.type_ == key.1);
                self.records.insert(key.clone(), record);
            }
            result.push(self.records.get(&key).cloned().flatten());
        }
        Ok(result)
    }
}

/// A shared read: when it was made, and what it found or how it failed (a failure is shared too,
/// so that during an outage PilotLights do not queue up behind each other's timeouts).
type Shared<T> = Arc<tokio::sync::Mutex<Option<(Instant, Result<T, AwsError>)>>>;

/// Reads of Route 53 shared by every PilotLight's periodic check: the health check listing and
/// each zone's records are read once and reused for the sharing window. Shared reads are
/// single-flight, so many PilotLights checking at once make one call. Checks that follow a
/// change, or of a component that is not healthy, ask for `fresh` data: they read on their own,
/// without waiting for others, and refresh the shared copy.
pub struct Route53View {
    shared_for: Duration,
    health_checks: Shared<Vec<HealthCheck>>,
    zones: Mutex<HashMap<String, Shared<ZoneRecords>>>,
}

/// Records per zone listed in one call before falling back to one lookup per record.
const ZONE_PAGE: i32 = 300;

impl Route53View {
    pub fn new(shared_for: Duration) -> Self {
        Self {
            shared_for,
            health_checks: Arc::default(),
            zones: Mutex::default(),
        }
    }

    /// Every health check of the account.
    pub async fn health_checks(&self, aws: &RegionalClients, fresh: bool) -> Result<Vec<HealthCheck>, AwsError> {
        if fresh {
            let checks = list_health_checks(aws).await?;
            *self.health_checks.lock().await = Some((Instant::now(), Ok(checks.clone())));
            return Ok(checks);
        }
        let mut cached = self.health_checks.lock().await;
        if let Some((at, checks)) = cached.as_ref()
            && at.elapsed() < self.shared_for
        {
            return checks.clone();
        }
        let checks = list_health_checks(aws).await;
        *cached = Some((Instant::now(), checks.clone()));
        checks
    }

    /// Forgets the health check listing (after creating, changing or deleting one).
    pub async fn invalidate_health_checks(&self) {
        *self.health_checks.lock().await = None;
    }

    fn zone_slot(&self, zone: &str) -> Shared<ZoneRecords> {
        self.zones
            .lock()
            .expect("route53 view lock poisoned")
            .entry(zone.to_owned())
            .or_default()
            .clone()
    }

    /// The records `wanted` (name, type) of `zone`; `None` for one that does not exist.
    pub async fn records(
        &self,
        aws: &RegionalClients,
        zone: &str,
        wanted: &[(String, String)],
        fresh: bool,
    ) -> Result<Vec<Option<Record>>, AwsError> {
        let slot = self.zone_slot(zone);
        if fresh {
            let mut read = ZoneRecords::read(aws, zone).await?;
            let records = read.pick(aws, zone, wanted).await?;
            *slot.lock().await = Some((Instant::now(), Ok(read)));
            return Ok(records);
        }
        let mut cached = slot.lock().await;
        let (at, mut read) = match cached.take() {
            Some((at, read)) if at.elapsed() < self.shared_for => (at, read),
            _ => (Instant::now(), ZoneRecords::read(aws, zone).await),
        };
        let records = match &mut read {
            Ok(read) => read.pick(aws, zone, wanted).await,
            Err(e) => Err(e.clone()),
        };
        *cached = Some((at, read));
        records
    }

    /// Records `record` as written, so the next shared read does not look stale.
    pub async fn remember(&self, zone: &str, record: &Record) {
        let slot = self.zone_slot(zone);
        if let Some((_, Ok(read))) = slot.lock().await.as_mut() {
            read.records
                .insert((record.name.clone(), record.type_.clone()), Some(record.clone()));
        }
    }
}

/// What one Route 53 health checker last saw of a health check.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckerObservation {
    /// The checker's region.
    pub region: String,
    /// Route 53's report, e.g. `Success: HTTP Status Code 200, OK` or `Failure: ...`.
    pub status: String,
}

impl CheckerObservation {
    pub fn is_success(&self) -> bool {
        self.status.starts_with("Success")
    }
}

/// Every health checker's latest observation of health check `id` (`GetHealthCheckStatus`).
pub async fn health_check_status(aws: &RegionalClients, id: &str) -> Result<Vec<CheckerObservation>, AwsError> {
    let out = aws
        .route53
        .get_health_check_status()
        .health_check_id(id)
        .send()
        .await
        .map_err(|e| error("GetHealthCheckStatus", &aws.region, e))?;
    Ok(out
        .health_check_observations()
        .iter()
        .map(|o| CheckerObservation {
            region: o.region().map(|r| r.as_str().to_owned()).unwrap_or_default(),
            status: o
                .status_report()
                .and_then(|r| r.status())
                .unwrap_or_default()
                .to_owned(),
        })
        .collect())
}
