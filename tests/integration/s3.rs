//! S3 cross-region replication end to end: versioning and the replication rule configured,
//! drift repaired and announced, other rules kept, missing buckets reported.

use std::time::Duration;

use crate::common::*;
use aws_sdk_s3::types::{BucketVersioningStatus, DeleteMarkerReplicationStatus, ReplicationRuleStatus};
use serde_json::json;

const ROLE: &str = "arn:aws:iam::123456789012:role/S3ReplicationRole";

/// A PilotLight with one S3 pair and no database, and unique bucket names.
async fn scenario(prefix: &str) -> (Scenario, String, String) {
    let mut s = Scenario::new(prefix).await;
    let suffix = unique_suffix();
    let (source, destination) = (format!("src-{suffix}"), format!("dst-{suffix}"));
    s.manifest["spec"] = json!({
        "regions": {"primary": "us-east-1", "standby": "us-west-2"},
        "storage": {"s3": [{"sourceBucket": source, "destinationBucket": destination, "replicationRoleArn": ROLE}]},
    });
    (s, source, destination)
}

/// [`scenario`] with both buckets created.
async fn scenario_with_buckets(prefix: &str) -> (Scenario, String, String) {
    let (s, source, destination) = scenario(prefix).await;
    create_bucket("us-east-1", &source).await;
    create_bucket("us-west-2", &destination).await;
    (s, source, destination)
}

fn puts(calls: &[Call]) -> Vec<&str> {
    calls
        .iter()
        .filter(|c| c.action.starts_with("Put") && c.outcome == "ok")
        .map(|c| c.action.as_str())
        .collect()
}

#[tokio::test]
async fn configures_versioning_and_the_seed_replication_rule() {
    let (mut s, source, destination) = scenario_with_buckets("s3-create").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s.wait_ready().await;

    assert_eq!(
        versioning("us-east-1", &source).await,
        Some(BucketVersioningStatus::Enabled)
    );
    assert_eq!(
        versioning("us-west-2", &destination).await,
        Some(BucketVersioningStatus::Enabled)
    );
    let out = s3("us-east-1")
        .await
        .get_bucket_replication()
        .bucket(&source)
        .send()
        .await
        .unwrap();
    let config = out.replication_configuration().unwrap();
    assert_eq!(config.role(), ROLE);
    let [rule] = config.rules() else {
        panic!("one rule: {:?}", config.rules())
    };
    assert_eq!(rule.status(), &ReplicationRuleStatus::Enabled);
    let destination_config = rule.destination().unwrap();
    assert_eq!(destination_config.bucket(), format!("arn:aws:s3:::{destination}"));
    assert_eq!(destination_config.storage_class().map(|c| c.as_str()), Some("STANDARD"));
    assert_eq!(
        rule.delete_marker_replication().and_then(|d| d.status()),
        Some(&DeleteMarkerReplicationStatus::Enabled)
    );

    let status = pl.status.unwrap();
    assert_eq!(condition(&status, "StorageReplicating").status, "True");
    let pair = &status.storage.unwrap().s3[0];
    assert_eq!(
        (pair.source_versioning.as_str(), pair.rule.as_str()),
        ("Enabled", "Enabled")
    );
    let reasons = s.event_reasons().await;
    assert!(reasons.iter().any(|r| r == "ConfiguringReplication"), "{reasons:?}");
    let data = endpoints(&s).await;
    assert_eq!(
        data.get(&format!("bucket.{source}")),
        Some(&source),
        "the active bucket is the source"
    );
    let calls = Emulator::new().calls_by(&operator.app).await;
    assert_eq!(
        puts(&calls),
        ["PutBucketVersioning", "PutBucketVersioning", "PutBucketReplication"]
    );
    operator.stop().await;
}

#[tokio::test]
async fn repairs_drift_and_announces_it() {
    let (mut s, source, destination) = scenario_with_buckets("s3-drift").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    operator.stop().await;

    // Someone suspends versioning on the destination and disables the rule.
    set_versioning("us-west-2", &destination, BucketVersioningStatus::Suspended).await;
    let east = s3("us-east-1").await;
    let config = east
        .get_bucket_replication()
        .bucket(&source)
        .send()
        .await
        .unwrap()
        .replication_configuration
        .unwrap();
    let mut disabled = config.clone();
    disabled.rules = config
        .rules
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.status = ReplicationRuleStatus::Disabled;
            r
        })
        .collect();
    east.put_bucket_replication()
        .bucket(&source)
        .replication_configuration(disabled)
        .send()
        .await
        .unwrap();

    // A restarted operator reconciles everything at once (the condition is still True from
    // before, so wait for AWS to be repaired).
    let operator = s.start_operator().await;
    eventually(Duration::from_secs(60), || async {
        (versioning("us-west-2", &destination).await == Some(BucketVersioningStatus::Enabled)).then_some(())
    })
    .await
    .expect("destination versioning enabled again");
    let pl = s
        .wait("StorageReplicating", "True", None, Duration::from_secs(60))
        .await;
    let config = east
        .get_bucket_replication()
        .bucket(&source)
        .send()
        .await
        .unwrap()
        .replication_configuration
        .unwrap();
    assert_eq!(config.rules()[0].status(), &ReplicationRuleStatus::Enabled);
    assert_eq!(pl.status.unwrap().storage.unwrap().s3[0].rule, "Enabled");
    let reasons = s.event_reasons().await;
    assert!(
        reasons.iter().any(|r| r == "ReplicationRuleRepaired") && reasons.iter().any(|r| r == "VersioningRepaired"),
        "drift is announced: {reasons:?}"
    );
    let warnings = s.warning_notes().await;
    assert!(warnings.iter().any(|n| n.contains("rule disabled")), "{warnings:?}");
    assert!(warnings.iter().any(|n| n.contains("was suspended")), "{warnings:?}");
    operator.stop().await;
}

