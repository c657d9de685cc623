"""Auto Scaling groups in the standby region: validation as in AWS, target groups, updates, deletion."""

import base64

import pytest
from botocore.exceptions import ClientError
from conftest import STANDBY, error_code

STOCK_AMI = "ami-1e749f67"  # one of moto's stock AMIs, present in every region
TEMPLATE = "app-server"
GROUP = "app-asg"
MISSING_SUBNET = "subnet-0123456789abcdef0"
TAGS = [{"Key": "pilotlight.dev/owner", "Value": "default/app", "PropagateAtLaunch": True}]


@pytest.fixture
def asg(emulator):
    return emulator.client("autoscaling", STANDBY)


@pytest.fixture
def network(emulator) -> dict:
    """Two subnets, two target groups and a launch template (with a second version) in us-west-2."""
    ec2, elbv2 = emulator.client("ec2", STANDBY), emulator.client("elbv2", STANDBY)
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.1.{index}.0/24", AvailabilityZone=f"us-west-2{zone}")[
            "Subnet"
        ]["SubnetId"]
        for index, zone in ((1, "a"), (2, "b"))
    ]
    target_groups = [
        elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc_id)["TargetGroups"][0][
            "TargetGroupArn"
        ]
        for name in ("dr-targets", "dr-targets-2")
    ]
    user_data = base64.b64encode(b"#!/bin/sh\n").decode()
    template_data = {"ImageId": STOCK_AMI, "InstanceType": "t3.micro", "UserData": user_data}
    ec2.create_launch_template(LaunchTemplateName=TEMPLATE, LaunchTemplateData=template_data)
    ec2.create_launch_template_version(LaunchTemplateName=TEMPLATE, LaunchTemplateData=template_data)
    return {"subnets": subnets, "targetGroups": target_groups, "elbv2": elbv2, "ec2": ec2}


def create(asg, network: dict, name: str = GROUP, **overrides) -> None:
    params = {
        "AutoScalingGroupName": name,
        "LaunchTemplate": {"LaunchTemplateName": TEMPLATE, "Version": "$Default"},
        "MinSize": 0,
        "MaxSize": 10,
        "DesiredCapacity": 0,
        "VPCZoneIdentifier": ",".join(network["subnets"]),
        "TargetGroupARNs": network["targetGroups"][:1],
        "Tags": TAGS,
    }
    asg.create_auto_scaling_group(**{**params, **overrides})


def describe(asg, *names: str) -> list[dict]:
    return asg.describe_auto_scaling_groups(AutoScalingGroupNames=list(names))["AutoScalingGroups"]


def group_names(asg) -> list[str]:
    return [group["AutoScalingGroupName"] for group in asg.describe_auto_scaling_groups()["AutoScalingGroups"]]


def registered(network: dict, target_group: int) -> set[str]:
    health = network["elbv2"].describe_target_health(TargetGroupArn=network["targetGroups"][target_group])
    return {target["Target"]["Id"] for target in health["TargetHealthDescriptions"]}


def test_create_and_describe(asg, network):
    create(asg, network)
    create(asg, network, name="other-asg")
    groups = describe(asg, GROUP, "other-asg", "missing-asg")
    assert [group["AutoScalingGroupName"] for group in groups] == [GROUP, "other-asg"]
    group = groups[0]
    assert group["LaunchTemplate"]["LaunchTemplateName"] == TEMPLATE
    assert group["LaunchTemplate"]["Version"] == "$Default"
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 10, 0)
    assert group["TargetGroupARNs"] == network["targetGroups"][:1]
    assert group["VPCZoneIdentifier"] == ",".join(network["subnets"])
    assert sorted(group["AvailabilityZones"]) == ["us-west-2a", "us-west-2b"]
    assert [(tag["Key"], tag["Value"], tag["PropagateAtLaunch"]) for tag in group["Tags"]] == [
        ("pilotlight.dev/owner", "default/app", True)
    ]
    assert describe(asg, "missing-asg") == []


