//! S3 cross-region replication: versioning on both buckets and the operator's replication rule
//! on the source bucket, repaired when someone changes them. After a failover the destination
//! bucket takes the writes, and its rule back to the source (written by the failover's
//! ReverseReplication step) is the one that protects them. Buckets are never created or
//! deleted; other replication rules on the bucket are kept as they are.

pub(crate) mod failover;

use crate::{
    api::{Regions, S3ReplicationSpec, S3ReplicationStatus},
    aws::{
        AwsClients, AwsError, AwsErrorKind,
        s3::{self, ManagedRule, Replication, Versioning},
    },
};

use super::{ComponentReport, PlannedChange, Serving};

/// What AWS says about one bucket pair. `None` versioning means the bucket does not exist.
#[derive(Clone, Debug, PartialEq)]
pub struct PairObservation {
    pub source_versioning: Option<Versioning>,
    pub destination_versioning: Option<Versioning>,
    pub replication: Option<Replication>,
    /// After a failover: the destination bucket's replication, with the rule back to the source.
    pub reverse: Option<Replication>,
    /// After a failover: the old primary region did not answer, so the source side is unknown.
    pub source_unreachable: Option<AwsError>,
}

/// Something to change on a bucket.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    EnableVersioning {
        region: String,
        bucket: String,
        was_suspended: bool,
    },
    PutReplication {
        region: String,
        bucket: String,
        role: String,
        rule: ManagedRule,
        other_rules: Vec<aws_sdk_s3::types::ReplicationRule>,
        repair: Option<String>,
    },
}

impl PlannedChange for Change {
    /// Event reason; each kind of repair has its own, because Events with the same reason are
    /// folded into one series that keeps only the first note.
    fn reason(&self) -> &'static str {
        match self {
            Self::EnableVersioning {
                was_suspended: true, ..
            } => "VersioningRepaired",
            Self::PutReplication { repair: Some(_), .. } => "ReplicationRuleRepaired",
            Self::EnableVersioning { .. } => "EnablingVersioning",
            Self::PutReplication { .. } => "ConfiguringReplication",
        }
    }

    /// Repairs of something a person or tool changed are Warnings: someone should know.
    fn is_warning(&self) -> bool {
        matches!(
            self,
            Self::EnableVersioning {
                was_suspended: true,
                ..
            } | Self::PutReplication { repair: Some(_), .. }
        )
    }

    fn describe(&self) -> String {
        match self {
            Self::EnableVersioning {
                region,
                bucket,
                was_suspended: true,
            } => {
                format!("Versioning of bucket {bucket} ({region}) was suspended; enabling it again")
            }
            Self::EnableVersioning { region, bucket, .. } => {
                format!("Enabling versioning of bucket {bucket} ({region})")
            }
            Self::PutReplication {
                bucket,
                rule,
                repair: Some(what),
                ..
            } => format!(
                "Replication rule {} on bucket {bucket} had drifted ({what}); restoring replication to {}",
                rule.id, rule.destination_bucket
            ),
            Self::PutReplication { bucket, rule, .. } => {
                format!(
                    "Configuring replication of bucket {bucket} to {} (rule {})",
                    rule.destination_bucket, rule.id
                )
            }
        }
    }

    fn apply(&self, aws: &AwsClients, _owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        apply(aws, self)
    }
}

/// The outcome of [`decide`] for all pairs.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub changes: Vec<Change>,
    pub report: ComponentReport,
    pub status: Vec<S3ReplicationStatus>,
}

/// Id of the operator's rule: stable, and unique per destination.
fn rule_id(pair: &S3ReplicationSpec) -> String {
    format!("pilot-light-{}", pair.destination_bucket)
}

fn desired_rule(pair: &S3ReplicationSpec) -> ManagedRule {
    ManagedRule {
        id: rule_id(pair),
        enabled: true,
        destination_bucket: pair.destination_bucket.to_string(),
        storage_class: pair.storage_class.as_str().to_owned(),
        delete_marker_replication: pair.delete_marker_replication,
        replication_time_control: pair.replication_time_control,
    }
}