#[tokio::test]
async fn keeps_replication_rules_it_does_not_own() {
    let (mut s, source, destination) = scenario_with_buckets("s3-others").await;
    let archive = format!("archive-{}", unique_suffix());
    create_bucket("us-west-2", &archive).await;
    set_versioning("us-east-1", &source, BucketVersioningStatus::Enabled).await;
    let east = s3("us-east-1").await;
    let rule = aws_sdk_s3::types::ReplicationRule::builder()
        .id("archive")
        .priority(1)
        .status(ReplicationRuleStatus::Enabled)
        .filter(
            aws_sdk_s3::types::ReplicationRuleFilter::builder()
                .prefix("logs/")
                .build(),
        )
        .destination(
            aws_sdk_s3::types::Destination::builder()
                .bucket(format!("arn:aws:s3:::{archive}"))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    east.put_bucket_replication()
        .bucket(&source)
        .replication_configuration(
            aws_sdk_s3::types::ReplicationConfiguration::builder()
                .role(ROLE)
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    operator.stop().await;
    let config = east
        .get_bucket_replication()
        .bucket(&source)
        .send()
        .await
        .unwrap()
        .replication_configuration
        .unwrap();
    let ids: Vec<_> = config.rules().iter().filter_map(|r| r.id()).collect();
    assert_eq!(
        ids,
        ["archive", format!("pilot-light-{destination}").as_str()],
        "their rule is kept"
    );
}

#[tokio::test]
async fn drift_that_keeps_coming_back_is_reported_as_persistent() {
    let (mut s, _, destination) = scenario_with_buckets("s3-fight").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;

    // Another tool keeps suspending versioning on the destination.
    let fighter = tokio::spawn({
        let destination = destination.clone();
        async move {
            loop {
                set_versioning("us-west-2", &destination, BucketVersioningStatus::Suspended).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let (_, message) = s.wait_for_reason("StorageReplicating", "False", "DriftPersists").await;
    fighter.abort();
    assert!(message.contains("repaired 3 checks in a row"), "{message}");
    assert!(message.contains("was suspended"), "{message}");
    let warnings = s.warning_notes().await;
    assert!(warnings.iter().any(|n| n.contains("keeps changing")), "{warnings:?}");
    // Once the other tool stops, the next repair sticks and the condition recovers.
    s.wait("StorageReplicating", "True", None, Duration::from_secs(120))
        .await;
    operator.stop().await;
}

#[tokio::test]
async fn a_missing_bucket_is_reported_and_nothing_is_written() {
    let (mut s, source, destination) = scenario("s3-missing").await;
    create_bucket("us-east-1", &source).await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let (_, message) = s.wait_for_reason("StorageReplicating", "False", "BucketNotFound").await;
    assert!(
        message.contains(&format!("bucket {destination} does not exist in us-west-2")),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = Emulator::new().calls_by(&operator.app).await;
    operator.stop().await;
    assert!(
        puts(&calls).is_empty(),
        "nothing written while a bucket is missing: {:?}",
        puts(&calls)
    );
    assert!(calls.len() <= 6, "no hot loop: {} calls", calls.len());
}

#[tokio::test]
async fn a_replication_role_that_does_not_exist_is_reported_before_any_rule_is_written() {
    let (mut s, _, _) = scenario_with_buckets("s3-role").await;
    let operator = s.start_operator().await;
    s.apply(|m| {
        m["spec"]["storage"]["s3"][0]["replicationRoleArn"] = "arn:aws:iam::123456789012:role/NoSuchRole".into();
    })
    .await;
    let (_, message) = s
        .wait_for_reason("StorageReplicating", "False", "AwsResourceNotFound")
        .await;
    assert!(
        message.contains("GetRole") && message.contains("NoSuchRole"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = Emulator::new().calls_by(&operator.app).await;
    operator.stop().await;
    assert!(
        !calls.iter().any(|c| c.action == "PutBucketReplication"),
        "no rule with a missing role: {:?}",
        puts(&calls)
    );
    let role_checks = calls.iter().filter(|c| c.action == "GetRole").count();
    assert_eq!(
        role_checks, 1,
        "no hot loop: the role is checked once until the spec changes"
    );
}

#[tokio::test]
async fn deletion_policy_delete_removes_only_the_operators_rule() {
    let (mut s, source, _) = scenario_with_buckets("s3-delete").await;
    let operator = s.start_operator().await;
    s.apply(|m| m["spec"]["deletionPolicy"] = "Delete".into()).await;
    s.wait_ready().await;

    s.delete_pilotlight().await;
    let calls = Emulator::new().calls_by(&operator.app).await;
    operator.stop().await;

    let east = s3("us-east-1").await;
    let replication = east.get_bucket_replication().bucket(&source).send().await;
    assert!(
        replication.is_err(),
        "the operator's rule (the only one) is gone: {replication:?}"
    );
    assert_eq!(
        versioning("us-east-1", &source).await,
        Some(BucketVersioningStatus::Enabled),
        "bucket untouched"
    );
    assert!(east.head_bucket().bucket(&source).send().await.is_ok(), "bucket kept");
    let deletes: Vec<_> = calls
        .iter()
        .filter(|c| c.action.starts_with("Delete"))
        .map(|c| c.action.as_str())
        .collect();
    assert_eq!(deletes, ["DeleteBucketReplication"], "nothing else deleted");
}
