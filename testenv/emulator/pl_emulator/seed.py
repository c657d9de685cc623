"""Creates the primary-region stack of the seed article in a running emulator.

python -m pl_emulator.seed --endpoint http://127.0.0.1:N --out FILE.json

Idempotent: every resource is looked up before it is created, so running it
twice neither fails nor duplicates. Writes (and prints) a JSON document with
every identifier, ARN and DNS name, for the e2e tests to start from.
"""

import argparse
import json
import sys
from pathlib import Path

import boto3
from botocore.config import Config

PRIMARY, STANDBY = "us-east-1", "us-west-2"
ACCOUNT_ID = "123456789012"
CREDENTIALS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}

ENGINE, ENGINE_VERSION, INSTANCE_CLASS = "aurora-postgresql", "15.4", "db.r5.large"
CLUSTER_ID, INSTANCE_ID = "primary-cluster", "primary-instance-1"
DB_SUBNET_GROUP = "app-db-subnets"
SECURITY_GROUP = "app-sg"
REPLICATION_ROLE = "S3ReplicationRole"
TABLE = "app-sessions"
AMI_NAME = "app-server"
ZONE_NAME = "example.com."
VPC_CIDRS = {PRIMARY: "10.0.0.0/16", STANDBY: "10.1.0.0/16"}
ALB_NAMES = {PRIMARY: ("primary-alb", "primary-targets"), STANDBY: ("dr-alb", "dr-targets")}
TAGS = [{"Key": "app", "Value": "pilot-light"}]


