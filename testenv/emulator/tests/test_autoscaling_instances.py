"""Auto Scaling instances that take time to launch, their targets that take time to become healthy."""

import time

import pytest
from botocore.exceptions import ClientError
from conftest import PRIMARY, STANDBY, error_code, wait_for

STOCK_AMI = "ami-1e749f67"  # one of moto's stock AMIs, present in every region
TEMPLATE = "app-server"
GROUP = "app-asg"
PORT = 8080
LAUNCH, HEALTH = "ec2:RunInstances", "elasticloadbalancing:RegisterTargets"
REGISTERING = {
    "State": "initial",
    "Reason": "Elb.RegistrationInProgress",
    "Description": "Target registration is in progress",
}
CHECKING = {
    "State": "initial",
    "Reason": "Elb.InitialHealthChecking",
    "Description": "Initial health checks in progress",
}
HEALTHY = {"State": "healthy"}
UNHEALTHY = {"State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Health checks failed"}


class Stack:
    """A subnet, two target groups (HTTP 8080), a launch template and an Auto Scaling group (empty) in one region."""

    def __init__(self, emulator, region: str, cidr: str) -> None:
        self.region = region
        self.ec2, self.elbv2 = emulator.client("ec2", region), emulator.client("elbv2", region)
        self.asg = emulator.client("autoscaling", region)
        vpc_id = self.ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
        self.subnet = self.ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{cidr}.1.0/24", AvailabilityZone=f"{region}a")[
            "Subnet"
        ]["SubnetId"]
        self.target_groups = [
            self.elbv2.create_target_group(Name=name, Protocol="HTTP", Port=PORT, VpcId=vpc_id)["TargetGroups"][0][
                "TargetGroupArn"
            ]
            for name in ("app-targets", "app-targets-2")
        ]
        self.ec2.create_launch_template(
            LaunchTemplateName=TEMPLATE, LaunchTemplateData={"ImageId": STOCK_AMI, "InstanceType": "t3.micro"}
        )
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=GROUP,
            LaunchTemplate={"LaunchTemplateName": TEMPLATE, "Version": "$Default"},
            MinSize=0,
            MaxSize=10,
            DesiredCapacity=0,
            VPCZoneIdentifier=self.subnet,
            TargetGroupARNs=self.target_groups[:1],
        )

    def scale(self, desired: int) -> None:
        """What the operator does to the standby group: all three sizes in one UpdateAutoScalingGroup."""
        self.asg.update_auto_scaling_group(
            AutoScalingGroupName=GROUP, MinSize=desired, MaxSize=max(desired, 1), DesiredCapacity=desired
        )

    def lifecycle(self) -> dict[str, str]:
        [group] = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"]
        return {instance["InstanceId"]: instance["LifecycleState"] for instance in group["Instances"]}

    def asg_instances(self) -> dict[str, str]:
        described = self.asg.describe_auto_scaling_instances()["AutoScalingInstances"]
        return {instance["InstanceId"]: instance["LifecycleState"] for instance in described}

    def ec2_states(self, instance_ids) -> dict[str, str]:
        reservations = self.ec2.describe_instances(InstanceIds=sorted(instance_ids))["Reservations"]
        return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}

    def health(self, target_group: int = 0) -> dict[str, dict]:
        described = self.elbv2.describe_target_health(TargetGroupArn=self.target_groups[target_group])
        health = {}
        for description in described["TargetHealthDescriptions"]:
            assert description["Target"]["Port"] == PORT
            health[description["Target"]["Id"]] = description["TargetHealth"]
        return health


@pytest.fixture
def stack(emulator) -> Stack:
    return Stack(emulator, STANDBY, "10.1")


def test_instant_by_default(emulator, stack):
    stack.scale(2)
    lifecycle = stack.lifecycle()
    assert len(lifecycle) == 2 and set(lifecycle.values()) == {"InService"}
    assert stack.asg_instances() == lifecycle
    assert set(stack.ec2_states(lifecycle).values()) == {"running"}
    assert stack.health() == {instance_id: HEALTHY for instance_id in lifecycle}
    assert stack.health(1) == {}  # not attached to the group
    stack.asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    assert len(stack.health()) == 3
    actions = [call["action"] for call in emulator.calls() if call["service"] == "elasticloadbalancing"]
    assert actions.count("DescribeTargetHealth") == 3  # each request logged once


def test_scale_in_terminates_and_deregisters(stack):
    stack.scale(3)
    first = stack.lifecycle()
    stack.asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [kept] = stack.lifecycle()
    assert stack.health() == {kept: HEALTHY}
    stack.scale(0)
    assert stack.lifecycle() == {} and stack.asg_instances() == {}
    assert stack.health() == {}
    assert set(stack.ec2_states(first).values()) == {"terminated"}
    # A terminated instance asked for by id is not registered any more.
    [gone] = stack.elbv2.describe_target_health(
        TargetGroupArn=stack.target_groups[0], Targets=[{"Id": kept}]
    )["TargetHealthDescriptions"]
    assert gone["TargetHealth"]["State"] == "unused"


