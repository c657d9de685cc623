use super::*;
use crate::{
    api::{AsgCapacity, AutoScalingGroupSpec, GoDuration, LaunchTemplateSpec},
    pilotlight::{ComponentHealth, test_regions as regions},
};
use crate::{aws::ec2::LaunchTemplateData, pilotlight::PlannedChange};
use k8s_openapi::jiff::Timestamp;

fn spec() -> ComputeSpec {
    ComputeSpec {
        auto_scaling_group: AutoScalingGroupSpec {
            name: "app-dr-asg".into(),
            subnet_ids: vec!["subnet-1".into(), "subnet-2".into()],
            target_group_arns: vec!["arn:tg/a".into()],
            failover: AsgCapacity {
                min_size: 2,
                desired_capacity: 4,
                max_size: 10,
            },
        },
        launch_template: LaunchTemplateSpec {
            name: "app-server-dr".into(),
            source_image_id: "ami-source".into(),
            instance_type: "c5.xlarge".into(),
            key_name: Some("dr-key".into()),
            security_group_ids: vec!["sg-b".into(), "sg-a".into()],
            user_data: None,
        },
        max_image_age: GoDuration("168h".into()),
        primary_auto_scaling_group_name: None,
    }
}

fn now() -> Timestamp {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

fn copy(state: &str, created: &str) -> AmiCopy {
    AmiCopy {
        image_id: "ami-copy".into(),
        state: state.into(),
        creation_date: Some(created.into()),
    }
}

fn template(image: &str) -> LaunchTemplate {
    LaunchTemplate {
        version: 3,
        data: LaunchTemplateData {
            image_id: image.into(),
            instance_type: "c5.xlarge".into(),
            key_name: Some("dr-key".into()),
            security_group_ids: vec!["sg-a".into(), "sg-b".into()],
            user_data: None,
        },
    }
}

fn group(min: i32, desired: i32, max: i32) -> Group {
    Group {
        name: "app-dr-asg".into(),
        min_size: min,
        desired_capacity: desired,
        max_size: max,
        subnet_ids: vec!["subnet-2".into(), "subnet-1".into()],
        target_group_arns: vec!["arn:tg/a".into()],
        launch_template: Some(("app-server-dr".into(), "$Default".into())),
        owner: Some("ns/app".into()),
        instances: 0,
        in_service: 0,
    }
}

fn converged() -> Observation {
    Observation {
        copies: vec![copy("available", "2026-11-21T12:00:00.000Z")],
        template: Some(template("ami-copy")),
        group: Some(group(0, 0, 10)),
    }
}

fn reasons(d: &Decision) -> Vec<&'static str> {
    d.changes.iter().map(Change::reason).collect()
}

#[test]
fn starts_by_copying_the_image_and_waits_for_it() {
    let empty = Observation {
        copies: vec![],
        template: None,
        group: None,
    };
    let d = decide(&regions(), &spec(), &empty, CapacityUse::Dormant, now());
    assert_eq!(
        d.changes,
        vec![Change::CopyImage {
            region: "us-west-2".into(),
            source_region: "us-east-1".into(),
            source_image_id: "ami-source".into(),
            name: "app-server-dr-ami-source".into(),
        }]
    );
    assert_eq!(d.report.reason, "CopyingImage");
    let pending = Observation {
        copies: vec![copy("pending", "2026-11-22T11:59:00Z")],
        ..empty
    };
    let d = decide(&regions(), &spec(), &pending, CapacityUse::Dormant, now());
    assert!(
        d.changes.is_empty(),
        "no template before the copy can launch: {:?}",
        d.changes
    );
    assert_eq!(d.report.health, ComponentHealth::Converging);
}

#[test]
fn builds_template_then_group_at_zero_with_failover_max() {
    let observed = Observation {
        template: None,
        group: None,
        ..converged()
    };
    let d = decide(&regions(), &spec(), &observed, CapacityUse::Dormant, now());
    assert_eq!(reasons(&d), ["CreatingLaunchTemplate", "CreatingAutoScalingGroup"]);
    let Change::CreateGroup {
        settings,
        target_group_arns,
        ..
    } = &d.changes[1]
    else {
        panic!("{:?}", d.changes[1]);
    };
    assert_eq!(
        (settings.min_size, settings.desired_capacity, settings.max_size),
        (0, 0, 10)
    );
    assert_eq!(target_group_arns, &["arn:tg/a".to_owned()]);
    assert_eq!(settings.launch_template_name, "app-server-dr");
}

