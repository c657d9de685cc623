"""The DNS server: Route 53's data plane answering from the hosted zones, over real UDP and TCP queries."""

import hashlib
import ipaddress
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
from conftest import CBOR, CREDENTIALS, PRIMARY, STANDBY, wait_for
from dnslib import QTYPE, RCODE

CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError)
PRIMARY_ALB = "primary-alb-1234567890.us-east-1.elb.amazonaws.com"
STANDBY_ALB = "dr-alb-1234567890.us-west-2.elb.amazonaws.com"
ELB_ZONE = {"us-east-1": "Z35SXDOTRQ7X7K", "us-west-2": "Z1H1FL5HABSF5"}
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


def synthetic(name: str) -> str:
    """The documented synthetic address: 198.18.0.0/15 + first 4 bytes of sha256(name) mod 2^17."""
    digest = hashlib.sha256(name.lower().rstrip(".").encode()).digest()
    return str(ipaddress.IPv4Address("198.18.0.0") + int.from_bytes(digest[:4], "big") % 2**17)


@pytest.fixture
def route53(emulator):
    return emulator.client("route53")


def zone(route53, name: str = "example.com", **kwargs) -> str:
    return route53.create_hosted_zone(Name=name, CallerReference=name, **kwargs)["HostedZone"]["Id"]


def upsert(route53, zone_id: str, *record_sets: dict) -> str:
    changes = [{"Action": "UPSERT", "ResourceRecordSet": record_set} for record_set in record_sets]
    answer = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return answer["ChangeInfo"]["Id"]


def simple(name: str, kind: str, *values: str, ttl: int = 300) -> dict:
    return {"Name": name, "Type": kind, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values]}


def alias(name: str, target: str, evaluate: bool = False, **record) -> dict:
    region = target.split(".")[-4]
    return {"Name": name, "Type": "A", **record,
            "AliasTarget": {"HostedZoneId": ELB_ZONE[region], "DNSName": target, "EvaluateTargetHealth": evaluate}}


def failover(route53, zone_id: str, primary_check: str | None = None, secondary_check: str | None = None,
             evaluate: bool = False) -> None:
    """app.example.com: PRIMARY alias to the us-east-1 load balancer, SECONDARY to the us-west-2 one."""
    primary = alias("app.example.com", PRIMARY_ALB, evaluate, SetIdentifier="primary", Failover="PRIMARY")
    secondary = alias("app.example.com", STANDBY_ALB, evaluate, SetIdentifier="standby", Failover="SECONDARY")
    if primary_check:
        primary["HealthCheckId"] = primary_check
    if secondary_check:
        secondary["HealthCheckId"] = secondary_check
    upsert(route53, zone_id, primary, secondary)


def create_check(route53, reference: str, **config) -> str:
    return route53.create_health_check(CallerReference=reference, HealthCheckConfig=config)["HealthCheck"]["Id"]


