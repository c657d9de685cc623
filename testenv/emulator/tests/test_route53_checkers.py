"""Route 53's health checkers: every health check type's status, debouncing, Inverted and Disabled."""

import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.config import Config
from conftest import CREDENTIALS, PRIMARY, STANDBY, wait_for

PRIMARY_ALB = "primary-alb-1234567890.us-east-1.elb.amazonaws.com"
STANDBY_ALB = "dr-alb-1234567890.us-west-2.elb.amazonaws.com"
ARN = "arn:aws:route53-recovery-control::123456789012:"
#: The operator's traffic switch alarm (src/aws/cloudwatch.rs).
SWITCH = {
    "AlarmName": "pl-switch",
    "Namespace": "PilotLight",
    "MetricName": "TrafficToStandby",
    "Dimensions": [{"Name": "PilotLight", "Value": "default/app"}],
    "Statistic": "Maximum",
    "Period": 10,
    "EvaluationPeriods": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "ignore",
}


@pytest.fixture
def route53(emulator):
    return emulator.client("route53")


def create(route53, reference: str, **config) -> str:
    return route53.create_health_check(CallerReference=reference, HealthCheckConfig=config)["HealthCheck"]["Id"]


def endpoint(route53, reference: str, fqdn: str = PRIMARY_ALB, **config) -> str:
    config = {"Type": "HTTPS", "FullyQualifiedDomainName": fqdn, "Port": 443, "ResourcePath": "/health",
              "RequestInterval": 10, "FailureThreshold": 3, **config}
    return create(route53, reference, **config)


def publish(cloudwatch, value: float, at: datetime | None = None) -> None:
    datum = {"MetricName": SWITCH["MetricName"], "Dimensions": SWITCH["Dimensions"], "Value": value,
             "Timestamp": at or datetime.now(timezone.utc)}
    cloudwatch.put_metric_data(Namespace=SWITCH["Namespace"], MetricData=[datum])


def later_period(seconds: int = 10) -> datetime:
    """A timestamp in the next 10-second period: a publication there is evaluated on its own."""
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def routing_control(emulator) -> tuple[str, object]:
    """A deployed routing control (Off) and a client of its cluster's us-west-2 endpoint."""
    config = emulator.client("route53-recovery-control-config", STANDBY)
    cluster = config.create_cluster(ClusterName="pl-arc")["Cluster"]
    arn = config.create_routing_control(ClusterArn=cluster["ClusterArn"], RoutingControlName="primary")[
        "RoutingControl"]["RoutingControlArn"]
    [url] = [e["Endpoint"] for e in cluster["ClusterEndpoints"] if e["Region"] == STANDBY]
    return arn, boto3.client("route53-recovery-cluster", endpoint_url=url, region_name=STANDBY,
                             config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS)


