"""EC2 images across regions (CopyImage, DescribeImages) and DescribeSubnets errors."""

from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError
from conftest import PRIMARY, STANDBY, error_code, wait_for

SOURCE_TAG = "pilotlight.dev/source-image"
SHORT = 0.6
#: One of moto's stock AMIs, present in every region (listing them all takes a second).
STOCK_AMI = "ami-1e749f67"


@pytest.fixture
def ec2(emulator):
    return {region: emulator.client("ec2", region) for region in (PRIMARY, STANDBY)}


@pytest.fixture
def source_image(ec2) -> str:
    """An AMI of our own in us-east-1, tagged, baked from an instance like the seed's."""
    client = ec2[PRIMARY]
    vpc_id = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id = client.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    [instance] = client.run_instances(
        ImageId=STOCK_AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnet_id
    )["Instances"]
    return client.create_image(
        InstanceId=instance["InstanceId"],
        Name="app-server",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "app", "Value": "pilot-light"}]}],
    )["ImageId"]


def copy(ec2, source: str, **extra) -> str:
    return ec2[STANDBY].copy_image(
        SourceRegion=PRIMARY,
        SourceImageId=source,
        Name="app-server-copy",
        TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": SOURCE_TAG, "Value": source}]},
            {"ResourceType": "snapshot", "Tags": [{"Key": SOURCE_TAG, "Value": source}]},
        ],
        **extra,
    )["ImageId"]


def describe(ec2, image_id: str, region: str = STANDBY) -> dict:
    [image] = ec2[region].describe_images(ImageIds=[image_id])["Images"]
    return image


def test_copy_image_tags_the_copy_and_its_snapshot(ec2, source_image):
    copy_id = copy(ec2, source_image)
    assert copy_id != source_image
    image = describe(ec2, copy_id)
    assert image["Tags"] == [{"Key": SOURCE_TAG, "Value": source_image}]
    assert image["Name"] == "app-server-copy" and image["OwnerId"] == "123456789012"
    assert image["State"] == "available"
    created = datetime.fromisoformat(image["CreationDate"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60
    snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    [snapshot] = ec2[STANDBY].describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert snapshot["Tags"] == [{"Key": SOURCE_TAG, "Value": source_image}]


def test_copies_are_found_by_tag_among_own_images(ec2, source_image):
    copy_id = copy(ec2, source_image)
    found = ec2[STANDBY].describe_images(
        Owners=["self"], Filters=[{"Name": f"tag:{SOURCE_TAG}", "Values": [source_image]}]
    )["Images"]
    assert [image["ImageId"] for image in found] == [copy_id]
    assert ec2[STANDBY].describe_images(
        Owners=["self"], Filters=[{"Name": f"tag:{SOURCE_TAG}", "Values": ["ami-00000000000000000"]}]
    )["Images"] == []
    # the source stays in its own region only
    assert describe(ec2, source_image, PRIMARY)["Tags"] == [{"Key": "app", "Value": "pilot-light"}]
    with pytest.raises(ClientError) as raised:
        ec2[STANDBY].describe_images(ImageIds=[source_image])
    assert error_code(raised) == "InvalidAMIID.NotFound"


def test_copy_of_a_missing_image_is_refused(ec2):
    with pytest.raises(ClientError) as raised:
        copy(ec2, "ami-0123456789abcdef0")
    assert error_code(raised) == "InvalidAMIID.NotFound"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ec2[STANDBY].describe_images(Owners=["self"])["Images"] == []


def test_copy_with_an_untaggable_resource_type_creates_nothing(ec2, source_image):
    with pytest.raises(ClientError) as raised:
        ec2[STANDBY].copy_image(
            SourceRegion=PRIMARY,
            SourceImageId=source_image,
            Name="app-server-copy",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "k", "Value": "v"}]}],
        )
    assert error_code(raised) == "InvalidParameterValue"
    assert ec2[STANDBY].describe_images(Owners=["self"])["Images"] == []


def test_copy_image_is_idempotent_on_client_token(ec2, source_image):
    """The Rust SDK fills ClientToken itself and keeps it across retries (e.g. after a lost answer)."""
    first = copy(ec2, source_image, ClientToken="token-1")
    assert copy(ec2, source_image, ClientToken="token-1") == first
    assert len(ec2[STANDBY].describe_images(Owners=["self"])["Images"]) == 1
    with pytest.raises(ClientError) as raised:
        ec2[STANDBY].copy_image(
            SourceRegion=PRIMARY, SourceImageId=source_image, Name="another-name", ClientToken="token-1"
        )
    assert error_code(raised) == "IdempotentParameterMismatch"
    assert copy(ec2, source_image, ClientToken="token-2") != first
    assert copy(ec2, source_image) != first
    assert len(ec2[STANDBY].describe_images(Owners=["self"])["Images"]) == 3


def test_describe_images_in_the_source_region(ec2, source_image):
    assert describe(ec2, source_image, PRIMARY)["ImageId"] == source_image
    found = ec2[PRIMARY].describe_images(Owners=["self"], Filters=[{"Name": "tag:app", "Values": ["pilot-light"]}])
    assert [image["ImageId"] for image in found["Images"]] == [source_image]
    with pytest.raises(ClientError) as raised:
        ec2[PRIMARY].describe_images(ImageIds=["ami-0123456789abcdef0"])
    assert error_code(raised) == "InvalidAMIID.NotFound"


def test_copy_image_duration_keeps_the_copy_pending(emulator, ec2, source_image):
    emulator.set_durations({"ec2:CopyImage": SHORT})
    copy_id = copy(ec2, source_image)
    assert describe(ec2, copy_id)["State"] == "pending"
    pending = ec2[STANDBY].describe_images(Owners=["self"], Filters=[{"Name": "state", "Values": ["pending"]}])
    assert [image["ImageId"] for image in pending["Images"]] == [copy_id]
    image = wait_for(lambda: describe(ec2, copy_id), lambda image: image["State"] == "available")
    assert image["State"] == "available"
    assert image["Tags"] == [{"Key": SOURCE_TAG, "Value": source_image}]


def test_describe_subnets_names_the_missing_subnet(ec2):
    vpc_id = ec2[STANDBY].create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2[STANDBY].create_subnet(VpcId=vpc_id, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    for subnet_ids in (["subnet-0123456789abcdef0"], [subnet_id, "subnet-0123456789abcdef0"]):
        with pytest.raises(ClientError) as raised:
            ec2[STANDBY].describe_subnets(SubnetIds=subnet_ids)
        assert error_code(raised) == "InvalidSubnetID.NotFound"
        assert raised.value.response["Error"]["Message"] == "The subnet ID 'subnet-0123456789abcdef0' does not exist"
    [subnet] = ec2[STANDBY].describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    assert subnet["SubnetId"] == subnet_id
