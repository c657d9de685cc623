use super::*;
use crate::aws::s3::{ManagedRule, Replication};

fn pair() -> S3ReplicationSpec {
    let pl: crate::api::PilotLight =
        serde_yaml::from_str(include_str!("../../../../examples/pilotlight-full.yaml")).expect("example parses");
    pl.spec.storage.expect("storage").s3.remove(0)
}

#[test]
fn the_reverse_rule_replicates_the_new_bucket_back_to_the_old_one() {
    let p = pair();
    let Next::Call(rule) = reverse_rule(&p, true, None) else {
        panic!("a rule to write");
    };
    assert_eq!(rule.id, REVERSE_RULE);
    assert_eq!(rule.destination_bucket, p.source_bucket.as_str());
    assert!(rule.enabled && rule.delete_marker_replication == p.delete_marker_replication);
}

#[test]
fn an_existing_reverse_rule_is_kept_and_a_missing_old_bucket_fails() {
    let p = pair();
    let managed = Replication {
        role: p.replication_role_arn.to_string(),
        managed: Some(ManagedRule {
            id: REVERSE_RULE.into(),
            enabled: true,
            destination_bucket: p.source_bucket.to_string(),
            storage_class: "STANDARD".into(),
            delete_marker_replication: true,
            replication_time_control: false,
        }),
        other_rules: vec![],
    };
    assert!(matches!(reverse_rule(&p, true, Some(&managed)), Next::Done(m) if m.ends_with("(already)")));
    let others_only = Replication {
        managed: None,
        ..managed
    };
    assert!(matches!(reverse_rule(&p, true, Some(&others_only)), Next::Call(_)));
    assert_eq!(
        reverse_rule(&p, false, None),
        Next::Fail(format!("bucket {} not found", p.source_bucket.as_str()))
    );
}