def test_instances_leaving_service_are_deregistered(stack):
    stack.scale(4)
    standby, detached, terminated, kept = stack.lifecycle()
    stack.asg.enter_standby(AutoScalingGroupName=GROUP, InstanceIds=[standby], ShouldDecrementDesiredCapacity=True)
    stack.asg.detach_instances(AutoScalingGroupName=GROUP, InstanceIds=[detached], ShouldDecrementDesiredCapacity=True)
    stack.asg.terminate_instance_in_auto_scaling_group(InstanceId=terminated, ShouldDecrementDesiredCapacity=True)
    assert stack.lifecycle() == {standby: "Standby", kept: "InService"}
    assert stack.health() == {kept: HEALTHY}
    stack.asg.exit_standby(AutoScalingGroupName=GROUP, InstanceIds=[standby])
    assert stack.health() == {standby: HEALTHY, kept: HEALTHY}


def test_deleting_the_group_deregisters_its_targets(stack):
    stack.scale(2)
    stack.asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    assert stack.health() == {}


def test_launch_then_health_take_their_durations(emulator, stack):
    emulator.set_durations({LAUNCH: 0.6, HEALTH: 1.2})
    started = time.monotonic()
    stack.scale(2)
    lifecycle = stack.lifecycle()
    assert len(lifecycle) == 2 and set(lifecycle.values()) == {"Pending"}
    assert stack.asg_instances() == lifecycle
    assert set(stack.ec2_states(lifecycle).values()) == {"pending"}
    assert stack.health() == {}  # registered when they enter InService
    stack.scale(2)  # Pending instances count towards the desired capacity: nothing more is launched
    assert stack.lifecycle() == lifecycle

    in_service = wait_for(stack.lifecycle, lambda states: set(states.values()) == {"InService"})
    assert set(in_service.values()) == {"InService"} and in_service.keys() == lifecycle.keys()
    assert time.monotonic() - started >= 0.6
    assert set(stack.ec2_states(lifecycle).values()) == {"running"}

    seen = []
    while time.monotonic() - started < 3.5:
        health = stack.health()
        assert health.keys() == lifecycle.keys()
        [state] = {repr(target) for target in health.values()}  # both targets in step
        if not seen or seen[-1][1] != state:
            seen.append((time.monotonic() - started, state))
        if state == repr(HEALTHY):
            break
        time.sleep(0.05)
    assert [state for _, state in seen] == [repr(REGISTERING), repr(CHECKING), repr(HEALTHY)]
    assert seen[1][0] >= 0.6 + 0.6 and seen[2][0] >= 0.6 + 1.2


def test_the_durations_of_the_launch_apply(emulator, stack):
    emulator.set_durations({LAUNCH: 0.4, HEALTH: 0.4})
    stack.scale(1)
    emulator.set_durations({LAUNCH: 600, HEALTH: 600})
    health = wait_for(stack.health, lambda health: list(health.values()) == [HEALTHY])
    assert list(health.values()) == [HEALTHY]
    stack.asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
    assert sorted(stack.lifecycle().values()) == ["InService", "Pending"]


def test_scale_in_and_detach_while_pending(emulator, stack):
    emulator.set_durations({LAUNCH: 600})
    stack.scale(2)
    pending = stack.lifecycle()
    stack.asg.detach_load_balancer_target_groups(AutoScalingGroupName=GROUP, TargetGroupARNs=stack.target_groups[:1])
    stack.asg.attach_load_balancer_target_groups(AutoScalingGroupName=GROUP, TargetGroupARNs=stack.target_groups[:1])
    stack.scale(0)
    assert stack.lifecycle() == {} and stack.health() == {}
    assert set(stack.ec2_states(pending).values()) == {"terminated"}


def test_a_target_group_attached_later_checks_health_from_then(emulator, stack):
    stack.scale(1)
    [instance_id] = stack.lifecycle()
    emulator.set_durations({HEALTH: 0.6})
    stack.asg.attach_load_balancer_target_groups(AutoScalingGroupName=GROUP, TargetGroupARNs=stack.target_groups[1:])
    assert stack.health(0) == {instance_id: HEALTHY}
    assert stack.health(1) == {instance_id: REGISTERING}
    assert wait_for(lambda: stack.health(1), lambda health: health == {instance_id: HEALTHY}) == {
        instance_id: HEALTHY
    }
    stack.asg.detach_load_balancer_target_groups(AutoScalingGroupName=GROUP, TargetGroupARNs=stack.target_groups[:1])
    assert stack.health(0) == {}
    assert stack.health(1) == {instance_id: HEALTHY}


