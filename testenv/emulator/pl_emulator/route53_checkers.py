"""Route 53's health checkers: the data plane that decides whether a health check is healthy.

moto 5.2.5 has no health checkers: GetHealthCheckStatus answers one made-up
success, and nothing anywhere says whether a health check is healthy. In
Route 53 the checkers and DNS are the data plane: they keep working while the
control plane (the API, in us-east-1) is down
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/disaster-recovery-resiliency.html),
so nothing here goes through the gateway or its fault rules; what they look at
does. evaluate(check) is a health check's status, used by the DNS server
(dns_server.py), GetHealthCheckStatus and GET /_emulator/health-checks, by type
(https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html):

* HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH, TCP (endpoints): each checker
  region's probe fails when HealthCheckStatuses (POST
  /_emulator/health-check-status) forces it to, or when an outage fault rule
  covers the region named in the FullyQualifiedDomainName
  ("x.us-east-1.elb.amazonaws.com"; see region_of_name). The endpoint is
  healthy while more than 18 % of the checkers succeed ("If more than 18% of
  health checkers report that an endpoint is healthy, Route 53 considers it
  healthy",
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
  A change of that result becomes the status only once it has lasted
  RequestInterval x FailureThreshold seconds ("the number of consecutive
  health checks that an endpoint must pass or fail for Route 53 to change the
  current status"), multiplied by the duration key "route53:HealthCheckScale"
  (a factor; missing: 1.0, real seconds). A daemon thread (start()) probes
  every health check every PROBE_INTERVAL seconds, so the time counts from
  the change, not from the next question; GetHealthCheckStatus shows the
  probes themselves, without that delay, as Route 53's "most recent
  observations" do;
* RECOVERY_CONTROL: healthy while arc.routing_control_state(RoutingControlArn)
  is "On";
* CLOUDWATCH_METRIC: AlarmIdentifier's alarm in its region: OK healthy, ALARM
  unhealthy, INSUFFICIENT_DATA (or no such alarm) as InsufficientDataHealthStatus
  says: Healthy, Unhealthy, or LastKnownStatus (the default; healthy before any
  OK or ALARM was seen);
* CALCULATED: healthy while at least HealthThreshold of ChildHealthChecks are.

Then Inverted turns the status around, and a Disabled health check is always
healthy ("Route 53 considers the status of the health check to be healthy").
Not modelled: probing real endpoints, IPAddress-only endpoints' regions,
latency measurements, the CloudWatch HealthCheckStatus metric.
"""

import re
import threading
import time
from dataclasses import dataclass

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.route53.models import HealthCheck, route53_backends
from moto.route53.responses import Route53

from . import arc, cloudwatch_alarms
from .durations import Durations
from .faults import FaultRules
from .route53_health_checks import CHECKERS, FAILURE, SUCCESS, HealthCheckStatuses, checker_regions

ENDPOINT_TYPES = {"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"}
#: "If more than 18% of health checkers report that an endpoint is healthy, Route 53 considers it healthy."
HEALTHY_SHARE = 0.18
#: The services whose outage takes an endpoint down (a load balancer or an instance).
ENDPOINT_SERVICES = ("elasticloadbalancing", "ec2")
#: What a checker reports when the endpoint's region is down: nothing answers.
TIMEOUT = (
    "Failure: Connection timed out. The endpoint or the internet connection is down, "
    "or requests are being blocked by your firewall."
)
#: How often the checker thread probes every health check, in seconds.
PROBE_INTERVAL = 0.05
#: A region label in an AWS host name: us-east-1, eu-central-1, ap-southeast-2, us-gov-west-1, ...
REGION_LABEL = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-(?:central|(?:north|south)?(?:east|west)|north|south)-\d+$")


def region_of_name(name: str | None) -> str | None:
    """The region an AWS host name is in (the last label that is a region name), else None.

    "primary-alb-1.us-east-1.elb.amazonaws.com" -> "us-east-1".
    """
    regions = [label for label in (name or "").lower().rstrip(".").split(".") if REGION_LABEL.match(label)]
    return regions[-1] if regions else None


@dataclass
class Debounced:
    """An endpoint's probe result and the status Route 53 reports of it."""

    probe: bool
    probe_since: float
    status: bool


