"""Route 53 health checks: idempotent creation, versions, errors for missing ones.

moto 5.2.5 differs from Route 53 in ways that matter to a client that retries
or cleans up; install() fixes:

* CreateHealthCheck ignores CallerReference and creates a new health check
  every time. Route 53 returns the existing health check (201, same Id) for the
  same reference and the same configuration, and HealthCheckAlreadyExists (409)
  for the same reference with another configuration, or the reference of a
  deleted health check. The answer now also carries the Location header;
* CreateHealthCheck drops RoutingControlArn, AlarmIdentifier and
  InsufficientDataHealthStatus (GetHealthCheck and ListHealthChecks never show
  them, so RECOVERY_CONTROL and CLOUDWATCH_METRIC health checks cannot be
  evaluated or compared). They are now kept and answered in HealthCheckConfig
  (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html);
  UpdateHealthCheck can change the last two, as in Route 53;
* UpdateHealthCheck never increments HealthCheckVersion and ignores the one in
  the request; now each update increments it, and a request whose
  HealthCheckVersion is not the current one fails with
  HealthCheckVersionMismatch (409);
* DeleteHealthCheck, ChangeTagsForResource and ListTagsForResource accept a
  health check id that does not exist (tagging it even); Route 53 answers
  NoSuchHealthCheck (404). Deleting a health check drops its tags.

HealthCheckStatuses (POST /_emulator/health-check-status) is what tests force
some checkers to report; route53_checkers.py (the data plane: what the
checkers observe, GetHealthCheckStatus, the health a DNS answer depends on)
reads it.
"""

import threading

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.route53.exceptions import NoSuchHealthCheck, Route53ClientError
from moto.route53.models import HealthCheck, Route53Backend, route53_backends
from moto.route53.responses import Route53

LOCATION = "https://route53.amazonaws.com/2013-04-01/healthcheck/{}"
#: Route 53's health checker regions (HealthCheckRegion), each with an address of its range.
CHECKERS = {
    "us-east-1": "54.243.31.193",
    "us-west-1": "54.183.255.129",
    "us-west-2": "54.244.52.193",
    "eu-west-1": "54.228.16.1",
    "ap-southeast-1": "54.251.31.129",
    "ap-southeast-2": "54.252.79.129",
    "ap-northeast-1": "54.248.220.1",
    "sa-east-1": "177.71.207.129",
}
SUCCESS = "Success: HTTP Status Code 200, OK"
FAILURE = "Failure: HTTP Status Code 503, Service Unavailable"
STATUS_FIELDS = {"id", "fqdn", "status", "checkers"}

_moto_create = Route53.create_health_check
_moto_update = Route53.update_health_check
_moto_list_tags = Route53.list_tags_for_resource
_moto_change_tags = Route53Backend.change_tags_for_resource
_moto_delete = Route53Backend.delete_health_check
_moto_config = HealthCheck.health_check_config
#: HealthCheckConfig members moto 5.2.5 drops, with the HealthCheck attribute that keeps each.
KEPT_CONFIG = {
    "RoutingControlArn": "routing_control_arn",
    "AlarmIdentifier": "alarm_identifier",
    "InsufficientDataHealthStatus": "insufficient_data_health_status",
}
#: What UpdateHealthCheck may change of them (API_UpdateHealthCheck: not RoutingControlArn).
UPDATABLE_CONFIG = ("AlarmIdentifier", "InsufficientDataHealthStatus")


class HealthCheckAlreadyExists(Route53ClientError):
    def __init__(self, caller_reference: str) -> None:
        super().__init__(
            "HealthCheckAlreadyExists",
            f"A health check with CallerReference {caller_reference} already exists or was deleted, "
            "and the request's settings are not those of the existing health check.",
        )


class HealthCheckVersionMismatch(Route53ClientError):
    def __init__(self) -> None:
        super().__init__(
            "HealthCheckVersionMismatch",
            "The value of HealthCheckVersion in the request doesn't match the value of HealthCheckVersion "
            "in the health check.",
        )


class UnknownHealthCheck(LookupError):
    """POST /_emulator/health-check-status for an id or FQDN no health check has."""