def answers(emulator, name: str = "app.example.com") -> list[str]:
    return emulator.resolve(name)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_simple_records(emulator, route53, tcp):
    zone_id = zone(route53)
    upsert(
        route53, zone_id,
        simple("www.example.com", "A", "192.0.2.10", "192.0.2.11", ttl=120),
        simple("www.example.com", "AAAA", "2001:db8::10"),
        simple("www.example.com", "TXT", '"v=spf1 -all"', '"two" "strings"'),
        simple("web.example.com", "CNAME", "www.example.com"),
        simple("a.deep.example.com", "A", "192.0.2.20"),
    )
    reply = emulator.dns("WWW.Example.com", "A", tcp)
    assert (reply.header.rcode, reply.header.aa) == (RCODE.NOERROR, 1)
    assert sorted((str(rr.rname), rr.ttl, str(rr.rdata)) for rr in reply.rr) == [
        ("WWW.Example.com.", 120, "192.0.2.10"), ("WWW.Example.com.", 120, "192.0.2.11")]
    assert emulator.resolve("www.example.com", "AAAA", tcp) == ["2001:db8::10"]
    txt = emulator.dns("www.example.com", "TXT", tcp).rr
    assert sorted(rr.rdata.data for rr in txt) == [[b"two", b"strings"], [b"v=spf1 -all"]]
    cname = emulator.dns("web.example.com", "A", tcp)
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in cname.rr] == [
        ("CNAME", "www.example.com."), ("A", "192.0.2.10"), ("A", "192.0.2.11")]
    assert emulator.resolve("web.example.com", "CNAME", tcp) == ["www.example.com."]
    assert emulator.resolve("example.com", "NS", tcp) != []
    [soa] = [rs for rs in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
             if rs["Type"] == "SOA"]
    assert soa["ResourceRecords"][0]["Value"].endswith(" hostmaster.example.com. 1 7200 900 1209600 86400")
    assert [str(rr.rdata).split()[1:] for rr in emulator.dns("example.com", "SOA", tcp).rr] == [
        ["hostmaster.example.com.", "1", "7200", "900", "1209600", "86400"]]
    # no record of that type, or only records below the name: NOERROR, nothing, and the SOA
    for name, kind in (("www.example.com", "CNAME"), ("deep.example.com", "A")):
        empty = emulator.dns(name, kind, tcp)
        assert (RCODE[empty.header.rcode], empty.rr, [QTYPE[rr.rtype] for rr in empty.auth]) == ("NOERROR", [], ["SOA"])
    missing = emulator.dns("nothing.example.com", "A", tcp)
    assert (RCODE[missing.header.rcode], [QTYPE[rr.rtype] for rr in missing.auth]) == ("NXDOMAIN", ["SOA"])
    assert RCODE[emulator.dns("www.example.org", "A", tcp).header.rcode] == "NXDOMAIN"
    assert RCODE[emulator.dns("www.example.com", "MX", tcp).header.rcode] == "REFUSED"


def test_the_longest_zone_answers_and_private_zones_too(emulator, route53):
    parent, child = zone(route53), zone(route53, "internal.example.com")
    private = route53.create_hosted_zone(
        Name="db.local", CallerReference="private", HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": PRIMARY, "VPCId": "vpc-12345678"},
    )["HostedZone"]["Id"]
    upsert(route53, parent, simple("api.internal.example.com", "A", "192.0.2.1"))
    upsert(route53, child, simple("api.internal.example.com", "A", "192.0.2.2"))
    upsert(route53, private, simple("writer.db.local", "CNAME", "primary-cluster.cluster-abc.us-east-1.rds.amazonaws.com"))
    assert emulator.resolve("api.internal.example.com") == ["192.0.2.2"]
    rds = "primary-cluster.cluster-abc.us-east-1.rds.amazonaws.com"
    assert emulator.resolve("writer.db.local") == [synthetic(rds)]


def test_an_alias_to_a_load_balancer_resolves_to_its_synthetic_address(emulator, route53):
    zone_id = zone(route53)
    upsert(route53, zone_id, alias("app.example.com", PRIMARY_ALB),
           {"Name": "www.example.com", "Type": "A",
            "AliasTarget": {"HostedZoneId": zone_id, "DNSName": "app.example.com", "EvaluateTargetHealth": False}})
    [address] = emulator.resolve(PRIMARY_ALB)
    assert address == synthetic(PRIMARY_ALB) and ipaddress.IPv4Address(address) in ipaddress.IPv4Network("198.18.0.0/15")
    assert emulator.resolve(f"DualStack.{PRIMARY_ALB}".lower()) != [address]
    reply = emulator.dns("app.example.com")
    assert [(str(rr.rname), QTYPE[rr.rtype], rr.ttl, str(rr.rdata)) for rr in reply.rr] == [
        ("app.example.com.", "A", 60, address)]
    assert emulator.resolve("www.example.com") == [address]  # an alias to an alias in the zone
    assert emulator.resolve(PRIMARY_ALB, "AAAA") == []
    assert emulator.resolve(STANDBY_ALB, tcp=True) == [synthetic(STANDBY_ALB)]


