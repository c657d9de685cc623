"""Route 53 ARC: the configuration API in us-west-2, routing control states on the five cluster endpoints."""

import json
import re

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from conftest import CREDENTIALS, PRIMARY, STANDBY, error_code, wait_for
from werkzeug.test import Client

CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError)
CONFIG, CLUSTER = "route53-recovery-control-config", "route53-recovery-cluster"
ENDPOINT_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "ap-southeast-2"]
ARN = "arn:aws:route53-recovery-control::123456789012:"
CLUSTER_ARN = re.compile(rf"^{ARN}cluster/[0-9a-f-]{{36}}$")
PANEL_ARN = re.compile(rf"^{ARN}controlpanel/[0-9a-f]{{32}}$")


@pytest.fixture
def config(emulator):
    return emulator.client(CONFIG, STANDBY)


def endpoint_clients(cluster: dict) -> dict:
    """A data-plane client per ClusterEndpoint, by its Region, as AWS's examples make them."""
    return {
        endpoint["Region"]: boto3.client(
            CLUSTER,
            endpoint_url=endpoint["Endpoint"],
            region_name=endpoint["Region"],
            config=Config(retries={"total_max_attempts": 1}),
            **CREDENTIALS,
        )
        for endpoint in cluster["ClusterEndpoints"]
    }


@pytest.fixture
def deployed(config):
    """A cluster with two routing controls in a control panel of its own, and its endpoint clients."""
    cluster = config.create_cluster(ClusterName="pl-arc")["Cluster"]
    panel = config.create_control_panel(ClusterArn=cluster["ClusterArn"], ControlPanelName="app")["ControlPanel"]
    controls = [
        config.create_routing_control(
            ClusterArn=cluster["ClusterArn"], ControlPanelArn=panel["ControlPanelArn"], RoutingControlName=name
        )["RoutingControl"]["RoutingControlArn"]
        for name in ("primary", "standby")
    ]
    return cluster, panel, controls, endpoint_clients(cluster)


def at_least_one_on(config, panel: dict, controls: list[str]) -> str:
    return config.create_safety_rule(
        AssertionRule={
            "ControlPanelArn": panel["ControlPanelArn"],
            "Name": "at-least-one-on",
            "AssertedControls": controls,
            "RuleConfig": {"Type": "ATLEAST", "Threshold": 1, "Inverted": False},
            "WaitPeriodMs": 5000,
        }
    )["AssertionRule"]["SafetyRuleArn"]


def status_and_code(raised) -> tuple[int, str]:
    return raised.value.response["ResponseMetadata"]["HTTPStatusCode"], error_code(raised)


def states(client, controls: list[str]) -> list[str]:
    return [client.get_routing_control_state(RoutingControlArn=arn)["RoutingControlState"] for arn in controls]


