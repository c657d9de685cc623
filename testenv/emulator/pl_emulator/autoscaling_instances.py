"""Auto Scaling instances that take time to launch, and targets that take time to become healthy.

What moto 5.2.5 does when an Auto Scaling group scales (CreateAutoScalingGroup,
UpdateAutoScalingGroup, SetDesiredCapacity): it runs the EC2 instances at once,
"running" and "InService", and registers every instance of the group with the
group's target groups, where DescribeTargetHealth reports them "healthy" at
once. On scale-in it terminates instances but never deregisters them: a group
scaled to 0 (or deleted) leaves its terminated instances "healthy" in its
target groups. install() changes this:

* "ec2:RunInstances" (duration, default 0 = instant): an instance launched by
  an Auto Scaling group is "Pending" (DescribeAutoScalingGroups,
  DescribeAutoScalingInstances) and EC2 "pending" (DescribeInstances) for that
  long, then "InService" and "running". Pending instances count towards the
  desired capacity (moto counted only InService ones, so it would have launched
  again on the next capacity change). Instances launched by EC2's own
  RunInstances are not affected;
* as in AWS ("registers the instance with the load balancer before marking it
  InService"), an instance is registered with each of the group's target groups
  (by instance id, with the target group's port) when it enters InService, not
  before: DescribeTargetHealth does not list Pending instances;
* "elasticloadbalancing:RegisterTargets" (duration, default 0): a registered
  target is "initial" for that long (Reason "Elb.RegistrationInProgress" for the
  first half, "Elb.InitialHealthChecking" for the second), then "healthy". It
  applies to the instances of a group (counted from the moment the instance
  entered InService), to a group's instances registered with a target group
  attached later (AttachLoadBalancerTargetGroups) and to RegisterTargets calls.
  The durations in effect when the group launches the instance (or when the
  target is registered) apply;
* the targets a group registered are deregistered when their instance leaves
  the group or service (scale-in, DeleteAutoScalingGroup, DetachInstances,
  TerminateInstanceInAutoScalingGroup, EnterStandby; ExitStandby registers it
  again) or the target group is detached; the terminated instances are then no
  longer listed by DescribeTargetHealth (no "draining" period);
  DetachLoadBalancerTargetGroups only deregisters what is registered (moto's
  would fail on a Pending instance, which is not);
* TargetHealthOverrides (PUT /_emulator/target-health) forces every registered
  target of a target group "healthy" or "unhealthy" (Reason
  "Target.FailedHealthChecks"), whatever its own state; None clears the force.

Transitions are lazy (transitions.py): Auto Scaling, ELBv2 and EC2 requests
settle due launches first; target health is computed when it is read.
"""

import threading
import time

from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.ec2.models.instances import Instance
from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup, elbv2_backends
from moto.elbv2.responses import ELBV2Response

from . import transitions
from .durations import Durations
from .transitions import LOCK

#: Lifecycle states that count towards a group's desired capacity.
ACTIVE = ("Pending", "InService")
FORCEABLE = ("healthy", "unhealthy")
UNHEALTHY = ("Target.FailedHealthChecks", "Health checks failed")
REGISTERING = ("Elb.RegistrationInProgress", "Target registration is in progress")
INITIAL_CHECKS = ("Elb.InitialHealthChecking", "Initial health checks in progress")

#: Set by install(); the methods below run inside moto and cannot be handed them.
_durations = Durations()

_moto_autoscaling_call_action = AutoScalingResponse.call_action
_moto_elbv2_call_action = ELBV2Response.call_action
_moto_replace_instances = FakeAutoScalingGroup.replace_autoscaling_group_instances
_moto_register = FakeTargetGroup.register
_moto_health_for = FakeTargetGroup.health_for
#: Set by install(): the DetachLoadBalancerTargetGroups in place then (autoscaling_groups' checks, then moto's).
_previous_detach = AutoScalingBackend.detach_load_balancer_target_groups


class UnknownTargetGroup(LookupError):
    """PUT /_emulator/target-health of a target group that does not exist."""


class InvalidOverride(ValueError):
    """A PUT /_emulator/target-health body that is not {"targetGroupArn": ARN, "state": ...}."""