def test_failover_follows_recovery_control_health_checks(emulator, route53):
    config = emulator.client("route53-recovery-control-config", STANDBY)
    cluster = config.create_cluster(ClusterName="pl-arc")["Cluster"]
    controls = [
        config.create_routing_control(ClusterArn=cluster["ClusterArn"], RoutingControlName=name)["RoutingControl"][
            "RoutingControlArn"]
        for name in ("primary", "standby")
    ]
    [url] = [e["Endpoint"] for e in cluster["ClusterEndpoints"] if e["Region"] == STANDBY]
    arc = boto3.client("route53-recovery-cluster", endpoint_url=url, region_name=STANDBY,
                       config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS)
    checks = [create_check(route53, f"rc-{i}", Type="RECOVERY_CONTROL", RoutingControlArn=arn)
              for i, arn in enumerate(controls)]
    failover(route53, zone(route53), *checks)

    def switch(primary: str, standby: str) -> list[str]:
        arc.update_routing_control_states(UpdateRoutingControlStateEntries=[
            {"RoutingControlArn": controls[0], "RoutingControlState": primary},
            {"RoutingControlArn": controls[1], "RoutingControlState": standby},
        ])
        return answers(emulator)

    assert answers(emulator) == [synthetic(PRIMARY_ALB)], "both Off: all unhealthy, the primary answers"
    assert switch("On", "Off") == [synthetic(PRIMARY_ALB)]
    assert switch("Off", "On") == [synthetic(STANDBY_ALB)]
    assert switch("On", "On") == [synthetic(PRIMARY_ALB)]
    assert switch("Off", "Off") == [synthetic(PRIMARY_ALB)]


@pytest.mark.parametrize("protocol", ["query", CBOR])
def test_failover_follows_a_metric_alarm_through_a_calculated_health_check(emulator, route53, protocol):
    """The operator's metric switch: publishing 1 in the standby region moves traffic there, 0 moves it back."""
    cloudwatch = emulator.cloudwatch(STANDBY, protocol)
    cloudwatch.put_metric_alarm(**SWITCH)
    alarm = {"Region": STANDBY, "Name": SWITCH["AlarmName"]}
    to_primary = create_check(route53, "alarm", Type="CLOUDWATCH_METRIC", AlarmIdentifier=alarm,
                              InsufficientDataHealthStatus="Healthy")
    to_standby = create_check(route53, "alarm-inverted", Type="CLOUDWATCH_METRIC", AlarmIdentifier=alarm,
                              InsufficientDataHealthStatus="Healthy", Inverted=True)
    primary = create_check(route53, "all-of", Type="CALCULATED", ChildHealthChecks=[to_primary], HealthThreshold=1)
    failover(route53, zone(route53), primary, to_standby)
    assert answers(emulator) == [synthetic(PRIMARY_ALB)]

    def publish(value: float, at: datetime) -> None:
        datum = {"MetricName": SWITCH["MetricName"], "Dimensions": SWITCH["Dimensions"], "Value": value,
                 "Timestamp": at}
        cloudwatch.put_metric_data(Namespace=SWITCH["Namespace"], MetricData=[datum])

    now = datetime.now(timezone.utc)
    publish(1, now)
    assert emulator.health_checks() == {to_primary: False, to_standby: True, primary: False}
    assert answers(emulator) == [synthetic(STANDBY_ALB)]
    publish(0, now + timedelta(seconds=10))  # the next 10-second period
    assert answers(emulator) == [synthetic(PRIMARY_ALB)]


