"""Fault injection: each kind, per protocol, matching, probability and expiry."""

import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker
from conftest import PRIMARY, STANDBY

CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError)


def is_throttling(error: ClientError) -> bool:
    """What botocore's standard retry mode uses to back off on throttling."""
    return ThrottledRetryableChecker().is_retryable(RetryContext(attempt_number=1, parsed_response=error.response))


def test_outage_drops_the_connection_in_that_region_only(emulator):
    emulator.add_fault(region=PRIMARY, service="*", kind="outage")
    with pytest.raises(CONNECTION_ERRORS):
        emulator.client("rds", PRIMARY).describe_db_clusters()
    with pytest.raises(CONNECTION_ERRORS):
        emulator.client("s3", PRIMARY).list_buckets()
    with pytest.raises(CONNECTION_ERRORS):
        emulator.cbor_cloudwatch(PRIMARY).list_metrics()
    assert emulator.client("rds", STANDBY).describe_db_clusters()["DBClusters"] == []
    assert emulator.cbor_cloudwatch(STANDBY).list_metrics()["Metrics"] == []
    outcomes = [(call["region"], call["outcome"], call["status"]) for call in emulator.calls()]
    assert outcomes == [(PRIMARY, "outage", None)] * 3 + [(STANDBY, "ok", 200)] * 2
    assert emulator.control("GET", "health") == (200, {"ok": True})


def test_response_lost_applies_the_request_then_drops_the_connection(emulator):
    emulator.add_fault(region=PRIMARY, service="rds", action="CreateGlobalCluster", kind="responseLost")
    rds = emulator.client("rds", PRIMARY)
    with pytest.raises(CONNECTION_ERRORS):
        rds.create_global_cluster(GlobalClusterIdentifier="lost-answer", Engine="aurora-postgresql")
    clusters = rds.describe_global_clusters(GlobalClusterIdentifier="lost-answer")["GlobalClusters"]
    assert [c["GlobalClusterIdentifier"] for c in clusters] == ["lost-answer"]
    outcomes = [(call["action"], call["outcome"], call["status"]) for call in emulator.calls()]
    assert outcomes == [("CreateGlobalCluster", "responseLost", 200), ("DescribeGlobalClusters", "ok", 200)]


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("rds", lambda e: e.client("rds").describe_db_clusters(), "Throttling", 400),
        ("ec2", lambda e: e.client("ec2").describe_vpcs(), "RequestLimitExceeded", 503),
        ("autoscaling", lambda e: e.client("autoscaling").describe_auto_scaling_groups(), "Throttling", 400),
        ("dynamodb", lambda e: e.client("dynamodb").list_tables(), "ThrottlingException", 400),
        ("monitoring", lambda e: e.client("cloudwatch").list_metrics(), "Throttling", 400),
        ("monitoring", lambda e: e.cbor_cloudwatch(PRIMARY).list_metrics(), "Throttling", 400),
        ("s3", lambda e: e.client("s3").list_buckets(), "SlowDown", 503),
        ("route53", lambda e: e.client("route53").list_hosted_zones(), "Throttling", 400),
    ],
    ids=["query", "ec2", "autoscaling", "json", "json-query-compatible", "rpc-v2-cbor", "s3", "route53"],
)
def test_throttle_is_classified_as_throttling(emulator, service, call, code, status):
    emulator.add_fault(region="*", service=service, kind="throttle")
    with pytest.raises(ClientError) as raised:
        call(emulator)
    error = raised.value
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert is_throttling(error)
    [logged] = emulator.calls()
    assert (logged["outcome"], logged["status"], logged["code"]) == ("throttled", status, code)


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda e: e.client("rds").describe_db_clusters(), "InternalFailure"),
        (lambda e: e.client("dynamodb").list_tables(), "InternalFailure"),
        (lambda e: e.cbor_cloudwatch(PRIMARY).list_metrics(), "InternalFailure"),
        (lambda e: e.client("s3").list_buckets(), "InternalError"),
        (lambda e: e.client("route53").list_hosted_zones(), "InternalFailure"),
    ],
    ids=["query", "json", "rpc-v2-cbor", "s3", "route53"],
)
def test_error5xx(emulator, call, code):
    emulator.add_fault(kind="error5xx")
    with pytest.raises(ClientError) as raised:
        call(emulator)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert [(c["outcome"], c["status"], c["code"]) for c in emulator.calls()] == [("fault5xx", 500, code)]


