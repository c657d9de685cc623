"""Operation durations: transitional states that end by themselves."""

import pytest
from botocore.exceptions import ClientError
from conftest import ENGINE, GLOBAL_ID, PRIMARY, STANDBY, create_primary, describe_global, wait_for, writers

SHORT = 0.6


def test_durations_are_replaced_and_validated(emulator):
    assert emulator.control("GET", "durations") == (200, {})
    emulator.set_durations({"rds:SwitchoverGlobalCluster": 60.0, "rds:CreateDBInstance": 5})
    assert emulator.control("GET", "durations") == (
        200,
        {"rds:SwitchoverGlobalCluster": 60.0, "rds:CreateDBInstance": 5.0},
    )
    emulator.set_durations({"rds:FailoverGlobalCluster": 30.0})
    assert emulator.control("GET", "durations") == (200, {"rds:FailoverGlobalCluster": 30.0})
    for invalid in ({"rds:CreateDBCluster": -1}, {"SwitchoverGlobalCluster": 1}, {"rds:X": "1"}, [1]):
        assert emulator.control("PUT", "durations", invalid)[0] == 400


@pytest.mark.parametrize(
    ("operation", "status", "data_loss"),
    [("SwitchoverGlobalCluster", "switching-over", False), ("FailoverGlobalCluster", "failing-over", True)],
)
def test_switchover_and_failover_take_their_duration(emulator, rds, global_db, operation, status, data_loss):
    primary_arn, secondary_arn = global_db
    emulator.set_durations({f"rds:{operation}": SHORT})
    if data_loss:
        rds[STANDBY].failover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary_arn, AllowDataLoss=True
        )
    else:
        rds[STANDBY].switchover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary_arn
        )
    during = describe_global(rds, STANDBY)
    assert during["Status"] == status
    assert during["FailoverState"] == {
        "Status": status,
        "FromDbClusterArn": primary_arn,
        "ToDbClusterArn": secondary_arn,
        "IsDataLossAllowed": data_loss,
    }
    assert writers(during) == {primary_arn: True, secondary_arn: False}
    with pytest.raises(ClientError) as raised:
        rds[PRIMARY].switchover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary_arn
        )
    assert raised.value.response["Error"]["Code"] == "InvalidGlobalClusterStateFault"

    after = wait_for(lambda: describe_global(rds), lambda cluster: cluster["Status"] == "available")
    assert after["Status"] == "available" and "FailoverState" not in after
    assert writers(after) == {primary_arn: False, secondary_arn: True}


def test_duration_in_effect_when_issued_applies(emulator, rds, global_db):
    _, secondary_arn = global_db
    emulator.set_durations({"rds:SwitchoverGlobalCluster": SHORT})
    rds[PRIMARY].switchover_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary_arn)
    emulator.set_durations({"rds:SwitchoverGlobalCluster": 600.0})
    assert describe_global(rds)["Status"] == "switching-over"
    assert wait_for(lambda: describe_global(rds)["Status"], lambda status: status == "available") == "available"


def test_cluster_and_instance_creation(emulator, rds):
    emulator.set_durations({"rds:CreateDBCluster": SHORT, "rds:CreateDBInstance": SHORT})
    cluster = create_primary(rds[PRIMARY], "slow")
    assert cluster["Status"] == "creating"
    [instance] = rds[PRIMARY].describe_db_instances(DBInstanceIdentifier="slow-1")["DBInstances"]
    assert instance["DBInstanceStatus"] == "creating"

    def statuses():
        [cluster] = rds[PRIMARY].describe_db_clusters(DBClusterIdentifier="slow")["DBClusters"]
        [instance] = rds[PRIMARY].describe_db_instances(DBInstanceIdentifier="slow-1")["DBInstances"]
        return cluster["Status"], instance["DBInstanceStatus"]

    assert wait_for(statuses, lambda both: both == ("available", "available")) == ("available", "available")


def test_switchover_to_a_secondary_still_creating_is_refused(emulator, rds):
    primary = create_primary(rds[PRIMARY])
    rds[PRIMARY].create_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, SourceDBClusterIdentifier=primary["DBClusterArn"]
    )
    emulator.set_durations({"rds:CreateDBCluster": 600.0})
    secondary = rds[STANDBY].create_db_cluster(
        DBClusterIdentifier="dr-cluster", Engine=ENGINE, GlobalClusterIdentifier=GLOBAL_ID
    )
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].switchover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBCluster"]["DBClusterArn"]
        )
    assert raised.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"


def test_modify_instance_class(emulator, rds, global_db):
    emulator.set_durations({"rds:ModifyDBInstance": SHORT})
    modified = rds[STANDBY].modify_db_instance(
        DBInstanceIdentifier="dr-instance-1", DBInstanceClass="db.r6g.2xlarge", ApplyImmediately=True
    )
    instance = modified["DBInstance"]
    assert (instance["DBInstanceStatus"], instance["DBInstanceClass"]) == ("modifying", "db.r5.large")
    assert instance["PendingModifiedValues"] == {"DBInstanceClass": "db.r6g.2xlarge"}

    def described():
        return rds[STANDBY].describe_db_instances(DBInstanceIdentifier="dr-instance-1")["DBInstances"][0]

    done = wait_for(described, lambda instance: instance["DBInstanceStatus"] == "available")
    assert (done["DBInstanceStatus"], done["DBInstanceClass"]) == ("available", "db.r6g.2xlarge")
    assert "PendingModifiedValues" not in done or done["PendingModifiedValues"] == {}
