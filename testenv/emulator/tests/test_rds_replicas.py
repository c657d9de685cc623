"""RDS cross-region read replicas, shaped like the real RDS API (see pl_emulator/rds_replicas.py)."""

import time

import pytest
from botocore.exceptions import ClientError
from conftest import PRIMARY, STANDBY, error_code, wait_for


def create_source(rds, identifier: str = "app-db", encrypted: bool = False) -> dict:
    return rds[PRIMARY].create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="mysql",
        DBInstanceClass="db.r5.large",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="secret-password",
        StorageEncrypted=encrypted,
        Tags=[{"Key": "team", "Value": "source"}],
    )["DBInstance"]


def describe(rds, region: str, identifier: str) -> dict:
    return rds[region].describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def test_cross_region_replica_names_its_source_by_arn_and_is_created_for_the_duration(emulator, rds):
    source = create_source(rds)
    emulator.set_durations({"rds:CreateDBInstanceReadReplica": 0.5})
    replica = rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr",
        SourceDBInstanceIdentifier=source["DBInstanceArn"],
        DBInstanceClass="db.t3.medium",
        Tags=[{"Key": "pilotlight.dev/owner", "Value": "ns/app"}],
    )["DBInstance"]
    assert replica["DBInstanceStatus"] == "creating"
    assert replica["DBInstanceArn"] == "arn:aws:rds:us-west-2:123456789012:db:app-db-dr"
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == source["DBInstanceArn"]
    assert replica["DBInstanceClass"] == "db.t3.medium"
    assert replica["Endpoint"]["Address"].startswith("app-db-dr.") and ".us-west-2." in replica["Endpoint"]["Address"]
    assert replica["StatusInfos"] == [{"StatusType": "read replication", "Status": "replicating", "Normal": True}]
    wait_for(lambda: describe(rds, STANDBY, "app-db-dr"), lambda d: d["DBInstanceStatus"] == "available")
    assert describe(rds, PRIMARY, "app-db")["ReadReplicaDBInstanceIdentifiers"] == [replica["DBInstanceArn"]]
    # Tags are the replica's own, not shared with its source.
    assert rds[STANDBY].list_tags_for_resource(ResourceName=replica["DBInstanceArn"])["TagList"] == [
        {"Key": "pilotlight.dev/owner", "Value": "ns/app"}
    ]
    assert rds[PRIMARY].list_tags_for_resource(ResourceName=source["DBInstanceArn"])["TagList"] == [
        {"Key": "team", "Value": "source"}
    ]


def test_the_class_defaults_to_the_sources(rds):
    source = create_source(rds)
    replica = rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )["DBInstance"]
    assert replica["DBInstanceClass"] == "db.r5.large"


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"SourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:123456789012:db:missing"}, "DBInstanceNotFound"),
        ({"SourceDBInstanceIdentifier": "app-db"}, "DBInstanceNotFound"),  # a bare name is looked up locally
        ({"SourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:123456789012:cluster:x"}, "InvalidParameterValue"),
    ],
)
def test_a_missing_or_malformed_source_is_refused(rds, kwargs, code):
    create_source(rds)
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].create_db_instance_read_replica(DBInstanceIdentifier="app-db-dr", **kwargs)
    assert error_code(raised) == code
    assert rds[STANDBY].describe_db_instances()["DBInstances"] == []


def test_an_encrypted_source_needs_a_kms_key_of_the_destination_region(rds):
    source = create_source(rds, encrypted=True)
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].create_db_instance_read_replica(
            DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
        )
    assert error_code(raised) == "InvalidParameterCombination"
    assert "KmsKeyId" in raised.value.response["Error"]["Message"]
    replica = rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"], KmsKeyId="alias/dr"
    )["DBInstance"]
    assert (replica["StorageEncrypted"], replica["KmsKeyId"]) == (True, "alias/dr")


def test_an_identifier_in_use_is_refused_and_the_instance_kept(rds):
    source = create_source(rds)
    rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"], DBInstanceClass="db.t3.small"
    )
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].create_db_instance_read_replica(
            DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
        )
    assert error_code(raised) == "DBInstanceAlreadyExists"
    assert describe(rds, STANDBY, "app-db-dr")["DBInstanceClass"] == "db.t3.small"


def test_promotion_works_with_the_source_region_down_and_ends_the_replication(emulator, rds):
    source = create_source(rds)
    rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )
    emulator.add_fault(kind="outage", region=PRIMARY, service="rds")
    emulator.set_durations({"rds:PromoteReadReplica": 0.5})
    promoted = rds[STANDBY].promote_read_replica(DBInstanceIdentifier="app-db-dr")["DBInstance"]
    assert promoted["DBInstanceStatus"] == "modifying"
    started = time.monotonic()
    done = wait_for(lambda: describe(rds, STANDBY, "app-db-dr"), lambda d: d["DBInstanceStatus"] == "available")
    assert time.monotonic() - started >= 0.3
    assert "ReadReplicaSourceDBInstanceIdentifier" not in done
    assert not done.get("StatusInfos")
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].promote_read_replica(DBInstanceIdentifier="app-db-dr")
    assert error_code(raised) == "InvalidDBInstanceState"
    emulator.control("DELETE", "faults")
    assert describe(rds, PRIMARY, "app-db").get("ReadReplicaDBInstanceIdentifiers", []) == []


def test_a_replica_of_the_promoted_instance_goes_back_to_the_first_region(rds):
    source = create_source(rds)
    dr = rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )["DBInstance"]
    rds[STANDBY].promote_read_replica(DBInstanceIdentifier="app-db-dr")
    back = rds[PRIMARY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=dr["DBInstanceArn"]
    )["DBInstance"]
    assert back["DBInstanceArn"] == "arn:aws:rds:us-east-1:123456789012:db:app-db-dr"
    assert back["ReadReplicaSourceDBInstanceIdentifier"] == dr["DBInstanceArn"]
    assert describe(rds, PRIMARY, "app-db")["DBInstanceStatus"] == "available"  # the old source is kept


def test_replica_status_breaks_and_mends_replication(emulator, rds):
    source = create_source(rds)
    rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )
    status, body = emulator.control(
        "POST", "replica-status", {"region": STANDBY, "instance": "app-db-dr", "status": "error"}
    )
    assert status == 200, body
    assert describe(rds, STANDBY, "app-db-dr")["StatusInfos"] == [
        {"StatusType": "read replication", "Status": "error", "Normal": False}
    ]
    emulator.control("POST", "replica-status", {"region": STANDBY, "instance": "app-db-dr", "status": "replicating"})
    assert describe(rds, STANDBY, "app-db-dr")["StatusInfos"][0]["Normal"] is True
    assert emulator.control("POST", "replica-status", {"region": STANDBY, "instance": "app-db-dr", "status": "x"})[0] == 400
    assert emulator.control("POST", "replica-status", {"region": PRIMARY, "instance": "app-db", "status": "error"})[0] == 404


def test_a_same_region_replica_of_a_promoted_instance(rds):
    source = create_source(rds)
    dr = rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )["DBInstance"]
    rds[STANDBY].promote_read_replica(DBInstanceIdentifier="app-db-dr")
    local = rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr-replica-1", SourceDBInstanceIdentifier=dr["DBInstanceArn"],
        DBInstanceClass="db.r5.xlarge",
    )["DBInstance"]
    assert local["ReadReplicaSourceDBInstanceIdentifier"] == "app-db-dr"
    assert describe(rds, STANDBY, "app-db-dr")["ReadReplicaDBInstanceIdentifiers"] == ["app-db-dr-replica-1"]
