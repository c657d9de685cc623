"""Aurora global database behaviour, shaped like the real RDS API."""

import pytest
from botocore.exceptions import ClientError
from conftest import (
    ENGINE,
    GLOBAL_ID,
    PRIMARY,
    STANDBY,
    VERSION,
    cluster_writer_flags,
    create_primary,
    describe_global,
    error_code,
    writers,
)


def test_create_from_source_cluster(rds):
    primary = create_primary(rds[PRIMARY])
    created = rds[PRIMARY].create_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, SourceDBClusterIdentifier=primary["DBClusterArn"]
    )["GlobalCluster"]
    assert created["GlobalClusterIdentifier"] == GLOBAL_ID
    assert created["GlobalClusterArn"] == f"arn:aws:rds::123456789012:global-cluster:{GLOBAL_ID}"
    assert created["GlobalClusterResourceId"].startswith("cluster-")
    assert (created["Status"], created["Engine"], created["EngineVersion"]) == ("available", ENGINE, VERSION)
    assert created["DeletionProtection"] is False
    assert created["GlobalClusterMembers"] == [
        {
            "DBClusterArn": primary["DBClusterArn"],
            "Readers": [],
            "IsWriter": True,
            "GlobalWriteForwardingStatus": "disabled",
            "SynchronizationStatus": "connected",
        }
    ]
    assert "FailoverState" not in created
    assert primary["DBClusterArn"] == "arn:aws:rds:us-east-1:123456789012:cluster:primary-cluster"
    [described] = rds[PRIMARY].describe_db_clusters(DBClusterIdentifier="primary-cluster")["DBClusters"]
    assert described["GlobalClusterIdentifier"] == GLOBAL_ID


def test_empty_global_cluster_needs_engine(rds):
    created = rds[STANDBY].create_global_cluster(GlobalClusterIdentifier="empty", Engine=ENGINE, EngineVersion=VERSION)
    assert created["GlobalCluster"]["GlobalClusterMembers"] == []
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].create_global_cluster(GlobalClusterIdentifier="no-engine")
    assert error_code(raised) == "InvalidParameterValue"


def test_create_errors(rds, global_db):
    primary_arn, _ = global_db
    with pytest.raises(ClientError) as raised:
        rds[PRIMARY].create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, Engine=ENGINE)
    assert error_code(raised) == "GlobalClusterAlreadyExistsFault"
    with pytest.raises(ClientError) as raised:
        rds[PRIMARY].create_global_cluster(
            GlobalClusterIdentifier="other", SourceDBClusterIdentifier="arn:aws:rds:us-east-1:123456789012:cluster:nope"
        )
    assert error_code(raised) == "DBClusterNotFoundFault"
    with pytest.raises(ClientError) as raised:
        rds[PRIMARY].create_global_cluster(GlobalClusterIdentifier="other", SourceDBClusterIdentifier=primary_arn)
    assert error_code(raised) == "InvalidDBClusterStateFault"


def test_one_global_cluster_seen_from_every_region(rds, global_db):
    primary_arn, secondary_arn = global_db
    seen_from_primary, seen_from_standby = describe_global(rds, PRIMARY), describe_global(rds, STANDBY)
    assert seen_from_primary == seen_from_standby
    assert rds[STANDBY].describe_global_clusters()["GlobalClusters"] == [seen_from_primary]
    writer_entry, secondary_entry = seen_from_primary["GlobalClusterMembers"]
    assert (writer_entry["DBClusterArn"], writer_entry["IsWriter"], writer_entry["Readers"]) == (
        primary_arn,
        True,
        [secondary_arn],
    )
    assert (secondary_entry["DBClusterArn"], secondary_entry["IsWriter"], secondary_entry["Readers"]) == (
        secondary_arn,
        False,
        [],
    )
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].describe_global_clusters(GlobalClusterIdentifier="unknown")
    assert error_code(raised) == "GlobalClusterNotFoundFault"


def test_secondary_cluster_and_instances(rds, global_db):
    _, secondary_arn = global_db
    assert secondary_arn == "arn:aws:rds:us-west-2:123456789012:cluster:dr-cluster"
    [secondary] = rds[STANDBY].describe_db_clusters(DBClusterIdentifier=secondary_arn)["DBClusters"]
    assert (secondary["Engine"], secondary["EngineVersion"], secondary["Status"]) == (ENGINE, VERSION, "available")
    assert cluster_writer_flags(rds, STANDBY, "dr-cluster") == [False]
    assert cluster_writer_flags(rds, PRIMARY, "primary-cluster") == [True]
    [instance] = rds[STANDBY].describe_db_instances(DBInstanceIdentifier="dr-instance-1")["DBInstances"]
    assert instance["DBInstanceArn"] == "arn:aws:rds:us-west-2:123456789012:db:dr-instance-1"
    assert (instance["DBInstanceClass"], instance["DBClusterIdentifier"]) == ("db.r5.large", "dr-cluster")


def test_clusters_are_regional(rds, global_db):
    primary_arn, _ = global_db
    for identifier in ("primary-cluster", primary_arn):
        with pytest.raises(ClientError) as raised:
            rds[STANDBY].describe_db_clusters(DBClusterIdentifier=identifier)
        assert error_code(raised) == "DBClusterNotFoundFault"


def test_secondary_creation_errors(rds, global_db):
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].create_db_cluster(DBClusterIdentifier="x", Engine=ENGINE, GlobalClusterIdentifier="unknown")
    assert error_code(raised) == "GlobalClusterNotFoundFault"
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].create_db_cluster(
            DBClusterIdentifier="x", Engine="aurora-mysql", GlobalClusterIdentifier=GLOBAL_ID
        )
    assert error_code(raised) == "InvalidParameterCombination"


