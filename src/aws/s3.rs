//! S3 cross-region replication through the S3 API, reduced to what the operator decides on.

use aws_sdk_s3::types::{
    BucketVersioningStatus, DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, Metrics,
    MetricsStatus, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus,
    ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue, StorageClass, VersioningConfiguration,
};

use super::{AwsError, RegionalClients, found};

/// Versioning state of an existing bucket (`Never`: never enabled); a missing bucket is `None`
/// where one is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Versioning {
    Enabled,
    Suspended,
    Never,
}

/// The replication rule the operator manages, in the terms of the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedRule {
    pub id: String,
    pub enabled: bool,
    pub destination_bucket: String,
    pub storage_class: String,
    pub delete_marker_replication: bool,
    pub replication_time_control: bool,
}

/// A bucket's replication configuration: the operator's rule and everyone else's, which are
/// written back untouched.
#[derive(Clone, Debug, PartialEq)]
pub struct Replication {
    pub role: String,
    pub managed: Option<ManagedRule>,
    pub other_rules: Vec<ReplicationRule>,
}

fn error(
    operation: &'static str,
    region: &str,
    e: aws_sdk_s3::error::SdkError<
        impl aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> AwsError {
    AwsError::from_sdk("s3", operation, region, e)
}

fn invalid_rule(region: &str) -> impl Fn(aws_sdk_s3::error::BuildError) -> AwsError + Copy + '_ {
    move |e| {
        AwsError::invalid_request(
            "s3",
            "PutBucketReplication",
            region,
            format!("invalid replication rule: {e}"),
        )
    }
}

/// Versioning of `bucket`, or `None` when the bucket does not exist.
pub async fn versioning(aws: &RegionalClients, bucket: &str) -> Result<Option<Versioning>, AwsError> {
    let out = aws.s3.get_bucket_versioning().bucket(bucket).send().await;
    let out = found(out.map_err(|e| error("GetBucketVersioning", &aws.region, e)))?;
    Ok(out.map(|out| match out.status() {
        Some(BucketVersioningStatus::Enabled) => Versioning::Enabled,
        Some(_) => Versioning::Suspended,
        None => Versioning::Never,
    }))
}

pub async fn enable_versioning(aws: &RegionalClients, bucket: &str) -> Result<(), AwsError> {
    aws.s3
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| error("PutBucketVersioning", &aws.region, e))?;
    Ok(())
}

/// The replication configuration of `bucket` (`None` when it has none), with the rule `rule_id`
/// picked out.
pub async fn replication(aws: &RegionalClients, bucket: &str, rule_id: &str) -> Result<Option<Replication>, AwsError> {
    let out = aws.s3.get_bucket_replication().bucket(bucket).send().await;
    let out = found(out.map_err(|e| error("GetBucketReplication", &aws.region, e)))?;
    let Some(config) = out.as_ref().and_then(|o| o.replication_configuration()) else {
        return Ok(None);
    };
    let (ours, other_rules): (Vec<_>, Vec<_>) = config.rules().iter().cloned().partition(|r| r.id() == Some(rule_id));
    Ok(Some(Replication {
        role: config.role().to_owned(),
        managed: ours.first().map(managed_rule),
        other_rules,
    }))
}

fn managed_rule(rule: &ReplicationRule) -> ManagedRule {
    let destination = rule.destination();
    ManagedRule {
        id: rule.id().unwrap_or_default().to_owned(),
        enabled: rule.status() == &ReplicationRuleStatus::Enabled,
        destination_bucket: destination
            .map(|d| d.bucket().trim_start_matches("arn:aws:s3:::").to_owned())
            .unwrap_or_default(),
        storage_class: destination
            .and_then(|d| d.storage_class())
            .map_or_else(|| "STANDARD".to_owned(), |c| c.as_str().to_owned()),
        delete_marker_replication: rule
            .delete_marker_replication()
            .and_then(|d| d.status())
            .is_some_and(|s| s == &DeleteMarkerReplicationStatus::Enabled),
        replication_time_control: destination
            .and_then(|d| d.replication_time())
            .is_some_and(|t| t.status() == &ReplicationTimeStatus::Enabled),
    }
}

/// Writes the configuration: the other rules unchanged, plus `rule`.
pub async fn put_replication(
    aws: &RegionalClients,
    bucket: &str,
    role: &str,
    rule: &ManagedRule,
    other_rules: &[ReplicationRule],
) -> Result<(), AwsError> {
    let invalid = invalid_rule(&aws.region);
    let mut destination = Destination::builder()
        .bucket(format!("arn:aws:s3:::{}", rule.destination_bucket))
        .storage_class(StorageClass::from(rule.storage_class.as_str()));
    if rule.replication_time_control {
        // Replication Time Control requires metrics with the same 15-minute threshold.
        let fifteen = || ReplicationTimeValue::builder().minutes(15).build();
        destination = destination
            .replication_time(
                ReplicationTime::builder()
                    .status(ReplicationTimeStatus::Enabled)
                    .time(fifteen())
                    .build()
                    .map_err(invalid)?,
            )
            .metrics(
                Metrics::builder()
                    .status(MetricsStatus::Enabled)
                    .event_threshold(fifteen())
                    .build()
                    .map_err(invalid)?,
            );
    }
    let delete_markers = if rule.delete_marker_replication {
        DeleteMarkerReplicationStatus::Enabled
    } else {
        DeleteMarkerReplicationStatus::Disabled
    };
    let ours = ReplicationRule::builder()
        .id(&rule.id)
        .priority(other_rules.iter().filter_map(|r| r.priority()).max().unwrap_or(0) + 1)
        .filter(ReplicationRuleFilter::builder().prefix("").build())
        .status(if rule.enabled {
            ReplicationRuleStatus::Enabled
        } else {
            ReplicationRuleStatus::Disabled
        })
        .destination(destination.build().map_err(invalid)?)
        .delete_marker_replication(DeleteMarkerReplication::builder().status(delete_markers).build())
        .build()
        .map_err(invalid)?;
    let rules: Vec<_> = other_rules.iter().cloned().chain([ours]).collect();
    replace_rules(aws, bucket, role, &rules).await
}

/// Writes `rules` as the whole configuration, or deletes the configuration when none remain.
pub async fn replace_rules(
    aws: &RegionalClients,
    bucket: &str,
    role: &str,
    rules: &[ReplicationRule],
) -> Result<(), AwsError> {
    if rules.is_empty() {
        aws.s3
            .delete_bucket_replication()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| error("DeleteBucketReplication", &aws.region, e))?;
        return Ok(());
    }
    let config = ReplicationConfiguration::builder()
        .role(role)
        .set_rules(Some(rules.to_vec()))
        .build()
        .map_err(invalid_rule(&aws.region))?;
    aws.s3
        .put_bucket_replication()
        .bucket(bucket)
        .replication_configuration(config)
        .send()
        .await
        .map_err(|e| error("PutBucketReplication", &aws.region, e))?;
    Ok(())
}
