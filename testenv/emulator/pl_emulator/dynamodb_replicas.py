"""DynamoDB global tables, version 2019.11.21 (UpdateTable ReplicaUpdates), on top of moto.

moto 5.2.5 accepts ReplicaUpdates and ignores them (200, ACTIVE, no replica
anywhere, even for the table's own region), and DescribeTable never shows
Replicas or GlobalTableVersion. install() replaces UpdateTable and DeleteTable
and extends the table description:

* the tables of one global table (one per region) share a ReplicaGroup and one
  item store: an item written in any region is readable at once in every
  other one (no replication lag, no conflict resolution);
* creating or deleting a replica lasts the "dynamodb:UpdateTable" duration:
  meanwhile the table the request went to is UPDATING, the replica CREATING or
  DELETING (its own TableStatus too), and any further UpdateTable or
  DeleteTable on a table of the group is refused with ResourceInUseException;
* DescribeTable lists the group's other regions in Replicas (as AWS usually
  does) and, while there are any, GlobalTableVersion "2019.11.21";
* as in AWS, streams are no prerequisite: a table without a stream gets a
  NEW_AND_OLD_IMAGES one, an existing stream (of any view type) is kept and
  copied to the replica, and it cannot be disabled while the table is global;
* error codes and messages are those AWS returns (ValidationException for the
  local region, an existing replica, a non-member, mixed actions).

DynamoDB requests are served one at a time, after settling due transitions.
"""

import copy

from moto.dynamodb.exceptions import MockValidationException, ResourceInUseException, ResourceNotFoundException
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from . import transitions
from .durations import Durations
from .transitions import LOCK

VERSION = "2019.11.21"
ACTIONS = ("Create", "Update", "Delete", "Disassociate")
_BEING = {"CREATING": "created", "UPDATING": "updated", "DELETING": "deleted"}

#: Set by install(); the handlers below run inside moto and cannot be handed it.
_durations = Durations()

# moto's originals, wrapped by the replacements below.
_moto_call_action = DynamoHandler.call_action
_moto_update_table = DynamoHandler.update_table
_moto_delete_table = DynamoHandler.delete_table
_moto_describe = Table.describe


class ReplicaGroup:
    """The tables of one global table by region, in the order they joined.

    Kept on the tables themselves (attribute _pl_group), so moto's reset, which
    drops the tables, drops the group too.
    """

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}

    def join(self, table: Table) -> None:
        self.tables[table.region_name] = table
        table._pl_group = self

    def leave(self, table: Table) -> None:
        """Removes a table; a group left with one table is a regional table again."""
        if self.tables.get(table.region_name) is table:
            del self.tables[table.region_name]
        table._pl_group = None
        if len(self.tables) == 1:
            self.leave(next(iter(self.tables.values())))

    def busy(self) -> bool:
        return any(transitions.status(table) for table in self.tables.values())


def install(durations: Durations) -> None:
    """Patches moto's DynamoDB; idempotent (only the durations are replaced on a second call)."""
    global _durations
    _durations = durations
    for handler in (call_action, update_table, delete_table):
        setattr(DynamoHandler, handler.__name__, handler)
    Table.describe = describe


def _group(table: Table) -> ReplicaGroup | None:
    group = getattr(table, "_pl_group", None)
    return group if group is not None and group.tables.get(table.region_name) is table else None


def _validation(message: str) -> MockValidationException:
    return MockValidationException(message)


# --- DynamoDB handlers (methods of DynamoHandler once installed) -----------------------


def call_action(self: DynamoHandler):
    with LOCK:
        transitions.settle_due()
        return _moto_call_action(self)


