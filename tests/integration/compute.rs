//! Standby compute end to end: the AMI copy, the launch template, the ASG at 0/0/max with its
//! target group; adoption, the cost guard, a new source image, bad references and deletion.

use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

struct Names {
    asg: String,
    template: String,
    image: String,
}

async fn scenario(prefix: &str) -> (Scenario, Names) {
    let mut s = Scenario::new(prefix).await;
    let suffix = unique_suffix();
    let names = Names {
        asg: format!("asg-{suffix}"),
        template: format!("lt-{suffix}"),
        image: create_source_image(&format!("app-{suffix}")).await,
    };
    let seed = seed();
    s.manifest["spec"] = json!({
        "regions": {"primary": "us-east-1", "standby": "us-west-2"},
        "compute": {
            "autoScalingGroup": {
                "name": names.asg,
                "subnetIds": seed["vpc"]["us-west-2"]["subnetIds"],
                "targetGroupArns": [seed["alb"]["us-west-2"]["targetGroupArn"]],
                "failover": {"minSize": 2, "desiredCapacity": 4, "maxSize": 10},
            },
            "launchTemplate": {
                "name": names.template,
                "sourceImageId": names.image,
                "instanceType": "c5.xlarge",
                "securityGroupIds": [seed["vpc"]["us-west-2"]["securityGroupId"]],
            },
        },
    });
    (s, names)
}

