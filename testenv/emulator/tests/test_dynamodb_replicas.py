"""DynamoDB global-table replicas (version 2019.11.21): UpdateTable ReplicaUpdates, across regions."""

import pytest
from botocore.exceptions import ClientError
from conftest import PRIMARY, STANDBY, error_code, wait_for

TABLE = "app-sessions"
THIRD = "eu-west-1"
SHORT = 0.6
NEW_AND_OLD = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.fixture
def ddb(emulator):
    return {region: emulator.client("dynamodb", region) for region in (PRIMARY, STANDBY, THIRD)}


def create_table(client, stream: dict | None = NEW_AND_OLD) -> dict:
    extra = {"StreamSpecification": stream} if stream else {}
    return client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "sessionId", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "sessionId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-user",
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )["TableDescription"]


def replicate(client, action: str, region: str = STANDBY) -> dict:
    return client.update_table(TableName=TABLE, ReplicaUpdates=[{action: {"RegionName": region}}])["TableDescription"]


def describe(client) -> dict:
    return client.describe_table(TableName=TABLE)["Table"]


def replicas(table: dict) -> dict[str, str]:
    return {replica["RegionName"]: replica["ReplicaStatus"] for replica in table.get("Replicas", [])}


def raised_by(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return error_code(raised), raised.value.response["Error"]["Message"]


def test_replica_is_a_table_in_the_other_region(ddb):
    source = create_table(ddb[PRIMARY])
    updated = replicate(ddb[PRIMARY], "Create")
    assert (updated["TableStatus"], updated["GlobalTableVersion"]) == ("ACTIVE", "2019.11.21")
    assert updated["Replicas"] == [{"RegionName": STANDBY, "ReplicaStatus": "ACTIVE"}]

    primary, standby = describe(ddb[PRIMARY]), describe(ddb[STANDBY])
    assert replicas(primary) == {STANDBY: "ACTIVE"} and replicas(standby) == {PRIMARY: "ACTIVE"}
    assert standby["GlobalTableVersion"] == "2019.11.21" and standby["TableStatus"] == "ACTIVE"
    assert standby["TableArn"] == source["TableArn"].replace(PRIMARY, STANDBY)
    for key in ("KeySchema", "AttributeDefinitions", "BillingModeSummary", "StreamSpecification"):
        assert standby[key] == primary[key], key
    assert [index["IndexName"] for index in standby["GlobalSecondaryIndexes"]] == ["by-user"]
    assert ddb[STANDBY].list_tables()["TableNames"] == [TABLE]


def test_items_written_in_either_region_are_read_in_the_other(ddb):
    create_table(ddb[PRIMARY])
    replicate(ddb[PRIMARY], "Create")
    ddb[PRIMARY].put_item(TableName=TABLE, Item={"sessionId": {"S": "s1"}, "userId": {"S": "alice"}})
    ddb[STANDBY].put_item(TableName=TABLE, Item={"sessionId": {"S": "s2"}, "userId": {"S": "bob"}})
    assert ddb[STANDBY].get_item(TableName=TABLE, Key={"sessionId": {"S": "s1"}})["Item"]["userId"] == {"S": "alice"}
    assert ddb[PRIMARY].get_item(TableName=TABLE, Key={"sessionId": {"S": "s2"}})["Item"]["userId"] == {"S": "bob"}
    by_user = ddb[STANDBY].query(
        TableName=TABLE,
        IndexName="by-user",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": "alice"}},
    )
    assert [item["sessionId"]["S"] for item in by_user["Items"]] == ["s1"]
    ddb[STANDBY].delete_item(TableName=TABLE, Key={"sessionId": {"S": "s1"}})
    assert "Item" not in ddb[PRIMARY].get_item(TableName=TABLE, Key={"sessionId": {"S": "s1"}})
    assert describe(ddb[PRIMARY])["ItemCount"] == describe(ddb[STANDBY])["ItemCount"] == 1


def test_creation_takes_the_update_table_duration(emulator, ddb):
    create_table(ddb[PRIMARY])
    emulator.set_durations({"dynamodb:UpdateTable": SHORT})
    updated = replicate(ddb[PRIMARY], "Create")
    assert updated["TableStatus"] == "UPDATING" and replicas(updated) == {STANDBY: "CREATING"}
    assert describe(ddb[STANDBY])["TableStatus"] == "CREATING"
    # AWS refuses any other change to the table (or its replicas) until the update is over.
    code, message = raised_by(ddb[PRIMARY].update_table, TableName=TABLE, DeletionProtectionEnabled=True)
    assert (code, message) == (
        "ResourceInUseException",
        f"Attempt to change a resource which is still in use: Table is being updated: {TABLE}",
    )
    assert raised_by(ddb[STANDBY].delete_table, TableName=TABLE)[0] == "ResourceInUseException"

    after = wait_for(lambda: describe(ddb[PRIMARY]), lambda table: table["TableStatus"] == "ACTIVE")
    assert after["TableStatus"] == "ACTIVE" and replicas(after) == {STANDBY: "ACTIVE"}
    assert describe(ddb[STANDBY])["TableStatus"] == "ACTIVE"


def test_deleted_replica_leaves_replicas_and_its_region(emulator, ddb):
    create_table(ddb[PRIMARY])
    replicate(ddb[PRIMARY], "Create")
    ddb[PRIMARY].put_item(TableName=TABLE, Item={"sessionId": {"S": "s1"}, "userId": {"S": "alice"}})
    emulator.set_durations({"dynamodb:UpdateTable": SHORT})
    updated = replicate(ddb[PRIMARY], "Delete")
    assert updated["TableStatus"] == "UPDATING" and replicas(updated) == {STANDBY: "DELETING"}
    assert describe(ddb[STANDBY])["TableStatus"] == "DELETING"

    after = wait_for(lambda: describe(ddb[PRIMARY]), lambda table: "Replicas" not in table)
    assert after["TableStatus"] == "ACTIVE"
    assert "Replicas" not in after and "GlobalTableVersion" not in after
    assert after["StreamSpecification"] == NEW_AND_OLD  # AWS keeps the stream
    assert after["ItemCount"] == 1
    assert raised_by(ddb[STANDBY].describe_table, TableName=TABLE) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Table: {TABLE} not found",
    )
    assert ddb[STANDBY].list_tables()["TableNames"] == []


