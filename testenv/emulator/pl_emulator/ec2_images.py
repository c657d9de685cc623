"""CopyImage with TagSpecifications, and the time a copy takes.

moto 5.2.5 ignores CopyImage's TagSpecifications: the copy has no tags, so an
operator that finds its copies by tag (DescribeImages Filters tag:...) never
finds them. install() replaces CopyImage:

* TagSpecifications are applied as in AWS: ResourceType "image" tags the new
  AMI, "snapshot" its snapshot, anything else is an InvalidParameterValue
  (checked before anything is created);
* the "ec2:CopyImage" duration keeps the new image "pending" (AWS copies take
  minutes), then it becomes "available"; 0 (the default) is available at once;
* ClientToken makes the request idempotent, as in EC2: a retry with the same
  token and parameters answers the first copy's ImageId (no second copy), with
  other parameters IdempotentParameterMismatch. moto ignores the token, so a
  client retrying after a lost answer would get a second copy.

EC2 requests are served one at a time, after settling due transitions.
"""

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidTaggableResourceType
from moto.ec2.responses import EC2Response

from . import transitions
from .durations import Durations
from .transitions import LOCK

TAGGABLE = ("image", "snapshot")

#: Set by install(); the handlers below run inside moto and cannot be handed it.
_durations = Durations()

_moto_call_action = EC2Response.call_action
_moto_copy_image = EC2Response.copy_image


def install(durations: Durations) -> None:
    """Patches moto's EC2; idempotent (only the durations are replaced on a second call)."""
    global _durations
    _durations = durations
    for handler in (call_action, copy_image):
        setattr(EC2Response, handler.__name__, handler)


def call_action(self: EC2Response):
    with LOCK:
        transitions.settle_due()
        return _moto_call_action(self)


def copy_image(self: EC2Response) -> ActionResult:
    specifications = self._get_param("TagSpecifications", [])
    token = self._get_param("ClientToken")
    request = repr([self._get_param(name) for name in ("SourceRegion", "SourceImageId", "Name", "Description")])
    request += repr(specifications)
    tokens = self.ec2_backend.__dict__.setdefault("_pl_copy_image_tokens", {})  # dropped by moto's reset
    if token in tokens:
        first_request, image_id = tokens[token]
        if request != first_request:
            raise EC2ClientError(
                "IdempotentParameterMismatch",
                "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).",
            )
        return ActionResult({"ImageId": image_id})
    for specification in specifications:
        if specification.get("ResourceType") not in TAGGABLE:
            raise InvalidTaggableResourceType(specification.get("ResourceType"))
    result = _moto_copy_image(self)
    image = self.ec2_backend.amis[result.result["ImageId"]]
    if token:
        tokens[token] = (request, image.id)
    resource_ids = {"image": image.id, "snapshot": image.ebs_snapshot.id}
    for specification in specifications:
        tags = {tag["Key"]: tag["Value"] for tag in specification.get("Tags", [])}
        if tags:
            self.ec2_backend.create_tags([resource_ids[specification["ResourceType"]]], tags)
    seconds = _durations.seconds("ec2", "CopyImage")
    if seconds > 0:
        image.state = "pending"
        transitions.begin(image, "pending", seconds, finish=lambda: setattr(image, "state", "available"))
    return result
