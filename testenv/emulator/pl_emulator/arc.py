"""Route 53 Application Recovery Controller (ARC) routing controls, served by the gateway.

moto 5.2.5 has no ARC. We serve its two APIs as AWS does
(https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.html):

* the recovery control configuration API (signing name
  route53-recovery-control-config, restJson1), only in us-west-2: clusters,
  control panels (with each cluster's DefaultControlPanel), routing controls,
  assertion rules and tags. New resources are PENDING for the duration
  "route53-recovery-control-config:<Create operation>", then DEPLOYED;
* the cluster data plane (route53-recovery-cluster, awsJson1_0, X-Amz-Target
  ToggleCustomerAPI.<Op>), on each cluster's five ClusterEndpoints, one per
  region, which the emulator serves at http://HOST:PORT/arc-cluster/<cluster
  id>/<region>/v1. The gateway logs and faults such a request under the
  endpoint's region (protocols.classify), so an outage rule for one region takes
  out that one endpoint. Routing controls start Off; every state update is
  checked against the assertion rules of the controls it changes, as a whole.

State is one store for the whole emulator (ARC is not regional), cleared by
/_emulator/reset. routing_control_state() is how Route 53 RECOVERY_CONTROL
health checks read a control's state.
"""

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.request import Request
from moto.core.routing import get_service_router

from . import protocols
from .durations import Durations

CONFIG_SERVICE = "route53-recovery-control-config"
CLUSTER_SERVICE = "route53-recovery-cluster"
SERVICES = {CONFIG_SERVICE, CLUSTER_SERVICE}
#: The configuration API's only region: the SDKs resolve every region of the aws partition to it.
CONFIG_REGION = "us-west-2"
#: The regions of a cluster's five endpoints, "one for each supported Amazon Web Services Region"
#: (CreateCluster, https://docs.aws.amazon.com/recovery-cluster/latest/api/cluster.html).
ENDPOINT_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "ap-southeast-2")
ENDPOINT_PATH = re.compile(r"^/arc-cluster/(?P<cluster>[^/]+)/(?P<region>[^/]+)(?:/v1)?/?$")
ARN_PREFIX = f"arn:aws:route53-recovery-control::{DEFAULT_ACCOUNT_ID}:"
DEFAULT_PANEL_NAME = "DefaultControlPanel"
STATES = ("On", "Off")
RULE_TYPES = ("ATLEAST", "AND", "OR")
NAME = re.compile(r"^\S{1,64}$")
#: ListRoutingControls' page size when MaxResults is not given (the data plane documents 500).
DEFAULT_PAGE = 500


class ArcError(Exception):
    """An AWS error of either API; ``fields`` are the shape's members besides the message."""

    def __init__(self, code: str, status: int, message: str, **fields) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.fields = code, status, message, fields


def _validation(message: str) -> ArcError:
    return ArcError("ValidationException", 400, message)


def _conflict(message: str, status: int = 409, **fields) -> ArcError:
    return ArcError("ConflictException", status, message, **fields)


@dataclass
class Resource:
    arn: str
    name: str
    deployed_at: float
    tags: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "DEPLOYED" if time.time() >= self.deployed_at else "PENDING"


@dataclass
class Cluster(Resource):
    id: str = ""
    network_type: str = "IPV4"


@dataclass
class ControlPanel(Resource):
    cluster_arn: str = ""
    default: bool = False


@dataclass
class RoutingControl(Resource):
    panel_arn: str = ""
    state: str = "Off"  # a new routing control is Off in AWS


@dataclass
class AssertionRule(Resource):
    panel_arn: str = ""
    asserted: list = field(default_factory=list)
    rule_type: str = "ATLEAST"
    threshold: int = 1
    inverted: bool = False
    wait_period_ms: int = 5000

    def holds(self, states: dict[str, str]) -> bool:
        """The rule on would-be states (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.safety-rules.html)."""
        on = sum(states[arn] == "On" for arn in self.asserted)
        if self.rule_type == "ATLEAST":
            result = on >= self.threshold
        elif self.rule_type == "AND":
            result = on == len(self.asserted)
        else:
            result = on >= 1
        return result != self.inverted


