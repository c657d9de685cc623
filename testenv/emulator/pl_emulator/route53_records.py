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
* propagation: Route 53 answers DNS queries with a change only once it is
  INSYNC ("PENDING indicates that this request has not yet been applied to
  all Amazon Route 53 DNS servers",
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html).
  moto has no DNS at all. Each change now takes a snapshot of its zone (records
  as they are after the change; None once the zone is deleted), and
  visible_zones() answers, for each zone, the snapshot of its latest change that
  is INSYNC: what the DNS server (dns_server.py) serves. A zone with no change
  yet is not served; one that moto has without any change (created by another
  way than the API) is served as it is;
* the SOA record moto creates with a zone has the value "{'Value': 'ns-2048...
  86400'}" (a dict's repr) in ListResourceRecordSets; now its value, as Route 53's;
* zone ids: Route 53's start with "Z" (Z0123456789ABCDEFGHIJ), and clients
  validate them so (the PilotLight CRD does); moto draws all 22 characters at
  random. New ids keep moto's randomness but start with "Z".
"""

import copy
import itertools
import secrets
import string
import threading
import time
from dataclasses import dataclass

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.route53.exceptions import Route53ClientError
from moto.route53 import models as route53_models
from moto.route53.models import FakeZone, Route53Backend
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


@dataclass(frozen=True)
class ZoneSnapshot:
    """A hosted zone as one change left it: what DNS answers once the change is INSYNC."""

    zone_id: str
    name: str  # lower case, with a trailing dot
    private: bool
    record_sets: tuple  # moto RecordSet copies (name, type, ttl, records, alias_target, failover, ...)


#: Guards the snapshots, taken by request threads and read by the DNS server's.
_snapshot_lock = threading.Lock()
_sequence = itertools.count()


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
            _take_snapshot(self.backend, _zone_of(self, answer), ends_at)
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
    zone = _moto_create_hosted_zone(self, name.lower(), *args, **kwargs)
    for record_set in zone.rrsets:  # moto keeps the SOA's value as {"Value": ...}, answered as its repr
        record_set.records = [r["Value"] if isinstance(r, dict) else r for r in record_set.records or []]
    return zone


# --- propagation ---------------------------------------------------------------------------


def visible_zones(backend: Route53Backend) -> list[ZoneSnapshot]:
    """Every zone as DNS serves it now: the snapshot of its latest INSYNC change."""
    now, visible = time.time(), []
    with _snapshot_lock:
        history = _snapshots(backend)
        for zone_id, entries in history.items():
            synced = [entry for entry in entries if entry[1] <= now]
            if synced:
                latest = synced[-1]
                # Older changes can never be served again.
                history[zone_id] = [entry for entry in entries if entry[0] >= latest[0]]
                if latest[2] is not None:
                    visible.append(latest[2])
        unchanged = [zone for zone_id, zone in list(backend.zones.items()) if zone_id not in history]
    return visible + [_snapshot_of(zone) for zone in unchanged]


def _take_snapshot(backend: Route53Backend, zone_id: str | None, visible_at: float) -> None:
    if not zone_id:
        return
    zone = backend.zones.get(zone_id)
    snapshot = _snapshot_of(zone) if zone is not None else None
    with _snapshot_lock:
        _snapshots(backend).setdefault(zone_id, []).append((next(_sequence), visible_at, snapshot))


def _snapshot_of(zone: FakeZone) -> ZoneSnapshot:
    name = zone.name.lower().rstrip(".") + "."
    return ZoneSnapshot(zone.resource_id, name, bool(zone.private_zone), tuple(copy.deepcopy(list(zone.rrsets))))


def _zone_of(self: Route53, answer: dict) -> str | None:
    """The id of the zone a change handler changed."""
    zone = answer.get("HostedZone")
    if isinstance(zone, FakeZone):
        return zone.resource_id
    zone_id = self._get_param("HostedZoneId") or self._get_param("Id")
    return zone_id.rsplit("/", 1)[-1] if isinstance(zone_id, str) else None


def _snapshots(backend: Route53Backend) -> dict:
    """zone id -> [(sequence, visible at, ZoneSnapshot | None), ...] in change order; on the backend, so
    moto's reset drops them."""
    return backend.__dict__.setdefault("_pl_snapshots", {})


# --- helpers -----------------------------------------------------------------------------


def _changes(backend: Route53Backend) -> dict:
    """change id -> (submitted at, ends at); kept on the backend, so moto's reset drops it."""
    return backend.__dict__.setdefault("_pl_changes", {})


def _change_info(change_id: str, submitted_at, ends_at: float) -> dict:
    status = "PENDING" if time.time() < ends_at else "INSYNC"
    return {"Id": f"/change/{change_id}", "Status": status, "SubmittedAt": submitted_at}