def test_cluster_endpoints_default_panel_and_arns(emulator, config):
    cluster = config.create_cluster(ClusterName="pl-arc", Tags={"app": "pl"})["Cluster"]
    assert CLUSTER_ARN.match(cluster["ClusterArn"]) and cluster["Status"] == "DEPLOYED"
    assert (cluster["Name"], cluster["Owner"], cluster["NetworkType"]) == ("pl-arc", "123456789012", "IPV4")
    cluster_id = cluster["ClusterArn"].rsplit("/", 1)[1]
    assert cluster["ClusterEndpoints"] == [
        {"Endpoint": f"{emulator.endpoint}/arc-cluster/{cluster_id}/{region}/v1", "Region": region}
        for region in ENDPOINT_REGIONS
    ]
    [default] = config.list_control_panels(ClusterArn=cluster["ClusterArn"])["ControlPanels"]
    assert PANEL_ARN.match(default["ControlPanelArn"])
    assert (default["Name"], default["DefaultControlPanel"], default["Status"]) == ("DefaultControlPanel", True, "DEPLOYED")
    panel = config.create_control_panel(ClusterArn=cluster["ClusterArn"], ControlPanelName="app")["ControlPanel"]
    assert panel["DefaultControlPanel"] is False and panel["RoutingControlCount"] == 0
    in_default = config.create_routing_control(ClusterArn=cluster["ClusterArn"], RoutingControlName="rc")["RoutingControl"]
    assert in_default["ControlPanelArn"] == default["ControlPanelArn"]
    assert re.match(rf"^{re.escape(default['ControlPanelArn'])}/routingcontrol/[0-9a-f]{{16}}$", in_default["RoutingControlArn"])
    described = config.describe_control_panel(ControlPanelArn=default["ControlPanelArn"])["ControlPanel"]
    assert described["RoutingControlCount"] == 1
    assert config.describe_cluster(ClusterArn=cluster["ClusterArn"])["Cluster"] == cluster
    assert [c["ClusterArn"] for c in config.list_clusters()["Clusters"]] == [cluster["ClusterArn"]]
    assert config.list_tags_for_resource(ResourceArn=cluster["ClusterArn"])["Tags"] == {"app": "pl"}
    config.tag_resource(ResourceArn=panel["ControlPanelArn"], Tags={"team": "dr", "tier": "1"})
    config.untag_resource(ResourceArn=panel["ControlPanelArn"], TagKeys=["tier"])
    assert config.list_tags_for_resource(ResourceArn=panel["ControlPanelArn"])["Tags"] == {"team": "dr"}
    calls = [(c["service"], c["region"], c["action"], c["outcome"]) for c in emulator.calls()]
    assert calls[:2] == [(CONFIG, STANDBY, "CreateCluster", "ok"), (CONFIG, STANDBY, "ListControlPanels", "ok")]


def test_creates_are_idempotent_on_client_token(config):
    first = config.create_cluster(ClusterName="pl-arc", ClientToken="token-1")["Cluster"]
    again = config.create_cluster(ClusterName="pl-arc", ClientToken="token-1")["Cluster"]
    assert again == first
    assert len(config.list_clusters()["Clusters"]) == 1
    with pytest.raises(ClientError) as raised:
        config.create_cluster(ClusterName="other", ClientToken="token-1")
    assert status_and_code(raised) == (409, "ConflictException")
    other = config.create_cluster(ClusterName="pl-arc")["Cluster"]  # boto3 fills in a new token
    assert other["ClusterArn"] != first["ClusterArn"]
    control = dict(ClusterArn=first["ClusterArn"], RoutingControlName="rc", ClientToken="token-2")
    created = config.create_routing_control(**control)["RoutingControl"]
    assert config.create_routing_control(**control)["RoutingControl"] == created
    [default] = config.list_control_panels(ClusterArn=first["ClusterArn"])["ControlPanels"]
    assert len(config.list_routing_controls(ControlPanelArn=default["ControlPanelArn"])["RoutingControls"]) == 1
    with pytest.raises(ClientError) as raised:  # another token, the same name in the same panel
        config.create_routing_control(ClusterArn=first["ClusterArn"], RoutingControlName="rc")
    assert status_and_code(raised) == (409, "ConflictException")


def test_cluster_is_pending_for_its_duration(emulator, config):
    emulator.set_durations({f"{CONFIG}:CreateCluster": 1})
    cluster = config.create_cluster(ClusterName="pl-arc")["Cluster"]
    assert cluster["Status"] == "PENDING"
    [default] = config.list_control_panels(ClusterArn=cluster["ClusterArn"])["ControlPanels"]
    assert default["Status"] == "PENDING"
    with pytest.raises(ClientError) as raised:
        config.create_control_panel(ClusterArn=cluster["ClusterArn"], ControlPanelName="app")
    assert status_and_code(raised) == (409, "ConflictException")
    with pytest.raises(ClientError) as raised:
        endpoint_clients(cluster)["us-east-1"].list_routing_controls()
    assert status_and_code(raised) == (400, "EndpointTemporarilyUnavailableException")
    status = wait_for(
        lambda: config.describe_cluster(ClusterArn=cluster["ClusterArn"])["Cluster"]["Status"],
        lambda value: value == "DEPLOYED",
    )
    assert status == "DEPLOYED"
    assert config.create_control_panel(ClusterArn=cluster["ClusterArn"], ControlPanelName="app")["ControlPanel"][
        "Status"
    ] == "DEPLOYED"
    assert endpoint_clients(cluster)["us-east-1"].list_routing_controls()["RoutingControls"] == []


