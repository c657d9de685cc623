"""Route 53 records: alias and CNAME UPSERTs read back as Route 53 returns them, changes and their status."""

import pytest
from botocore.exceptions import ClientError
from conftest import error_code, wait_for

ELB_ZONE = "Z1H1FL5HABSF5"  # us-west-2 ALBs
SHORT = 0.6


@pytest.fixture
def route53(emulator):
    return emulator.client("route53")


@pytest.fixture
def zone_id(route53) -> str:
    return route53.create_hosted_zone(Name="example.com", CallerReference="zone")["HostedZone"]["Id"]


def alias(name: str, dns_name: str, evaluate: bool = True) -> dict:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": name,
            "Type": "A",
            "AliasTarget": {"HostedZoneId": ELB_ZONE, "DNSName": dns_name, "EvaluateTargetHealth": evaluate},
        },
    }


def cname(name: str, value: str, ttl: int = 60) -> dict:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": name, "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": value}]},
    }


def change(route53, zone_id: str, *changes: dict) -> dict:
    return route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": list(changes)})[
        "ChangeInfo"
    ]


def records(route53, zone_id: str) -> dict[tuple[str, str], dict]:
    listed = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(record["Name"], record["Type"]): record for record in listed}


def test_alias_and_cname_upserts_read_back_as_route53_returns_them(route53, zone_id):
    change(
        route53,
        zone_id,
        alias("App.Example.com", "DR-ALB-1234567890.us-west-2.elb.amazonaws.com"),
        cname("www.example.com.", "app.example.com"),
    )
    listed = records(route53, zone_id)
    assert set(listed) == {
        ("example.com.", "NS"),
        ("example.com.", "SOA"),
        ("app.example.com.", "A"),
        ("www.example.com.", "CNAME"),
    }
    # names in lower case with the trailing dot, alias DNSName too
    assert listed[("app.example.com.", "A")]["AliasTarget"] == {
        "HostedZoneId": ELB_ZONE,
        "DNSName": "dr-alb-1234567890.us-west-2.elb.amazonaws.com.",
        "EvaluateTargetHealth": True,
    }
    assert listed[("www.example.com.", "CNAME")]["TTL"] == 60
    assert listed[("www.example.com.", "CNAME")]["ResourceRecords"] == [{"Value": "app.example.com"}]


def test_upsert_replaces_the_record(route53, zone_id):
    change(route53, zone_id, alias("app.example.com", "primary-alb-1.us-east-1.elb.amazonaws.com"))
    change(route53, zone_id, alias("APP.example.com.", "dr-alb-1.us-west-2.elb.amazonaws.com.", evaluate=False))
    change(route53, zone_id, cname("www.example.com", "app.example.com"))
    change(route53, zone_id, cname("www.example.com", "dr.example.com", ttl=30))
    listed = records(route53, zone_id)
    assert len(listed) == 4
    assert listed[("app.example.com.", "A")]["AliasTarget"]["DNSName"] == "dr-alb-1.us-west-2.elb.amazonaws.com."
    assert listed[("app.example.com.", "A")]["AliasTarget"]["EvaluateTargetHealth"] is False
    assert listed[("www.example.com.", "CNAME")]["ResourceRecords"] == [{"Value": "dr.example.com"}]
    assert listed[("www.example.com.", "CNAME")]["TTL"] == 30


def test_each_change_has_its_own_id_known_to_get_change(route53, zone_id):
    first = change(route53, zone_id, cname("a.example.com", "app.example.com"))
    second = change(route53, zone_id, cname("b.example.com", "app.example.com"))
    assert first["Id"] != second["Id"] and first["Id"].startswith("/change/C")
    assert first["Status"] == "INSYNC"
    got = route53.get_change(Id=first["Id"])["ChangeInfo"]
    assert (got["Id"], got["Status"], got["SubmittedAt"]) == (first["Id"], "INSYNC", first["SubmittedAt"])
    assert route53.get_change(Id=first["Id"].split("/")[-1])["ChangeInfo"]["Id"] == first["Id"]
    with pytest.raises(ClientError) as raised:
        route53.get_change(Id="C0000000000000")
    assert error_code(raised) == "NoSuchChange"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_hosted_zone_changes_are_known_too(route53):
    created = route53.create_hosted_zone(Name="Other.Example.org", CallerReference="other")
    assert created["HostedZone"]["Name"] == "other.example.org."
    assert route53.get_change(Id=created["ChangeInfo"]["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    deleted = route53.delete_hosted_zone(Id=created["HostedZone"]["Id"])["ChangeInfo"]
    assert route53.get_change(Id=deleted["Id"])["ChangeInfo"]["Status"] == "INSYNC"


def test_change_duration_keeps_the_change_pending(emulator, route53, zone_id):
    emulator.set_durations({"route53:ChangeResourceRecordSets": SHORT})
    info = change(route53, zone_id, alias("app.example.com", "dr-alb-1.us-west-2.elb.amazonaws.com"))
    assert info["Status"] == "PENDING"
    assert route53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    # the record is there at once (as in AWS: the API sees it; PENDING is about the name servers)
    assert ("app.example.com.", "A") in records(route53, zone_id)
    status = wait_for(lambda: route53.get_change(Id=info["Id"])["ChangeInfo"]["Status"], lambda s: s == "INSYNC")
    assert status == "INSYNC"


def test_a_missing_zone_is_no_such_hosted_zone(route53):
    for call in (
        lambda: change(route53, "Z0000000000000000000", cname("a.example.com", "b.example.com")),
        lambda: route53.list_resource_record_sets(HostedZoneId="Z0000000000000000000"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert error_code(raised) == "NoSuchHostedZone"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_hosted_zone_ids_start_with_z_like_route53s(route53):
    ids = [
        route53.create_hosted_zone(Name=f"z{i}.example.net", CallerReference=f"z{i}")["HostedZone"]["Id"]
        for i in range(5)
    ]
    for zone in ids:
        plain = zone.removeprefix("/hostedzone/")
        assert plain.startswith("Z") and len(plain) == 22, zone
        assert route53.get_hosted_zone(Id=plain)["HostedZone"]["Id"] == zone
