use super::*;
use crate::pilotlight::ComponentHealth;

use crate::pilotlight::test_regions as regions;

fn pair() -> S3ReplicationSpec {
    serde_json::from_value(serde_json::json!({
        "sourceBucket": "app-assets-us-east-1",
        "destinationBucket": "app-assets-us-west-2",
        "replicationRoleArn": "arn:aws:iam::123456789012:role/S3ReplicationRole",
    }))
    .unwrap()
}

fn converged() -> PairObservation {
    PairObservation {
        source_versioning: Some(Versioning::Enabled),
        destination_versioning: Some(Versioning::Enabled),
        replication: Some(Replication {
            role: "arn:aws:iam::123456789012:role/S3ReplicationRole".into(),
            managed: Some(desired_rule(&pair())),
            other_rules: Vec::new(),
        }),
        reverse: None,
        source_unreachable: None,
    }
}

/// Decides with the spec's primary serving, or with `active` serving.
fn decide_in(
    active: Option<&str>,
    request_running: bool,
    pairs: &[S3ReplicationSpec],
    observed: &[PairObservation],
) -> Decision {
    let regions = regions();
    decide(
        &regions,
        Serving::of(&regions, active),
        request_running,
        pairs,
        observed,
    )
}

/// After a failover: the forward pair as converged, and the destination's rule back.
fn failed_over(back: Option<ManagedRule>) -> PairObservation {
    PairObservation {
        reverse: back.map(|rule| Replication {
            role: "arn:aws:iam::123456789012:role/S3ReplicationRole".into(),
            managed: Some(rule),
            other_rules: Vec::new(),
        }),
        ..converged()
    }
}

#[test]
fn the_default_rule_matches_the_seed() {
    let rule = desired_rule(&pair());
    assert_eq!(rule.id, "pilot-light-app-assets-us-west-2");
    assert_eq!(rule.storage_class, "STANDARD");
    assert!(rule.delete_marker_replication && rule.enabled && !rule.replication_time_control);
}

#[test]
fn converged_pair_is_healthy_and_changes_nothing() {
    let d = decide_in(None, false, &[pair()], &[converged()]);
    assert!(d.changes.is_empty());
    assert_eq!(d.report.health, ComponentHealth::Healthy);
    assert_eq!(d.status[0].rule, "Enabled");
}

#[test]
fn fresh_buckets_get_versioning_then_the_rule() {
    let obs = PairObservation {
        source_versioning: Some(Versioning::Never),
        destination_versioning: Some(Versioning::Never),
        replication: None,
        ..converged()
    };
    let d = decide_in(None, false, &[pair()], &[obs]);
    let reasons: Vec<_> = d.changes.iter().map(Change::reason).collect();
    assert_eq!(
        reasons,
        ["EnablingVersioning", "EnablingVersioning", "ConfiguringReplication"]
    );
    assert!(d.changes.iter().all(|c| !c.is_warning()));
    assert_eq!(d.report.reason, "ConfiguringReplication");
}

#[test]
fn suspended_versioning_and_a_disabled_rule_are_repaired_as_drift() {
    let mut obs = converged();
    obs.destination_versioning = Some(Versioning::Suspended);
    obs.replication.as_mut().unwrap().managed.as_mut().unwrap().enabled = false;
    let d = decide_in(None, false, &[pair()], &[obs]);
    assert_eq!(d.changes.len(), 2);
    assert!(d.changes.iter().all(Change::is_warning), "{:?}", d.changes);
    assert_eq!(d.report.reason, "RepairingDrift");
    assert!(d.report.message.contains("rule disabled"), "{}", d.report.message);
    assert_eq!(d.status[0].rule, "Drifted");
}