def test_register_targets_takes_its_duration_too(emulator, stack):
    emulator.set_durations({LAUNCH: 600, HEALTH: 0.6})
    [instance] = stack.ec2.run_instances(ImageId=STOCK_AMI, MinCount=1, MaxCount=1, SubnetId=stack.subnet)["Instances"]
    # ec2:RunInstances applies to Auto Scaling launches only (RunInstances itself always answers "pending").
    assert stack.ec2_states([instance["InstanceId"]]) == {instance["InstanceId"]: "running"}
    stack.elbv2.register_targets(TargetGroupArn=stack.target_groups[1], Targets=[{"Id": instance["InstanceId"]}])
    assert stack.health(1) == {instance["InstanceId"]: REGISTERING}
    assert wait_for(lambda: stack.health(1), lambda health: health == {instance["InstanceId"]: HEALTHY})


def test_target_health_override(emulator, stack):
    arn = stack.target_groups[0]
    stack.scale(2)
    instance_ids = stack.lifecycle()
    assert emulator.control("PUT", "target-health", {"targetGroupArn": arn, "state": "unhealthy"}) == (
        200,
        {"targetGroupArn": arn, "state": "unhealthy"},
    )
    assert emulator.control("GET", "target-health") == (200, {"overrides": {arn: "unhealthy"}})
    assert stack.health() == {instance_id: UNHEALTHY for instance_id in instance_ids}
    assert set(stack.lifecycle().values()) == {"InService"}  # Auto Scaling does not replace them

    emulator.set_durations({HEALTH: 600})
    stack.asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    assert list(stack.health().values()) == [UNHEALTHY] * 3  # forced whatever their own state
    emulator.control("PUT", "target-health", {"targetGroupArn": arn, "state": "healthy"})
    assert list(stack.health().values()) == [HEALTHY] * 3
    assert emulator.control("PUT", "target-health", {"targetGroupArn": arn, "state": None}) == (
        200,
        {"targetGroupArn": arn, "state": None},
    )
    assert emulator.control("GET", "target-health") == (200, {"overrides": {}})
    assert sorted(target["State"] for target in stack.health().values()) == ["healthy", "healthy", "initial"]

    for invalid in ({"targetGroupArn": arn, "state": "draining"}, {"targetGroupArn": arn}, {"state": None}, [arn]):
        assert emulator.control("PUT", "target-health", invalid)[0] == 400
    missing = arn.replace("app-targets", "missing")
    assert emulator.control("PUT", "target-health", {"targetGroupArn": missing, "state": "unhealthy"})[0] == 404
    emulator.control("PUT", "target-health", {"targetGroupArn": arn, "state": "unhealthy"})
    assert emulator.control("POST", "reset") == (200, {"ok": True})
    assert emulator.control("GET", "target-health") == (200, {"overrides": {}})


def test_groups_in_two_regions_do_not_mix(emulator, stack):
    primary = Stack(emulator, PRIMARY, "10.0")
    emulator.set_durations({LAUNCH: 0.3})
    primary.scale(1)
    stack.scale(2)
    east, west = primary.lifecycle(), stack.lifecycle()
    assert len(east) == 1 and len(west) == 2 and not east.keys() & west.keys()
    assert primary.asg_instances() == east and stack.asg_instances() == west
    assert wait_for(primary.health, lambda health: len(health) == 1).keys() == east.keys()
    assert wait_for(stack.health, lambda health: len(health) == 2).keys() == west.keys()
    primary.scale(0)
    assert primary.health() == {} and stack.health().keys() == west.keys()
    with pytest.raises(ClientError) as raised:
        primary.ec2.describe_instances(InstanceIds=sorted(west))
    assert error_code(raised) == "InvalidInstanceID.NotFound"


def test_faults_still_apply(emulator, stack):
    emulator.add_fault(service="autoscaling", action="UpdateAutoScalingGroup", kind="throttle", remaining=1)
    with pytest.raises(ClientError) as raised:
        stack.scale(1)
    assert error_code(raised) == "Throttling"
    assert stack.lifecycle() == {}
    stack.scale(1)
    assert len(stack.health()) == 1
    updates = [call["outcome"] for call in emulator.calls() if call["action"] == "UpdateAutoScalingGroup"]
    assert updates == ["throttled", "ok"]


def test_terminated_instances_give_their_addresses_back(stack):
    # A /24 holds 251 instances in AWS; 30 cycles of 10 launch 300. moto never freed the
    # addresses, so the subnet filled up and launches failed with a 500.
    for _ in range(30):
        stack.scale(10)
        stack.scale(0)
    stack.scale(10)
    assert len(stack.lifecycle()) == 10
