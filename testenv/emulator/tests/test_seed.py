"""The seed script: the primary stack, idempotent, documented in its JSON output."""

import json
import os
import subprocess
import sys

from conftest import EMULATOR_DIR, PRIMARY, STANDBY


def seed(emulator, out) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "pl_emulator.seed", "--endpoint", emulator.endpoint, "--out", str(out)],
        env={**os.environ, "PYTHONPATH": str(EMULATOR_DIR)},
        capture_output=True,
        text=True,
        check=True,
    )
    document = json.loads(out.read_text())
    assert json.loads(completed.stdout) == document
    return document


def test_seed_twice(emulator, tmp_path):
    first = seed(emulator, tmp_path / "first.json")
    # the operator replicates app-sessions to the standby region; seeding again is still a no-op
    emulator.client("dynamodb", PRIMARY).update_table(
        TableName="app-sessions", ReplicaUpdates=[{"Create": {"RegionName": STANDBY}}]
    )
    second = seed(emulator, tmp_path / "second.json")
    assert first == second

    assert first["regions"] == {"primary": PRIMARY, "standby": STANDBY}
    assert first["aurora"]["primaryClusterIdentifier"] == "primary-cluster"
    assert first["aurora"]["primaryClusterArn"] == "arn:aws:rds:us-east-1:123456789012:cluster:primary-cluster"
    assert first["aurora"]["primaryInstanceIdentifier"] == "primary-instance-1"
    assert first["buckets"] == {PRIMARY: "app-assets-us-east-1", STANDBY: "app-assets-us-west-2"}
    assert first["replicationRoleArn"] == "arn:aws:iam::123456789012:role/S3ReplicationRole"
    assert first["dbSubnetGroupName"] == "app-db-subnets"
    assert first["dynamodb"]["tableName"] == "app-sessions"
    assert first["hostedZoneName"] == "example.com."
    for region in (PRIMARY, STANDBY):
        network = first["vpc"][region]
        assert network["vpcId"].startswith("vpc-") and network["securityGroupId"].startswith("sg-")
        assert len(network["subnetIds"]) == 2
        assert first["alb"][region]["dnsName"] and first["alb"][region]["canonicalHostedZoneId"]
        assert ":targetgroup/" in first["alb"][region]["targetGroupArn"]
    assert (first["alb"][PRIMARY]["name"], first["alb"][STANDBY]["name"]) == ("primary-alb", "dr-alb")
    assert (first["alb"][PRIMARY]["targetGroupName"], first["alb"][STANDBY]["targetGroupName"]) == (
        "primary-targets",
        "dr-targets",
    )

    rds = emulator.client("rds", PRIMARY)
    [cluster] = rds.describe_db_clusters()["DBClusters"]
    assert (cluster["Engine"], cluster["EngineVersion"], cluster["Status"]) == (
        "aurora-postgresql",
        "15.4",
        "available",
    )
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == ["primary-instance-1"]
    [instance] = rds.describe_db_instances()["DBInstances"]
    assert instance["DBInstanceClass"] == "db.r5.large"
    for region in (PRIMARY, STANDBY):
        ec2 = emulator.client("ec2", region)
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"pilot-light-{region}"]}])["Vpcs"]
        assert [vpc["VpcId"] for vpc in vpcs] == [first["vpc"][region]["vpcId"]]
        subnets = ec2.describe_subnets(SubnetIds=first["vpc"][region]["subnetIds"])["Subnets"]
        assert len({subnet["AvailabilityZone"] for subnet in subnets}) == 2
        assert emulator.client("rds", region).describe_db_subnet_groups(DBSubnetGroupName="app-db-subnets")[
            "DBSubnetGroups"
        ]
        elbv2 = emulator.client("elbv2", region)
        [balancer] = elbv2.describe_load_balancers()["LoadBalancers"]
        assert (balancer["Scheme"], balancer["Type"]) == ("internet-facing", "application")
        [group] = elbv2.describe_target_groups()["TargetGroups"]
        assert (group["Protocol"], group["Port"], group["HealthCheckPath"]) == ("HTTP", 80, "/health")
        assert len(elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]) == 1
    [image] = emulator.client("ec2", PRIMARY).describe_images(Owners=["self"])["Images"]
    assert (image["ImageId"], image["Name"]) == (first["amiId"], "app-server")
    assert emulator.client("dynamodb", PRIMARY).list_tables()["TableNames"] == ["app-sessions"]
    table = emulator.client("dynamodb", STANDBY).describe_table(TableName="app-sessions")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert [replica["RegionName"] for replica in table["Replicas"]] == [PRIMARY]
    zones = emulator.client("route53").list_hosted_zones()["HostedZones"]
    assert [(zone["Id"].split("/")[-1], zone["Name"]) for zone in zones] == [(first["hostedZoneId"], "example.com.")]
    s3 = emulator.client("s3", STANDBY)
    assert s3.get_bucket_versioning(Bucket="app-assets-us-west-2")["Status"] == "Enabled"
    assert s3.get_bucket_location(Bucket="app-assets-us-west-2")["LocationConstraint"] == STANDBY