class InvalidStatus(ValueError):
    """A POST /_emulator/health-check-status body that does not follow the documented shape."""


class HealthCheckStatuses:
    """The checker regions forced to report a failure, by health check id (all others succeed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing: dict[str, list[str]] = {}

    def put(self, data: object) -> dict:
        """Applies {"id" | "fqdn", "status", "checkers"}; answers the failing regions of each health check named."""
        if not isinstance(data, dict) or set(data) - STATUS_FIELDS or ("id" in data) == ("fqdn" in data):
            raise InvalidStatus(
                'expected {"id": ID} or {"fqdn": NAME}, with "status": "Success" | "Failure" and optional "checkers"'
            )
        status, checkers = data.get("status"), data.get("checkers")
        if status not in ("Success", "Failure"):
            raise InvalidStatus(f'status must be "Success" or "Failure", got {status!r}')
        if status == "Success" and checkers is not None:
            raise InvalidStatus('"checkers" only applies to status "Failure"')
        failing = {
            check.id: _failing_regions(check, checkers) if status == "Failure" else []
            for check in _health_checks_named(data)
        }
        with self._lock:
            for check_id, regions in failing.items():
                if regions:
                    self._failing[check_id] = regions
                else:
                    self._failing.pop(check_id, None)
        return {"failingRegions": failing}

    def all(self) -> dict[str, list[str]]:
        with self._lock:
            return {check_id: list(regions) for check_id, regions in self._failing.items()}

    def failing(self, check_id: str) -> list[str]:
        with self._lock:
            return self._failing.get(check_id, [])

    def forget(self, check_id: str) -> None:
        with self._lock:
            self._failing.pop(check_id, None)

    def clear(self) -> None:
        with self._lock:
            self._failing = {}


#: Set by install(); the handlers below run inside moto and cannot be handed it.
_statuses = HealthCheckStatuses()


def install(statuses: HealthCheckStatuses) -> None:
    """Patches moto's Route 53 health checks; idempotent (a second call replaces statuses)."""
    global _statuses
    _statuses = statuses
    for handler in (create_health_check, update_health_check, list_tags_for_resource):
        setattr(Route53, handler.__name__, handler)
    Route53Backend.change_tags_for_resource = change_tags_for_resource
    Route53Backend.delete_health_check = delete_health_check
    HealthCheck.health_check_config = property(health_check_config)


# --- Route 53 handlers (methods of Route53 once installed) --------------------------------


def create_health_check(self: Route53) -> ActionResult:
    reference = self._get_param("CallerReference")
    if reference in _deleted_references(self.backend):
        raise HealthCheckAlreadyExists(reference)
    existing = next((c for c in self.backend.health_checks.values() if c.caller_reference == reference), None)
    if existing is None:
        result = _moto_create(self)
        created = result.result["HealthCheck"]
        _keep_config(created, self._get_param("HealthCheckConfig"), KEPT_CONFIG)
        return ActionResult({"HealthCheck": created, "Location": LOCATION.format(created.id)})
    if _config_of_request(self) != existing.health_check_config:
        raise HealthCheckAlreadyExists(reference)
    return ActionResult({"HealthCheck": existing, "Location": LOCATION.format(existing.id)})


def update_health_check(self: Route53) -> ActionResult:
    check = self.backend.get_health_check(self._get_param("HealthCheckId"))
    version = self._get_int_param("HealthCheckVersion")
    if version is not None and version != check.health_check_version:
        raise HealthCheckVersionMismatch()
    result = _moto_update(self)
    updates = {member: self._get_param(member) for member in UPDATABLE_CONFIG}
    _keep_config(check, updates, UPDATABLE_CONFIG)
    check.health_check_version += 1
    return result


def list_tags_for_resource(self: Route53) -> ActionResult:
    if self._get_param("ResourceType") == "healthcheck":
        self.backend.get_health_check(self._get_param("ResourceId"))
    return _moto_list_tags(self)


# --- model (HealthCheck.health_check_config once installed) -------------------------------


def health_check_config(self: HealthCheck) -> dict:
    """moto's HealthCheckConfig, with the members it drops."""
    config = _moto_config.fget(self)
    for member, attribute in KEPT_CONFIG.items():
        if getattr(self, attribute, None) is not None:
            config[member] = getattr(self, attribute)
    return config