def test_every_health_check_config_member_round_trips(route53):
    """moto drops RoutingControlArn, AlarmIdentifier and InsufficientDataHealthStatus; they are kept now."""
    control = create(route53, "rc", Type="RECOVERY_CONTROL", RoutingControlArn=f"{ARN}controlpanel/p/routingcontrol/r")
    alarm = create(route53, "cw", Type="CLOUDWATCH_METRIC", AlarmIdentifier={"Region": STANDBY, "Name": "pl-switch"},
                   InsufficientDataHealthStatus="Healthy", Inverted=True)
    both = create(route53, "calc", Type="CALCULATED", ChildHealthChecks=[control, alarm], HealthThreshold=2,
                  Disabled=True)
    expected = {
        control: {"Type": "RECOVERY_CONTROL", "RoutingControlArn": f"{ARN}controlpanel/p/routingcontrol/r"},
        alarm: {"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": STANDBY, "Name": "pl-switch"},
                "InsufficientDataHealthStatus": "Healthy", "Inverted": True},
        both: {"Type": "CALCULATED", "ChildHealthChecks": [control, alarm], "HealthThreshold": 2, "Disabled": True},
    }
    listed = {check["Id"]: check["HealthCheckConfig"] for check in route53.list_health_checks()["HealthChecks"]}
    for check_id, members in expected.items():
        got = route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]
        assert {key: got.get(key) for key in members} == members
        assert {key: listed[check_id].get(key) for key in members} == members
    # the same request is the same health check; another alarm is another configuration
    assert create(route53, "cw", Type="CLOUDWATCH_METRIC", AlarmIdentifier={"Region": STANDBY, "Name": "pl-switch"},
                  InsufficientDataHealthStatus="Healthy", Inverted=True) == alarm
    with pytest.raises(route53.exceptions.HealthCheckAlreadyExists):
        create(route53, "cw", Type="CLOUDWATCH_METRIC", AlarmIdentifier={"Region": STANDBY, "Name": "other"},
               InsufficientDataHealthStatus="Healthy", Inverted=True)
    route53.update_health_check(HealthCheckId=alarm, AlarmIdentifier={"Region": PRIMARY, "Name": "other"},
                                InsufficientDataHealthStatus="LastKnownStatus")
    got = route53.get_health_check(HealthCheckId=alarm)["HealthCheck"]["HealthCheckConfig"]
    assert (got["AlarmIdentifier"], got["InsufficientDataHealthStatus"]) == (
        {"Region": PRIMARY, "Name": "other"}, "LastKnownStatus")


def test_recovery_control_health_follows_the_routing_control(emulator, route53):
    arn, cluster = routing_control(emulator)
    check = create(route53, "rc", Type="RECOVERY_CONTROL", RoutingControlArn=arn)
    missing = create(route53, "none", Type="RECOVERY_CONTROL", RoutingControlArn=f"{arn}-gone")
    assert emulator.health_checks() == {check: False, missing: False}  # new routing controls are Off
    cluster.update_routing_control_state(RoutingControlArn=arn, RoutingControlState="On")
    assert emulator.health_checks() == {check: True, missing: False}
    [observation, *_] = route53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"]
    assert observation["StatusReport"]["Status"] == "Success: routing control state On"
    cluster.update_routing_control_state(RoutingControlArn=arn, RoutingControlState="Off")
    assert emulator.health_checks()[check] is False


@pytest.mark.parametrize("insufficient", ["Healthy", "Unhealthy", "LastKnownStatus"])
def test_cloudwatch_metric_health_follows_the_alarm(emulator, route53, insufficient):
    cloudwatch = emulator.client("cloudwatch", STANDBY)
    check = create(route53, "cw", Type="CLOUDWATCH_METRIC", AlarmIdentifier={"Region": STANDBY, "Name": "pl-switch"},
                   InsufficientDataHealthStatus=insufficient)
    # no alarm yet, then a new alarm: INSUFFICIENT_DATA
    expected_without_data = insufficient != "Unhealthy"
    assert emulator.health_checks()[check] is expected_without_data
    cloudwatch.put_metric_alarm(**SWITCH)
    assert emulator.health_checks()[check] is expected_without_data
    publish(cloudwatch, 1)
    assert emulator.health_checks()[check] is False
    publish(cloudwatch, 0, later_period())
    assert emulator.health_checks()[check] is True
    cloudwatch.set_alarm_state(AlarmName="pl-switch", StateValue="ALARM", StateReason="test")
    assert emulator.health_checks()[check] is False
    cloudwatch.set_alarm_state(AlarmName="pl-switch", StateValue="INSUFFICIENT_DATA", StateReason="test")
    # LastKnownStatus: unhealthy, as in ALARM just before
    assert emulator.health_checks()[check] is {"Healthy": True, "Unhealthy": False, "LastKnownStatus": False}[
        insufficient]