/// Reads every pair: versioning of both buckets and the source's replication configuration;
/// after a failover the destination side first, with its rule back, and an old primary region
/// that does not answer is recorded rather than failing the whole check.
pub async fn observe(
    aws: &AwsClients,
    regions: &Regions,
    serving: Serving<'_>,
    pairs: &[S3ReplicationSpec],
) -> Result<Vec<PairObservation>, AwsError> {
    let (primary, standby) = (
        aws.region(regions.primary.as_str()),
        aws.region(regions.standby.as_str()),
    );
    let mut observations = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let destination_versioning = s3::versioning(&standby, pair.destination_bucket.as_str()).await?;
        let reverse = match (serving.moved, &destination_versioning) {
            (true, Some(_)) => {
                s3::replication(&standby, pair.destination_bucket.as_str(), failover::REVERSE_RULE).await?
            }
            _ => None,
        };
        let source = async {
            let versioning = s3::versioning(&primary, pair.source_bucket.as_str()).await?;
            let replication = match versioning {
                Some(_) => s3::replication(&primary, pair.source_bucket.as_str(), &rule_id(pair)).await?,
                None => None,
            };
            Ok::<_, AwsError>((versioning, replication))
        };
        let (source_versioning, replication, source_unreachable) = match source.await {
            Ok((versioning, replication)) => (versioning, replication, None),
            Err(e) if serving.moved && e.kind == AwsErrorKind::Unavailable => (None, None, Some(e)),
            Err(e) => return Err(e),
        };
        observations.push(PairObservation {
            source_versioning,
            destination_versioning,
            replication,
            reverse,
            source_unreachable,
        });
    }
    Ok(observations)
}

/// Decides what to change for every pair and how healthy replication is. While a request runs,
/// the rule back is its ReverseReplication step's to write. Pure: no I/O.
pub fn decide(
    regions: &Regions,
    serving: Serving<'_>,
    request_running: bool,
    pairs: &[S3ReplicationSpec],
    observations: &[PairObservation],
) -> Decision {
    let mut changes = Vec::new();
    let mut reports = Vec::new();
    let mut status = Vec::new();
    for (pair, obs) in pairs.iter().zip(observations) {
        let (mut report, mut pair_status) = decide_pair(regions, pair, obs, &mut changes);
        if serving.moved {
            report = protection_back(pair, obs, serving, request_running, report, &mut changes);
            pair_status.reverse_rule = Some(reverse_rule_state(obs).to_owned());
        }
        reports.push(report);
        status.push(pair_status);
    }
    let report = ComponentReport::combine(reports);
    Decision {
        changes,
        report,
        status,
    }
}

fn reverse_rule_state(obs: &PairObservation) -> &'static str {
    match obs.reverse.as_ref().and_then(|r| r.managed.as_ref()) {
        None => "Missing",
        Some(rule) if rule.enabled => "Enabled",
        Some(_) => "Disabled",
    }
}