class TargetHealthOverrides:
    """Target groups whose registered targets are forced healthy or unhealthy, by ARN."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}

    def put(self, data: object) -> dict:
        if not isinstance(data, dict) or not isinstance(data.get("targetGroupArn"), str) or "state" not in data:
            raise InvalidOverride('expected {"targetGroupArn": ARN, "state": "healthy" | "unhealthy" | null}')
        arn, state = data["targetGroupArn"], data["state"]
        if state is not None and state not in FORCEABLE:
            raise InvalidOverride(f'state must be "healthy", "unhealthy" or null, got {state!r}')
        if state is not None and not _target_group_exists(arn):
            raise UnknownTargetGroup(f"no target group {arn!r}")
        with self._lock:
            if state is None:
                self._states.pop(arn, None)
            else:
                self._states[arn] = state
        return {"targetGroupArn": arn, "state": state}

    def all(self) -> dict[str, str]:
        with self._lock:
            return dict(self._states)

    def state(self, arn: str) -> str | None:
        with self._lock:
            return self._states.get(arn)

    def clear(self) -> None:
        with self._lock:
            self._states = {}


_overrides = TargetHealthOverrides()


def install(durations: Durations, overrides: TargetHealthOverrides) -> None:
    """Patches moto's Auto Scaling and ELBv2; idempotent (a second call replaces durations and overrides).

    Call it after autoscaling_groups.install(): DetachLoadBalancerTargetGroups wraps the one in place.
    """
    global _durations, _overrides, _previous_detach
    _durations, _overrides = durations, overrides
    if AutoScalingBackend.detach_load_balancer_target_groups is not detach_load_balancer_target_groups:
        _previous_detach = AutoScalingBackend.detach_load_balancer_target_groups
    AutoScalingResponse.call_action = autoscaling_call_action
    ELBV2Response.call_action = elbv2_call_action
    FakeAutoScalingGroup.active_instances = active_instances
    FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances
    AutoScalingBackend.update_attached_target_groups = update_attached_target_groups
    AutoScalingBackend.detach_load_balancer_target_groups = detach_load_balancer_target_groups
    FakeTargetGroup.register = register
    FakeTargetGroup.health_for = health_for
    if Instance.terminate is not terminate:
        global _moto_terminate
        _moto_terminate = Instance.terminate
        Instance.terminate = terminate


def terminate(self: Instance):
    """moto never returns a terminated instance's private address to its subnet, so groups that
    scale out and in again and again use a subnet up (a 500 once it is full). AWS frees it."""
    addresses = [(nic.subnet, nic.private_ip_address) for nic in self.nics.values() if nic.subnet]
    previous = _moto_terminate(self)
    for subnet, address in addresses:
        if address:
            subnet.del_subnet_ip(address)
    return previous


_moto_terminate = Instance.terminate

# --- request handlers ----------------------------------------------------------------------


def autoscaling_call_action(self: AutoScalingResponse):
    with LOCK:
        transitions.settle_due()
        return _moto_autoscaling_call_action(self)


def elbv2_call_action(self: ELBV2Response):
    with LOCK:
        transitions.settle_due()
        return _moto_elbv2_call_action(self)


# --- Auto Scaling (methods of FakeAutoScalingGroup / AutoScalingBackend once installed) ---


def active_instances(self: FakeAutoScalingGroup) -> list[InstanceState]:
    return [state for state in self.instance_states if state.lifecycle_state in ACTIVE]


def replace_autoscaling_group_instances(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict) -> None:
    """Launches count_needed instances, Pending for ec2:RunInstances seconds."""
    known = len(self.instance_states)
    _moto_replace_instances(self, count_needed, propagated_tags)
    launch_seconds = _durations.seconds("ec2", "RunInstances")
    health_seconds = _durations.seconds("elasticloadbalancing", "RegisterTargets")
    in_service_at = time.time() + launch_seconds
    for state in self.instance_states[known:]:
        if launch_seconds > 0:
            state.lifecycle_state = "Pending"
            state.instance._state.name, state.instance._state.code = "pending", 0

        def enter_service(state=state) -> None:
            _enter_service(self, state, in_service_at, health_seconds)

        transitions.begin(state, "Pending", launch_seconds, finish=enter_service)


def update_attached_target_groups(self: AutoScalingBackend, group_name: str) -> None:
    """Replaces moto's, which registers every instance of the group (even a pending one) and deregisters none."""
    _sync_targets(self.autoscaling_groups[group_name])


def detach_load_balancer_target_groups(self: AutoScalingBackend, group_name: str, target_group_arns: list[str]):
    group = self.autoscaling_groups.get(group_name)
    if group is None:
        return _previous_detach(self, group_name, target_group_arns)  # ValidationError
    # moto deregisters every instance of the group, and fails on one that is not registered.
    states, group.instance_states = group.instance_states, []
    try:
        _previous_detach(self, group_name, target_group_arns)
    finally:
        group.instance_states = states
    _sync_targets(group)