def test_a_name_in_use_is_refused_and_the_group_kept(asg, network):
    create(asg, network)
    with pytest.raises(ClientError) as raised:
        create(asg, network, MaxSize=3)
    assert error_code(raised) == "AlreadyExists"
    assert raised.value.response["Error"]["Message"] == (
        f"AutoScalingGroup by this name already exists - A group with the name {GROUP} already exists"
    )
    assert describe(asg, GROUP)[0]["MaxSize"] == 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            lambda network: {"VPCZoneIdentifier": f"{network['subnets'][0]},{MISSING_SUBNET}"},
            f"The subnet ID '{MISSING_SUBNET}' does not exist",
        ),
        (
            lambda network: {"TargetGroupARNs": [network["targetGroups"][0].replace("dr-targets", "missing")]},
            "Provided Target Groups may not be valid. Please ensure they exist and try again.",
        ),
        (
            lambda network: {"LaunchTemplate": {"LaunchTemplateName": "missing", "Version": "$Default"}},
            "You must use a valid fully-formed launch template. "
            "The specified launch template, with template name missing, does not exist.",
        ),
    ],
    ids=["subnet", "target-group", "launch-template"],
)
def test_what_does_not_exist_is_a_validation_error_and_nothing_is_created(asg, network, overrides, message):
    with pytest.raises(ClientError) as raised:
        create(asg, network, **overrides(network))
    assert error_code(raised) == "ValidationError"
    assert raised.value.response["Error"]["Message"] == message
    assert group_names(asg) == []


def test_update_sizes_launch_template_and_subnets(asg, network):
    create(asg, network)
    asg.update_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        LaunchTemplate={"LaunchTemplateName": TEMPLATE, "Version": "2"},  # a CreateLaunchTemplateVersion one
        VPCZoneIdentifier=network["subnets"][1],
    )
    [group] = describe(asg, GROUP)
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (1, 4, 2)
    assert group["LaunchTemplate"]["Version"] == "2"
    assert group["VPCZoneIdentifier"] == network["subnets"][1] and group["AvailabilityZones"] == ["us-west-2b"]
    assert len(group["Instances"]) == 2
    assert registered(network, 0) == {instance["InstanceId"] for instance in group["Instances"]}


def test_a_failed_update_changes_nothing(asg, network):
    create(asg, network)
    for update in (
        {"VPCZoneIdentifier": MISSING_SUBNET},
        {"LaunchTemplate": {"LaunchTemplateName": "missing", "Version": "$Default"}},
    ):
        with pytest.raises(ClientError) as raised:
            asg.update_auto_scaling_group(AutoScalingGroupName=GROUP, MaxSize=2, **update)
        assert error_code(raised) == "ValidationError"
    [group] = describe(asg, GROUP)
    assert group["MaxSize"] == 10 and group["VPCZoneIdentifier"] == ",".join(network["subnets"])
    with pytest.raises(ClientError) as raised:
        asg.update_auto_scaling_group(AutoScalingGroupName="missing-asg", MinSize=0)
    assert error_code(raised) == "ValidationError"


def test_attach_and_detach_target_groups(asg, network):
    create(asg, network, DesiredCapacity=1, MinSize=1)
    [instance] = describe(asg, GROUP)[0]["Instances"]
    asg.attach_load_balancer_target_groups(AutoScalingGroupName=GROUP, TargetGroupARNs=network["targetGroups"][1:])
    assert describe(asg, GROUP)[0]["TargetGroupARNs"] == network["targetGroups"]
    assert registered(network, 1) == {instance["InstanceId"]}
    asg.detach_load_balancer_target_groups(AutoScalingGroupName=GROUP, TargetGroupARNs=network["targetGroups"][:1])
    assert describe(asg, GROUP)[0]["TargetGroupARNs"] == network["targetGroups"][1:]
    assert registered(network, 0) == set()


def test_attach_errors_change_nothing(asg, network):
    create(asg, network)
    missing = network["targetGroups"][1].replace("dr-targets-2", "missing")
    with pytest.raises(ClientError) as raised:
        asg.attach_load_balancer_target_groups(AutoScalingGroupName=GROUP, TargetGroupARNs=[missing])
    assert error_code(raised) == "ValidationError"
    assert describe(asg, GROUP)[0]["TargetGroupARNs"] == network["targetGroups"][:1]
    for call in (asg.attach_load_balancer_target_groups, asg.detach_load_balancer_target_groups):
        with pytest.raises(ClientError) as raised:
            call(AutoScalingGroupName="missing-asg", TargetGroupARNs=network["targetGroups"][:1])
        assert error_code(raised) == "ValidationError"


def test_delete_needs_force_while_instances_remain(asg, network):
    create(asg, network, DesiredCapacity=1, MinSize=1)
    [instance] = describe(asg, GROUP)[0]["Instances"]
    with pytest.raises(ClientError) as raised:
        asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP)
    assert error_code(raised) == "ResourceInUse"
    asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    assert group_names(asg) == []
    [reservation] = network["ec2"].describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "terminated"
    with pytest.raises(ClientError) as raised:
        asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    assert error_code(raised) == "ValidationError"
    create(asg, network, name="empty-asg")
    asg.delete_auto_scaling_group(AutoScalingGroupName="empty-asg")  # no instances: no force needed
    assert group_names(asg) == []
