//! Route 53: health checks, and the records that move traffic.
//!
//! Route 53 allows 5 requests per second per account, shared with every other tool, so periodic
//! convergence checks read through [`Route53View`]: one listing of health checks and one listing
//! per hosted zone serve every PilotLight that checks within `Route53View::shared_for`.
//! Detection's [`health_check_status`] is the exception: one call per watched PilotLight per
//! `--detection-interval`, which at the default 30 s fills the limit at about 150 PilotLights.

mod health_checks;
mod view;

pub use health_checks::*;
pub use view::Route53View;

use aws_sdk_route53::{
    error::{ProvideErrorMetadata, SdkError},
    types::{
        AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover,
        RrType,
    },
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::{AwsError, RegionalClients};

fn error<E>(operation: &'static str, region: &str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsError::from_sdk("route53", operation, region, e)
}

fn invalid(operation: &'static str, region: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::invalid_request("route53", operation, region, e.to_string())
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

/// One record set as read or written: simple routing, or one of a failover pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    /// `A`, `AAAA`, `CNAME`.
    pub type_: String,
    pub value: RecordValue,
    /// `None`: simple routing.
    pub failover: Option<FailoverRole>,
}

/// A failover record's part: Route 53 answers the PRIMARY while its health check is healthy,
/// else the SECONDARY while its own is, else the PRIMARY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverRole {
    pub primary: bool,
    pub set_identifier: String,
    pub health_check_id: Option<String>,
}

/// What a change batch does to one record set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordAction {
    Create,
    Upsert,
    Delete,
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
        let failover = r.failover().map(|f| FailoverRole {
            primary: f == &ResourceRecordSetFailover::Primary,
            set_identifier: r.set_identifier().unwrap_or_default().to_owned(),
            health_check_id: r.health_check_id().map(str::to_owned),
        });
        Self {
            name: normalize_name(r.name()),
            type_: r.r#type().as_str().to_owned(),
            value,
            failover,
        }
    }

    fn to_sdk(&self, region: &str) -> Result<ResourceRecordSet, AwsError> {
        const OP: &str = "ChangeResourceRecordSets";
        let mut builder = ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(RrType::from(self.type_.as_str()));
        if let Some(f) = &self.failover {
            builder = builder
                .set_identifier(&f.set_identifier)
                .failover(if f.primary {
                    ResourceRecordSetFailover::Primary
                } else {
                    ResourceRecordSetFailover::Secondary
                })
                .set_health_check_id(f.health_check_id.clone());
        }
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

/// The record sets `name`/`type_` of `zone` (none, one simple, or a failover pair; one small
/// read).
pub async fn record_sets(aws: &RegionalClients, zone: &str, name: &str, type_: &str) -> Result<Vec<Record>, AwsError> {
    let name = normalize_name(name);
    let (page, _) = list_records_page(aws, zone, Some((&name, type_)), RECORD_SETS_PER_NAME).await?;
    Ok(page
        .into_iter()
        .filter(|r| r.name == name && r.type_ == type_)
        .collect())
}

/// Record sets read per name and type: a failover pair, and one more to see past it.
const RECORD_SETS_PER_NAME: i32 = 3;

/// The simple record `name`/`type_` of `zone`, if it exists.
pub async fn record(aws: &RegionalClients, zone: &str, name: &str, type_: &str) -> Result<Option<Record>, AwsError> {
    Ok(record_sets(aws, zone, name, type_)
        .await?
        .into_iter()
        .find(|r| r.failover.is_none()))
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
    change_records(aws, zone, &[(RecordAction::Upsert, record.clone())], comment).await
}

/// Applies `changes` as one batch: Route 53 applies all of them or none, so replacing a simple
/// record by a failover pair (or back) leaves no moment in which the name does not resolve.
pub async fn change_records(
    aws: &RegionalClients,
    zone: &str,
    changes: &[(RecordAction, Record)],
    comment: &str,
) -> Result<String, AwsError> {
    const OP: &str = "ChangeResourceRecordSets";
    let mut batch = ChangeBatch::builder().comment(comment);
    for (action, record) in changes {
        let action = match action {
            RecordAction::Create => ChangeAction::Create,
            RecordAction::Upsert => ChangeAction::Upsert,
            RecordAction::Delete => ChangeAction::Delete,
        };
        batch = batch.changes(
            Change::builder()
                .action(action)
                .resource_record_set(record.to_sdk(&aws.region)?)
                .build()
                .map_err(|e| invalid(OP, &aws.region, e))?,
        );
    }
    let batch = batch.build().map_err(|e| invalid(OP, &aws.region, e))?;
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