def _enter_service(group: FakeAutoScalingGroup, state: InstanceState, in_service_at: float, health_seconds: float):
    instance = state.instance
    if instance.state == "pending":
        instance._state.name, instance._state.code = "running", 16
    if state.lifecycle_state != "Pending" or not any(member is state for member in group.instance_states):
        return  # scaled in, detached or put in standby meanwhile
    state.lifecycle_state = "InService"
    for target_group in _target_groups(group):
        _register_for(group, target_group, instance.id, (in_service_at, in_service_at + health_seconds))


def _sync_targets(group: FakeAutoScalingGroup) -> None:
    """Registers the group's InService instances with its target groups, deregisters the rest it registered."""
    wanted = {
        state.instance.id
        for state in group.instance_states
        if state.lifecycle_state == "InService" and state.instance.state == "running"
    }
    registrations = _registrations(group)
    elbv2 = group.autoscaling_backend.elbv2_backend
    for arn, instance_id in sorted(registrations):
        if arn in group.target_group_arns and instance_id in wanted:
            continue
        registrations.discard((arn, instance_id))
        target_group = elbv2.target_groups.get(arn)
        if target_group is not None and instance_id in target_group.targets:
            target_group.deregister([{"Id": instance_id}])
    for target_group in _target_groups(group):
        for instance_id in sorted(wanted):
            if (target_group.arn, instance_id) not in registrations:
                _register_for(group, target_group, instance_id, None)


def _register_for(group, target_group: FakeTargetGroup, instance_id: str, times: tuple[float, float] | None):
    target = {"Id": instance_id, "Port": target_group.port}
    if times is not None:
        target["_pl_times"] = times
    target_group.register([target])
    _registrations(group).add((target_group.arn, instance_id))


def _registrations(group: FakeAutoScalingGroup) -> set[tuple[str, str]]:
    """(target group ARN, instance id) of the targets this group registered."""
    return group.__dict__.setdefault("_pl_registrations", set())


def _target_groups(group: FakeAutoScalingGroup) -> list[FakeTargetGroup]:
    elbv2 = group.autoscaling_backend.elbv2_backend
    found = (elbv2.target_groups.get(arn) for arn in group.target_group_arns)
    return [target_group for target_group in found if target_group is not None]


# --- ELBv2 (methods of FakeTargetGroup once installed) --------------------------------------


def register(self: FakeTargetGroup, targets: list[dict]) -> None:
    """moto's register, remembering when each new target was registered and becomes healthy.

    A target that is already registered keeps its times, as re-registering is a no-op in AWS.
    """
    now = time.time()
    seconds = _durations.seconds("elasticloadbalancing", "RegisterTargets")
    known = set(self.targets)
    try:
        _moto_register(self, targets)  # may fail half-way (TargetNotRunning)
    finally:
        times = _health_times(self)
        for target in targets:
            if target["Id"] not in known and target["Id"] in self.targets:
                times[target["Id"]] = target.get("_pl_times") or (now, now + seconds)


def health_for(self: FakeTargetGroup, target: dict, ec2_backend) -> FakeHealthStatus:
    health = _moto_health_for(self, target, ec2_backend)
    if health.status != "healthy" or health.instance_id not in self.targets:
        return health  # not registered, or an instance that is stopped
    forced = _overrides.state(self.arn)
    if forced is not None:
        reason = UNHEALTHY if forced == "unhealthy" else (None, None)
        return FakeHealthStatus(health.instance_id, health.port, health.health_check_port, forced, *reason)
    registered_at, healthy_at = _health_times(self).get(health.instance_id, (0.0, 0.0))
    now = time.time()
    if now >= healthy_at:
        return health
    reason = REGISTERING if now < (registered_at + healthy_at) / 2 else INITIAL_CHECKS
    return FakeHealthStatus(health.instance_id, health.port, health.health_check_port, "initial", *reason)


def _health_times(target_group: FakeTargetGroup) -> dict[str, tuple[float, float]]:
    """Target id -> (registered at, healthy at), epoch seconds."""
    return target_group.__dict__.setdefault("_pl_health_times", {})


def _target_group_exists(arn: str) -> bool:
    parts = arn.split(":")  # arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID
    if len(parts) < 6 or parts[2] != "elasticloadbalancing":
        return False
    with LOCK:
        try:
            return arn in elbv2_backends[parts[4]][parts[3]].target_groups
        except KeyError:  # not a region moto knows
            return False
