"""Route 53 health checks: idempotent on CallerReference, versions, tags, errors for missing ones, statuses."""

from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError
from conftest import PRIMARY, error_code

CONFIG = {
    "Type": "HTTPS",
    "FullyQualifiedDomainName": "dr-alb-1.us-west-2.elb.amazonaws.com",
    "Port": 443,
    "ResourcePath": "/health",
    "RequestInterval": 10,
    "FailureThreshold": 3,
}
MISSING = "00000000-0000-0000-0000-000000000000"
CHECKER_REGIONS = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
]
SUCCESS = "Success: HTTP Status Code 200, OK"
FAILURE = "Failure: HTTP Status Code 503, Service Unavailable"


@pytest.fixture
def route53(emulator):
    return emulator.client("route53")


def create(route53, reference: str = "app-dr", **config) -> dict:
    return route53.create_health_check(CallerReference=reference, HealthCheckConfig={**CONFIG, **config})


def status_and_code(raised) -> tuple[int, str]:
    return raised.value.response["ResponseMetadata"]["HTTPStatusCode"], error_code(raised)


def test_create_is_idempotent_on_caller_reference(route53):
    first = create(route53)
    check = first["HealthCheck"]
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["Location"] == f"https://route53.amazonaws.com/2013-04-01/healthcheck/{check['Id']}"
    assert {key: check["HealthCheckConfig"][key] for key in CONFIG} == CONFIG
    assert check["CallerReference"] == "app-dr" and check["HealthCheckVersion"] == 1
    again = create(route53)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert again["HealthCheck"] == check
    with pytest.raises(ClientError) as raised:
        create(route53, ResourcePath="/other")
    assert status_and_code(raised) == (409, "HealthCheckAlreadyExists")
    assert [c["Id"] for c in route53.list_health_checks()["HealthChecks"]] == [check["Id"]]
    other = create(route53, reference="another")["HealthCheck"]  # same settings, new reference: a new one
    assert other["Id"] != check["Id"]
    assert len(route53.list_health_checks()["HealthChecks"]) == 2


def test_the_reference_of_a_deleted_health_check_cannot_be_reused(route53):
    check_id = create(route53)["HealthCheck"]["Id"]
    route53.delete_health_check(HealthCheckId=check_id)
    with pytest.raises(ClientError) as raised:
        create(route53)
    assert status_and_code(raised) == (409, "HealthCheckAlreadyExists")


def test_get_update_and_versions(route53):
    check_id = create(route53)["HealthCheck"]["Id"]
    assert route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckVersion"] == 1
    updated = route53.update_health_check(
        HealthCheckId=check_id, ResourcePath="/healthz", FailureThreshold=2, HealthCheckVersion=1
    )["HealthCheck"]
    assert updated["HealthCheckVersion"] == 2
    assert (updated["HealthCheckConfig"]["ResourcePath"], updated["HealthCheckConfig"]["FailureThreshold"]) == (
        "/healthz",
        2,
    )
    assert updated["HealthCheckConfig"]["FullyQualifiedDomainName"] == CONFIG["FullyQualifiedDomainName"]
    with pytest.raises(ClientError) as raised:
        route53.update_health_check(HealthCheckId=check_id, ResourcePath="/stale", HealthCheckVersion=1)
    assert status_and_code(raised) == (409, "HealthCheckVersionMismatch")
    route53.update_health_check(HealthCheckId=check_id, FullyQualifiedDomainName="primary-alb-1.example.com")
    got = route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]
    assert got["HealthCheckVersion"] == 3
    assert got["HealthCheckConfig"]["FullyQualifiedDomainName"] == "primary-alb-1.example.com"