def update_table(self: DynamoHandler):
    """moto's UpdateTable, plus ReplicaUpdates (one action type per request, as in AWS)."""
    name = self.body["TableName"]
    try:
        table = self.dynamodb_backend.get_table(name)
    except ResourceNotFoundException:
        raise ResourceNotFoundException(table_name=name) from None
    _refuse_if_busy(table)
    stream = self.body.get("StreamSpecification")
    if stream is not None and not stream.get("StreamEnabled") and _group(table):
        raise _validation(
            "One or more parameter values were invalid: Disabling Stream is not allowed for a Global Table replica."
        )
    updates = self.body.get("ReplicaUpdates")
    if not updates:
        return _moto_update_table(self)
    kind, regions = _replica_plan(self, table, updates)
    _moto_update_table(self)  # the other parameters, if any
    seconds = _durations.seconds("dynamodb", "UpdateTable")
    group = _group(table)
    if kind == "Create":
        if group is None:
            group = ReplicaGroup()
            group.join(table)
        if not (table.stream_specification or {}).get("StreamEnabled"):
            table.set_stream_specification({"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        for region in regions:
            replica = _replica_of(table, region)
            dynamodb_backends[table.account_id][region].tables[table.name] = replica
            group.join(replica)
            transitions.begin(replica, "CREATING", seconds)
    elif kind == "Delete":
        for region in regions:
            replica = group.tables[region]
            transitions.begin(replica, "DELETING", seconds, finish=lambda replica=replica: _drop(replica))
    transitions.begin(table, "UPDATING", seconds)
    return DynamoResult(table.describe())


def delete_table(self: DynamoHandler):
    """A table of a global table leaves its group with it (the others stop listing it)."""
    try:
        table = self.dynamodb_backend.get_table(self.body["TableName"])
    except ResourceNotFoundException:
        table = None  # moto answers
    if table is not None:
        _refuse_if_busy(table)
    result = _moto_delete_table(self)
    group = _group(table) if table is not None else None
    if group is not None:
        group.leave(table)
    return result


def describe(table: Table, base_key: str = "TableDescription") -> dict:
    """moto's description with the transitional TableStatus, Replicas and GlobalTableVersion."""
    result = _moto_describe(table, base_key)
    description = result[base_key]
    description["TableStatus"] = transitions.status(table) or description["TableStatus"]
    group = _group(table)
    if group is not None:
        description["GlobalTableVersion"] = VERSION
        description["Replicas"] = [
            {"RegionName": region, "ReplicaStatus": _replica_status(other)}
            for region, other in group.tables.items()
            if other is not table
        ]
    return result


# --- helpers ---------------------------------------------------------------------------


def _refuse_if_busy(table: Table) -> None:
    status = transitions.status(table)
    group = _group(table)
    if status or (group is not None and group.busy()):
        being = _BEING.get(status, "updated")
        raise ResourceInUseException(
            f"Attempt to change a resource which is still in use: Table is being {being}: {table.name}"
        )


def _replica_plan(self: DynamoHandler, table: Table, updates: list[dict]) -> tuple[str, list[str]]:
    """Validates ReplicaUpdates as AWS does; returns the one action kind and its regions."""
    kinds, regions = set(), []
    for update in updates:
        present = [kind for kind in ACTIONS if update.get(kind)]
        if not present or (present == ["Update"] and set(update["Update"]) == {"RegionName"}):
            raise _validation("There are no actions specified in the Replica Update Action of the request.")
        kinds.update(present)
        regions.extend(update[kind]["RegionName"] for kind in present)
    if len(kinds) > 1:
        raise _validation("Update table operation with more than one type of replica actions not allowed.")
    [kind] = kinds
    if kind == "Disassociate":
        raise _validation("pl-emulator does not support the Disassociate replica action.")
    regions = list(dict.fromkeys(regions))
    supported = dynamodb_backends[self.current_account].regions
    for region in regions:
        if region == self.region:
            raise _validation(
                "Cannot add or delete the local region through ReplicaUpdates. "
                "Use CreateTable, DeleteTable, or UpdateTable as required."
            )
        if region not in supported:
            raise _validation(
                f"Region {region} is not supported. The latest version of global tables are only supported "
                f"in the following regions: [{', '.join(sorted(supported))}]."
            )
    group = _group(table)
    members = group.tables if group is not None else {}
    if kind == "Create":
        for region in regions:
            if region in members or table.name in dynamodb_backends[self.current_account][region].tables:
                raise _validation(
                    f"Failed to create a the new replica of table with name: \u2018{table.name}\u2019 "
                    "because one or more replicas already existed as tables."
                )
    else:
        missing = [region for region in regions if region not in members]
        if missing:
            raise _validation(
                "Update global table operation failed because one or more replicas were not part of the "
                f"global table. Please retry the request without these replicas: [{', '.join(missing)}]."
            )
    return kind, regions


def _replica_of(source: Table, region: str) -> Table:
    """A new table in ``region`` with the source's definition, sharing its items."""
    sse = {key: value for key, value in (source.sse_specification or {}).items() if key != "KMSMasterKeyId"}
    replica = Table(
        source.name,
        account_id=source.account_id,
        region=region,
        schema=copy.deepcopy(source.schema),
        attr=copy.deepcopy(source.attr),
        throughput=copy.deepcopy(source.throughput),
        billing_mode=source.billing_mode,
        indexes=[copy.deepcopy(index.describe()) for index in source.indexes],
        global_indexes=[copy.deepcopy(index.describe()) for index in source.global_indexes],
        streams=dict(source.stream_specification),
        sse_specification=sse or None,
        warm_throughput=copy.deepcopy(source.warm_throughput),
    )
    replica.items = source.items
    return replica


def _drop(replica: Table) -> None:
    """Ends a replica deletion: the table leaves its group and its region (unless moto was reset since)."""
    group = _group(replica)
    if group is not None:
        group.leave(replica)
    tables = dynamodb_backends[replica.account_id][replica.region_name].tables
    if tables.get(replica.name) is replica:
        del tables[replica.name]


def _replica_status(table: Table) -> str:
    status = transitions.status(table)
    return status if status in ("CREATING", "DELETING") else "ACTIVE"