/// After a failover: the report on what protects the writes the destination bucket now takes
/// (its rule back to the source), with the forward rule's own report (`forward`) kept when it
/// has something to fix. A missing or disabled rule back is written again unless a request
/// runs; nothing is written while the old primary region does not answer.
fn protection_back(
    pair: &S3ReplicationSpec,
    obs: &PairObservation,
    serving: Serving<'_>,
    request_running: bool,
    forward: ComponentReport,
    changes: &mut Vec<Change>,
) -> ComponentReport {
    let (source, destination) = (pair.source_bucket.as_str(), pair.destination_bucket.as_str());
    let (active, old) = (serving.active_label(), serving.other);
    if obs.destination_versioning.is_none() {
        return forward;
    }
    let back_enabled = reverse_rule_state(obs) == "Enabled";
    if let Some(e) = &obs.source_unreachable {
        let rule = match back_enabled {
            true => format!("rule {} replicates them once it does", failover::REVERSE_RULE),
            false => "the failover's ReverseReplication step writes the rule back once it does".to_owned(),
        };
        return ComponentReport::degraded(
            "OldRegionUnreachable",
            format!(
                "writes to {destination} in {active} are kept there but reach {source} only when {old} answers again ({e}); {rule}"
            ),
        );
    }
    if obs.source_versioning.is_none() {
        return forward;
    }
    let back = match (back_enabled, request_running) {
        (true, _) => ComponentReport::healthy(
            "Replicating",
            format!("writes to {destination} in {active} replicate back to {source} in {old}"),
        ),
        (false, true) => ComponentReport::converging(
            "ReverseReplicationPending",
            format!(
                "writes to {destination} in {active} do not reach {source} in {old} yet: the running FailoverRequest's ReverseReplication step sets that up"
            ),
        ),
        (false, false) => {
            changes.push(Change::PutReplication {
                region: serving.active.to_owned(),
                bucket: destination.to_owned(),
                role: pair.replication_role_arn.to_string(),
                rule: failover::reverse_managed_rule(pair),
                other_rules: obs.reverse.as_ref().map(|r| r.other_rules.clone()).unwrap_or_default(),
                repair: obs
                    .reverse
                    .as_ref()
                    .and_then(|r| r.managed.as_ref())
                    .map(|_| "rule disabled".to_owned()),
            });
            ComponentReport::converging(
                "ConfiguringReplication",
                format!(
                    "writes to {destination} in {active} do not reach {source} in {old}: writing rule {} to replicate them back",
                    failover::REVERSE_RULE
                ),
            )
        }
    };
    match forward.health {
        super::ComponentHealth::Healthy => back,
        _ => ComponentReport {
            message: format!("{}; for a later failback: {}", back.message, forward.message),
            ..ComponentReport::combine(vec![back, forward])
        },
    }
}

fn versioning_name(v: &Option<Versioning>) -> &'static str {
    match v {
        Some(Versioning::Enabled) => "Enabled",
        Some(Versioning::Suspended) => "Suspended",
        Some(Versioning::Never) => "Never",
        None => "Missing",
    }
}

fn decide_pair(
    regions: &Regions,
    pair: &S3ReplicationSpec,
    obs: &PairObservation,
    all_changes: &mut Vec<Change>,
) -> (ComponentReport, S3ReplicationStatus) {
    let mut changes = Vec::new();
    let (source, destination) = (pair.source_bucket.as_str(), pair.destination_bucket.as_str());
    let desired = desired_rule(pair);
    let current = obs.replication.as_ref().and_then(|r| r.managed.as_ref());
    let role_matches = obs
        .replication
        .as_ref()
        .is_some_and(|r| r.role == pair.replication_role_arn.as_str());
    let drift = match current {
        None => None,
        Some(rule) if rule == &desired && role_matches => None,
        Some(rule) => Some(describe_drift(rule, &desired, role_matches)),
    };
    let status = pair_status(pair, obs, current, drift.is_some());
    let buckets = [
        ("sourceBucket", source, regions.primary.as_str(), &obs.source_versioning),
        (
            "destinationBucket",
            destination,
            regions.standby.as_str(),
            &obs.destination_versioning,
        ),
    ];
    if let Some((field, bucket, region, _)) = buckets.iter().find(|(.., versioning)| versioning.is_none()) {
        let report = ComponentReport::misconfigured(
            "BucketNotFound",
            format!(
                "bucket {bucket} does not exist in {region}: create it or fix spec.storage.s3[].{field} (the operator never creates buckets)"
            ),
        );
        return (report, status);
    }
    for (_, bucket, region, versioning) in buckets {
        if versioning != &Some(Versioning::Enabled) {
            changes.push(Change::EnableVersioning {
                region: region.to_owned(),
                bucket: bucket.to_owned(),
                was_suspended: versioning == &Some(Versioning::Suspended),
            });
        }
    }
    if current.is_none() || drift.is_some() {
        changes.push(Change::PutReplication {
            region: regions.primary.to_string(),
            bucket: source.to_owned(),
            role: pair.replication_role_arn.to_string(),
            rule: desired,
            other_rules: obs
                .replication
                .as_ref()
                .map(|r| r.other_rules.clone())
                .unwrap_or_default(),
            repair: drift.clone(),
        });
    }
    let report = match (&drift, changes.is_empty()) {
        (_, true) => ComponentReport::healthy(
            "Replicating",
            format!(
                "{source} in {} replicates to {destination} in {}",
                regions.primary, regions.standby
            ),
        ),
        (Some(what), false) => ComponentReport::converging("RepairingDrift", format!("{source}: {what}; repairing")),
        (None, false) => ComponentReport::converging(
            "ConfiguringReplication",
            format!("configuring versioning and replication from {source} to {destination}"),
        ),
    };
    all_changes.extend(changes);
    (report, status)
}

