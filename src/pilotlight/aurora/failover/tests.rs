use super::*;
use crate::aws::rds::GlobalClusterMember;

const PRIMARY_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:app-primary";
const STANDBY_ARN: &str = "arn:aws:rds:us-west-2:123456789012:cluster:app-standby";

fn global(status: RdsStatus, writer: &str, promoting: Option<&str>) -> GlobalCluster {
    GlobalCluster {
        identifier: "app-global".into(),
        arn: "arn:aws:rds::123456789012:global-cluster:app-global".into(),
        status,
        engine: Some("aurora-postgresql".into()),
        engine_version: None,
        members: [PRIMARY_ARN, STANDBY_ARN]
            .map(|arn| GlobalClusterMember {
                cluster_arn: arn.into(),
                is_writer: arn == writer,
            })
            .into(),
        promoting: promoting.map(str::to_owned),
        endpoint: None,
    }
}

fn promote(g: &GlobalCluster, called: bool) -> Next<String> {
    promotion("app-global", Some(g), "us-west-2", "app-standby", called)
}

#[test]
fn promotion_calls_once_then_waits_until_the_target_writes_and_the_cluster_is_available() {
    let before = global(RdsStatus::Available, PRIMARY_ARN, None);
    assert_eq!(promote(&before, false), Next::Call(STANDBY_ARN.into()));
    // Accepted, but AWS has not started yet: never a second call.
    assert!(matches!(promote(&before, true), Next::Wait(_)));
    let under_way = global(RdsStatus::FailingOver, PRIMARY_ARN, Some(STANDBY_ARN));
    assert!(matches!(promote(&under_way, false), Next::Wait(m) if m.contains("failing-over")));
    let switched_not_settled = global(RdsStatus::FailingOver, STANDBY_ARN, None);
    assert!(matches!(promote(&switched_not_settled, false), Next::Wait(_)));
    let done = global(RdsStatus::Available, STANDBY_ARN, None);
    assert!(matches!(promote(&done, false), Next::Done(m) if m.contains("app-standby in us-west-2 is the writer")));
}

#[test]
fn promotion_resumed_after_a_restart_does_not_promote_again_while_one_is_under_way() {
    // The journal lost the call's answer (called = false), but AWS says a promotion to the
    // target runs: waiting, not calling.
    let under_way = global(RdsStatus::Available, PRIMARY_ARN, Some(STANDBY_ARN));
    assert!(matches!(promote(&under_way, false), Next::Wait(_)));
}

#[test]
fn promotion_fails_without_the_global_cluster_or_the_member() {
    assert!(matches!(
        promotion("app-global", None, "us-west-2", "app-standby", false),
        Next::Fail(m) if m == "global cluster app-global not found from us-west-2"
    ));
    let g = global(RdsStatus::Available, PRIMARY_ARN, None);
    assert!(matches!(
        promotion("app-global", Some(&g), "us-west-2", "other", false),
        Next::Fail(m) if m.contains("other in us-west-2 is not a member")
    ));
}

fn instance(status: RdsStatus, class: &str) -> DbInstance {
    DbInstance {
        identifier: String::new(),
        status,
        instance_class: Some(class.into()),
        ..DbInstance::default()
    }
}

#[test]
fn database_scale_resizes_the_writer_then_adds_readers_then_waits_for_them() {
    let readers = vec!["c-reader-1".to_owned()];
    let scale = |instances: &[(&str, DbInstance)]| {
        let map: HashMap<String, DbInstance> = instances.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        database_scale(&map, "w", &readers, "db.r5.xlarge")
    };
    assert_eq!(
        scale(&[("w", instance(RdsStatus::Available, "db.r5.large"))]),
        Next::Call(DatabaseCall::Resize)
    );
    // Resizing: the reader is created meanwhile, no second resize.
    assert_eq!(
        scale(&[("w", instance(RdsStatus::Modifying, "db.r5.large"))]),
        Next::Call(DatabaseCall::CreateReader("c-reader-1".into()))
    );
    assert!(matches!(
        scale(&[
            ("w", instance(RdsStatus::Available, "db.r5.xlarge")),
            ("c-reader-1", instance(RdsStatus::Creating, "db.r5.xlarge"))
        ]),
        Next::Wait(_)
    ));
    assert_eq!(
        scale(&[
            ("w", instance(RdsStatus::Available, "db.r5.xlarge")),
            ("c-reader-1", instance(RdsStatus::Available, "db.r5.xlarge"))
        ]),
        Next::Done("w is db.r5.xlarge; 1 reader(s) available".into())
    );
    assert!(matches!(scale(&[]), Next::Fail(m) if m == "instance w not found"));
}
