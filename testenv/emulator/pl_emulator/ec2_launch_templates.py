"""Launch templates and their versions as EC2 keeps them.

moto 5.2.5 differs from EC2 in ways an operator that compares or cleans up
launch templates would trip over; install() fixes:

* CreateLaunchTemplate copies the request's TagSpecifications (which tag the
  launch template itself) into the version's LaunchTemplateData, where EC2
  keeps only the instance/volume tags given inside LaunchTemplateData: the data
  read back differs from the data written;
* CreateLaunchTemplateVersion ignores SourceVersion (EC2 starts from the source
  version's data and overrides the top-level parameters given) and stores
  UserData unparsed, so an Auto Scaling group launching from that version
  fails with an internal error;
* ModifyLaunchTemplate and DeleteLaunchTemplate of a missing name answer
  MissingParameter, of a missing id InvalidLaunchTemplateName.NotFoundException;
  EC2 says InvalidLaunchTemplateName.NotFoundException / InvalidLaunchTemplateId.NotFound;
* DescribeLaunchTemplates(LaunchTemplateIds=[missing]) answers an empty list
  instead of InvalidLaunchTemplateId.NotFound.
"""

import copy

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidLaunchTemplateIdNotFound, MissingParameterError
from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
from moto.ec2.responses import EC2Response
from moto.ec2.utils import parse_user_data

_moto_modify = LaunchTemplateBackend.modify_launch_template
_moto_delete = LaunchTemplateBackend.delete_launch_template
_moto_describe = LaunchTemplateBackend.describe_launch_templates


def install() -> None:
    """Patches moto's EC2 launch templates; idempotent."""
    for handler in (create_launch_template, create_launch_template_version):
        setattr(EC2Response, handler.__name__, handler)
    LaunchTemplateBackend.modify_launch_template = modify_launch_template
    LaunchTemplateBackend.delete_launch_template = delete_launch_template
    LaunchTemplateBackend.describe_launch_templates = describe_launch_templates


# --- EC2 handlers (methods of EC2Response once installed) ------------------------------


def create_launch_template(self: EC2Response) -> ActionResult:
    name = self._get_param("LaunchTemplateName")
    description = self._get_param("VersionDescription")
    tag_spec = self._parse_tag_specification()  # the launch template's own tags
    data = _template_data(self)
    self.error_on_dryrun()
    template = self.ec2_backend.create_launch_template(name, description, data, tag_spec)
    version = template.default_version()
    return ActionResult(
        {
            "LaunchTemplate": {
                "CreateTime": version.create_time,
                "CreatedBy": _created_by(self),
                "DefaultVersionNumber": template.default_version_number,
                "LatestVersionNumber": version.number,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "Tags": template.tags,
            }
        }
    )


def create_launch_template_version(self: EC2Response) -> ActionResult:
    template = _template(self.ec2_backend, self._get_param("LaunchTemplateName"), self._get_param("LaunchTemplateId"))
    description = self._get_param("VersionDescription")
    data = _template_data(self)
    source = self._get_param("SourceVersion")
    if source:
        data = {**copy.deepcopy(template.get_version(source).data), **data}
    self.error_on_dryrun()
    version = template.create_version(data, description)
    return ActionResult(
        {
            "LaunchTemplateVersion": {
                "CreateTime": version.create_time,
                "CreatedBy": _created_by(self),
                "DefaultVersion": template.is_default(version),
                "LaunchTemplateData": version.data,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionDescription": version.description,
                "VersionNumber": version.number,
            }
        }
    )


# --- backend methods (of LaunchTemplateBackend once installed) ---------------------------


def modify_launch_template(
    self: LaunchTemplateBackend, default_version: str, template_name: str | None = None, template_id: str | None = None
) -> LaunchTemplate:
    template = _template(self, template_name, template_id)
    return _moto_modify(self, default_version, template_id=template.id)


def delete_launch_template(self: LaunchTemplateBackend, name: str | None, tid: str | None) -> LaunchTemplate:
    template = _template(self, name, tid)
    return _moto_delete(self, None, template.id)


def describe_launch_templates(
    self: LaunchTemplateBackend, template_names=None, template_ids=None, filters=None
) -> list[LaunchTemplate]:
    for template_id in template_ids or []:
        if template_id not in self.launch_templates:
            raise InvalidLaunchTemplateIdNotFound(template_id)
    return _moto_describe(self, template_names=template_names, template_ids=template_ids, filters=filters)


# --- helpers ---------------------------------------------------------------------------


def _template(backend: LaunchTemplateBackend, name: str | None, template_id: str | None) -> LaunchTemplate:
    """The launch template by name or id, with EC2's error for a missing one."""
    if name:
        return backend.get_launch_template_by_name(name)
    if template_id:
        return backend.get_launch_template(template_id)
    raise MissingParameterError("launch template ID or launch template name")


def _template_data(self: EC2Response) -> dict:
    data = self._get_param("LaunchTemplateData", {})
    if "UserData" in data:
        data["UserData"] = parse_user_data(data["UserData"])
    return data


def _created_by(self: EC2Response) -> str:
    return f"arn:{self.partition}:iam::{self.current_account}:root"