def test_each_region_lists_the_others(ddb):
    create_table(ddb[PRIMARY])
    both = [{"Create": {"RegionName": STANDBY}}, {"Create": {"RegionName": THIRD}}]
    ddb[PRIMARY].update_table(TableName=TABLE, ReplicaUpdates=both)
    assert [replica["RegionName"] for replica in describe(ddb[PRIMARY])["Replicas"]] == [STANDBY, THIRD]
    assert [replica["RegionName"] for replica in describe(ddb[THIRD])["Replicas"]] == [PRIMARY, STANDBY]
    # an Update with settings is accepted (the emulator keeps no per-replica settings)
    override = {"RegionName": THIRD, "TableClassOverride": "STANDARD"}
    assert ddb[STANDBY].update_table(TableName=TABLE, ReplicaUpdates=[{"Update": override}])
    replicate(ddb[STANDBY], "Delete", THIRD)
    assert replicas(describe(ddb[PRIMARY])) == {STANDBY: "ACTIVE"}
    assert replicas(describe(ddb[STANDBY])) == {PRIMARY: "ACTIVE"}


def test_replica_deleted_by_hand_is_drift(ddb):
    """Instant by default: the replica is gone from Replicas as soon as UpdateTable answers."""
    create_table(ddb[PRIMARY])
    replicate(ddb[PRIMARY], "Create")
    assert "Replicas" not in replicate(ddb[PRIMARY], "Delete")
    assert "Replicas" not in describe(ddb[PRIMARY])
    # and it can be created again
    assert replicas(replicate(ddb[PRIMARY], "Create")) == {STANDBY: "ACTIVE"}


def test_standby_can_drop_the_primary_region(ddb):
    """Disaster recovery: from the standby region, the replica in the lost region is removed."""
    create_table(ddb[PRIMARY])
    replicate(ddb[PRIMARY], "Create")
    ddb[PRIMARY].put_item(TableName=TABLE, Item={"sessionId": {"S": "s1"}, "userId": {"S": "alice"}})
    updated = replicate(ddb[STANDBY], "Delete", PRIMARY)
    assert "Replicas" not in updated and updated["TableArn"].split(":")[3] == STANDBY
    assert ddb[PRIMARY].list_tables()["TableNames"] == []
    assert ddb[STANDBY].get_item(TableName=TABLE, Key={"sessionId": {"S": "s1"}})["Item"]


def test_delete_table_of_a_replica_leaves_the_global_table(ddb):
    create_table(ddb[PRIMARY])
    replicate(ddb[PRIMARY], "Create")
    ddb[STANDBY].delete_table(TableName=TABLE)
    assert "Replicas" not in describe(ddb[PRIMARY])