def test_switchover_swaps_writer(rds, global_db):
    primary_arn, secondary_arn = global_db
    result = rds[STANDBY].switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary_arn
    )
    assert result["GlobalCluster"]["Status"] == "available"
    cluster = describe_global(rds)
    assert writers(cluster) == {primary_arn: False, secondary_arn: True}
    assert [m["Readers"] for m in cluster["GlobalClusterMembers"] if m["IsWriter"]] == [[primary_arn]]
    assert cluster_writer_flags(rds, STANDBY, "dr-cluster") == [True]
    assert cluster_writer_flags(rds, PRIMARY, "primary-cluster") == [False]
    # and back
    rds[PRIMARY].switchover_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=primary_arn)
    assert writers(describe_global(rds)) == {primary_arn: True, secondary_arn: False}


def test_switchover_errors(rds, global_db):
    primary_arn, secondary_arn = global_db
    standalone = create_primary(rds[STANDBY], "standalone")
    cases = [
        ("unknown", secondary_arn, "GlobalClusterNotFoundFault"),
        (GLOBAL_ID, "arn:aws:rds:us-west-2:123456789012:cluster:nope", "DBClusterNotFoundFault"),
        (GLOBAL_ID, standalone["DBClusterArn"], "InvalidDBClusterStateFault"),
        (GLOBAL_ID, primary_arn, "InvalidDBClusterStateFault"),
    ]
    for global_id, target, code in cases:
        with pytest.raises(ClientError) as raised:
            rds[STANDBY].switchover_global_cluster(GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=target)
        assert error_code(raised) == code, (global_id, target)
        assert raised.value.response["Error"]["Message"]


def test_failover_with_data_loss_from_standby_during_primary_outage(emulator, rds, global_db):
    primary_arn, secondary_arn = global_db
    emulator.add_fault(region=PRIMARY, kind="outage")
    result = rds[STANDBY].failover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary_arn, AllowDataLoss=True
    )
    assert writers(result["GlobalCluster"]) == {primary_arn: False, secondary_arn: True}
    assert cluster_writer_flags(rds, STANDBY, "dr-cluster") == [True]


def test_failover_with_switchover_flag(rds, global_db):
    primary_arn, secondary_arn = global_db
    rds[PRIMARY].failover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary_arn, Switchover=True
    )
    assert writers(describe_global(rds)) == {primary_arn: False, secondary_arn: True}


@pytest.mark.parametrize("flags", [{}, {"AllowDataLoss": True, "Switchover": True}, {"AllowDataLoss": False}])
def test_failover_needs_exactly_one_mode(rds, global_db, flags):
    _, secondary_arn = global_db
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].failover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary_arn, **flags
        )
    assert error_code(raised) == "InvalidParameterCombination"


def test_remove_secondary_then_delete(rds, global_db):
    primary_arn, secondary_arn = global_db
    with pytest.raises(ClientError) as raised:
        rds[PRIMARY].remove_from_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, DbClusterIdentifier=primary_arn)
    assert error_code(raised) == "InvalidGlobalClusterStateFault"
    with pytest.raises(ClientError) as raised:
        rds[PRIMARY].delete_global_cluster(GlobalClusterIdentifier=GLOBAL_ID)
    assert error_code(raised) == "InvalidGlobalClusterStateFault"
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].delete_db_cluster(DBClusterIdentifier="dr-cluster", SkipFinalSnapshot=True)
    assert error_code(raised) == "InvalidDBClusterStateFault"

    removed = rds[STANDBY].remove_from_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, DbClusterIdentifier=secondary_arn
    )
    assert writers(removed["GlobalCluster"]) == {primary_arn: True}
    assert describe_global(rds)["GlobalClusterMembers"][0]["Readers"] == []
    [standalone] = rds[STANDBY].describe_db_clusters(DBClusterIdentifier="dr-cluster")["DBClusters"]
    assert "GlobalClusterIdentifier" not in standalone
    assert cluster_writer_flags(rds, STANDBY, "dr-cluster") == [True]
    with pytest.raises(ClientError) as raised:
        rds[STANDBY].remove_from_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, DbClusterIdentifier=secondary_arn)
    assert error_code(raised) == "DBClusterNotFoundFault"

    rds[PRIMARY].remove_from_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, DbClusterIdentifier=primary_arn)
    deleted = rds[PRIMARY].delete_global_cluster(GlobalClusterIdentifier=GLOBAL_ID)["GlobalCluster"]
    assert deleted["GlobalClusterIdentifier"] == GLOBAL_ID
    assert rds[STANDBY].describe_global_clusters()["GlobalClusters"] == []
    with pytest.raises(ClientError) as raised:
        rds[PRIMARY].delete_global_cluster(GlobalClusterIdentifier=GLOBAL_ID)
    assert error_code(raised) == "GlobalClusterNotFoundFault"


def test_a_duplicate_cluster_is_refused_with_the_rds_error_code(emulator):
    rds = emulator.client("rds", PRIMARY)
    create = dict(
        DBClusterIdentifier="twice", Engine="aurora-postgresql", MasterUsername="app", MasterUserPassword="password1"
    )
    rds.create_db_cluster(**create)
    with pytest.raises(ClientError) as error:
        rds.create_db_cluster(**create)
    assert error.value.response["Error"]["Code"] == "DBClusterAlreadyExistsFault"