class Store:
    """Every ARC resource by ARN, and the ClientTokens seen (by operation)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.clusters: dict[str, Cluster] = {}
            self.panels: dict[str, ControlPanel] = {}
            self.controls: dict[str, RoutingControl] = {}
            self.rules: dict[str, AssertionRule] = {}
            self.tokens: dict[tuple[str, str], tuple[str, str]] = {}

    def resource(self, arn: str) -> Resource | None:
        for kind in (self.clusters, self.panels, self.controls, self.rules):
            if arn in kind:
                return kind[arn]
        return None


_store = Store()
#: Set by install(); the handlers cannot be handed it.
_durations = Durations()


def install(durations: Durations) -> None:
    """Makes the creates take their durations; idempotent (a second call replaces them)."""
    global _durations
    _durations = durations


def reset() -> None:
    _store.clear()


def routing_control_state(arn: str) -> str | None:
    """"On" or "Off" for a routing control, None if there is none with that ARN."""
    with _store.lock:
        control = _store.controls.get(arn)
        return control.state if control else None


def states() -> dict[str, str]:
    """Every routing control's state, by ARN (GET /_emulator/arc)."""
    with _store.lock:
        return {arn: control.state for arn, control in _store.controls.items()}


def handle(environ: dict, body: bytes, request: protocols.AwsRequest) -> tuple[int, list, bytes]:
    """(status, headers, body) of a request to either API (request.service tells which)."""
    json_protocol = request.service == CLUSTER_SERVICE
    try:
        with _store.lock:
            if json_protocol:
                payload = _serve_cluster(environ, body, request.action)
            else:
                payload = _serve_config(environ, body, request)
        return 200, _headers(json_protocol), json.dumps(payload).encode()
    except ArcError as error:
        return _error(error, json_protocol)


def _headers(json_protocol: bool) -> list:
    content_type = "application/x-amz-json-1.0" if json_protocol else "application/json"
    return [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))]


def _error(error: ArcError, json_protocol: bool) -> tuple[int, list, bytes]:
    """restJson1 names the error in x-amzn-ErrorType, awsJson1_0 also in __type; both carry "message"."""
    payload = {"message": error.message, **error.fields}
    if json_protocol:
        payload = {"__type": error.code, **payload}
    headers = _headers(json_protocol) + [("x-amzn-ErrorType", error.code)]
    return error.status, headers, json.dumps(payload).encode()


def _signing_region(environ: dict) -> str | None:
    scope = protocols.SIGV4_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return scope.group(1) if scope else None


def _wrong_region(signed: str) -> ArcError:
    """What an AWS endpoint answers a request signed for another region."""
    return ArcError("InvalidSignatureException", 403, f"Credential should be scoped to a valid region, not '{signed}'. ")


# --- configuration API (restJson1) -------------------------------------------------------
# https://docs.aws.amazon.com/recovery-cluster/latest/api/resources.html