def test_tags(route53):
    first = create(route53)["HealthCheck"]["Id"]
    second = create(route53, reference="second")["HealthCheck"]["Id"]
    route53.change_tags_for_resource(
        ResourceType="healthcheck",
        ResourceId=first,
        AddTags=[{"Key": "Name", "Value": "app-dr"}, {"Key": "pilotlight.dev/owner", "Value": "default/app"}],
    )
    route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=second, AddTags=[{"Key": "k", "Value": "v"}]
    )
    route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=second, RemoveTagKeys=["k"])
    tag_sets = route53.list_tags_for_resources(ResourceType="healthcheck", ResourceIds=[first, second])[
        "ResourceTagSets"
    ]
    assert {tag_set["ResourceId"]: tag_set["Tags"] for tag_set in tag_sets} == {
        first: [{"Key": "Name", "Value": "app-dr"}, {"Key": "pilotlight.dev/owner", "Value": "default/app"}],
        second: [],
    }
    assert {tag_set["ResourceType"] for tag_set in tag_sets} == {"healthcheck"}


def test_missing_health_checks_are_no_such_health_check(route53):
    for call in (
        lambda: route53.get_health_check(HealthCheckId=MISSING),
        lambda: route53.update_health_check(HealthCheckId=MISSING, ResourcePath="/x"),
        lambda: route53.delete_health_check(HealthCheckId=MISSING),
        lambda: route53.change_tags_for_resource(
            ResourceType="healthcheck", ResourceId=MISSING, AddTags=[{"Key": "k", "Value": "v"}]
        ),
        lambda: route53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=MISSING),
        lambda: route53.get_health_check_status(HealthCheckId=MISSING),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert status_and_code(raised) == (404, "NoSuchHealthCheck")


def test_delete(route53):
    check_id = create(route53)["HealthCheck"]["Id"]
    route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=check_id, AddTags=[{"Key": "Name", "Value": "app-dr"}]
    )
    route53.delete_health_check(HealthCheckId=check_id)
    assert route53.list_health_checks()["HealthChecks"] == []
    with pytest.raises(ClientError) as raised:
        route53.delete_health_check(HealthCheckId=check_id)
    assert status_and_code(raised) == (404, "NoSuchHealthCheck")


# --- GetHealthCheckStatus and /_emulator/health-check-status --------------------------------


def observed(route53, check_id: str) -> dict[str, str]:
    """{checker region: status} of GetHealthCheckStatus, in the answer's order."""
    observations = route53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
    return {o["Region"]: o["StatusReport"]["Status"] for o in observations}


def force(emulator, **body) -> tuple[int, dict]:
    return emulator.control("POST", "health-check-status", body)


def test_status_is_success_from_every_checker_region(emulator, route53):
    check_id = create(route53)["HealthCheck"]["Id"]
    observations = route53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
    assert [o["Region"] for o in observations] == CHECKER_REGIONS
    assert len({o["IPAddress"] for o in observations}) == len(CHECKER_REGIONS)
    for observation in observations:
        assert observation["StatusReport"]["Status"] == SUCCESS
        assert abs(datetime.now(timezone.utc) - observation["StatusReport"]["CheckedTime"]) < timedelta(seconds=10)
    chosen = ["eu-west-1", "us-east-1", "ap-southeast-1"]
    regional = create(route53, reference="regional", Regions=chosen)["HealthCheck"]["Id"]
    assert observed(route53, regional) == {"us-east-1": SUCCESS, "eu-west-1": SUCCESS, "ap-southeast-1": SUCCESS}
    with pytest.raises(ClientError):
        route53.get_health_check_status(HealthCheckId=MISSING)
    assert [(c["service"], c["region"], c["action"], c["code"]) for c in emulator.calls()] == [
        ("route53", PRIMARY, "CreateHealthCheck", None),
        ("route53", PRIMARY, "GetHealthCheckStatus", None),
        ("route53", PRIMARY, "CreateHealthCheck", None),
        ("route53", PRIMARY, "GetHealthCheckStatus", None),
        ("route53", PRIMARY, "GetHealthCheckStatus", "NoSuchHealthCheck"),
    ]


