"""Route 53 health checks: idempotent creation, versions, errors for missing ones.

moto 5.2.5 differs from Route 53 in ways that matter to a client that retries
or cleans up; install() fixes:

* CreateHealthCheck ignores CallerReference and creates a new health check
  every time. Route 53 returns the existing health check (201, same Id) for the
  same reference and the same configuration, and HealthCheckAlreadyExists (409)
  for the same reference with another configuration, or the reference of a
  deleted health check. The answer now also carries the Location header;
* UpdateHealthCheck never increments HealthCheckVersion and ignores the one in
  the request; now each update increments it, and a request whose
  HealthCheckVersion is not the current one fails with
  HealthCheckVersionMismatch (409);
* DeleteHealthCheck, ChangeTagsForResource and ListTagsForResource accept a
  health check id that does not exist (tagging it even); Route 53 answers
  NoSuchHealthCheck (404). Deleting a health check drops its tags.
"""

from moto.core.responses import ActionResult
from moto.route53.exceptions import NoSuchHealthCheck, Route53ClientError
from moto.route53.models import HealthCheck, Route53Backend
from moto.route53.responses import Route53

LOCATION = "https://route53.amazonaws.com/2013-04-01/healthcheck/{}"

_moto_create = Route53.create_health_check
_moto_update = Route53.update_health_check
_moto_list_tags = Route53.list_tags_for_resource
_moto_change_tags = Route53Backend.change_tags_for_resource
_moto_delete = Route53Backend.delete_health_check


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


def install() -> None:
    """Patches moto's Route 53 health checks; idempotent."""
    for handler in (create_health_check, update_health_check, list_tags_for_resource):
        setattr(Route53, handler.__name__, handler)
    Route53Backend.change_tags_for_resource = change_tags_for_resource
    Route53Backend.delete_health_check = delete_health_check


# --- Route 53 handlers (methods of Route53 once installed) --------------------------------


def create_health_check(self: Route53) -> ActionResult:
    reference = self._get_param("CallerReference")
    if reference in _deleted_references(self.backend):
        raise HealthCheckAlreadyExists(reference)
    existing = next((c for c in self.backend.health_checks.values() if c.caller_reference == reference), None)
    if existing is None:
        result = _moto_create(self)
        created = result.result["HealthCheck"]
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
    check.health_check_version += 1
    return result


def list_tags_for_resource(self: Route53) -> ActionResult:
    if self._get_param("ResourceType") == "healthcheck":
        self.backend.get_health_check(self._get_param("ResourceId"))
    return _moto_list_tags(self)


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
    _moto_delete(self, health_check_id)


# --- helpers -----------------------------------------------------------------------------


def _deleted_references(backend: Route53Backend) -> set:
    """CallerReferences of deleted health checks; kept on the backend, so moto's reset drops them."""
    return backend.__dict__.setdefault("_pl_deleted_references", set())


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
    return candidate.health_check_config