def test_states_start_off_and_every_endpoint_sees_an_update(emulator, config, deployed):
    cluster, panel, (primary, standby), clients = deployed
    assert states(clients["us-east-1"], [primary, standby]) == ["Off", "Off"]
    clients["us-east-1"].update_routing_control_state(RoutingControlArn=primary, RoutingControlState="On")
    for region in ENDPOINT_REGIONS:
        assert states(clients[region], [primary, standby]) == ["On", "Off"], region
    listed = clients["ap-southeast-2"].list_routing_controls(ControlPanelArn=panel["ControlPanelArn"])["RoutingControls"]
    assert [(c["RoutingControlName"], c["RoutingControlState"], c["ControlPanelName"]) for c in listed] == [
        ("primary", "On", "app"),
        ("standby", "Off", "app"),
    ]
    clients["eu-west-1"].update_routing_control_states(
        UpdateRoutingControlStateEntries=[
            {"RoutingControlArn": primary, "RoutingControlState": "Off"},
            {"RoutingControlArn": standby, "RoutingControlState": "On"},
        ]
    )
    assert states(clients["us-west-2"], [primary, standby]) == ["Off", "On"]
    assert emulator.control("GET", "arc") == (200, {"routingControls": {primary: "Off", standby: "On"}})
    with pytest.raises(ClientError) as raised:  # one unknown ARN: nothing changes
        clients["eu-west-1"].update_routing_control_states(
            UpdateRoutingControlStateEntries=[
                {"RoutingControlArn": primary, "RoutingControlState": "On"},
                {"RoutingControlArn": f"{panel['ControlPanelArn']}/routingcontrol/0000000000000000", "RoutingControlState": "On"},
            ]
        )
    assert status_and_code(raised) == (400, "ResourceNotFoundException")
    assert states(clients["us-west-2"], [primary, standby]) == ["Off", "On"]
    log = [(c["service"], c["region"], c["action"]) for c in emulator.calls() if c["service"] == CLUSTER]
    assert log[:3] == [(CLUSTER, "us-east-1", "GetRoutingControlState")] * 2 + [
        (CLUSTER, "us-east-1", "UpdateRoutingControlState")
    ]
    assert (CLUSTER, "ap-southeast-2", "ListRoutingControls") in log
    assert (CLUSTER, "eu-west-1", "UpdateRoutingControlStates") in log


def test_assertion_rule_refuses_all_off_unless_overridden(config, deployed):
    _, panel, controls, clients = deployed
    client = clients["us-west-2"]
    client.update_routing_control_states(
        UpdateRoutingControlStateEntries=[{"RoutingControlArn": arn, "RoutingControlState": "On"} for arn in controls]
    )
    rule = at_least_one_on(config, panel, controls)
    assert config.list_safety_rules(ControlPanelArn=panel["ControlPanelArn"])["SafetyRules"] == [
        {"ASSERTION": config.describe_safety_rule(SafetyRuleArn=rule)["AssertionRule"]}
    ]
    all_off = [{"RoutingControlArn": arn, "RoutingControlState": "Off"} for arn in controls]
    with pytest.raises(ClientError) as raised:
        client.update_routing_control_states(UpdateRoutingControlStateEntries=all_off)
    assert status_and_code(raised) == (400, "ConflictException")
    assert rule in raised.value.response["Error"]["Message"]
    assert states(client, controls) == ["On", "On"]  # nothing changed
    client.update_routing_control_state(RoutingControlArn=controls[0], RoutingControlState="Off")
    with pytest.raises(ClientError) as raised:
        client.update_routing_control_state(RoutingControlArn=controls[1], RoutingControlState="Off")
    assert error_code(raised) == "ConflictException"
    assert states(client, controls) == ["Off", "On"]
    client.update_routing_control_state(  # break glass
        RoutingControlArn=controls[1], RoutingControlState="Off", SafetyRulesToOverride=[rule]
    )
    assert states(client, controls) == ["Off", "Off"]
    client.update_routing_control_state(RoutingControlArn=controls[0], RoutingControlState="On")  # satisfies it again
    assert states(client, controls) == ["On", "Off"]