def test_head_request_error_has_no_body(emulator):
    emulator.client("s3").create_bucket(Bucket="head-bucket")
    emulator.add_fault(service="s3", action="HeadBucket", kind="error5xx")
    with pytest.raises(ClientError) as raised:
        emulator.client("s3").head_bucket(Bucket="head-bucket")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_latency_is_added_and_combines_with_other_kinds(emulator):
    sts = emulator.client("sts")
    emulator.add_fault(service="sts", kind="latency", latencyMs=300)
    started = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - started >= 0.3
    emulator.add_fault(service="sts", kind="throttle")
    started = time.monotonic()
    with pytest.raises(ClientError):
        sts.get_caller_identity()
    assert time.monotonic() - started >= 0.3
    assert [(c["outcome"], c["durationMs"] >= 300) for c in emulator.calls()] == [("ok", True), ("throttled", True)]


def test_action_matching_and_remaining_expiry(emulator):
    rds = emulator.client("rds")
    rule = emulator.add_fault(service="rds", action="DescribeDBClusters", kind="throttle", remaining=2)
    assert rule["remaining"] == 2 and rule["id"]
    rds.describe_db_instances()  # another operation: untouched, and does not use up the rule
    for _ in range(2):
        with pytest.raises(ClientError):
            rds.describe_db_clusters()
    rds.describe_db_clusters()
    assert emulator.control("GET", "faults") == (200, {"faults": []})
    assert [c["outcome"] for c in emulator.calls()] == ["ok", "throttled", "throttled", "ok"]


def test_probability(emulator):
    sts = emulator.client("sts")
    emulator.add_fault(kind="throttle", probability=0)
    for _ in range(5):
        sts.get_caller_identity()
    emulator.control("DELETE", "faults")
    emulator.add_fault(kind="throttle", probability=0.5)
    outcomes = set()
    for _ in range(40):
        try:
            sts.get_caller_identity()
            outcomes.add("ok")
        except ClientError:
            outcomes.add("throttled")
    assert outcomes == {"ok", "throttled"}


def test_rules_are_listed_and_deleted(emulator):
    first = emulator.add_fault(region=STANDBY, service="rds", kind="latency", latencyMs=10)
    second = emulator.add_fault(kind="outage", probability=0.25)
    assert first == {
        "id": first["id"],
        "region": STANDBY,
        "service": "rds",
        "action": None,
        "kind": "latency",
        "probability": 1.0,
        "remaining": None,
        "latencyMs": 10,
    }
    assert emulator.control("GET", "faults")[1]["faults"] == [first, second]
    assert emulator.control("DELETE", f"faults/{first['id']}") == (200, {"ok": True})
    assert emulator.control("DELETE", f"faults/{first['id']}")[0] == 404
    assert emulator.control("GET", "faults")[1]["faults"] == [second]
    assert emulator.control("DELETE", "faults") == (200, {"ok": True})
    assert emulator.control("GET", "faults")[1]["faults"] == []


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "meteor"},
        {"kind": "latency"},
        {"kind": "throttle", "probability": 2},
        {"kind": "throttle", "remaining": 0},
        {"kind": "throttle", "latency_ms": 5},
        {"kind": "rateLimit"},
        {"kind": "rateLimit", "ratePerSecond": 0},
        {"kind": "throttle", "ratePerSecond": 5},
        ["not", "an", "object"],
    ],
)
def test_invalid_rules_are_rejected(emulator, rule):
    status, body = emulator.control("POST", "faults", rule)
    assert status == 400 and body["error"]


def test_route53_faults_target_one_rest_operation(emulator):
    route53 = emulator.client("route53")
    zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="z")["HostedZone"]["Id"]
    emulator.add_fault(service="route53", action="ChangeResourceRecordSets", kind="throttle", remaining=1)
    batch = {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": "app.example.com", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "dr.example.com"}]}}]}
    with pytest.raises(ClientError) as raised:
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)
    assert is_throttling(raised.value)
    route53.list_resource_record_sets(HostedZoneId=zone_id)  # another operation: untouched
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)  # the rule is used up
    assert [(c["action"], c["outcome"]) for c in emulator.calls()] == [
        ("CreateHostedZone", "ok"),
        ("ChangeResourceRecordSets", "throttled"),
        ("ListResourceRecordSets", "ok"),
        ("ChangeResourceRecordSets", "ok"),
    ]