def test_dns_keeps_answering_while_us_east_1_and_route53_are_down(emulator, route53):
    """Route 53's control plane fails with us-east-1; DNS and EvaluateTargetHealth fail over to the standby."""
    zone_id = zone(route53)
    failover(route53, zone_id, evaluate=True)
    assert answers(emulator) == [synthetic(PRIMARY_ALB)]
    emulator.add_fault(region=PRIMARY, service="*", kind="outage")
    with pytest.raises(CONNECTION_ERRORS):
        emulator.client("route53", STANDBY).list_resource_record_sets(HostedZoneId=zone_id)
    assert answers(emulator) == [synthetic(STANDBY_ALB)]
    assert emulator.resolve("app.example.com", tcp=True) == [synthetic(STANDBY_ALB)]
    emulator.control("DELETE", "faults")
    assert answers(emulator) == [synthetic(PRIMARY_ALB)]
    emulator.add_fault(region="*", service="route53", kind="outage")  # the API alone
    assert answers(emulator) == [synthetic(PRIMARY_ALB)]


def test_an_endpoint_health_check_fails_over_after_its_debounce(emulator, route53):
    emulator.set_durations({"route53:HealthCheckScale": 0.01})  # 10 s x 3 checks: 0.3 s
    check = create_check(route53, "primary", Type="HTTPS", FullyQualifiedDomainName=PRIMARY_ALB, Port=443,
                         ResourcePath="/health", RequestInterval=10, FailureThreshold=3)
    failover(route53, zone(route53), check)
    emulator.add_fault(region=PRIMARY, service="*", kind="outage")
    outage_at = time.monotonic()
    assert answers(emulator) == [synthetic(PRIMARY_ALB)], "not before three failed checks"
    assert wait_for(lambda: answers(emulator), lambda got: got == [synthetic(STANDBY_ALB)], timeout=3) == [
        synthetic(STANDBY_ALB)]
    assert time.monotonic() - outage_at >= 0.3
    emulator.control("DELETE", "faults")
    assert wait_for(lambda: answers(emulator), lambda got: got == [synthetic(PRIMARY_ALB)], timeout=3) == [
        synthetic(PRIMARY_ALB)]


def test_changes_are_answered_once_insync(emulator, route53):
    emulator.set_durations({"route53:ChangeResourceRecordSets": 0.5, "route53:CreateHostedZone": 0.5})
    created = route53.create_hosted_zone(Name="example.com", CallerReference="zone")
    zone_id, change = created["HostedZone"]["Id"], created["ChangeInfo"]["Id"]
    assert RCODE[emulator.dns("example.com", "SOA").header.rcode] == "NXDOMAIN", "the zone is not served yet"
    wait_for(lambda: route53.get_change(Id=change)["ChangeInfo"]["Status"], lambda s: s == "INSYNC", timeout=3)
    upsert(route53, zone_id, simple("www.example.com", "A", "192.0.2.1"))
    assert emulator.resolve("example.com", "SOA") != []
    assert RCODE[emulator.dns("www.example.com").header.rcode] == "NXDOMAIN"
    assert wait_for(lambda: emulator.resolve("www.example.com"), lambda got: got != [], timeout=3) == ["192.0.2.1"]
    change = upsert(route53, zone_id, simple("www.example.com", "A", "192.0.2.2"))
    assert route53.get_change(Id=change)["ChangeInfo"]["Status"] == "PENDING"
    assert emulator.resolve("www.example.com") == ["192.0.2.1"]
    wait_for(lambda: route53.get_change(Id=change)["ChangeInfo"]["Status"], lambda s: s == "INSYNC", timeout=3)
    assert emulator.resolve("www.example.com") == ["192.0.2.2"]


def test_reset_clears_what_dns_serves(emulator, route53):
    upsert(route53, zone(route53), simple("www.example.com", "A", "192.0.2.1"))
    assert emulator.resolve("www.example.com") == ["192.0.2.1"]
    assert emulator.control("POST", "reset") == (200, {"ok": True})
    assert RCODE[emulator.dns("www.example.com").header.rcode] == "NXDOMAIN"