def test_streams_are_enabled_or_kept_as_aws_does(ddb):
    """Streams are no prerequisite in AWS: none -> NEW_AND_OLD_IMAGES; an existing one is kept and copied."""
    create_table(ddb[PRIMARY], stream=None)
    assert "StreamSpecification" not in describe(ddb[PRIMARY])
    assert replicate(ddb[PRIMARY], "Create")["StreamSpecification"] == NEW_AND_OLD
    assert describe(ddb[STANDBY])["StreamSpecification"] == NEW_AND_OLD
    assert describe(ddb[STANDBY])["LatestStreamArn"].split(":")[3] == STANDBY
    code, message = raised_by(ddb[PRIMARY].update_table, TableName=TABLE, StreamSpecification={"StreamEnabled": False})
    assert (code, message) == (
        "ValidationException",
        "One or more parameter values were invalid: Disabling Stream is not allowed for a Global Table replica.",
    )

    ddb[STANDBY].delete_table(TableName=TABLE)
    ddb[PRIMARY].delete_table(TableName=TABLE)
    keys_only = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    create_table(ddb[PRIMARY], stream=keys_only)
    assert replicate(ddb[PRIMARY], "Create")["StreamSpecification"] == keys_only
    assert describe(ddb[STANDBY])["StreamSpecification"] == keys_only


def test_replica_update_errors_are_those_of_aws(ddb):
    update = ddb[PRIMARY].update_table
    assert raised_by(update, TableName="missing", ReplicaUpdates=[{"Create": {"RegionName": STANDBY}}]) == (
        "ResourceNotFoundException",
        "Requested resource not found: Table: missing not found",
    )
    create_table(ddb[PRIMARY])
    local = (
        "ValidationException",
        "Cannot add or delete the local region through ReplicaUpdates. "
        "Use CreateTable, DeleteTable, or UpdateTable as required.",
    )
    assert raised_by(update, TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": PRIMARY}}]) == local
    assert raised_by(update, TableName=TABLE, ReplicaUpdates=[{"Delete": {"RegionName": PRIMARY}}]) == local
    assert raised_by(update, TableName=TABLE, ReplicaUpdates=[{"Delete": {"RegionName": THIRD}}]) == (
        "ValidationException",
        "Update global table operation failed because one or more replicas were not part of the global table. "
        "Please retry the request without these replicas: [eu-west-1].",
    )
    code, message = raised_by(update, TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": "us-fake-1"}}])
    assert code == "ValidationException" and message.startswith("Region us-fake-1 is not supported.")
    mixed = [{"Create": {"RegionName": STANDBY}}, {"Delete": {"RegionName": THIRD}}]
    assert raised_by(update, TableName=TABLE, ReplicaUpdates=mixed) == (
        "ValidationException",
        "Update table operation with more than one type of replica actions not allowed.",
    )
    assert raised_by(update, TableName=TABLE, ReplicaUpdates=[{"Update": {"RegionName": STANDBY}}]) == (
        "ValidationException",
        "There are no actions specified in the Replica Update Action of the request.",
    )
    assert "Replicas" not in describe(ddb[PRIMARY])  # nothing happened

    replicate(ddb[PRIMARY], "Create")
    already = (
        "ValidationException",
        f"Failed to create a the new replica of table with name: \u2018{TABLE}\u2019 "
        "because one or more replicas already existed as tables.",
    )
    assert raised_by(update, TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": STANDBY}}]) == already
    # a regional table of the same name in the target region is refused the same way
    create_table(ddb[THIRD])
    assert raised_by(update, TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": THIRD}}]) == already
    assert replicas(describe(ddb[PRIMARY])) == {STANDBY: "ACTIVE"}


def test_calls_are_logged_with_their_regions(emulator, ddb):
    create_table(ddb[PRIMARY])
    since = emulator.calls()[-1]["seq"]
    replicate(ddb[PRIMARY], "Create")
    describe(ddb[STANDBY])
    raised_by(ddb[PRIMARY].update_table, TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": STANDBY}}])
    replicate(ddb[PRIMARY], "Delete")
    raised_by(ddb[STANDBY].describe_table, TableName=TABLE)
    logged = [
        (call["service"], call["region"], call["action"], call["outcome"], call["code"])
        for call in emulator.calls(since)
    ]
    assert logged == [
        ("dynamodb", PRIMARY, "UpdateTable", "ok", None),
        ("dynamodb", STANDBY, "DescribeTable", "ok", None),
        ("dynamodb", PRIMARY, "UpdateTable", "error", "ValidationException"),
        ("dynamodb", PRIMARY, "UpdateTable", "ok", None),
        ("dynamodb", STANDBY, "DescribeTable", "error", "ResourceNotFoundException"),
    ]
