"""The control API under /_emulator/ (JSON in and out), for tests and the e2e harness.

See README.md for the reference of every path.
"""

import json
import sys
import traceback
from collections.abc import Callable

from moto.core import DEFAULT_ACCOUNT_ID
from werkzeug.wrappers import Request, Response

from . import arc, cloudwatch_alarms, rds_replicas, replication_metrics, route53_checkers
from .autoscaling_instances import InvalidOverride, TargetHealthOverrides, UnknownTargetGroup
from .calls import CallLog
from .durations import Durations, InvalidDurations
from .faults import FaultRules, InvalidRule
from .route53_health_checks import HealthCheckStatuses, InvalidStatus, UnknownHealthCheck

PREFIX = "/_emulator"


class BadRequest(Exception):
    status = 400


class NotFound(Exception):
    status = 404


class ControlApi:
    def __init__(
        self,
        calls: CallLog,
        fault_rules: FaultRules,
        durations: Durations,
        target_health: TargetHealthOverrides,
        health_check_statuses: HealthCheckStatuses,
        reset_moto: Callable[[], None],
    ) -> None:
        self._calls = calls
        self._faults = fault_rules
        self._durations = durations
        self._target_health = target_health
        self._health_check_statuses = health_check_statuses
        self._reset_moto = reset_moto

    def __call__(self, environ: dict, start_response):
        request = Request(environ)
        try:
            status, payload = 200, self._route(request)
        except (BadRequest, NotFound) as exc:
            status, payload = exc.status, {"error": str(exc)}
        except Exception as exc:  # report, but keep serving
            traceback.print_exc(file=sys.stderr)
            status, payload = 500, {"error": f"pl-emulator internal error: {exc!r}"}
        return Response(json.dumps(payload), status, mimetype="application/json")(environ, start_response)

    def _route(self, request: Request):
        method, path = request.method, request.path.rstrip("/")
        if path == f"{PREFIX}/health" and method == "GET":
            return {"ok": True}
        if path == f"{PREFIX}/calls":
            if method == "GET":
                return {"calls": self._calls.since(_int_arg(request, "since"))}
            if method == "DELETE":
                self._calls.clear()
                return {"ok": True}
        if path == f"{PREFIX}/calls/recording":
            if method == "PUT":
                body = _json_body(request)
                if not isinstance(body, dict) or not isinstance(body.get("requests"), bool):
                    raise BadRequest('expected {"requests": true | false}')
                self._calls.set_recording(body["requests"])
            if method in ("GET", "PUT"):
                return {"requests": self._calls.recording}
        if path == f"{PREFIX}/faults":
            if method == "GET":
                return {"faults": self._faults.list()}
            if method == "POST":
                try:
                    return self._faults.add(_json_body(request))
                except InvalidRule as exc:
                    raise BadRequest(str(exc)) from exc
            if method == "DELETE":
                self._faults.clear()
                return {"ok": True}
        if path.startswith(f"{PREFIX}/faults/") and method == "DELETE":
            rule_id = path.rsplit("/", 1)[1]
            if not self._faults.remove(rule_id):
                raise NotFound(f"no fault rule {rule_id!r}")
            return {"ok": True}
        if path == f"{PREFIX}/durations":
            if method == "GET":
                return self._durations.all()
            if method == "PUT":
                try:
                    return self._durations.replace(_json_body(request))
                except InvalidDurations as exc:
                    raise BadRequest(str(exc)) from exc
        if path == f"{PREFIX}/target-health":
            if method == "GET":
                return {"overrides": self._target_health.all()}
            if method == "PUT":
                try:
                    return self._target_health.put(_json_body(request))
                except InvalidOverride as exc:
                    raise BadRequest(str(exc)) from exc
                except UnknownTargetGroup as exc:
                    raise NotFound(str(exc)) from exc
        if path == f"{PREFIX}/health-check-status":
            if method == "GET":
                return {"failingRegions": self._health_check_statuses.all()}
            if method == "POST":
                try:
                    return self._health_check_statuses.put(_json_body(request))
                except InvalidStatus as exc:
                    raise BadRequest(str(exc)) from exc
                except UnknownHealthCheck as exc:
                    raise NotFound(str(exc)) from exc
        if path == f"{PREFIX}/health-checks" and method == "GET":
            return {"healthChecks": route53_checkers.states()}
        if path == f"{PREFIX}/alarm-state" and method == "POST":
            try:
                return cloudwatch_alarms.force_state(_json_body(request))
            except cloudwatch_alarms.InvalidAlarmState as exc:
                raise BadRequest(str(exc)) from exc
        if path == f"{PREFIX}/replication-lag" and method == "POST":
            try:
                return replication_metrics.set_lag(_json_body(request))
            except replication_metrics.InvalidLagSetting as exc:
                raise BadRequest(str(exc)) from exc
        if path == f"{PREFIX}/replica-status" and method == "POST":
            try:
                return rds_replicas.set_status(DEFAULT_ACCOUNT_ID, _json_body(request))
            except rds_replicas.InvalidReplicaStatus as exc:
                raise BadRequest(str(exc)) from exc
            except rds_replicas.UnknownReplica as exc:
                raise NotFound(str(exc)) from exc
        if path == f"{PREFIX}/arc" and method == "GET":
            return {"routingControls": arc.states()}
        if path == f"{PREFIX}/reset" and method == "POST":
            self._reset_moto()
            arc.reset()
            self._calls.clear()
            self._faults.clear()
            self._durations.clear()
            self._target_health.clear()
            self._health_check_statuses.clear()
            cloudwatch_alarms.reset()
            route53_checkers.reset()
            replication_metrics.reset()
            return {"ok": True}
        raise NotFound(f"no control endpoint {method} {request.path}")


def _json_body(request: Request):
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc


def _int_arg(request: Request, name: str) -> int:
    value = request.args.get(name, "0")
    try:
        return int(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an integer, got {value!r}") from exc