#[test]
fn other_rules_are_kept() {
    let mut obs = converged();
    let other = aws_sdk_s3::types::ReplicationRule::builder()
        .id("someone-elses")
        .status(aws_sdk_s3::types::ReplicationRuleStatus::Enabled)
        .destination(
            aws_sdk_s3::types::Destination::builder()
                .bucket("arn:aws:s3:::elsewhere")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let replication = obs.replication.as_mut().unwrap();
    replication.other_rules.push(other.clone());
    replication.managed.as_mut().unwrap().storage_class = "GLACIER".into();
    let d = decide_in(None, false, &[pair()], &[obs]);
    let [
        Change::PutReplication {
            other_rules,
            repair: Some(what),
            ..
        },
    ] = d.changes.as_slice()
    else {
        panic!("{:?}", d.changes)
    };
    assert_eq!(other_rules, &vec![other]);
    assert!(what.contains("storage class GLACIER instead of STANDARD"), "{what}");
}

#[test]
fn a_missing_bucket_is_a_configuration_error_without_changes() {
    let obs = PairObservation {
        destination_versioning: None,
        ..converged()
    };
    let d = decide_in(None, false, &[pair()], &[obs]);
    assert!(d.changes.is_empty());
    assert_eq!(d.report.health, ComponentHealth::Misconfigured);
    assert!(
        d.report
            .message
            .contains("app-assets-us-west-2 does not exist in us-west-2"),
        "{}",
        d.report.message
    );
    assert_eq!(d.status[0].destination_versioning, "Missing");
}

#[test]
fn a_different_role_is_drift() {
    let mut obs = converged();
    obs.replication.as_mut().unwrap().role = "arn:aws:iam::123456789012:role/Other".into();
    let d = decide_in(None, false, &[pair()], &[obs]);
    assert!(matches!(d.changes.as_slice(), [Change::PutReplication { repair: Some(w), .. }] if w.contains("role")));
}

#[test]
fn while_the_primary_serves_the_message_names_both_regions() {
    let d = decide_in(None, false, &[pair()], &[converged()]);
    assert_eq!(
        d.report.message,
        "app-assets-us-east-1 in us-east-1 replicates to app-assets-us-west-2 in us-west-2"
    );
    assert_eq!(d.status[0].reverse_rule, None);
}

#[test]
fn after_a_failover_the_rule_back_is_what_protects_the_writes() {
    let back = failover::reverse_managed_rule(&pair());
    let d = decide_in(Some("us-west-2"), false, &[pair()], &[failed_over(Some(back))]);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.health, ComponentHealth::Healthy);
    assert_eq!(
        d.report.message,
        "writes to app-assets-us-west-2 in us-west-2 (serving since the last failover) replicate back to app-assets-us-east-1 in us-east-1"
    );
    assert_eq!(d.status[0].reverse_rule.as_deref(), Some("Enabled"));
}

#[test]
fn a_missing_rule_back_is_written_unless_a_request_runs() {
    let d = decide_in(Some("us-west-2"), false, &[pair()], &[failed_over(None)]);
    let [
        Change::PutReplication {
            region,
            bucket,
            rule,
            repair: None,
            ..
        },
    ] = d.changes.as_slice()
    else {
        panic!("{:?}", d.changes)
    };
    assert_eq!(
        (region.as_str(), bucket.as_str()),
        ("us-west-2", "app-assets-us-west-2")
    );
    assert_eq!(
        (rule.id.as_str(), rule.destination_bucket.as_str()),
        (failover::REVERSE_RULE, "app-assets-us-east-1")
    );
    assert_eq!(d.report.reason, "ConfiguringReplication");
    assert!(
        d.report
            .message
            .contains("do not reach app-assets-us-east-1 in us-east-1"),
        "{}",
        d.report.message
    );
    assert_eq!(d.status[0].reverse_rule.as_deref(), Some("Missing"));

    let d = decide_in(Some("us-west-2"), true, &[pair()], &[failed_over(None)]);
    assert!(
        d.changes.is_empty(),
        "the running request's step writes it: {:?}",
        d.changes
    );
    assert_eq!(d.report.reason, "ReverseReplicationPending");

    let mut disabled = failover::reverse_managed_rule(&pair());
    disabled.enabled = false;
    let d = decide_in(Some("us-west-2"), false, &[pair()], &[failed_over(Some(disabled))]);
    assert!(
        matches!(d.changes.as_slice(), [Change::PutReplication { repair: Some(_), .. }]),
        "{:?}",
        d.changes
    );
    assert!(d.changes[0].is_warning());
}

#[test]
fn an_unreachable_old_primary_keeps_the_writes_and_says_when_they_replicate() {
    let mut obs = failed_over(None);
    obs.source_versioning = None;
    obs.replication = None;
    obs.source_unreachable = Some(AwsError {
        service: "S3",
        operation: "GetBucketVersioning",
        region: "us-east-1".into(),
        kind: AwsErrorKind::Unavailable,
        code: None,
        message: "timed out".into(),
    });
    let d = decide_in(Some("us-west-2"), false, &[pair()], &[obs]);
    assert!(
        d.changes.is_empty(),
        "nothing is written while the old region is away: {:?}",
        d.changes
    );
    assert_eq!(d.report.health, ComponentHealth::Degraded);
    assert_eq!(d.report.reason, "OldRegionUnreachable");
    assert!(
        d.report.message.starts_with(
            "writes to app-assets-us-west-2 in us-west-2 (serving since the last failover) are kept there but reach app-assets-us-east-1 only when us-east-1 answers again"
        ),
        "{}",
        d.report.message
    );
}

#[test]
fn after_a_failover_forward_drift_is_still_repaired_and_named_for_failback() {
    let mut obs = failed_over(Some(failover::reverse_managed_rule(&pair())));
    obs.replication.as_mut().unwrap().managed.as_mut().unwrap().enabled = false;
    let d = decide_in(Some("us-west-2"), false, &[pair()], &[obs]);
    assert_eq!(d.changes.len(), 1);
    assert_eq!(d.report.health, ComponentHealth::Converging);
    assert!(
        d.report.message.starts_with(
            "writes to app-assets-us-west-2 in us-west-2 (serving since the last failover) replicate back"
        ) && d
            .report
            .message
            .contains("for a later failback: app-assets-us-east-1: rule disabled; repairing"),
        "{}",
        d.report.message
    );
}