def test_route53_is_served_by_its_control_plane_in_us_east_1(emulator):
    """Whatever region a Route 53 client signs with, the API is in us-east-1: a us-east-1 outage takes it down."""
    emulator.add_fault(region=PRIMARY, service="*", kind="outage")
    for region in (PRIMARY, STANDBY):
        with pytest.raises(CONNECTION_ERRORS):
            emulator.client("route53", region).list_health_checks()
    assert emulator.client("rds", STANDBY).describe_db_clusters()["DBClusters"] == []
    assert [(c["service"], c["region"], c["outcome"]) for c in emulator.calls()] == [
        ("route53", PRIMARY, "outage"),
        ("route53", PRIMARY, "outage"),
        ("rds", STANDBY, "ok"),
    ]


def test_a_standby_region_outage_leaves_route53_up(emulator):
    emulator.add_fault(region=STANDBY, service="*", kind="outage")
    assert emulator.client("route53", STANDBY).list_health_checks()["HealthChecks"] == []
    emulator.add_fault(region="*", service="route53", action="ListHealthChecks", kind="throttle")
    with pytest.raises(ClientError) as raised:
        emulator.client("route53", STANDBY).list_health_checks()
    assert raised.value.response["Error"]["Code"] == "Throttling"


def test_ec2_and_autoscaling_faults_by_action(emulator):
    ec2, asg = emulator.client("ec2", STANDBY), emulator.client("autoscaling", STANDBY)
    emulator.add_fault(region=STANDBY, service="ec2", action="CopyImage", kind="error5xx")
    emulator.add_fault(region=STANDBY, service="autoscaling", action="CreateAutoScalingGroup", kind="responseLost")
    with pytest.raises(ClientError) as raised:
        ec2.copy_image(SourceRegion=PRIMARY, SourceImageId="ami-1e749f67", Name="app-server")
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    ec2.create_launch_template(LaunchTemplateName="app-lt", LaunchTemplateData={"InstanceType": "t3.micro"})
    with pytest.raises(CONNECTION_ERRORS):
        asg.create_auto_scaling_group(
            AutoScalingGroupName="asg", LaunchTemplate={"LaunchTemplateName": "app-lt"}, MinSize=0, MaxSize=1,
            AvailabilityZones=["us-west-2a"],
        )
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["asg"])["AutoScalingGroups"]
    assert group["AutoScalingGroupName"] == "asg"
    assert [(c["service"], c["action"], c["outcome"]) for c in emulator.calls()] == [
        ("ec2", "CopyImage", "fault5xx"),
        ("ec2", "DescribeImages", "ok"),
        ("ec2", "CreateLaunchTemplate", "ok"),
        ("autoscaling", "CreateAutoScalingGroup", "responseLost"),
        ("autoscaling", "DescribeAutoScalingGroups", "ok"),
    ]


def test_rate_limit_throttles_beyond_the_rate_and_refills_over_time(emulator):
    emulator.add_fault(service="route53", kind="rateLimit", ratePerSecond=5)
    route53 = emulator.client("route53")
    outcomes = []
    for _ in range(8):
        try:
            route53.list_hosted_zones()
            outcomes.append("ok")
        except ClientError as error:
            assert is_throttling(error), error.response
            outcomes.append("throttled")
    # The bucket holds five: the burst passes, the rest is throttled (8 calls take far less
    # than the 200 ms one token takes to refill).
    assert outcomes[:5] == ["ok"] * 5 and outcomes.count("throttled") >= 2, outcomes
    # Other services are not limited by the rule.
    assert emulator.client("rds").describe_db_clusters()["DBClusters"] == []
    time.sleep(0.45)
    route53.list_hosted_zones()
    logged = [call["outcome"] for call in emulator.calls() if call["service"] == "route53"]
    assert logged.count("throttled") == outcomes.count("throttled") and logged[-1] == "ok"


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("rds", lambda e: e.client("rds").describe_db_clusters(), "InvalidParameterValue"),
        ("ec2", lambda e: e.client("ec2").describe_images(), "InvalidParameterValue"),
        ("dynamodb", lambda e: e.client("dynamodb").list_tables(), "ValidationException"),
        ("route53", lambda e: e.client("route53").list_hosted_zones(), "InvalidParameterValue"),
    ],
)
def test_rejected_is_a_400_that_is_not_retried(emulator, service, call, code):
    emulator.add_fault(service=service, kind="rejected")
    with pytest.raises(ClientError) as raised:
        call(emulator)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert not is_throttling(raised.value)
    assert emulator.calls()[-1]["outcome"] == "rejected"
