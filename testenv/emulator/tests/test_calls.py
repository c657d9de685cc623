"""The call log: real operation names for every protocol, regions, outcomes."""

import base64
import http.client
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from conftest import PRIMARY, STANDBY


def logged(emulator, since: int = 0) -> list[tuple]:
    return [(call["service"], call["region"], call["action"]) for call in emulator.calls(since)]


def test_query_json_and_cbor_protocols_log_operation_names(emulator):
    emulator.client("rds", STANDBY).describe_db_clusters()
    emulator.client("ec2").describe_vpcs()
    emulator.client("autoscaling", STANDBY).describe_auto_scaling_groups()
    emulator.client("elbv2").describe_load_balancers()
    emulator.client("sts").get_caller_identity()
    emulator.client("iam").list_roles()
    emulator.client("cloudwatch").list_metrics()  # botocore speaks awsJson1_0 here
    emulator.client("dynamodb", STANDBY).list_tables()
    emulator.cbor_cloudwatch(STANDBY).list_metrics()
    assert logged(emulator) == [
        ("rds", STANDBY, "DescribeDBClusters"),
        ("ec2", PRIMARY, "DescribeVpcs"),
        ("autoscaling", STANDBY, "DescribeAutoScalingGroups"),
        ("elasticloadbalancing", PRIMARY, "DescribeLoadBalancers"),
        ("sts", PRIMARY, "GetCallerIdentity"),
        ("iam", PRIMARY, "ListRoles"),
        ("monitoring", PRIMARY, "ListMetrics"),
        ("dynamodb", STANDBY, "ListTables"),
        ("monitoring", STANDBY, "ListMetrics"),
    ]


def test_s3_rest_operations(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="logged-bucket")
    s3.head_bucket(Bucket="logged-bucket")
    s3.list_buckets()
    s3.put_bucket_versioning(Bucket="logged-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3.get_bucket_versioning(Bucket="logged-bucket")
    s3.put_bucket_replication(
        Bucket="logged-bucket",
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/S3ReplicationRole",
            "Rules": [
                {
                    "ID": "all",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::elsewhere"},
                }
            ],
        },
    )
    s3.get_bucket_replication(Bucket="logged-bucket")
    s3.delete_bucket_replication(Bucket="logged-bucket")
    s3.put_bucket_tagging(Bucket="logged-bucket", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.get_bucket_tagging(Bucket="logged-bucket")
    s3.put_object(Bucket="logged-bucket", Key="dir/object.txt", Body=b"data")
    s3.get_object(Bucket="logged-bucket", Key="dir/object.txt")["Body"].read()
    s3.head_object(Bucket="logged-bucket", Key="dir/object.txt")
    s3.list_objects_v2(Bucket="logged-bucket")
    s3.copy_object(
        Bucket="logged-bucket", Key="copy.txt", CopySource={"Bucket": "logged-bucket", "Key": "dir/object.txt"}
    )
    s3.delete_object(Bucket="logged-bucket", Key="dir/object.txt")
    assert [action for _, _, action in logged(emulator)] == [
        "CreateBucket",
        "HeadBucket",
        "ListBuckets",
        "PutBucketVersioning",
        "GetBucketVersioning",
        "PutBucketReplication",
        "GetBucketReplication",
        "DeleteBucketReplication",
        "PutBucketTagging",
        "GetBucketTagging",
        "PutObject",
        "GetObject",
        "HeadObject",
        "ListObjectsV2",
        "CopyObject",
        "DeleteObject",
    ]
    assert {service for service, _, _ in logged(emulator)} == {"s3"}


def test_s3_virtual_host_style(emulator):
    emulator.client("s3").create_bucket(Bucket="virtual-bucket")
    since = emulator.calls()[-1]["seq"]
    request = AWSRequest(
        "GET", f"{emulator.endpoint}/?list-type=2", headers={"Host": "virtual-bucket.s3.amazonaws.com"}
    )
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "s3", PRIMARY).add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(request.url, headers=dict(request.headers))) as response:
        assert b"<Name>virtual-bucket</Name>" in response.read()
    assert logged(emulator, since) == [("s3", PRIMARY, "ListObjectsV2")]


