"""Route 53 record names as Route 53 stores them, and changes that take time.

moto 5.2.5 differs from Route 53 in what a client comparing records or waiting
for a change sees; install() fixes:

* names: Route 53 stores alphabetic characters in lower case, and returns an
  alias target's DNSName in lower case with a trailing dot
  ("dr-alb-1.us-west-2.elb.amazonaws.com."); moto keeps names and DNSName as
  sent, so a client comparing what it wrote with what it reads would not see
  the drift it sees in AWS;
* changes: moto answers every ChangeResourceRecordSets with the same change id
  and GetChange with INSYNC for any id at all. Each change now has its own id
  ("/change/C..."); GetChange knows it (else NoSuchChange, 404) and answers
  PENDING until the change's duration has passed, then INSYNC. The duration is
  "route53:<Operation>" of the operation that made the change
  (ChangeResourceRecordSets; also CreateHostedZone, DeleteHostedZone and the VPC
  associations, which answer a ChangeInfo too); 0 (the default) is INSYNC at once;
* zone ids: Route 53's start with "Z" (Z0123456789ABCDEFGHIJ), and clients
  validate them so (the PilotLight CRD does); moto draws all 22 characters at
  random. New ids keep moto's randomness but start with "Z".
"""

import secrets
import string
import time

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.route53.exceptions import Route53ClientError
from moto.route53 import models as route53_models
from moto.route53.models import Route53Backend
from moto.route53.responses import Route53

from .durations import Durations

#: The handlers answering a ChangeInfo, with their operation names.
CHANGE_OPERATIONS = {
    "create_hosted_zone": "CreateHostedZone",
    "delete_hosted_zone": "DeleteHostedZone",
    "change_resource_record_sets": "ChangeResourceRecordSets",
    "associate_vpc_with_hosted_zone": "AssociateVPCWithHostedZone",
    "disassociate_vpc_from_hosted_zone": "DisassociateVPCFromHostedZone",
}
CHANGE_ID_CHARACTERS = string.ascii_uppercase + string.digits

#: Set by install(); the handlers below run inside moto and cannot be handed it.
_durations = Durations()

_moto_handlers = {name: getattr(Route53, name) for name in CHANGE_OPERATIONS}
_moto_change_resource_record_sets = Route53Backend.change_resource_record_sets
_moto_create_hosted_zone = Route53Backend.create_hosted_zone


class NoSuchChange(Route53ClientError):
    def __init__(self, change_id: str) -> None:
        super().__init__("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


def install(durations: Durations) -> None:
    """Patches moto's Route 53; idempotent (only the durations are replaced on a second call)."""
    global _durations
    _durations = durations
    for name, operation in CHANGE_OPERATIONS.items():
        setattr(Route53, name, _registering(_moto_handlers[name], operation))
    Route53.get_change = get_change
    Route53Backend.change_resource_record_sets = change_resource_record_sets
    Route53Backend.create_hosted_zone = create_hosted_zone
    if not getattr(route53_models.create_route53_zone_id, "_pl_zone_id", False):
        route53_models.create_route53_zone_id = _zone_id_starting_with_z(route53_models.create_route53_zone_id)


def _zone_id_starting_with_z(generate):
    def zone_id(*args, **kwargs) -> str:
        return "Z" + generate(*args, **kwargs)[1:]

    zone_id._pl_zone_id = True
    return zone_id


# --- Route 53 handlers (methods of Route53 once installed) --------------------------------


def _registering(handler, operation: str):
    """``handler`` answering a change of its own, registered for GetChange."""

    def registered(self: Route53):
        result = handler(self)
        answer = result.result
        if isinstance(answer, dict) and "ChangeInfo" in answer:
            change_id = "C" + "".join(secrets.choice(CHANGE_ID_CHARACTERS) for _ in range(13))
            ends_at = time.time() + _durations.seconds("route53", operation)
            submitted_at = utcnow()
            _changes(self.backend)[change_id] = (submitted_at, ends_at)
            answer["ChangeInfo"] = {**answer["ChangeInfo"], **_change_info(change_id, submitted_at, ends_at)}
        return result

    registered.__name__ = handler.__name__
    return registered


def get_change(self: Route53):
    change_id = self._get_param("Id").rsplit("/", 1)[-1]
    change = _changes(self.backend).get(change_id)
    if change is None:
        raise NoSuchChange(change_id)
    return ActionResult({"ChangeInfo": _change_info(change_id, *change)})


# --- backend methods (of Route53Backend once installed) -----------------------------------


def change_resource_record_sets(self: Route53Backend, zoneid: str, change_list: list[dict]) -> None:
    for change in change_list:
        record_set = change.get("ResourceRecordSet") or {}
        if record_set.get("Name"):
            record_set["Name"] = record_set["Name"].lower()
        alias = record_set.get("AliasTarget")
        if alias and alias.get("DNSName"):
            alias["DNSName"] = alias["DNSName"].lower().rstrip(".") + "."
    return _moto_change_resource_record_sets(self, zoneid, change_list)


def create_hosted_zone(self: Route53Backend, name: str, *args, **kwargs):
    return _moto_create_hosted_zone(self, name.lower(), *args, **kwargs)


# --- helpers -----------------------------------------------------------------------------


def _changes(backend: Route53Backend) -> dict:
    """change id -> (submitted at, ends at); kept on the backend, so moto's reset drops it."""
    return backend.__dict__.setdefault("_pl_changes", {})


def _change_info(change_id: str, submitted_at, ends_at: float) -> dict:
    status = "PENDING" if time.time() < ends_at else "INSYNC"
    return {"Id": f"/change/{change_id}", "Status": status, "SubmittedAt": submitted_at}