class Seeder:
    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint

    def client(self, service: str, region: str = PRIMARY):
        config = Config(retries={"mode": "standard", "max_attempts": 5}, s3={"addressing_style": "path"})
        return boto3.client(service, region_name=region, endpoint_url=self._endpoint, config=config, **CREDENTIALS)

    def run(self) -> dict:
        network = {region: self.network(region) for region in (PRIMARY, STANDBY)}
        for region in (PRIMARY, STANDBY):
            self.db_subnet_group(region, network[region]["subnetIds"])
        return {
            "endpoint": self._endpoint,
            "accountId": ACCOUNT_ID,
            "regions": {"primary": PRIMARY, "standby": STANDBY},
            "vpc": network,
            "dbSubnetGroupName": DB_SUBNET_GROUP,
            "aurora": self.aurora(network[PRIMARY]["securityGroupId"]),
            "buckets": {region: self.bucket(region) for region in (PRIMARY, STANDBY)},
            "replicationRoleArn": self.replication_role(),
            "dynamodb": self.table(),
            "amiId": self.ami(network[PRIMARY]["subnetIds"][0]),
            "alb": {region: self.load_balancer(region, network[region]) for region in (PRIMARY, STANDBY)},
            "hostedZoneId": self.hosted_zone(),
            "hostedZoneName": ZONE_NAME,
        }

    def network(self, region: str) -> dict:
        """A VPC with two subnets in different AZs and a security group."""
        ec2 = self.client("ec2", region)
        name = f"pilot-light-{region}"
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
        if vpcs:
            vpc_id = vpcs[0]["VpcId"]
        else:
            vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDRS[region], TagSpecifications=_tags("vpc", name))["Vpc"]["VpcId"]
        subnet_ids = []
        for index, zone in enumerate(("a", "b")):
            subnet_name = f"{name}-{zone}"
            subnets = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [subnet_name]}])["Subnets"]
            if not subnets:
                prefix = VPC_CIDRS[region].rsplit(".", 2)[0]
                subnets = [
                    ec2.create_subnet(
                        VpcId=vpc_id,
                        CidrBlock=f"{prefix}.{index}.0/24",
                        AvailabilityZone=f"{region}{zone}",
                        TagSpecifications=_tags("subnet", subnet_name),
                    )["Subnet"]
                ]
            subnet_ids.append(subnets[0]["SubnetId"])
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [SECURITY_GROUP]}]
        )["SecurityGroups"]
        if groups:
            group_id = groups[0]["GroupId"]
        else:
            group_id = ec2.create_security_group(
                GroupName=SECURITY_GROUP,
                Description="pilot-light application",
                VpcId=vpc_id,
                TagSpecifications=_tags("security-group", SECURITY_GROUP),
            )["GroupId"]
            ec2.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                    for port in (80, 5432)
                ],
            )
        return {"vpcId": vpc_id, "subnetIds": subnet_ids, "securityGroupId": group_id}

    def db_subnet_group(self, region: str, subnet_ids: list[str]) -> None:
        rds = self.client("rds", region)
        try:
            rds.describe_db_subnet_groups(DBSubnetGroupName=DB_SUBNET_GROUP)
        except rds.exceptions.DBSubnetGroupNotFoundFault:
            rds.create_db_subnet_group(
                DBSubnetGroupName=DB_SUBNET_GROUP,
                DBSubnetGroupDescription="pilot-light Aurora",
                SubnetIds=subnet_ids,
                Tags=TAGS,
            )

    def aurora(self, security_group_id: str) -> dict:
        rds = self.client("rds", PRIMARY)
        try:
            [cluster] = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER_ID)["DBClusters"]
        except rds.exceptions.DBClusterNotFoundFault:
            cluster = rds.create_db_cluster(
                DBClusterIdentifier=CLUSTER_ID,
                Engine=ENGINE,
                EngineVersion=ENGINE_VERSION,
                MasterUsername="pladmin",
                MasterUserPassword="pilot-light-seed-password",
                DBSubnetGroupName=DB_SUBNET_GROUP,
                VpcSecurityGroupIds=[security_group_id],
                Tags=TAGS,
            )["DBCluster"]
        try:
            [instance] = rds.describe_db_instances(DBInstanceIdentifier=INSTANCE_ID)["DBInstances"]
        except rds.exceptions.DBInstanceNotFoundFault:
            instance = rds.create_db_instance(
                DBInstanceIdentifier=INSTANCE_ID,
                DBClusterIdentifier=CLUSTER_ID,
                DBInstanceClass=INSTANCE_CLASS,
                Engine=ENGINE,
                Tags=TAGS,
            )["DBInstance"]
        return {
            "engine": ENGINE,
            "engineVersion": ENGINE_VERSION,
            "primaryClusterIdentifier": CLUSTER_ID,
            "primaryClusterArn": cluster["DBClusterArn"],
            "primaryClusterEndpoint": cluster["Endpoint"],
            "primaryInstanceIdentifier": INSTANCE_ID,
            "primaryInstanceArn": instance["DBInstanceArn"],
            "instanceClass": INSTANCE_CLASS,
        }

    def bucket(self, region: str) -> str:
        s3 = self.client("s3", region)
        name = f"app-assets-{region}"
        try:
            s3.head_bucket(Bucket=name)
        except s3.exceptions.ClientError:
            location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=name, **location)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})  # replication needs it
        return name

    def replication_role(self) -> str:
        iam = self.client("iam")
        try:
            return iam.get_role(RoleName=REPLICATION_ROLE)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
            role = iam.create_role(RoleName=REPLICATION_ROLE, AssumeRolePolicyDocument=json.dumps(trust), Tags=TAGS)[
                "Role"
            ]
            permissions = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "s3:GetReplicationConfiguration",
                            "s3:ListBucket",
                            "s3:GetObjectVersion*",
                            "s3:Replicate*",
                        ],
                        "Resource": ["arn:aws:s3:::app-assets-*", "arn:aws:s3:::app-assets-*/*"],
                    }
                ],
            }
            iam.put_role_policy(
                RoleName=REPLICATION_ROLE, PolicyName="s3-replication", PolicyDocument=json.dumps(permissions)
            )
            return role["Arn"]

    def table(self) -> dict:
        dynamodb = self.client("dynamodb")
        try:
            table = dynamodb.describe_table(TableName=TABLE)["Table"]
        except dynamodb.exceptions.ResourceNotFoundException:
            table = dynamodb.create_table(
                TableName=TABLE,
                AttributeDefinitions=[{"AttributeName": "sessionId", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "sessionId", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},  # for replicas
                Tags=TAGS,
            )["TableDescription"]
        return {"tableName": TABLE, "tableArn": table["TableArn"], "region": PRIMARY}

    def ami(self, subnet_id: str) -> str:
        """The application AMI, baked from an instance of one of moto's stock images."""
        ec2 = self.client("ec2")
        images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [AMI_NAME]}])["Images"]
        if images:
            return images[0]["ImageId"]
        base = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "architecture", "Values": ["x86_64"]}])[
            "Images"
        ][0]
        [instance] = ec2.run_instances(
            ImageId=base["ImageId"], InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnet_id
        )["Instances"]
        image_id = ec2.create_image(
            InstanceId=instance["InstanceId"], Name=AMI_NAME, TagSpecifications=_tags("image", AMI_NAME)
        )["ImageId"]
        ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
        return image_id

    def load_balancer(self, region: str, network: dict) -> dict:
        """An internet-facing ALB with an HTTP:80 target group (health check /health) and listener."""
        elbv2 = self.client("elbv2", region)
        name, group_name = ALB_NAMES[region]
        try:
            [balancer] = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
        except elbv2.exceptions.LoadBalancerNotFoundException:
            [balancer] = elbv2.create_load_balancer(
                Name=name,
                Subnets=network["subnetIds"],
                SecurityGroups=[network["securityGroupId"]],
                Scheme="internet-facing",
                Type="application",
                Tags=TAGS,
            )["LoadBalancers"]
        try:
            [group] = elbv2.describe_target_groups(Names=[group_name])["TargetGroups"]
        except elbv2.exceptions.TargetGroupNotFoundException:
            [group] = elbv2.create_target_group(
                Name=group_name,
                Protocol="HTTP",
                Port=80,
                VpcId=network["vpcId"],
                TargetType="instance",
                HealthCheckProtocol="HTTP",
                HealthCheckPath="/health",
            )["TargetGroups"]
        listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
        if not listeners:
            listeners = elbv2.create_listener(
                LoadBalancerArn=balancer["LoadBalancerArn"],
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
            )["Listeners"]
        return {
            "name": name,
            "arn": balancer["LoadBalancerArn"],
            "dnsName": balancer["DNSName"],
            "canonicalHostedZoneId": balancer["CanonicalHostedZoneId"],
            "targetGroupName": group_name,
            "targetGroupArn": group["TargetGroupArn"],
            "listenerArn": listeners[0]["ListenerArn"],
        }

    def hosted_zone(self) -> str:
        route53 = self.client("route53")
        zones = route53.list_hosted_zones_by_name(DNSName=ZONE_NAME)["HostedZones"]
        zone = next((zone for zone in zones if zone["Name"] == ZONE_NAME), None)
        if zone is None:
            zone = route53.create_hosted_zone(Name=ZONE_NAME, CallerReference=f"pilot-light-seed-{ZONE_NAME}")[
                "HostedZone"
            ]
        return zone["Id"].removeprefix("/hostedzone/")


def _tags(resource_type: str, name: str) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}, *TAGS]}]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pl_emulator.seed", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the emulator, e.g. http://127.0.0.1:4566")
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON document")
    args = parser.parse_args(argv)
    document = json.dumps(Seeder(args.endpoint).run(), indent=2, sort_keys=True)
    args.out.write_text(document + "\n")
    sys.stdout.write(document + "\n")


if __name__ == "__main__":
    main()