def test_route53_rest_operations(emulator):
    route53 = emulator.client("route53")
    zone_id = route53.create_hosted_zone(Name="example.com.", CallerReference="zone")["HostedZone"]["Id"]
    route53.list_hosted_zones()
    route53.get_hosted_zone(Id=zone_id)
    change_id = route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "app.example.com.",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                }
            ]
        },
    )["ChangeInfo"]["Id"]
    route53.list_resource_record_sets(HostedZoneId=zone_id)
    route53.get_change(Id=change_id)
    check_id = route53.create_health_check(
        CallerReference="check",
        HealthCheckConfig={
            "Type": "HTTP",
            "FullyQualifiedDomainName": "app.example.com",
            "Port": 80,
            "ResourcePath": "/health",
        },
    )["HealthCheck"]["Id"]
    route53.list_health_checks()
    route53.get_health_check(HealthCheckId=check_id)
    route53.get_health_check_status(HealthCheckId=check_id)
    route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=check_id, AddTags=[{"Key": "k", "Value": "v"}]
    )
    route53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id)
    route53.list_tags_for_resources(ResourceType="healthcheck", ResourceIds=[check_id])
    route53.delete_health_check(HealthCheckId=check_id)
    assert [action for _, _, action in logged(emulator)] == [
        "CreateHostedZone",
        "ListHostedZones",
        "GetHostedZone",
        "ChangeResourceRecordSets",
        "ListResourceRecordSets",
        "GetChange",
        "CreateHealthCheck",
        "ListHealthChecks",
        "GetHealthCheck",
        "GetHealthCheckStatus",
        "ChangeTagsForResource",
        "ListTagsForResource",
        "ListTagsForResources",
        "DeleteHealthCheck",
    ]


def test_call_fields_outcomes_and_since(emulator):
    rds = emulator.client("rds")
    rds.describe_db_clusters()
    first = emulator.calls()
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault):
        rds.describe_db_clusters(DBClusterIdentifier="missing")
    [ok] = first
    assert ok["outcome"] == "ok" and ok["status"] == 200 and ok["code"] is None
    assert isinstance(ok["time"], float) and ok["durationMs"] >= 0
    [error] = emulator.calls(since=ok["seq"])
    assert (error["action"], error["outcome"], error["status"], error["code"]) == (
        "DescribeDBClusters",
        "error",
        404,
        "DBClusterNotFoundFault",
    )
    assert error["seq"] > ok["seq"]


def test_unknown_action_is_logged_and_control_paths_are_not(emulator):
    emulator.control("GET", "health")
    urllib.request.urlopen(urllib.request.Request(f"{emulator.endpoint}/moto-api/reset", method="POST")).read()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(urllib.request.Request(f"{emulator.endpoint}/no/such/thing", method="PATCH"))
    assert [(call["service"], call["region"], call["action"]) for call in emulator.calls()] == [
        ("unknown", "unknown", "UnknownPATCH")
    ]


def test_app_name_from_user_agent(emulator):
    emulator.client("sts", user_agent_appid="operator-7").get_caller_identity()
    emulator.client("sts").get_caller_identity()
    assert [call["app"] for call in emulator.calls()] == ["operator-7", None]


def test_delete_clears_but_sequence_keeps_growing(emulator):
    emulator.client("sts").get_caller_identity()
    last = emulator.calls()[-1]["seq"]
    assert emulator.control("DELETE", "calls") == (200, {"ok": True})
    assert emulator.calls() == []
    emulator.client("sts").get_caller_identity()
    assert emulator.calls()[0]["seq"] == last + 1


def test_concurrent_requests_are_all_logged(emulator):
    clients = [emulator.client("sts"), emulator.client("rds", STANDBY), emulator.client("dynamodb")]
    calls = [
        lambda c=clients[0]: c.get_caller_identity(),
        lambda c=clients[1]: c.describe_db_clusters(),
        lambda c=clients[2]: c.list_tables(),
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: calls[i % 3](), range(48)))
    logged_calls = emulator.calls()
    assert len(logged_calls) == 48 and len({call["seq"] for call in logged_calls}) == 48
    assert {call["outcome"] for call in logged_calls} == {"ok"}