/// How the pair looks: versioning of both buckets and the state of the managed rule.
fn pair_status(
    pair: &S3ReplicationSpec,
    obs: &PairObservation,
    current: Option<&ManagedRule>,
    drifted: bool,
) -> S3ReplicationStatus {
    S3ReplicationStatus {
        source_bucket: pair.source_bucket.to_string(),
        destination_bucket: pair.destination_bucket.to_string(),
        source_versioning: versioning_name(&obs.source_versioning).to_owned(),
        destination_versioning: versioning_name(&obs.destination_versioning).to_owned(),
        rule: match (current, drifted) {
            (None, _) => "Missing",
            (Some(_), true) => "Drifted",
            (Some(rule), false) if rule.enabled => "Enabled",
            (Some(_), false) => "Disabled",
        }
        .to_owned(),
        reverse_rule: None,
    }
}

fn describe_drift(current: &ManagedRule, desired: &ManagedRule, role_matches: bool) -> String {
    let mut differences = Vec::new();
    if !current.enabled {
        differences.push("rule disabled".to_owned());
    }
    if current.destination_bucket != desired.destination_bucket {
        differences.push(format!(
            "destination {} instead of {}",
            current.destination_bucket, desired.destination_bucket
        ));
    }
    if current.storage_class != desired.storage_class {
        differences.push(format!(
            "storage class {} instead of {}",
            current.storage_class, desired.storage_class
        ));
    }
    if current.delete_marker_replication != desired.delete_marker_replication {
        differences.push(format!(
            "delete-marker replication {}",
            if current.delete_marker_replication { "on" } else { "off" }
        ));
    }
    if current.replication_time_control != desired.replication_time_control {
        differences.push(format!(
            "Replication Time Control {}",
            if current.replication_time_control { "on" } else { "off" }
        ));
    }
    if !role_matches {
        differences.push("different replication role".to_owned());
    }
    differences.join(", ")
}

/// Removes the operator's rule from the pair's source bucket (`deletionPolicy: Delete`), keeping
/// every other rule. Returns the bucket when a rule was removed.
pub async fn remove_rule(
    aws: &AwsClients,
    regions: &Regions,
    pair: &S3ReplicationSpec,
) -> Result<Option<String>, AwsError> {
    let primary = aws.region(regions.primary.as_str());
    let bucket = pair.source_bucket.as_str();
    let Some(replication) = s3::replication(&primary, bucket, &rule_id(pair)).await? else {
        return Ok(None);
    };
    if replication.managed.is_none() {
        return Ok(None);
    }
    s3::replace_rules(&primary, bucket, &replication.role, &replication.other_rules).await?;
    Ok(Some(bucket.to_owned()))
}

/// Carries out one change.
pub async fn apply(aws: &AwsClients, change: &Change) -> Result<(), AwsError> {
    match change {
        Change::EnableVersioning { region, bucket, .. } => s3::enable_versioning(&aws.region(region), bucket).await,
        Change::PutReplication {
            region,
            bucket,
            role,
            rule,
            other_rules,
            ..
        } => {
            crate::aws::iam::require_role(&aws.global(), role).await?;
            s3::put_replication(&aws.region(region), bucket, role, rule, other_rules).await
        }
    }
}

#[cfg(test)]
mod tests;