# --- backend methods (of Route53Backend once installed) -----------------------------------


def change_tags_for_resource(self: Route53Backend, resource_type: str, resource_id: str, *args, **kwargs) -> None:
    if resource_type == "healthcheck":
        self.get_health_check(resource_id)
    return _moto_change_tags(self, resource_type, resource_id, *args, **kwargs)


def delete_health_check(self: Route53Backend, health_check_id: str) -> None:
    check = self.health_checks.get(health_check_id)
    if check is None:
        raise NoSuchHealthCheck(health_check_id)
    _deleted_references(self).add(check.caller_reference)
    self.resource_tags.pop(health_check_id, None)
    _statuses.forget(health_check_id)
    _moto_delete(self, health_check_id)


# --- helpers -----------------------------------------------------------------------------


def _deleted_references(backend: Route53Backend) -> set:
    """CallerReferences of deleted health checks; kept on the backend, so moto's reset drops them."""
    return backend.__dict__.setdefault("_pl_deleted_references", set())


def _keep_config(check: HealthCheck, config: dict, members) -> None:
    """Keeps the ``members`` of a request's HealthCheckConfig that moto drops (absent ones unchanged)."""
    for member in members:
        if config.get(member) is not None:
            setattr(check, KEPT_CONFIG[member], config[member])


def checker_regions(check: HealthCheck) -> list[str]:
    """The regions whose checkers report on the health check, in CHECKERS order."""
    return [region for region in CHECKERS if not check.regions or region in check.regions]


def _health_checks_named(data: dict) -> list[HealthCheck]:
    """The health check with data's "id", or every one whose FullyQualifiedDomainName is data's "fqdn"."""
    field = "id" if "id" in data else "fqdn"
    if not isinstance(data[field], str):
        raise InvalidStatus(f"{field} must be a string")
    checks = list(route53_backends[DEFAULT_ACCOUNT_ID]["aws"].health_checks.values())
    if field == "id":
        named = [check for check in checks if check.id == data["id"]]
    else:
        fqdn = data["fqdn"].rstrip(".").lower()
        named = [check for check in checks if (check.fqdn or "").rstrip(".").lower() == fqdn]
    if not named:
        raise UnknownHealthCheck(f"no health check with {field} {data[field]!r}")
    return named


def _failing_regions(check: HealthCheck, checkers) -> list[str]:
    """The regions of ``checkers`` (None: all, N: the first N, or a list) among the check's own."""
    regions = checker_regions(check)
    if checkers is None:
        return regions
    if isinstance(checkers, int) and not isinstance(checkers, bool) and 1 <= checkers <= len(regions):
        return regions[:checkers]
    if isinstance(checkers, list) and checkers and all(region in regions for region in checkers):
        return [region for region in regions if region in checkers]
    raise InvalidStatus(
        f"checkers must be a count from 1 to {len(regions)} or a non-empty list of the checker regions "
        f"{regions} of health check {check.id}, got {checkers!r}"
    )


def _config_of_request(self: Route53) -> dict:
    """The HealthCheckConfig moto would store for this request, defaults applied."""
    config = self._get_param("HealthCheckConfig")
    args = {
        "ip_address": config.get("IPAddress"),
        "port": config.get("Port"),
        "type": config["Type"],
        "resource_path": config.get("ResourcePath"),
        "fqdn": config.get("FullyQualifiedDomainName"),
        "search_string": config.get("SearchString"),
        "request_interval": config.get("RequestInterval"),
        "failure_threshold": config.get("FailureThreshold"),
        "health_threshold": config.get("HealthThreshold"),
        "measure_latency": config.get("MeasureLatency"),
        "inverted": config.get("Inverted"),
        "disabled": config.get("Disabled"),
        "enable_sni": config.get("EnableSNI"),
    }
    candidate = HealthCheck("", "", args)
    candidate.set_children(config.get("ChildHealthChecks", []))
    candidate.set_regions(config.get("Regions", []))
    _keep_config(candidate, config, KEPT_CONFIG)
    return candidate.health_check_config