def test_s3_answers_carry_s3s_root_elements(emulator):
    """The Rust SDK rejects moto's <GetBucketVersioningResponse> root; S3 says <VersioningConfiguration>."""
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="roots")
    for query, root in [("versioning", b"<VersioningConfiguration"), ("replication", b"<ReplicationConfiguration")]:
        if query == "replication":
            s3.put_bucket_versioning(Bucket="roots", VersioningConfiguration={"Status": "Enabled"})
            s3.put_bucket_replication(
                Bucket="roots",
                ReplicationConfiguration={
                    "Role": "arn:aws:iam::123456789012:role/r",
                    "Rules": [{"ID": "a", "Status": "Enabled", "Priority": 1, "Filter": {},
                               "Destination": {"Bucket": "arn:aws:s3:::elsewhere"},
                               "DeleteMarkerReplication": {"Status": "Enabled"}}],
                },
            )
        answer = emulator.raw_s3_get(f"/roots?{query}")
        assert root in answer[:200], answer[:200]


def test_s3_replication_rules_come_back_as_they_were_put(emulator):
    """moto forces DeleteMarkerReplication Disabled and an empty Filter on every rule."""
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="faithful")
    s3.put_bucket_versioning(Bucket="faithful", VersioningConfiguration={"Status": "Enabled"})
    rule = {
        "ID": "logs",
        "Priority": 2,
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Destination": {"Bucket": "arn:aws:s3:::elsewhere", "StorageClass": "STANDARD_IA"},
        "DeleteMarkerReplication": {"Status": "Enabled"},
    }
    s3.put_bucket_replication(
        Bucket="faithful", ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r", "Rules": [rule]}
    )
    [got] = s3.get_bucket_replication(Bucket="faithful")["ReplicationConfiguration"]["Rules"]
    assert got == rule


def test_ec2_autoscaling_and_route53_operations_of_the_standby_stack(emulator):
    """The names (and regions) logged for the EC2, Auto Scaling and Route 53 calls of a regional failover."""
    ec2, asg = emulator.client("ec2", STANDBY), emulator.client("autoscaling", STANDBY)
    route53 = emulator.client("route53", STANDBY)  # signed for us-west-2, served by the us-east-1 control plane
    with pytest.raises(ec2.exceptions.ClientError):
        ec2.copy_image(SourceRegion=PRIMARY, SourceImageId="ami-0123456789abcdef0", Name="app-server")
    ec2.describe_images(Owners=["self"])
    with pytest.raises(ec2.exceptions.ClientError):
        ec2.describe_subnets(SubnetIds=["subnet-0123456789abcdef0"])
    ec2.create_launch_template(LaunchTemplateName="app-lt", LaunchTemplateData={"InstanceType": "t3.micro"})
    ec2.create_launch_template_version(LaunchTemplateName="app-lt", LaunchTemplateData={"InstanceType": "t3.small"})
    ec2.modify_launch_template(LaunchTemplateName="app-lt", DefaultVersion="2")
    ec2.describe_launch_template_versions(LaunchTemplateName="app-lt", Versions=["$Default"])
    asg.create_auto_scaling_group(
        AutoScalingGroupName="asg", LaunchTemplate={"LaunchTemplateName": "app-lt"}, MinSize=0, MaxSize=1,
        AvailabilityZones=["us-west-2a"],
    )
    asg.update_auto_scaling_group(AutoScalingGroupName="asg", MaxSize=2)
    asg.describe_auto_scaling_groups(AutoScalingGroupNames=["asg"])
    asg.delete_auto_scaling_group(AutoScalingGroupName="asg", ForceDelete=True)
    ec2.delete_launch_template(LaunchTemplateName="app-lt")
    zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="z")["HostedZone"]["Id"]
    with pytest.raises(route53.exceptions.NoSuchHostedZone):
        route53.change_resource_record_sets(
            HostedZoneId="Z0000000000000000000",
            ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": "a.example.com", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "b"}]}}]},
        )
    route53.list_resource_record_sets(HostedZoneId=zone_id)
    calls = [(c["service"], c["region"], c["action"], c["outcome"], c["code"]) for c in emulator.calls()]
    assert calls == [
        ("ec2", STANDBY, "CopyImage", "error", "InvalidAMIID.NotFound"),
        ("ec2", STANDBY, "DescribeImages", "ok", None),
        ("ec2", STANDBY, "DescribeSubnets", "error", "InvalidSubnetID.NotFound"),
        ("ec2", STANDBY, "CreateLaunchTemplate", "ok", None),
        ("ec2", STANDBY, "CreateLaunchTemplateVersion", "ok", None),
        ("ec2", STANDBY, "ModifyLaunchTemplate", "ok", None),
        ("ec2", STANDBY, "DescribeLaunchTemplateVersions", "ok", None),
        ("autoscaling", STANDBY, "CreateAutoScalingGroup", "ok", None),
        ("autoscaling", STANDBY, "UpdateAutoScalingGroup", "ok", None),
        ("autoscaling", STANDBY, "DescribeAutoScalingGroups", "ok", None),
        ("autoscaling", STANDBY, "DeleteAutoScalingGroup", "ok", None),
        ("ec2", STANDBY, "DeleteLaunchTemplate", "ok", None),
        ("route53", PRIMARY, "CreateHostedZone", "ok", None),
        ("route53", PRIMARY, "ChangeResourceRecordSets", "error", "NoSuchHostedZone"),
        ("route53", PRIMARY, "ListResourceRecordSets", "ok", None),
    ]