def test_calculated_inverted_and_disabled(emulator, route53):
    arn, cluster = routing_control(emulator)
    control = create(route53, "rc", Type="RECOVERY_CONTROL", RoutingControlArn=arn)
    inverted = create(route53, "inv", Type="RECOVERY_CONTROL", RoutingControlArn=arn, Inverted=True)
    disabled = create(route53, "off", Type="RECOVERY_CONTROL", RoutingControlArn=arn, Disabled=True)
    all_of = create(route53, "all", Type="CALCULATED", ChildHealthChecks=[control, disabled], HealthThreshold=2)
    one_of = create(route53, "one", Type="CALCULATED", ChildHealthChecks=[control, inverted], HealthThreshold=1)
    assert emulator.health_checks() == {control: False, inverted: True, disabled: True, all_of: False, one_of: True}
    cluster.update_routing_control_state(RoutingControlArn=arn, RoutingControlState="On")
    assert emulator.health_checks() == {control: True, inverted: False, disabled: True, all_of: True, one_of: True}
    [observation, *_] = route53.get_health_check_status(HealthCheckId=all_of)["HealthCheckObservations"]
    assert observation["StatusReport"]["Status"] == "Success: health check is healthy"


def test_endpoint_status_changes_after_request_interval_times_failure_threshold(emulator, route53):
    """10 s x 3 checks, scaled by 0.01: 0.3 s. GetHealthCheckStatus shows the latest probes at once."""
    emulator.set_durations({"route53:HealthCheckScale": 0.01})
    check = endpoint(route53, "primary")
    assert emulator.health_checks() == {check: True}
    assert emulator.control("POST", "health-check-status", {"id": check, "status": "Failure"})[0] == 200
    failed_at = time.monotonic()
    observations = route53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"]
    assert {o["StatusReport"]["Status"] for o in observations} == {"Failure: HTTP Status Code 503, Service Unavailable"}
    assert emulator.health_checks() == {check: True}, "not before 3 failed checks"
    assert wait_for(emulator.health_checks, lambda states: not states[check], timeout=3) == {check: False}
    assert time.monotonic() - failed_at >= 0.3
    emulator.control("POST", "health-check-status", {"id": check, "status": "Success"})
    assert emulator.health_checks() == {check: False}
    assert wait_for(emulator.health_checks, lambda states: states[check], timeout=3) == {check: True}


def test_more_than_18_percent_of_checkers_keep_an_endpoint_healthy(emulator, route53):
    emulator.set_durations({"route53:HealthCheckScale": 0})
    check = endpoint(route53, "primary")
    emulator.control("POST", "health-check-status", {"id": check, "status": "Failure", "checkers": 6})
    assert emulator.health_checks() == {check: True}  # 2 of 8 succeed
    emulator.control("POST", "health-check-status", {"id": check, "status": "Failure", "checkers": 7})
    assert emulator.health_checks() == {check: False}


def test_a_region_outage_fails_the_endpoints_in_that_region(emulator, route53):
    emulator.set_durations({"route53:HealthCheckScale": 0})
    primary, standby = endpoint(route53, "primary"), endpoint(route53, "standby", STANDBY_ALB)
    inverted = endpoint(route53, "inverted", Inverted=True)
    emulator.add_fault(region=PRIMARY, service="rds", kind="outage")  # not the load balancer's service
    emulator.add_fault(region=PRIMARY, service="*", action="DescribeLoadBalancers", kind="outage")
    assert emulator.health_checks() == {primary: True, standby: True, inverted: False}
    emulator.add_fault(region=PRIMARY, service="*", kind="outage")
    assert emulator.health_checks() == {primary: False, standby: True, inverted: True}
    emulator.control("DELETE", "faults")
    assert emulator.health_checks() == {primary: True, standby: True, inverted: False}


def test_health_checkers_keep_working_while_the_control_plane_is_down(emulator, route53):
    emulator.set_durations({"route53:HealthCheckScale": 0})
    check = endpoint(route53, "primary")
    emulator.add_fault(region="*", service="route53", kind="outage")
    emulator.control("POST", "health-check-status", {"id": check, "status": "Failure"})
    assert emulator.health_checks() == {check: False}


def test_reset_forgets_the_checkers_state(emulator, route53):
    endpoint(route53, "primary")
    assert emulator.control("POST", "reset") == (200, {"ok": True})
    assert emulator.control("GET", "health-checks") == (200, {"healthChecks": []})
