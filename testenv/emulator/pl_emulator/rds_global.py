"""Aurora global database semantics on top of moto's RDS.

moto 5.2.5 keeps global clusters in the us-east-1 backend only, cannot build
one from a cluster of another region, never marks the source cluster as the
writer, ignores the identifier in DescribeGlobalClusters, swallows errors in
RemoveFromGlobalCluster, has no Switchover/FailoverGlobalCluster, and flips
"creating" to "available" on the first read. install() replaces those RDS
handlers:

* one GlobalDatabase per identifier, shared by all regions; it lives on the
  us-east-1 backend object so that moto's reset clears it;
* creating / modifying / switching-over / failing-over last the configured
  durations (see transitions and durations); RDS requests are served one at a
  time, after settling the transitions that are due, so that every response
  shows one consistent state;
* a secondary cluster of a global database has no writer instance.
"""

import secrets

from moto.core.responses import ActionResult
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    InvalidDBClusterStateFault,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
)
from moto.rds.models import DBCluster, DBInstance, rds_backends
from moto.rds.responses import RDSResponse

from . import transitions
from .durations import Durations
from .transitions import LOCK

#: Set by install(); the handlers below run inside moto and cannot be handed it.
_durations = Durations()

# moto's handlers, wrapped by the replacements below.
_moto_call_action = RDSResponse.call_action
_moto_create_db_cluster = RDSResponse.create_db_cluster
_moto_delete_db_cluster = RDSResponse.delete_db_cluster
_moto_create_db_instance = RDSResponse.create_db_instance
_moto_modify_db_instance = RDSResponse.modify_db_instance
_moto_cluster_members = DBCluster.db_cluster_members
_moto_cluster_status = DBCluster.status


class GlobalClusterNotFound(RDSClientError):
    def __init__(self, identifier: str) -> None:
        super().__init__("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")