def test_four_endpoints_out_the_fifth_answers(emulator, deployed):
    _, _, (primary, _), clients = deployed
    emulator.control("DELETE", "calls")
    out = ENDPOINT_REGIONS[:4]
    for region in out:
        emulator.add_fault(region=region, service=CLUSTER, kind="outage")
    for region in out:
        with pytest.raises(CONNECTION_ERRORS):
            clients[region].update_routing_control_state(RoutingControlArn=primary, RoutingControlState="On")
    clients["ap-southeast-2"].update_routing_control_state(RoutingControlArn=primary, RoutingControlState="On")
    assert states(clients["ap-southeast-2"], [primary]) == ["On"]
    assert [(c["service"], c["region"], c["action"], c["outcome"]) for c in emulator.calls()] == [
        (CLUSTER, region, "UpdateRoutingControlState", "outage") for region in out
    ] + [
        (CLUSTER, "ap-southeast-2", "UpdateRoutingControlState", "ok"),
        (CLUSTER, "ap-southeast-2", "GetRoutingControlState", "ok"),
    ]


def test_a_region_outage_takes_out_its_endpoint_not_the_configuration_api(emulator, config, deployed):
    cluster, _, (primary, _), clients = deployed
    emulator.add_fault(region=PRIMARY, service="*", kind="outage")
    with pytest.raises(CONNECTION_ERRORS):
        states(clients[PRIMARY], [primary])
    assert states(clients["eu-west-1"], [primary]) == ["Off"]
    assert config.describe_cluster(ClusterArn=cluster["ClusterArn"])["Cluster"]["Status"] == "DEPLOYED"
    emulator.add_fault(region=STANDBY, service=CONFIG, kind="throttle")
    with pytest.raises(ClientError) as raised:
        config.list_clusters()
    assert error_code(raised) == "ThrottlingException"
    assert states(clients[STANDBY], [primary]) == ["Off"]  # the data plane of that region still answers


def test_configuration_api_only_in_us_west_2(emulator):
    with pytest.raises(ClientError) as raised:
        emulator.client(CONFIG, PRIMARY).list_clusters()
    assert status_and_code(raised) == (403, "InvalidSignatureException")
    [call] = emulator.calls()
    assert (call["service"], call["region"], call["action"], call["code"]) == (
        CONFIG, PRIMARY, "ListClusters", "InvalidSignatureException"
    )


def test_endpoint_must_be_signed_for_its_region(deployed):
    cluster, _, (primary, _), _ = deployed
    [endpoint] = [e for e in cluster["ClusterEndpoints"] if e["Region"] == "eu-west-1"]
    client = boto3.client(
        CLUSTER, endpoint_url=endpoint["Endpoint"], region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS,
    )
    with pytest.raises(ClientError) as raised:
        client.get_routing_control_state(RoutingControlArn=primary)
    assert status_and_code(raised) == (403, "InvalidSignatureException")


