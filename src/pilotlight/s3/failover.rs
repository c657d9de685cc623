//! The storage step of a failover: replicate the new primary's buckets back to the old ones.

use crate::api::S3ReplicationSpec;
use crate::aws::s3;
use crate::step::{Done, Next, StepContext, StepError, refused};

/// Rule id of the reverse replication rule on a destination bucket.
pub(crate) const REVERSE_RULE: &str = "pilot-light-reverse";

/// Replication from each destination bucket back to its source, so that writes made in the new
/// active region reach the old one when it returns. The source buckets are checked first: S3
/// validates the destination, which lives in the old region.
pub(crate) async fn reverse_replication(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let spec = &sc.pl.spec;
    let pairs = spec.storage.as_ref().map(|s| s.s3.as_slice()).unwrap_or_default();
    let old = sc.clients(sc.direction.from);
    let new = sc.clients(sc.direction.to);
    let mut done = Vec::new();
    for pair in pairs {
        let (source, destination) = (pair.destination_bucket.as_str(), pair.source_bucket.as_str());
        let destination_exists = s3::versioning(&old, destination).await?.is_some();
        let current = match destination_exists {
            true => s3::replication(&new, source, REVERSE_RULE).await?,
            false => None,
        };
        let rule = match reverse_rule(pair, destination_exists, current.as_ref()) {
            Next::Call(rule) => rule,
            Next::Done(m) => {
                done.push(m);
                continue;
            }
            Next::Fail(m) | Next::Wait(m) => return Err(refused(format!("{m} in {}", sc.direction.from))),
        };
        let others = current.map(|c| c.other_rules).unwrap_or_default();
        sc.before_call(format!("PutBucketReplication {source} -> {destination}"))
            .await?;
        // The next pair's write, or the step's Succeeded write, is the one after this call.
        s3::put_replication(&new, source, pair.replication_role_arn.as_str(), &rule, &others).await?;
        done.push(format!("{source} -> {destination}"));
    }
    Ok(Done::Succeeded(format!("replicating {}", done.join(", "))))
}

/// The rule replicating `pair`'s destination bucket back to its source: written unless the
/// operator's reverse rule is there already; fails when the old bucket does not exist (S3
/// validates the destination).
pub(crate) fn reverse_rule(
    pair: &S3ReplicationSpec,
    destination_exists: bool,
    current: Option<&s3::Replication>,
) -> Next<s3::ManagedRule> {
    let (source, destination) = (pair.destination_bucket.as_str(), pair.source_bucket.as_str());
    if !destination_exists {
        return Next::Fail(format!("bucket {destination} not found"));
    }
    if current.is_some_and(|c| c.managed.is_some()) {
        return Next::Done(format!("{source} -> {destination} (already)"));
    }
    Next::Call(reverse_managed_rule(pair))
}

/// The reverse rule itself, also what convergence keeps after a failover.
pub(crate) fn reverse_managed_rule(pair: &S3ReplicationSpec) -> s3::ManagedRule {
    s3::ManagedRule {
        id: REVERSE_RULE.into(),
        enabled: true,
        destination_bucket: pair.source_bucket.to_string(),
        storage_class: pair.storage_class.as_str().to_owned(),
        delete_marker_replication: pair.delete_marker_replication,
        replication_time_control: false,
    }
}

#[cfg(test)]
mod tests;