#[test]
fn converged_and_dormant_is_healthy_regardless_of_order() {
    let d = decide(&regions(), &spec(), &converged(), CapacityUse::Dormant, now());
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.report.reason, "Dormant");
    assert_eq!(d.status.image_age.as_deref(), Some("1d0h"));
    assert_eq!(d.status.auto_scaling_group.as_deref(), Some("0/0/10"));
    assert!(d.report.message.contains("v3"), "{}", d.report.message);
    assert!(
        d.report
            .message
            .contains("in us-west-2 at 0/0/10 (min/desired/max), held at zero until a failover"),
        "{}",
        d.report.message
    );
}

#[test]
fn cost_guard_returns_a_scaled_up_group_to_zero_unless_in_use() {
    let scaled = Observation {
        group: Some(group(2, 4, 10)),
        ..converged()
    };
    let d = decide(&regions(), &spec(), &scaled, CapacityUse::Dormant, now());
    assert_eq!(reasons(&d), ["StandbyScaledUp"]);
    assert!(d.changes[0].is_warning());
    assert!(
        d.changes[0].describe().contains("2/4/10"),
        "{}",
        d.changes[0].describe()
    );
    let Change::ScaleDownGroup { settings, .. } = &d.changes[0] else {
        unreachable!()
    };
    assert_eq!((settings.min_size, settings.desired_capacity), (0, 0));

    let d = decide(&regions(), &spec(), &scaled, CapacityUse::InUse, now());
    assert!(
        d.changes.is_empty(),
        "a drill's capacity is left alone: {:?}",
        d.changes
    );
    assert_eq!(d.report.reason, "InUse");
}

#[test]
fn a_new_source_image_is_copied_and_then_rolled_into_a_new_template_version() {
    // The spec names a new source: no copy of it yet, the template keeps the old image.
    let observed = Observation {
        copies: vec![],
        template: Some(template("ami-old-copy")),
        group: Some(group(0, 0, 10)),
    };
    let d = decide(&regions(), &spec(), &observed, CapacityUse::Dormant, now());
    assert_eq!(reasons(&d), ["CopyingImage"]);
    // Once the copy is available the template gets a new default version.
    let observed = Observation {
        copies: vec![copy("available", "2026-11-22T11:00:00Z")],
        ..observed
    };
    let d = decide(&regions(), &spec(), &observed, CapacityUse::Dormant, now());
    assert_eq!(reasons(&d), ["UpdatingLaunchTemplate"]);
    assert!(
        d.changes[0].describe().contains("image changed"),
        "{}",
        d.changes[0].describe()
    );
}

#[test]
fn a_stale_copy_degrades_with_advice() {
    let observed = Observation {
        copies: vec![copy("available", "2026-11-01T12:00:00Z")],
        ..converged()
    };
    let d = decide(&regions(), &spec(), &observed, CapacityUse::Dormant, now());
    assert_eq!(d.report.health, ComponentHealth::Degraded);
    assert_eq!(d.report.reason, "ImageStale");
    assert!(d.report.message.contains("21d0h old"), "{}", d.report.message);
    assert!(d.report.message.contains("sourceImageId"), "{}", d.report.message);
}

#[test]
fn drifted_template_and_group_are_repaired() {
    let mut observed = converged();
    observed.template.as_mut().unwrap().data.instance_type = "t3.micro".into();
    let g = observed.group.as_mut().unwrap();
    g.max_size = 3;
    g.target_group_arns = vec!["arn:tg/other".into()];
    let d = decide(&regions(), &spec(), &observed, CapacityUse::Dormant, now());
    assert_eq!(
        reasons(&d),
        [
            "UpdatingLaunchTemplate",
            "UpdatingAutoScalingGroup",
            "AttachingTargetGroups",
            "DetachingTargetGroups"
        ]
    );
    assert!(d.changes[0].describe().contains("instance type"));
    assert!(d.changes[1].describe().contains("max size"));
    assert_eq!(d.report.health, ComponentHealth::Converging);
}

#[test]
fn a_failed_copy_is_reported_not_retried_in_a_loop() {
    let observed = Observation {
        copies: vec![copy("failed", "2026-11-22T11:00:00Z")],
        ..converged()
    };
    let d = decide(&regions(), &spec(), &observed, CapacityUse::Dormant, now());
    assert!(d.changes.iter().all(|c| c.reason() != "CopyingImage"));
    assert_eq!(d.report.reason, "ImageCopyFailed");
}