def test_errors(config, deployed):
    cluster, panel, controls, clients = deployed
    with pytest.raises(ClientError) as raised:
        config.describe_routing_control(RoutingControlArn=f"{panel['ControlPanelArn']}/routingcontrol/0000000000000000")
    assert status_and_code(raised) == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as raised:
        config.describe_cluster(ClusterArn=panel["ControlPanelArn"])
    assert status_and_code(raised) == (404, "ResourceNotFoundException")
    rule = at_least_one_on(config, panel, controls)
    with pytest.raises(ClientError) as raised:
        config.delete_routing_control(RoutingControlArn=controls[0])
    assert status_and_code(raised) == (409, "ConflictException")
    with pytest.raises(ClientError) as raised:
        config.delete_cluster(ClusterArn=cluster["ClusterArn"])
    assert status_and_code(raised) == (409, "ConflictException")
    gating = {
        "ControlPanelArn": panel["ControlPanelArn"], "Name": "gate", "GatingControls": controls[:1],
        "TargetControls": controls[1:], "RuleConfig": {"Type": "OR", "Threshold": 1, "Inverted": False},
        "WaitPeriodMs": 5000,
    }
    with pytest.raises(ClientError) as raised:
        config.create_safety_rule(GatingRule=gating)
    assert status_and_code(raised) == (400, "ValidationException")
    [default] = [p for p in config.list_control_panels()["ControlPanels"] if p["DefaultControlPanel"]]
    with pytest.raises(ClientError) as raised:
        config.delete_control_panel(ControlPanelArn=default["ControlPanelArn"])
    assert status_and_code(raised) == (400, "ValidationException")
    other = config.create_cluster(ClusterName="other")["Cluster"]
    with pytest.raises(ClientError) as raised:  # a control of another cluster
        endpoint_clients(other)["us-east-1"].get_routing_control_state(RoutingControlArn=controls[0])
    assert status_and_code(raised) == (400, "ResourceNotFoundException")
    config.delete_safety_rule(SafetyRuleArn=rule)
    for arn in controls:
        config.delete_routing_control(RoutingControlArn=arn)
    config.delete_control_panel(ControlPanelArn=panel["ControlPanelArn"])
    config.delete_cluster(ClusterArn=cluster["ClusterArn"])
    assert [c["ClusterArn"] for c in config.list_clusters()["Clusters"]] == [other["ClusterArn"]]
    assert [p["ClusterArn"] for p in config.list_control_panels()["ControlPanels"]] == [other["ClusterArn"]]
    with pytest.raises(ClientError) as raised:
        clients["us-east-1"].list_routing_controls()
    assert status_and_code(raised) == (400, "ResourceNotFoundException")


def test_reset_clears_arc(emulator, config, deployed):
    cluster, _, (primary, _), clients = deployed
    clients["us-east-1"].update_routing_control_state(RoutingControlArn=primary, RoutingControlState="On")
    assert emulator.control("POST", "reset") == (200, {"ok": True})
    assert emulator.control("GET", "arc") == (200, {"routingControls": {}})
    assert config.list_clusters()["Clusters"] == []
    with pytest.raises(ClientError) as raised:
        config.describe_cluster(ClusterArn=cluster["ClusterArn"])
    assert status_and_code(raised) == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as raised:
        clients["us-east-1"].get_routing_control_state(RoutingControlArn=primary)
    assert error_code(raised) == "ResourceNotFoundException"


def test_routing_control_state_for_route53_health_checks():
    """The module function RECOVERY_CONTROL health checks read, in this process's own gateway."""
    from pl_emulator import arc
    from pl_emulator.server import build_app

    client = Client(build_app())

    def signed(region: str, service: str) -> dict:
        scope = f"AKIDEXAMPLE/20260101/{region}/{service}/aws4_request"
        return {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"}

    cluster = client.post("/cluster", json={"ClusterName": "in-process"}, headers=signed(STANDBY, CONFIG)).json["Cluster"]
    control = client.post(
        "/routingcontrol", json={"ClusterArn": cluster["ClusterArn"], "RoutingControlName": "rc"},
        headers=signed(STANDBY, CONFIG),
    ).json["RoutingControl"]["RoutingControlArn"]
    assert arc.routing_control_state(control) == "Off"
    endpoint = cluster["ClusterEndpoints"][0]["Endpoint"].split("/", 3)[3]
    answer = client.post(
        f"/{endpoint}/",
        data=json.dumps({"RoutingControlArn": control, "RoutingControlState": "On"}),
        headers={**signed("us-east-1", CLUSTER), "X-Amz-Target": "ToggleCustomerAPI.UpdateRoutingControlState",
                 "Content-Type": "application/x-amz-json-1.0"},
    )
    assert answer.status_code == 200, answer.data
    assert arc.routing_control_state(control) == "On"
    assert arc.routing_control_state(control + "0") is None
    arc.reset()
    assert arc.routing_control_state(control) is None