class InvalidGlobalClusterState(RDSClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidGlobalClusterStateFault", message)


class GlobalDatabase:
    """One Aurora global database. moto's serializer reads the GlobalCluster
    shape off its attributes (GlobalClusterArn -> global_cluster_arn, ...)."""

    def __init__(self, account_id: str, identifier: str, engine: str, engine_version: str, params) -> None:
        self.global_cluster_identifier = identifier
        self.global_cluster_resource_id = f"cluster-{secrets.token_hex(8)}"
        self.global_cluster_arn = f"arn:aws:rds::{account_id}:global-cluster:{identifier}"
        self.endpoint = f"{identifier}.global-{secrets.token_hex(6)}.global.rds.amazonaws.com"
        self.engine = engine
        self.engine_version = engine_version
        self.database_name = params.get("DatabaseName")
        self.deletion_protection = bool(params.get("DeletionProtection"))
        self.storage_encrypted = bool(params.get("StorageEncrypted"))
        self.tag_list = [{"Key": tag["Key"], "Value": tag.get("Value")} for tag in params.get("Tags") or []]
        self.members: list[DBCluster] = []
        self.writer: DBCluster | None = None

    @property
    def status(self) -> str:
        return transitions.status(self) or "available"

    @property
    def failover_state(self) -> dict | None:
        transition = transitions.active(self)
        return transition.details if transition else None

    @property
    def global_cluster_members(self) -> list[dict]:
        writer = self.writer
        readers = [cluster.db_cluster_arn for cluster in self.members if cluster is not writer]
        return [
            {
                "DBClusterArn": cluster.db_cluster_arn,
                "Readers": readers if cluster is writer else [],
                "IsWriter": cluster is writer,
                "GlobalWriteForwardingStatus": "disabled",
                "SynchronizationStatus": "connected",
            }
            for cluster in self.members
        ]

    def join(self, cluster: DBCluster) -> None:
        """Adds a cluster; the first one (or the first after the writer left) writes."""
        cluster.global_cluster_identifier = self.global_cluster_identifier
        self.members.append(cluster)
        if self.writer is None:
            self.writer = cluster

    def leave(self, cluster: DBCluster) -> None:
        cluster.global_cluster_identifier = None
        self.members.remove(cluster)
        if cluster is self.writer:
            self.writer = None

    def promote(self, target: DBCluster, switchover: bool, seconds: float) -> None:
        status = "switching-over" if switchover else "failing-over"
        details = {
            "Status": status,
            "FromDbClusterArn": self.writer.db_cluster_arn if self.writer else None,
            "ToDbClusterArn": target.db_cluster_arn,
            "IsDataLossAllowed": not switchover,
        }
        transitions.begin(self, status, seconds, finish=lambda: setattr(self, "writer", target), details=details)


def install(durations: Durations) -> None:
    """Patches moto's RDS; idempotent (only the durations are replaced on a second call)."""
    global _durations
    _durations = durations
    for handler in (
        call_action,
        create_global_cluster,
        describe_global_clusters,
        delete_global_cluster,
        remove_from_global_cluster,
        switchover_global_cluster,
        failover_global_cluster,
        create_db_cluster,
        delete_db_cluster,
        create_db_instance,
        modify_db_instance,
    ):
        setattr(RDSResponse, handler.__name__, handler)
    DBCluster.status = property(_cluster_status, _moto_cluster_status.fset)
    DBCluster.db_cluster_members = property(_cluster_members)
    DBInstance.status = property(_instance_status, _set_instance_status)


# --- lookups -------------------------------------------------------------------


def _registry(account_id: str) -> dict[str, GlobalDatabase]:
    """The account's global databases, keyed by lower-case identifier."""
    home = rds_backends[account_id]["us-east-1"]
    return home.__dict__.setdefault("_pl_global_databases", {})


def _global_database(account_id: str, identifier: str) -> GlobalDatabase:
    database = _registry(account_id).get(identifier.lower())
    if database is None:
        raise GlobalClusterNotFound(identifier)
    return database


def _global_of(cluster: DBCluster) -> GlobalDatabase | None:
    """The global database the cluster is a member of (a restored copy of a member is not)."""
    identifier = getattr(cluster, "global_cluster_identifier", None)
    database = _registry(cluster.account_id).get(identifier.lower()) if identifier else None
    return database if database is not None and cluster in database.members else None


def _find_cluster(response: RDSResponse, identifier: str, any_region: bool) -> DBCluster:
    """A cluster by identifier or ARN; ARNs of other regions resolve only when ``any_region``."""
    region = response.region
    if identifier.startswith("arn:") and any_region:
        region = identifier.split(":")[3]
    backends = rds_backends[response.current_account]
    if region not in backends:
        raise DBClusterNotFoundError(identifier)
    return backends[region].describe_db_clusters(db_cluster_identifier=identifier)[0]


def _not_a_member(cluster: DBCluster, database: GlobalDatabase) -> str:
    return (
        f"DB cluster {cluster.db_cluster_arn} is not a member of global cluster {database.global_cluster_identifier}."
    )


def _seconds(operation: str) -> float:
    return _durations.seconds("rds", operation)


# --- RDS handlers (methods of RDSResponse once installed) ------------------------------


def call_action(self: RDSResponse):
    with LOCK:
        transitions.settle_due()
        return _moto_call_action(self)


def create_global_cluster(self: RDSResponse) -> ActionResult:
    params = self.params
    identifier = params["GlobalClusterIdentifier"].lower()
    registry = _registry(self.current_account)
    if identifier in registry:
        raise RDSClientError("GlobalClusterAlreadyExistsFault", f"Global cluster {identifier} already exists.")
    source = None
    if params.get("SourceDBClusterIdentifier"):
        source = _find_cluster(self, params["SourceDBClusterIdentifier"], any_region=False)
        if _global_of(source):
            raise InvalidDBClusterStateFault(
                f"DB cluster {source.db_cluster_arn} is already a member of global cluster "
                f"{source.global_cluster_identifier}."
            )
        for name, value in (("Engine", source.engine), ("EngineVersion", source.engine_version)):
            if params.get(name) not in (None, value):
                raise InvalidParameterCombination(
                    f"{name} {params[name]} does not match {value} of the source DB cluster."
                )
        engine, engine_version = source.engine, source.engine_version
    elif params.get("Engine"):
        engine = params["Engine"]
        engine_version = params.get("EngineVersion") or DBCluster.default_engine_version(engine)
    else:
        raise InvalidParameterValue("When creating standalone global cluster, value for engineName should be specified")
    database = GlobalDatabase(self.current_account, identifier, engine, engine_version, params)
    registry[identifier] = database
    if source:
        database.join(source)
    return ActionResult({"GlobalCluster": database})


def describe_global_clusters(self: RDSResponse) -> ActionResult:
    identifier = self.params.get("GlobalClusterIdentifier")
    if identifier:
        databases = [_global_database(self.current_account, identifier)]
    else:
        databases = list(_registry(self.current_account).values())
    return ActionResult({"GlobalClusters": databases})


def delete_global_cluster(self: RDSResponse) -> ActionResult:
    identifier = self.params["GlobalClusterIdentifier"]
    database = _global_database(self.current_account, identifier)
    if database.members:
        raise InvalidGlobalClusterState(f"Global Cluster {database.global_cluster_arn} is not empty")
    if database.deletion_protection:
        raise InvalidParameterCombination(
            "Cannot delete protected Global Cluster, please disable deletion protection and try again."
        )
    del _registry(self.current_account)[database.global_cluster_identifier]
    return ActionResult({"GlobalCluster": database})


def remove_from_global_cluster(self: RDSResponse) -> ActionResult:
    params = self.params
    database = _global_database(self.current_account, params["GlobalClusterIdentifier"])
    cluster = _find_cluster(self, params["DbClusterIdentifier"], any_region=True)
    if cluster not in database.members:
        raise DBClusterNotFoundError(cluster.db_cluster_arn, _not_a_member(cluster, database))
    if database.status != "available":
        raise InvalidGlobalClusterState(
            f"Global cluster {database.global_cluster_identifier} is {database.status}; try again when it is available."
        )
    if cluster is database.writer and len(database.members) > 1:
        raise InvalidGlobalClusterState(
            f"The primary cluster {cluster.db_cluster_arn} of global cluster {database.global_cluster_identifier} "
            "cannot be removed while it has secondary clusters."
        )
    database.leave(cluster)
    return ActionResult({"GlobalCluster": database})


def switchover_global_cluster(self: RDSResponse) -> ActionResult:
    return _promote(self, switchover=True)


def failover_global_cluster(self: RDSResponse) -> ActionResult:
    if bool(self.params.get("AllowDataLoss")) == bool(self.params.get("Switchover")):
        raise InvalidParameterCombination("Specify exactly one of AllowDataLoss or Switchover.")
    return _promote(self, switchover=bool(self.params.get("Switchover")))


def _promote(self: RDSResponse, switchover: bool) -> ActionResult:
    """Shared checks and start of a switchover (planned) or failover (data loss allowed)."""
    params = self.params
    database = _global_database(self.current_account, params["GlobalClusterIdentifier"])
    target = _find_cluster(self, params["TargetDbClusterIdentifier"], any_region=True)
    if database.status != "available":
        raise InvalidGlobalClusterState(
            f"Global cluster {database.global_cluster_identifier} is {database.status}; "
            "another switchover or failover is in progress."
        )
    if target not in database.members:
        raise InvalidDBClusterStateFault(_not_a_member(target, database))
    if target is database.writer:
        raise InvalidDBClusterStateFault(
            f"DB cluster {target.db_cluster_arn} is already the primary cluster of global cluster "
            f"{database.global_cluster_identifier}."
        )
    if target.status != "available":
        raise InvalidDBClusterStateFault(f"DB cluster {target.db_cluster_arn} is {target.status}, not available.")
    operation = "SwitchoverGlobalCluster" if switchover else "FailoverGlobalCluster"
    database.promote(target, switchover, _seconds(operation))
    return ActionResult({"GlobalCluster": database})


# --- cluster and instance lifecycle ----------------------------------------------------


def create_db_cluster(self: RDSResponse) -> ActionResult:
    params = self.params
    # moto answers a duplicate with DBClusterSnapshotAlreadyExistsFault (from its automatic
    # snapshot); RDS answers DBClusterAlreadyExistsFault, which clients rely on.
    if params.get("DBClusterIdentifier") in self.backend.clusters:
        raise RDSClientError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
    identifier = params.get("GlobalClusterIdentifier")
    database = None
    if identifier:
        database = _global_database(self.current_account, identifier)
        if params.get("Engine") != database.engine:
            raise InvalidParameterCombination(
                f"The engine {params.get('Engine')} of the DB cluster does not match the engine "
                f"{database.engine} of global cluster {database.global_cluster_identifier}."
            )
        if params.get("EngineVersion") is None:
            params["EngineVersion"] = database.engine_version
        elif params["EngineVersion"] != database.engine_version:
            raise InvalidParameterCombination(
                f"The engine version {params['EngineVersion']} does not match the version "
                f"{database.engine_version} of global cluster {database.global_cluster_identifier}."
            )
    result = _moto_create_db_cluster(self)
    cluster = self.backend.clusters[params["DBClusterIdentifier"]]
    if database:
        database.join(cluster)
    transitions.begin(cluster, "creating", _seconds("CreateDBCluster"))
    return result


def delete_db_cluster(self: RDSResponse) -> ActionResult:
    cluster = self.backend.clusters.get(self.params.get("DBClusterIdentifier", ""))
    if cluster is not None and _global_of(cluster):
        raise InvalidDBClusterStateFault(
            "This cluster is a part of a global cluster, please remove it from globalcluster first"
        )
    return _moto_delete_db_cluster(self)


def create_db_instance(self: RDSResponse) -> ActionResult:
    result = _moto_create_db_instance(self)
    instance = self.backend.databases[self.params["DBInstanceIdentifier"]]
    transitions.begin(instance, "creating", _seconds("CreateDBInstance"))
    return result


def modify_db_instance(self: RDSResponse) -> ActionResult:
    """Shows "modifying" for the configured time; a new class shows as pending until then."""
    instance = self.backend.describe_db_instances(self.params.get("DBInstanceIdentifier"))[0]
    old_class = instance.db_instance_class
    result = _moto_modify_db_instance(self)
    new_class = instance.db_instance_class
    seconds = _seconds("ModifyDBInstance")
    if seconds > 0 and new_class != old_class:
        instance.db_instance_class = old_class
        instance.pending_modified_values = {"DBInstanceClass": new_class}

    def finish() -> None:
        instance.db_instance_class = new_class
        instance.pending_modified_values = None

    transitions.begin(instance, "modifying", seconds, finish)
    return result


def _cluster_status(cluster: DBCluster) -> str:
    # moto creates every cluster "creating" and leaves it so; how long that is
    # seen is up to the transition begun by create_db_cluster (none: not at all).
    if cluster._status == "creating":
        return transitions.status(cluster) or "available"
    return transitions.status(cluster) or cluster._status


def _cluster_members(cluster: DBCluster) -> list[dict]:
    members = _moto_cluster_members.fget(cluster)
    database = _global_of(cluster)
    if database is not None and database.writer is not cluster:
        for member in members:
            member["IsClusterWriter"] = False
    return members


def _instance_status(instance: DBInstance) -> str:
    return transitions.status(instance) or instance._pl_status


def _set_instance_status(instance: DBInstance, value: str) -> None:
    instance._pl_status = value