def _serve_config(environ: dict, body: bytes, request: protocols.AwsRequest) -> dict:
    signed = _signing_region(environ)
    if signed is not None and signed != CONFIG_REGION:
        raise _wrong_region(signed)
    try:
        operation, uri_params = get_service_router(CONFIG_SERVICE).match(Request(environ.copy()))
    except Exception as exc:
        raise ArcError("UnknownOperationException", 404, f"no operation at {request.method} {environ.get('PATH_INFO')}") from exc
    handler = CONFIG_HANDLERS.get(operation.name)
    if handler is None:
        raise _validation(f"pl-emulator does not implement {operation.name}")
    params = {**_json_object(body), **_query_params(environ, operation), **uri_params}
    return handler(params, environ)


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise _validation(f"the request body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _validation("the request body must be a JSON object")
    return data


def _query_params(environ: dict, operation) -> dict:
    """The input members the model binds to the query string (MaxResults, NextToken, ClusterArn, TagKeys)."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    params = {}
    for name, member in operation.input_shape.members.items():
        values = query.get(member.serialization.get("name", name))
        if member.serialization.get("location") != "querystring" or not values:
            continue
        params[name] = values if member.type_name == "list" else values[0]
    return params


def _created(operation: str, params: dict, existing: Resource | None, make) -> Resource:
    """Idempotency on ClientToken: the same token and request answer the resource it created."""
    token = params.get("ClientToken")
    request = json.dumps({k: v for k, v in params.items() if k != "ClientToken"}, sort_keys=True)
    if token is not None:
        seen = _store.tokens.get((operation, token))
        if seen is not None:
            if seen[0] != request:
                raise _conflict(f"ClientToken {token} was already used for another {operation} request")
            resource = _store.resource(seen[1])
            if resource is not None:
                return resource
    if existing is not None:
        raise _conflict(f"a resource named {existing.name} already exists: {existing.arn}")
    resource = make(time.time() + _durations.seconds(CONFIG_SERVICE, operation))
    if token is not None:
        _store.tokens[(operation, token)] = (request, resource.arn)
    return resource


def _name(params: dict, key: str) -> str:
    name = params.get(key)
    if not isinstance(name, str) or not NAME.match(name):
        raise _validation(f"{key} must be 1 to 64 characters without white space, got {name!r}")
    return name


def _tags(params: dict) -> dict:
    tags = params.get("Tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise _validation("Tags must be a map of strings")
    return dict(tags)


def _lookup(kind: dict, arn, resource_type: str, status: int = 404) -> Resource:
    """kind[arn]; else ResourceNotFoundException, 404 in the configuration API, 400 in the data plane."""
    if not isinstance(arn, str) or arn not in kind:
        raise _not_found(resource_type, arn, status)
    return kind[arn]


def _not_found(resource_type: str, arn, status: int) -> ArcError:
    """The data plane's shape also names the resource (resourceId, resourceType), the configuration API's does not."""
    fields = {"resourceId": str(arn), "resourceType": resource_type} if status == 400 else {}
    return ArcError("ResourceNotFoundException", status, f"{resource_type} {arn} was not found", **fields)


def _deployed(resource: Resource, what: str) -> None:
    """Children go into a DEPLOYED parent only (the emulator's choice: clients wait for DEPLOYED as in AWS)."""
    if resource.status != "DEPLOYED":
        raise _conflict(f"{what} {resource.arn} is {resource.status}; wait until it is DEPLOYED")


def _page(items: list, params: dict, key: str, default_size: int | None = None) -> dict:
    """One page of ``items`` (NextToken is the index of the next item)."""
    try:
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or default_size or len(items) or 1)
    except ValueError as exc:
        raise _validation(f"invalid NextToken or MaxResults: {exc}") from exc
    if start < 0 or size < 1:
        raise _validation("NextToken and MaxResults must be positive")
    page = {key: items[start:start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


def _endpoints(cluster: Cluster, environ: dict) -> list[dict]:
    """The cluster's endpoints on this emulator, reached the way the client reached it."""
    base = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', 'localhost')}"
    return [{"Endpoint": f"{base}/arc-cluster/{cluster.id}/{region}/v1", "Region": region} for region in ENDPOINT_REGIONS]


def _cluster_json(cluster: Cluster, environ: dict) -> dict:
    return {
        "ClusterArn": cluster.arn,
        "ClusterEndpoints": _endpoints(cluster, environ),
        "Name": cluster.name,
        "Status": cluster.status,
        "Owner": DEFAULT_ACCOUNT_ID,
        "NetworkType": cluster.network_type,
    }


def _panel_json(panel: ControlPanel) -> dict:
    return {
        "ClusterArn": panel.cluster_arn,
        "ControlPanelArn": panel.arn,
        "DefaultControlPanel": panel.default,
        "Name": panel.name,
        "RoutingControlCount": sum(c.panel_arn == panel.arn for c in _store.controls.values()),
        "Status": panel.status,
        "Owner": DEFAULT_ACCOUNT_ID,
    }


def _control_json(control: RoutingControl) -> dict:
    return {
        "ControlPanelArn": control.panel_arn,
        "Name": control.name,
        "RoutingControlArn": control.arn,
        "Status": control.status,
        "Owner": DEFAULT_ACCOUNT_ID,
    }


def _rule_json(rule: AssertionRule) -> dict:
    return {
        "AssertedControls": list(rule.asserted),
        "ControlPanelArn": rule.panel_arn,
        "Name": rule.name,
        "RuleConfig": {"Type": rule.rule_type, "Threshold": rule.threshold, "Inverted": rule.inverted},
        "SafetyRuleArn": rule.arn,
        "Status": rule.status,
        "WaitPeriodMs": rule.wait_period_ms,
        "Owner": DEFAULT_ACCOUNT_ID,
    }


def create_cluster(params: dict, environ: dict) -> dict:
    name = _name(params, "ClusterName")
    network_type = params.get("NetworkType") or "IPV4"
    if network_type not in ("IPV4", "DUALSTACK"):
        raise _validation(f"NetworkType must be IPV4 or DUALSTACK, got {network_type!r}")
    tags = _tags(params)

    def make(deployed_at: float) -> Cluster:
        cluster_id = str(uuid.uuid4())
        cluster = Cluster(f"{ARN_PREFIX}cluster/{cluster_id}", name, deployed_at, tags, cluster_id, network_type)
        _store.clusters[cluster.arn] = cluster
        # "When you create a cluster, ARC creates a control panel" (ControlPanel.DefaultControlPanel).
        panel = ControlPanel(_panel_arn(), DEFAULT_PANEL_NAME, deployed_at, {}, cluster.arn, True)
        _store.panels[panel.arn] = panel
        return cluster

    return {"Cluster": _cluster_json(_created("CreateCluster", params, None, make), environ)}


def _panel_arn() -> str:
    return f"{ARN_PREFIX}controlpanel/{uuid.uuid4().hex}"


def describe_cluster(params: dict, environ: dict) -> dict:
    return {"Cluster": _cluster_json(_lookup(_store.clusters, params.get("ClusterArn"), "Cluster"), environ)}


def list_clusters(params: dict, environ: dict) -> dict:
    return _page([_cluster_json(c, environ) for c in _store.clusters.values()], params, "Clusters")


def delete_cluster(params: dict, environ: dict) -> dict:
    cluster = _lookup(_store.clusters, params.get("ClusterArn"), "Cluster")
    panels = [p for p in _store.panels.values() if p.cluster_arn == cluster.arn]
    if any(not p.default for p in panels) or any(c.panel_arn in {p.arn for p in panels} for c in _store.controls.values()):
        raise _conflict(f"cluster {cluster.arn} still has control panels or routing controls; delete them first")
    for panel in panels:
        del _store.panels[panel.arn]
    del _store.clusters[cluster.arn]
    return {}


def create_control_panel(params: dict, environ: dict) -> dict:
    cluster = _lookup(_store.clusters, params.get("ClusterArn"), "Cluster")
    name = _name(params, "ControlPanelName")
    tags = _tags(params)
    _deployed(cluster, "cluster")
    existing = next((p for p in _store.panels.values() if p.cluster_arn == cluster.arn and p.name == name), None)

    def make(deployed_at: float) -> ControlPanel:
        panel = ControlPanel(_panel_arn(), name, deployed_at, tags, cluster.arn, False)
        _store.panels[panel.arn] = panel
        return panel

    return {"ControlPanel": _panel_json(_created("CreateControlPanel", params, existing, make))}


def describe_control_panel(params: dict, environ: dict) -> dict:
    return {"ControlPanel": _panel_json(_lookup(_store.panels, params.get("ControlPanelArn"), "ControlPanel"))}


def list_control_panels(params: dict, environ: dict) -> dict:
    cluster_arn = params.get("ClusterArn")
    if cluster_arn is not None:
        _lookup(_store.clusters, cluster_arn, "Cluster")
    panels = [_panel_json(p) for p in _store.panels.values() if cluster_arn in (None, p.cluster_arn)]
    return _page(panels, params, "ControlPanels")


def delete_control_panel(params: dict, environ: dict) -> dict:
    panel = _lookup(_store.panels, params.get("ControlPanelArn"), "ControlPanel")
    if panel.default:
        raise _validation(f"{panel.arn} is its cluster's default control panel; it goes with the cluster")
    if any(c.panel_arn == panel.arn for c in _store.controls.values()) or any(
        r.panel_arn == panel.arn for r in _store.rules.values()
    ):
        raise _conflict(f"control panel {panel.arn} still has routing controls or safety rules; delete them first")
    del _store.panels[panel.arn]
    return {}


def create_routing_control(params: dict, environ: dict) -> dict:
    cluster = _lookup(_store.clusters, params.get("ClusterArn"), "Cluster")
    name = _name(params, "RoutingControlName")
    panel_arn = params.get("ControlPanelArn")
    if panel_arn is None:  # AWS puts it in the cluster's default control panel
        panel = next(p for p in _store.panels.values() if p.cluster_arn == cluster.arn and p.default)
    else:
        panel = _lookup(_store.panels, panel_arn, "ControlPanel")
        if panel.cluster_arn != cluster.arn:
            raise _validation(f"control panel {panel.arn} is not in cluster {cluster.arn}")
    _deployed(panel, "control panel")
    existing = next((c for c in _store.controls.values() if c.panel_arn == panel.arn and c.name == name), None)

    def make(deployed_at: float) -> RoutingControl:
        control = RoutingControl(f"{panel.arn}/routingcontrol/{uuid.uuid4().hex[:16]}", name, deployed_at, {}, panel.arn)
        _store.controls[control.arn] = control
        return control

    return {"RoutingControl": _control_json(_created("CreateRoutingControl", params, existing, make))}


def describe_routing_control(params: dict, environ: dict) -> dict:
    return {"RoutingControl": _control_json(_lookup(_store.controls, params.get("RoutingControlArn"), "RoutingControl"))}


def list_routing_controls(params: dict, environ: dict) -> dict:
    panel = _lookup(_store.panels, params.get("ControlPanelArn"), "ControlPanel")
    controls = [_control_json(c) for c in _store.controls.values() if c.panel_arn == panel.arn]
    return _page(controls, params, "RoutingControls")


def delete_routing_control(params: dict, environ: dict) -> dict:
    control = _lookup(_store.controls, params.get("RoutingControlArn"), "RoutingControl")
    used_by = [r.arn for r in _store.rules.values() if control.arn in r.asserted]
    if used_by:
        raise _conflict(f"routing control {control.arn} is asserted by safety rule(s) {', '.join(used_by)}")
    del _store.controls[control.arn]
    return {}


def create_safety_rule(params: dict, environ: dict) -> dict:
    if "GatingRule" in params:
        raise _validation("pl-emulator does not support gating rules, only AssertionRule")
    new = params.get("AssertionRule")
    if not isinstance(new, dict):
        raise _validation("CreateSafetyRule needs an AssertionRule")
    panel = _lookup(_store.panels, new.get("ControlPanelArn"), "ControlPanel")
    name = _name(new, "Name")
    asserted, config, wait = new.get("AssertedControls"), new.get("RuleConfig"), new.get("WaitPeriodMs")
    if not isinstance(asserted, list) or not asserted:
        raise _validation("AssertedControls must be a non-empty list of routing control ARNs")
    for arn in asserted:
        if _lookup(_store.controls, arn, "RoutingControl").panel_arn != panel.arn:
            raise _validation(f"routing control {arn} is not in control panel {panel.arn}")
    if not isinstance(config, dict) or config.get("Type") not in RULE_TYPES:
        raise _validation(f"RuleConfig needs Type ATLEAST, AND or OR, Threshold and Inverted, got {config!r}")
    threshold, inverted = config.get("Threshold"), config.get("Inverted")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not isinstance(inverted, bool):
        raise _validation("RuleConfig's Threshold must be an integer and Inverted a boolean")
    if config["Type"] == "ATLEAST" and not 1 <= threshold <= len(asserted):
        raise _validation(f"an ATLEAST Threshold must be from 1 to {len(asserted)}, got {threshold}")
    if not isinstance(wait, int) or isinstance(wait, bool) or wait < 0:
        raise _validation(f"WaitPeriodMs must be a non-negative integer, got {wait!r}")
    tags = _tags(params)
    _deployed(panel, "control panel")
    existing = next((r for r in _store.rules.values() if r.panel_arn == panel.arn and r.name == name), None)

    def make(deployed_at: float) -> AssertionRule:
        rule = AssertionRule(
            f"{panel.arn}/safetyrule/{uuid.uuid4().hex[:16]}", name, deployed_at, tags, panel.arn,
            list(asserted), config["Type"], threshold, inverted, wait,
        )
        _store.rules[rule.arn] = rule
        return rule

    return {"AssertionRule": _rule_json(_created("CreateSafetyRule", params, existing, make))}


def describe_safety_rule(params: dict, environ: dict) -> dict:
    return {"AssertionRule": _rule_json(_lookup(_store.rules, params.get("SafetyRuleArn"), "SafetyRule"))}


def list_safety_rules(params: dict, environ: dict) -> dict:
    panel = _lookup(_store.panels, params.get("ControlPanelArn"), "ControlPanel")
    rules = [{"ASSERTION": _rule_json(r)} for r in _store.rules.values() if r.panel_arn == panel.arn]
    return _page(rules, params, "SafetyRules")


def delete_safety_rule(params: dict, environ: dict) -> dict:
    rule = _lookup(_store.rules, params.get("SafetyRuleArn"), "SafetyRule")
    del _store.rules[rule.arn]
    return {}


def _tagged(params: dict) -> Resource:
    arn = params.get("ResourceArn")
    resource = _store.resource(arn) if isinstance(arn, str) else None
    if resource is None:
        raise _not_found("Resource", arn, 404)
    return resource


def list_tags_for_resource(params: dict, environ: dict) -> dict:
    return {"Tags": dict(_tagged(params).tags)}


def tag_resource(params: dict, environ: dict) -> dict:
    resource = _tagged(params)
    resource.tags.update(_tags(params))
    return {}


def untag_resource(params: dict, environ: dict) -> dict:
    resource = _tagged(params)
    for key in params.get("TagKeys") or []:
        resource.tags.pop(key, None)
    return {}


CONFIG_HANDLERS = {
    "CreateCluster": create_cluster,
    "DescribeCluster": describe_cluster,
    "ListClusters": list_clusters,
    "DeleteCluster": delete_cluster,
    "CreateControlPanel": create_control_panel,
    "DescribeControlPanel": describe_control_panel,
    "ListControlPanels": list_control_panels,
    "DeleteControlPanel": delete_control_panel,
    "CreateRoutingControl": create_routing_control,
    "DescribeRoutingControl": describe_routing_control,
    "ListRoutingControls": list_routing_controls,
    "DeleteRoutingControl": delete_routing_control,
    "CreateSafetyRule": create_safety_rule,
    "DescribeSafetyRule": describe_safety_rule,
    "ListSafetyRules": list_safety_rules,
    "DeleteSafetyRule": delete_safety_rule,
    "ListTagsForResource": list_tags_for_resource,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
}


# --- cluster data plane (awsJson1_0) -----------------------------------------------------
# https://docs.aws.amazon.com/routing-control/latest/APIReference/ : every error but
# InternalServerException is HTTP 400 there.


def _serve_cluster(environ: dict, body: bytes, action: str) -> dict:
    endpoint = ENDPOINT_PATH.match(environ.get("PATH_INFO", ""))
    cluster = None
    if endpoint and endpoint.group("region") in ENDPOINT_REGIONS:
        cluster = next((c for c in _store.clusters.values() if c.id == endpoint.group("cluster")), None)
    if cluster is None:
        raise ArcError(
            "ResourceNotFoundException", 400,
            f"no cluster endpoint at {environ.get('PATH_INFO')}: pl-emulator serves a cluster's endpoints at "
            "/arc-cluster/<cluster id>/<region>/v1, for the regions of its ClusterEndpoints",
            resourceId=environ.get("PATH_INFO", ""), resourceType="ClusterEndpoint",
        )
    signed = _signing_region(environ)
    if signed is not None and signed != endpoint.group("region"):
        raise _wrong_region(signed)
    if cluster.status != "DEPLOYED":
        # The emulator's choice: a PENDING cluster's endpoints do not serve yet.
        raise ArcError(
            "EndpointTemporarilyUnavailableException", 400,
            f"The cluster endpoint isn't available. Try another cluster endpoint. (cluster {cluster.arn} is PENDING)",
        )
    handler = CLUSTER_HANDLERS.get(action)
    if handler is None:
        raise ArcError("UnknownOperationException", 400, f"unknown operation {action}")
    return handler(cluster, _json_object(body))


def _cluster_controls(cluster: Cluster) -> dict[str, RoutingControl]:
    """The cluster's DEPLOYED routing controls: the data plane does not know the others yet."""
    panels = {p.arn for p in _store.panels.values() if p.cluster_arn == cluster.arn}
    return {a: c for a, c in _store.controls.items() if c.panel_arn in panels and c.status == "DEPLOYED"}


def _control(cluster: Cluster, arn) -> RoutingControl:
    return _lookup(_cluster_controls(cluster), arn, "RoutingControl", status=400)


def get_routing_control_state(cluster: Cluster, params: dict) -> dict:
    control = _control(cluster, params.get("RoutingControlArn"))
    return {"RoutingControlArn": control.arn, "RoutingControlState": control.state, "RoutingControlName": control.name}


def list_cluster_routing_controls(cluster: Cluster, params: dict) -> dict:
    """ListRoutingControls: the controls of one control panel, or of the whole cluster."""
    panel_arn = params.get("ControlPanelArn")
    if panel_arn is not None:
        panel = _store.panels.get(panel_arn)
        if panel is None or panel.cluster_arn != cluster.arn:
            raise _not_found("ControlPanel", panel_arn, 400)
    controls = [
        {
            "ControlPanelArn": c.panel_arn,
            "ControlPanelName": _store.panels[c.panel_arn].name,
            "RoutingControlArn": c.arn,
            "RoutingControlName": c.name,
            "RoutingControlState": c.state,
            "Owner": DEFAULT_ACCOUNT_ID,
        }
        for c in _cluster_controls(cluster).values()
        if panel_arn in (None, c.panel_arn)
    ]
    return _page(controls, params, "RoutingControls", DEFAULT_PAGE)


def update_routing_control_state(cluster: Cluster, params: dict) -> dict:
    entry = {"RoutingControlArn": params.get("RoutingControlArn"), "RoutingControlState": params.get("RoutingControlState")}
    _update(cluster, [entry], params.get("SafetyRulesToOverride"))
    return {}


def update_routing_control_states(cluster: Cluster, params: dict) -> dict:
    entries = params.get("UpdateRoutingControlStateEntries")
    if not isinstance(entries, list) or not entries:
        raise _validation("UpdateRoutingControlStateEntries must be a non-empty list")
    _update(cluster, entries, params.get("SafetyRulesToOverride"))
    return {}


def _update(cluster: Cluster, entries: list, overrides) -> None:
    """Applies all entries or none: assertion rules are evaluated on the states after the whole update.

    A rule is evaluated when the update sets one of its asserted controls, unless it is
    in SafetyRulesToOverride (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.override-safety-rule.html);
    rules still PENDING are not enforced yet. WaitPeriodMs is not modelled.
    """
    controls = _cluster_controls(cluster)
    changes: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise _validation("each entry needs RoutingControlArn and RoutingControlState")
        control = _lookup(controls, entry.get("RoutingControlArn"), "RoutingControl", status=400)
        state = entry.get("RoutingControlState")
        if state not in STATES:
            raise _validation(f"RoutingControlState must be On or Off, got {state!r}")
        if changes.get(control.arn, state) != state:
            raise _validation(f"routing control {control.arn} is set both On and Off")
        changes[control.arn] = state
    if overrides is not None and not (isinstance(overrides, list) and all(isinstance(a, str) for a in overrides)):
        raise _validation("SafetyRulesToOverride must be a list of safety rule ARNs")
    would_be = {arn: control.state for arn, control in _store.controls.items()} | changes
    violated = [
        rule
        for rule in _store.rules.values()
        if rule.status == "DEPLOYED"
        and rule.arn not in (overrides or [])
        and set(rule.asserted) & set(changes)
        and not rule.holds(would_be)
    ]
    if violated:
        # "When a safety rule blocks a routing control state update, the error message includes the ARN of the rule."
        named = ", ".join(f"{rule.name} ({rule.arn})" for rule in violated)
        raise _conflict(
            f"Cannot update routing control states: the update would violate safety rule(s) {named}",
            status=400, resourceId=violated[0].arn, resourceType="SafetyRule",
        )
    for arn, state in changes.items():
        controls[arn].state = state


CLUSTER_HANDLERS = {
    "GetRoutingControlState": get_routing_control_state,
    "ListRoutingControls": list_cluster_routing_controls,
    "UpdateRoutingControlState": update_routing_control_state,
    "UpdateRoutingControlStates": update_routing_control_states,
}