class Checkers:
    """The checkers' memory: debounced endpoint statuses and the last known alarm statuses."""

    def __init__(self, statuses: HealthCheckStatuses, fault_rules: FaultRules, durations: Durations) -> None:
        self._statuses = statuses
        self._faults = fault_rules
        self._durations = durations
        self._lock = threading.RLock()
        self._debounced: dict[str, Debounced] = {}
        self._last_known: dict[str, bool] = {}

    def clear(self) -> None:
        with self._lock:
            self._debounced = {}
            self._last_known = {}

    def evaluate(self, check: HealthCheck) -> bool:
        """Whether Route 53 considers the health check healthy now."""
        with self._lock:
            return self._evaluate(check, set())

    def probe_all(self) -> None:
        """One round of every checker (the thread's work): keeps debouncing and last known statuses current."""
        for check in list(_backend().health_checks.values()):
            self.evaluate(check)

    def failing_checkers(self, check: HealthCheck) -> dict[str, str]:
        """Checker region -> failure report, for the endpoint checkers whose latest probe failed."""
        regions = checker_regions(check)
        if self._faults.outage_covers(region_of_name(check.fqdn) or "", ENDPOINT_SERVICES):
            return {region: TIMEOUT for region in regions}
        forced = self._statuses.failing(check.id)
        return {region: FAILURE for region in regions if region in forced}

    def _evaluate(self, check: HealthCheck, seen: set) -> bool:
        if check.disabled:
            return True
        if check.id in seen:  # a calculated health check among its own children: not healthy
            return False
        kind = check.type_
        if kind in ENDPOINT_TYPES:
            healthy = self._endpoint(check)
        elif kind == "RECOVERY_CONTROL":
            healthy = arc.routing_control_state(getattr(check, "routing_control_arn", None) or "") == "On"
        elif kind == "CLOUDWATCH_METRIC":
            healthy = self._alarm(check)
        elif kind == "CALCULATED":
            healthy = self._calculated(check, seen | {check.id})
        else:
            healthy = True
        return healthy != bool(check.inverted)

    def _endpoint(self, check: HealthCheck) -> bool:
        regions = checker_regions(check)
        probe = len(regions) - len(self.failing_checkers(check)) > HEALTHY_SHARE * len(regions)
        now = time.time()
        state = self._debounced.get(check.id)
        if state is None:  # a new health check starts healthy, and counts its probes from now
            state = self._debounced[check.id] = Debounced(True, now, True)
        if probe != state.probe:
            state.probe, state.probe_since = probe, now
        scale = self._durations.seconds("route53", "HealthCheckScale", 1.0)
        delay = float(check.request_interval or 30) * float(check.failure_threshold or 3) * scale
        if state.status != state.probe and now - state.probe_since >= delay:
            state.status = state.probe
        return state.status

    def _alarm(self, check: HealthCheck) -> bool:
        alarm = getattr(check, "alarm_identifier", None) or {}
        state = cloudwatch_alarms.alarm_state(alarm.get("Region") or "", alarm.get("Name") or "")
        if state in ("OK", "ALARM"):
            self._last_known[check.id] = state == "OK"
            return state == "OK"
        insufficient = getattr(check, "insufficient_data_health_status", None) or "LastKnownStatus"
        if insufficient == "Healthy":
            return True
        if insufficient == "Unhealthy":
            return False
        return self._last_known.get(check.id, True)

    def _calculated(self, check: HealthCheck, seen: set) -> bool:
        checks = _backend().health_checks
        children = [checks[child] for child in check.children or [] if child in checks]
        healthy = sum(self._evaluate(child, seen) for child in children)
        return healthy >= int(check.health_threshold or 0)


#: Set by install(); the handlers below run inside moto and cannot be handed it.
_checkers: Checkers | None = None


def install(statuses: HealthCheckStatuses, fault_rules: FaultRules, durations: Durations) -> Checkers:
    """Makes GetHealthCheckStatus answer the checkers' observations; idempotent (a second call replaces them)."""
    global _checkers
    _checkers = Checkers(statuses, fault_rules, durations)
    Route53.get_health_check_status = get_health_check_status
    return _checkers


def start() -> threading.Thread:
    """Starts the checker thread (a daemon): every health check probed every PROBE_INTERVAL seconds."""

    def run() -> None:
        while True:
            try:
                if _checkers is not None:
                    _checkers.probe_all()
            except Exception:  # a health check changing under the probe: the next round sees it
                pass
            time.sleep(PROBE_INTERVAL)

    thread = threading.Thread(target=run, name="pl-emulator-route53-checkers", daemon=True)
    thread.start()
    return thread


def evaluate(check: HealthCheck) -> bool:
    """Whether Route 53 considers ``check`` healthy now (see the module's docstring)."""
    return _checkers.evaluate(check)


def health_check(check_id: str) -> HealthCheck | None:
    return _backend().health_checks.get(check_id)


def reset() -> None:
    if _checkers is not None:
        _checkers.clear()


def states() -> list[dict]:
    """Every health check's id, type and status (GET /_emulator/health-checks)."""
    return [
        {"id": check.id, "type": check.type_, "healthy": evaluate(check)}
        for check in list(_backend().health_checks.values())
    ]


# --- Route 53 handler (a method of Route53 once installed) ---------------------------------


def get_health_check_status(self: Route53) -> ActionResult:
    """One observation per checker region: endpoints' latest probes; for the other types, the status."""
    check = self.backend.get_health_check(self._get_param("HealthCheckId"))
    now = utcnow()
    if check.type_ in ENDPOINT_TYPES:
        failing = _checkers.failing_checkers(check)
        reports = {region: failing.get(region, SUCCESS) for region in checker_regions(check)}
    else:
        status = _status_report(check, evaluate(check))
        reports = {region: status for region in checker_regions(check)}
    observations = [
        {"Region": region, "IPAddress": CHECKERS[region], "StatusReport": {"Status": status, "CheckedTime": now}}
        for region, status in reports.items()
    ]
    return ActionResult({"HealthCheckObservations": observations})


def _status_report(check: HealthCheck, healthy: bool) -> str:
    outcome = "Success" if healthy else "Failure"
    if check.type_ == "RECOVERY_CONTROL":
        state = arc.routing_control_state(getattr(check, "routing_control_arn", None) or "")
        return f"{outcome}: routing control state {state or 'unknown (no such routing control)'}"
    if check.type_ == "CLOUDWATCH_METRIC":
        alarm = getattr(check, "alarm_identifier", None) or {}
        state = cloudwatch_alarms.alarm_state(alarm.get("Region") or "", alarm.get("Name") or "")
        return f"{outcome}: alarm state {state or 'unknown (no such alarm)'}"
    return f"{outcome}: health check is {'healthy' if healthy else 'unhealthy'}"


def _backend():
    return route53_backends[DEFAULT_ACCOUNT_ID]["aws"]