def test_recording_keeps_requests_and_answers_that_replay_to_the_same_effect(emulator):
    rds = emulator.client("rds", STANDBY, user_agent_appid="recorder")
    rds.describe_db_clusters()
    assert "request" not in emulator.calls()[-1], "recording is off by default"

    assert emulator.control("PUT", "calls/recording", {"requests": True}) == (200, {"requests": True})
    assert emulator.control("GET", "calls/recording") == (200, {"requests": True})
    route53 = emulator.client("route53")
    zone = route53.create_hosted_zone(Name="replay.example.", CallerReference="r1")["HostedZone"]["Id"]
    change = {"Action": "UPSERT", "ResourceRecordSet": {"Name": "a.replay.example.", "Type": "A", "TTL": 60,
                                                        "ResourceRecords": [{"Value": "192.0.2.1"}]}}
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [change]})
    recorded = emulator.calls()[-1]
    assert recorded["action"] == "ChangeResourceRecordSets"
    request = recorded["request"]
    assert request["method"] == "POST" and request["path"].endswith("/rrset/")
    assert "us-east-1/route53/aws4_request" in request["headers"]["authorization"]
    assert b"192.0.2.1" in base64.b64decode(request["body"])
    assert b"<ChangeInfo>" in base64.b64decode(request["answer"])

    # Sent again as recorded (moto does not check signatures), it is the same operation again.
    # (http.client, not urllib: urllib would add a form Content-Type the SDK never sent.)
    body = base64.b64decode(request["body"]).replace(b"192.0.2.1", b"192.0.2.9")
    connection = http.client.HTTPConnection(emulator.endpoint.removeprefix("http://"))
    connection.request(
        request["method"], request["path"], body=body, headers={**request["headers"], "User-Agent": "app/replayer"}
    )
    assert connection.getresponse().status == 200
    connection.close()
    again = emulator.calls()[-1]
    assert (again["action"], again["app"], again["outcome"]) == ("ChangeResourceRecordSets", "replayer", "ok")
    records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    assert [r["ResourceRecords"] for r in records if r["Type"] == "A"] == [[{"Value": "192.0.2.9"}]]

    assert emulator.control("PUT", "calls/recording", {"requests": "yes"})[0] == 400
    assert emulator.control("POST", "reset") == (200, {"ok": True})
    assert emulator.control("GET", "calls/recording") == (200, {"requests": False}), "reset turns recording off"