def test_forced_failure_by_id(emulator, route53):
    check_id = create(route53)["HealthCheck"]["Id"]
    assert force(emulator, id=check_id, status="Failure") == (200, {"failingRegions": {check_id: CHECKER_REGIONS}})
    assert observed(route53, check_id) == dict.fromkeys(CHECKER_REGIONS, FAILURE)
    assert force(emulator, id=check_id, status="Failure", checkers=3) == (
        200,
        {"failingRegions": {check_id: CHECKER_REGIONS[:3]}},
    )
    assert list(observed(route53, check_id).values()) == [FAILURE] * 3 + [SUCCESS] * 5
    force(emulator, id=check_id, status="Failure", checkers=["sa-east-1", "eu-west-1"])
    assert [region for region, status in observed(route53, check_id).items() if status == FAILURE] == [
        "eu-west-1",
        "sa-east-1",
    ]
    assert emulator.control("GET", "health-check-status") == (
        200,
        {"failingRegions": {check_id: ["eu-west-1", "sa-east-1"]}},
    )
    assert force(emulator, id=check_id, status="Success") == (200, {"failingRegions": {check_id: []}})
    assert observed(route53, check_id) == dict.fromkeys(CHECKER_REGIONS, SUCCESS)
    assert emulator.control("GET", "health-check-status") == (200, {"failingRegions": {}})


def test_forced_failure_by_fqdn_applies_to_every_health_check_of_the_name(emulator, route53):
    name = "app.primary.example.com"
    first = create(route53, reference="first", FullyQualifiedDomainName="App.Primary.example.com")["HealthCheck"]["Id"]
    second = create(route53, reference="second", FullyQualifiedDomainName=name)["HealthCheck"]["Id"]
    other = create(route53, reference="other")["HealthCheck"]["Id"]
    regional = create(
        route53, reference="regional", FullyQualifiedDomainName=name, Regions=["us-west-2", "us-east-1", "eu-west-1"]
    )["HealthCheck"]["Id"]
    two = CHECKER_REGIONS[:2]
    assert force(emulator, fqdn=f"{name}.", status="Failure", checkers=2) == (
        200,
        {"failingRegions": {first: two, second: two, regional: ["us-east-1", "us-west-2"]}},
    )
    assert observed(route53, regional) == {"us-east-1": FAILURE, "us-west-2": FAILURE, "eu-west-1": SUCCESS}
    assert set(observed(route53, other).values()) == {SUCCESS}
    # a list must name checker regions of every health check of the name
    assert force(emulator, fqdn=name, status="Failure", checkers=["sa-east-1"])[0] == 400


def test_reset_and_delete_clear_forced_statuses(emulator, route53):
    kept, deleted = (create(route53, reference=name)["HealthCheck"]["Id"] for name in ("kept", "deleted"))
    force(emulator, fqdn=CONFIG["FullyQualifiedDomainName"], status="Failure")
    route53.delete_health_check(HealthCheckId=deleted)
    assert emulator.control("GET", "health-check-status")[1] == {"failingRegions": {kept: CHECKER_REGIONS}}
    assert emulator.control("POST", "reset") == (200, {"ok": True})
    assert emulator.control("GET", "health-check-status") == (200, {"failingRegions": {}})


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"id": MISSING, "status": "Failure"}, 404),
        ({"fqdn": "nothing.example.com", "status": "Failure"}, 404),
        ({"status": "Failure"}, 400),
        ({"id": "ID", "fqdn": CONFIG["FullyQualifiedDomainName"], "status": "Failure"}, 400),
        ({"id": "ID", "status": "Down"}, 400),
        ({"id": "ID"}, 400),
        ({"id": "ID", "status": "Success", "checkers": 1}, 400),
        ({"id": "ID", "status": "Failure", "checkers": 0}, 400),
        ({"id": "ID", "status": "Failure", "checkers": 9}, 400),
        ({"id": "ID", "status": "Failure", "checkers": True}, 400),
        ({"id": "ID", "status": "Failure", "checkers": []}, 400),
        ({"id": "ID", "status": "Failure", "checkers": ["mars-north-1"]}, 400),
        ({"id": "ID", "status": "Failure", "colour": "red"}, 400),
        ({"id": ["ID"], "status": "Failure"}, 400),
    ],
)
def test_forced_status_errors(emulator, route53, body, expected):
    check_id = create(route53)["HealthCheck"]["Id"]
    if body.get("id") == "ID":
        body["id"] = check_id
    status, answer = emulator.control("POST", "health-check-status", body)
    assert status == expected and answer["error"]
    assert emulator.control("GET", "health-check-status") == (200, {"failingRegions": {}})
