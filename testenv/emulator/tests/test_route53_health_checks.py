"""Route 53 health checks: idempotent on CallerReference, versions, tags, errors for missing ones."""

import pytest
from botocore.exceptions import ClientError
from conftest import error_code

CONFIG = {
    "Type": "HTTPS",
    "FullyQualifiedDomainName": "dr-alb-1.us-west-2.elb.amazonaws.com",
    "Port": 443,
    "ResourcePath": "/health",
    "RequestInterval": 10,
    "FailureThreshold": 3,
}
MISSING = "00000000-0000-0000-0000-000000000000"


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
