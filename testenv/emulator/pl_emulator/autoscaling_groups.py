"""Auto Scaling groups validated as Auto Scaling validates them.

moto 5.2.5 lets through or mis-reports what Auto Scaling refuses; install() fixes:

* CreateAutoScalingGroup with a name in use replaces the group (200) instead of
  failing with AlreadyExists;
* a subnet, launch template or target group that does not exist is reported
  with EC2's or ELB's codes (InvalidSubnetID.NotFound naming some other subnet,
  InvalidLaunchTemplateName.NotFoundException, TargetGroupNotFound), where Auto
  Scaling answers ValidationError; worse, an unknown target group is noticed
  only after the group was stored (CreateAutoScalingGroup) or the ARN attached
  (AttachLoadBalancerTargetGroups), and an UpdateAutoScalingGroup that fails
  half-way keeps the changes made before the failure. Everything is now checked
  before anything changes, in Create, Update and Attach;
* Attach/DetachLoadBalancerTargetGroups of a missing group fail with an
  internal error (KeyError) instead of a ValidationError;
* DeleteAutoScalingGroup ignores ForceDelete: without it, a group that still
  has instances is refused with ResourceInUse, as in AWS.
"""

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.models import AutoScalingBackend
from moto.autoscaling.responses import AutoScalingResponse

INVALID_TEMPLATE = "You must use a valid fully-formed launch template."
INVALID_TARGET_GROUPS = "Provided Target Groups may not be valid. Please ensure they exist and try again."

_moto_create = AutoScalingBackend.create_auto_scaling_group
_moto_update = AutoScalingBackend.update_auto_scaling_group
_moto_attach = AutoScalingBackend.attach_load_balancer_target_groups
_moto_detach = AutoScalingBackend.detach_load_balancer_target_groups
_moto_delete_response = AutoScalingResponse.delete_auto_scaling_group


class AlreadyExists(AutoscalingClientError):
    code = "AlreadyExists"


class ResourceInUse(AutoscalingClientError):
    code = "ResourceInUse"


def install() -> None:
    """Patches moto's Auto Scaling; idempotent."""
    AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group
    AutoScalingBackend.update_auto_scaling_group = update_auto_scaling_group
    AutoScalingBackend.attach_load_balancer_target_groups = attach_load_balancer_target_groups
    AutoScalingBackend.detach_load_balancer_target_groups = detach_load_balancer_target_groups
    AutoScalingResponse.delete_auto_scaling_group = delete_auto_scaling_group


# --- backend methods (of AutoScalingBackend once installed) --------------------------------


def create_auto_scaling_group(self: AutoScalingBackend, name: str, **kwargs):
    if name in self.autoscaling_groups:
        raise AlreadyExists(
            f"AutoScalingGroup by this name already exists - A group with the name {name} already exists"
        )
    _check_launch_template(self, kwargs.get("launch_template"))
    _check_subnets(self, kwargs.get("vpc_zone_identifier"))
    _check_target_groups(self, kwargs.get("target_group_arns"))
    return _moto_create(self, name=name, **kwargs)


def update_auto_scaling_group(self: AutoScalingBackend, name: str, **kwargs):
    if name in self.autoscaling_groups:  # else moto's "AutoScalingGroup name not found - null"
        _check_launch_template(self, kwargs.get("launch_template"))
        _check_subnets(self, kwargs.get("vpc_zone_identifier"))
    return _moto_update(self, name=name, **kwargs)


def attach_load_balancer_target_groups(self: AutoScalingBackend, group_name: str, target_group_arns: list[str]):
    _check_group(self, group_name)
    _check_target_groups(self, target_group_arns)
    return _moto_attach(self, group_name, target_group_arns)


def detach_load_balancer_target_groups(self: AutoScalingBackend, group_name: str, target_group_arns: list[str]):
    _check_group(self, group_name)
    return _moto_detach(self, group_name, target_group_arns)


# --- Auto Scaling handlers (methods of AutoScalingResponse once installed) -----------------


def delete_auto_scaling_group(self: AutoScalingResponse):
    group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    if group is not None and group.instance_states and not self._get_bool_param("ForceDelete", False):
        raise ResourceInUse(
            "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) "
            "still in the group."
        )
    return _moto_delete_response(self)


# --- checks --------------------------------------------------------------------------------


def _check_group(self: AutoScalingBackend, name: str) -> None:
    if name not in self.autoscaling_groups:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")


def _check_launch_template(self: AutoScalingBackend, specification: dict | None) -> None:
    if not specification:
        return
    ec2 = self.ec2_backend
    template_id, name = specification.get("LaunchTemplateId"), specification.get("LaunchTemplateName")
    if template_id and template_id not in ec2.launch_templates:
        raise ValidationError(
            f"{INVALID_TEMPLATE} The specified launch template, with template ID {template_id}, does not exist."
        )
    if name and not template_id and name not in ec2.launch_template_name_to_ids:
        raise ValidationError(
            f"{INVALID_TEMPLATE} The specified launch template, with template name {name}, does not exist."
        )


def _check_subnets(self: AutoScalingBackend, vpc_zone_identifier: str | None) -> None:
    if not vpc_zone_identifier:
        return
    known = {subnet.id for subnet in self.ec2_backend.describe_subnets()}
    for subnet_id in (part.strip() for part in vpc_zone_identifier.split(",")):
        if subnet_id not in known:
            raise ValidationError(f"The subnet ID '{subnet_id}' does not exist")


def _check_target_groups(self: AutoScalingBackend, arns: list[str] | None) -> None:
    if any(arn not in self.elbv2_backend.target_groups for arn in arns or []):
        raise ValidationError(INVALID_TARGET_GROUPS)