fn seed_target_group() -> String {
    seed()["alb"]["us-west-2"]["targetGroupArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn default_template_image(name: &str) -> (i64, String) {
    let out = ec2("us-west-2")
        .await
        .describe_launch_template_versions()
        .launch_template_name(name)
        .versions("$Default")
        .send()
        .await
        .expect("template versions");
    let v = &out.launch_template_versions()[0];
    (
        v.version_number().unwrap(),
        v.launch_template_data().unwrap().image_id().unwrap().to_owned(),
    )
}

async fn set_capacity(asg: &str, min: i32, desired: i32) {
    autoscaling("us-west-2")
        .await
        .update_auto_scaling_group()
        .auto_scaling_group_name(asg)
        .min_size(min)
        .desired_capacity(desired)
        .send()
        .await
        .expect("scale ASG");
}

fn capacity(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> (i32, i32, i32) {
    (
        g.min_size().unwrap(),
        g.desired_capacity().unwrap(),
        g.max_size().unwrap(),
    )
}

#[tokio::test]
async fn builds_the_dormant_standby_and_returns_a_scaled_up_group_to_zero() {
    let (mut s, names) = scenario("compute-create").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s
        .wait("ComputeReady", "True", Some("Dormant"), Duration::from_secs(90))
        .await;
    let status = pl.status.unwrap().compute.unwrap();

    let copies = image_copies(&names.image).await;
    assert_eq!(copies.len(), 1, "one copy of the source");
    let copy_id = copies[0].image_id().unwrap();
    assert_eq!(status.image_id.as_deref(), Some(copy_id));
    assert_eq!(default_template_image(&names.template).await, (1, copy_id.to_owned()));
    let group = standby_group(&names.asg).await.expect("standby ASG");
    assert_eq!(capacity(&group), (0, 0, 10));
    assert_eq!(group.target_group_arns(), [seed_target_group()]);
    assert_eq!(
        group.launch_template().unwrap().launch_template_name(),
        Some(names.template.as_str())
    );
    assert!(
        group
            .tags()
            .iter()
            .any(|t| t.key() == Some("pilotlight.dev/owner") && t.value() == Some(&*format!("{}/app", s.ns.name))),
        "created group carries the owner tag"
    );
    assert_eq!(status.auto_scaling_group.as_deref(), Some("0/0/10"));

    // Someone scales the standby up with no drill running: back to zero, with a Warning.
    set_capacity(&names.asg, 2, 2).await;
    let back = eventually(Duration::from_secs(60), || async {
        let g = standby_group(&names.asg).await?;
        (capacity(&g) == (0, 0, 10)).then_some(())
    })
    .await;
    assert!(back.is_some(), "the cost guard returned the group to 0/0/10");
    let reasons = s.event_reasons().await;
    assert!(reasons.iter().any(|r| r == "StandbyScaledUp"), "{reasons:?}");
    operator.stop().await;
}

#[tokio::test]
async fn adopts_an_existing_group_and_template_and_rolls_a_new_image() {
    let (mut s, names) = scenario("compute-adopt").await;
    let seed = seed();
    let west = ec2("us-west-2").await;
    // A template and group made by hand (no owner tag), with a smaller max ...
    west.create_launch_template()
        .launch_template_name(&names.template)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-0000000000000000a")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .expect("create template");
    let subnets: Vec<String> = serde_json::from_value(seed["vpc"]["us-west-2"]["subnetIds"].clone()).unwrap();
    // ... registered with a target group the spec does not name.
    let other_target_group = create_target_group().await;
    autoscaling("us-west-2")
        .await
        .create_auto_scaling_group()
        .auto_scaling_group_name(&names.asg)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name(&names.template)
                .version("$Default")
                .build(),
        )
        .min_size(0)
        .max_size(3)
        .desired_capacity(0)
        .vpc_zone_identifier(subnets.join(","))
        .target_group_arns(&other_target_group)
        .send()
        .await
        .expect("create ASG");

    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait("ComputeReady", "True", Some("Dormant"), Duration::from_secs(90))
        .await;
    let group = standby_group(&names.asg).await.unwrap();
    assert_eq!(capacity(&group), (0, 0, 10), "max raised to the failover max");
    assert_eq!(
        group.target_group_arns(),
        [seed_target_group()],
        "the spec's target group attached, the other detached"
    );
    let copy = image_copies(&names.image).await[0].image_id().unwrap().to_owned();
    assert_eq!(
        default_template_image(&names.template).await,
        (2, copy),
        "a new default version"
    );
    let calls = Emulator::new().calls_by(&operator.app).await;
    let actions: Vec<&str> = calls.iter().map(|c| c.action.as_str()).collect();
    assert!(!actions.contains(&"CreateAutoScalingGroup"), "{actions:?}");
    assert!(!actions.contains(&"CreateLaunchTemplate"), "{actions:?}");

    // A new source image: copied, then a new template version points at the new copy.
    let second = create_source_image(&format!("app2-{}", unique_suffix())).await;
    s.apply(|m| m["spec"]["compute"]["launchTemplate"]["sourceImageId"] = json!(second))
        .await;
    let rolled = eventually(Duration::from_secs(90), || async {
        let copy = image_copies(&second).await.first()?.image_id()?.to_owned();
        let (version, image) = default_template_image(&names.template).await;
        (image == copy).then_some(version)
    })
    .await;
    assert_eq!(rolled, Some(3));
    operator.stop().await;
}

#[tokio::test]
async fn bad_references_are_reported_without_a_hot_loop() {
    let (mut s, names) = scenario("compute-bad").await;
    let operator = s.start_operator().await;
    s.apply(|m: &mut Value| {
        m["spec"]["compute"]["autoScalingGroup"]["subnetIds"] = json!(["subnet-0000000000000dead"]);
    })
    .await;
    let (_, message) = s.wait_for_reason("ComputeReady", "False", "AwsRequestRejected").await;
    assert!(message.contains("subnet-0000000000000dead"), "{message}");
    assert!(message.contains("CreateAutoScalingGroup"), "{message}");
    // Misconfiguration waits for a person: no retry loop over the next seconds.
    let reconciles_before = operator.metrics.reconciliations("pilotlight");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let reconciles = operator.metrics.reconciliations("pilotlight") - reconciles_before;
    assert!(reconciles <= 1, "{reconciles} reconciles in 5 s while misconfigured");
    let calls = Emulator::new().calls_by(&operator.app).await;
    let creates = calls.iter().filter(|c| c.action == "CreateAutoScalingGroup").count();
    assert_eq!(creates, 1, "one attempt, then wait for a spec change");
    assert!(
        calls.len() < 15,
        "{} AWS calls for a misconfigured PilotLight",
        calls.len()
    );
    assert!(standby_group(&names.asg).await.is_none());

    // A source image that does not exist.
    s.apply(|m| m["spec"]["compute"]["launchTemplate"]["sourceImageId"] = json!("ami-0000000000000dead"))
        .await;
    let (_, message) = s.wait_for_reason("ComputeReady", "False", "AwsResourceNotFound").await;
    assert!(message.contains("ami-0000000000000dead"), "{message}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = Emulator::new().calls_by(&operator.app).await;
    // The first spec's real image was copied before the subnet failed; count the refused copies.
    let refused = calls
        .iter()
        .filter(|c| c.action == "CopyImage" && c.outcome != "ok")
        .count();
    assert_eq!(
        refused, 1,
        "one copy attempt of a missing AMI, then wait for a spec change"
    );
    operator.stop().await;
}

#[tokio::test]
async fn delete_policy_removes_group_and_template_but_keeps_the_image() {
    let (mut s, names) = scenario("compute-delete").await;
    let operator = s.start_operator().await;
    s.apply(|m| m["spec"]["deletionPolicy"] = json!("Delete")).await;
    s.wait("ComputeReady", "True", None, Duration::from_secs(90)).await;
    s.delete_pilotlight().await;
    assert!(
        standby_group(&names.asg).await.is_none(),
        "the ASG the operator created is gone"
    );
    let templates = ec2("us-west-2")
        .await
        .describe_launch_templates()
        .launch_template_names(&names.template)
        .send()
        .await;
    assert!(templates.is_err(), "the launch template is gone: {templates:?}");
    assert_eq!(
        image_copies(&names.image).await.len(),
        1,
        "the AMI copy holds data and stays"
    );
    operator.stop().await;
}
