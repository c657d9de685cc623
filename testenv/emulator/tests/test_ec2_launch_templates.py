"""EC2 launch templates: data as written, versions, the default version, errors for missing ones."""

import base64

import pytest
from botocore.exceptions import ClientError
from conftest import STANDBY, error_code

NAME = "app-server"
USER_DATA = base64.b64encode(b"#!/bin/sh\necho pilot-light\n").decode()
OWNER_TAG = {"Key": "pilotlight.dev/owner", "Value": "default/app"}


@pytest.fixture
def ec2(emulator):
    return emulator.client("ec2", STANDBY)


@pytest.fixture
def security_group(ec2) -> str:
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_security_group(GroupName="app-sg", Description="app", VpcId=vpc_id)["GroupId"]


def data(security_group: str, image_id: str = "ami-0123456789abcdef0") -> dict:
    return {
        "ImageId": image_id,
        "InstanceType": "t3.micro",
        "KeyName": "ops",
        "SecurityGroupIds": [security_group],
        "UserData": USER_DATA,
    }


def create(ec2, security_group: str) -> dict:
    return ec2.create_launch_template(
        LaunchTemplateName=NAME,
        LaunchTemplateData=data(security_group),
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [OWNER_TAG]}],
    )["LaunchTemplate"]


def default_version(ec2) -> dict:
    [version] = ec2.describe_launch_template_versions(LaunchTemplateName=NAME, Versions=["$Default"])[
        "LaunchTemplateVersions"
    ]
    return version


def test_create_keeps_the_data_as_written_and_tags_the_template(ec2, security_group):
    template = create(ec2, security_group)
    assert (template["LaunchTemplateName"], template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (
        NAME,
        1,
        1,
    )
    assert template["Tags"] == [OWNER_TAG]
    [described] = ec2.describe_launch_templates(LaunchTemplateNames=[NAME])["LaunchTemplates"]
    assert described["LaunchTemplateId"] == template["LaunchTemplateId"] and described["Tags"] == [OWNER_TAG]
    version = default_version(ec2)
    assert version["VersionNumber"] == 1 and version["DefaultVersion"] is True
    # moto copied the launch template's own tags into the data; EC2 does not
    assert version["LaunchTemplateData"] == data(security_group)


def test_versions_and_the_default_version(ec2, security_group):
    create(ec2, security_group)
    second = ec2.create_launch_template_version(
        LaunchTemplateName=NAME, LaunchTemplateData=data(security_group, "ami-0fedcba9876543210")
    )["LaunchTemplateVersion"]
    assert (second["VersionNumber"], second["DefaultVersion"]) == (2, False)
    assert default_version(ec2)["VersionNumber"] == 1
    modified = ec2.modify_launch_template(LaunchTemplateName=NAME, DefaultVersion="2")["LaunchTemplate"]
    assert (modified["DefaultVersionNumber"], modified["LatestVersionNumber"]) == (2, 2)
    version = default_version(ec2)
    assert version["VersionNumber"] == 2
    assert version["LaunchTemplateData"] == data(security_group, "ami-0fedcba9876543210")
    with pytest.raises(ClientError) as raised:
        ec2.modify_launch_template(LaunchTemplateName=NAME, DefaultVersion="3")
    assert error_code(raised) == "InvalidLaunchTemplateId.VersionNotFound"


def test_a_version_based_on_a_source_version_inherits_its_data(ec2, security_group):
    create(ec2, security_group)
    version = ec2.create_launch_template_version(
        LaunchTemplateName=NAME, SourceVersion="1", LaunchTemplateData={"ImageId": "ami-0fedcba9876543210"}
    )["LaunchTemplateVersion"]
    assert version["LaunchTemplateData"] == data(security_group, "ami-0fedcba9876543210")


def test_missing_templates_are_reported_with_ec2_codes(ec2, security_group):
    with pytest.raises(ClientError) as raised:
        ec2.describe_launch_templates(LaunchTemplateNames=["missing"])
    assert error_code(raised) == "InvalidLaunchTemplateName.NotFoundException"
    with pytest.raises(ClientError) as raised:
        ec2.describe_launch_templates(LaunchTemplateIds=["lt-0123456789abcdef0"])
    assert error_code(raised) == "InvalidLaunchTemplateId.NotFound"
    for call in (
        lambda: ec2.describe_launch_template_versions(LaunchTemplateName="missing", Versions=["$Default"]),
        lambda: ec2.create_launch_template_version(LaunchTemplateName="missing", LaunchTemplateData={}),
        lambda: ec2.modify_launch_template(LaunchTemplateName="missing", DefaultVersion="1"),
        lambda: ec2.delete_launch_template(LaunchTemplateName="missing"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert error_code(raised) == "InvalidLaunchTemplateName.NotFoundException"
        assert raised.value.response["Error"]["Message"] == (
            "The specified launch template, with template name missing, does not exist."
        )
    for call in (
        lambda: ec2.modify_launch_template(LaunchTemplateId="lt-0123456789abcdef0", DefaultVersion="1"),
        lambda: ec2.delete_launch_template(LaunchTemplateId="lt-0123456789abcdef0"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert error_code(raised) == "InvalidLaunchTemplateId.NotFound"
    create(ec2, security_group)
    with pytest.raises(ClientError) as raised:
        create(ec2, security_group)
    assert error_code(raised) == "InvalidLaunchTemplateName.AlreadyExistsException"


def test_delete(ec2, security_group):
    template = create(ec2, security_group)
    deleted = ec2.delete_launch_template(LaunchTemplateName=NAME)["LaunchTemplate"]
    assert (deleted["LaunchTemplateId"], deleted["LaunchTemplateName"]) == (template["LaunchTemplateId"], NAME)
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []
    with pytest.raises(ClientError) as raised:
        ec2.delete_launch_template(LaunchTemplateName=NAME)
    assert error_code(raised) == "InvalidLaunchTemplateName.NotFoundException"
