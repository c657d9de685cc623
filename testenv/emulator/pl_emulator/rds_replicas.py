"""RDS (non-Aurora) read replicas, also across regions, on top of moto's RDS.

moto 5.2.5 creates a read replica as a shallow copy of its source (sharing its tag list), silently
replaces an instance of the same identifier, makes it ``available`` at once, never fills
``StatusInfos``, and ``PromoteReadReplica`` leaves the replica pointing at its source (and in the
source's ``ReadReplicaDBInstanceIdentifiers``). install() replaces both handlers, following
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html,
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html and
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.XRgn.html:

* the source is an identifier in the replica's region, or the ARN of an instance in another
  region (a cross-region replica must name its source by ARN); it must be ``available``;
* an encrypted source replicated to another region needs ``KmsKeyId`` (a key of the destination
  region): ``InvalidParameterCombination`` otherwise;
* an identifier in use is ``DBInstanceAlreadyExists``;
* the replica is ``creating`` for ``rds:CreateDBInstanceReadReplica`` seconds, has its own tags
  and ``StatusInfos`` ``[{"StatusType": "read replication", "Status": "replicating", "Normal":
  true}]``; its class is ``DBInstanceClass`` or the source's;
* ``PromoteReadReplica`` is served by the replica's region alone (it works while the source's
  region is down, which is what a DR failover needs): ``modifying`` for
  ``rds:PromoteReadReplica`` seconds, then a standalone instance (no source, no ``StatusInfos``);
  an instance that is not a replica is ``InvalidDBInstanceState``;
* ``POST /_emulator/replica-status`` breaks (or mends) a replica's replication as
  ``StatusInfos`` reports it (``error``, ``stopped``, ``terminated``).

The ``ReplicaLag`` metric of a replica is in replication_metrics.
"""

import copy

from moto.core.responses import ActionResult
from moto.rds.exceptions import (
    DBInstanceAlreadyExists,
    DBInstanceNotFoundError,
    InvalidDBInstanceStateFault,
    InvalidParameterCombination,
    RDSClientError,
)
from moto.rds.models import DBInstance, rds_backends
from moto.rds.responses import RDSResponse

from . import transitions
from .durations import Durations

_durations = Durations()

#: StatusInfos statuses RDS documents for read replication, and whether each is normal
#: (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstanceStatusInfo.html).
REPLICATION_STATUSES = {
    "replicating": True,
    "replication stop point set": True,
    "replication stop point reached": True,
    "error": False,
    "stopped": False,
    "terminated": False,
}


class InvalidReplicaStatus(ValueError):
    """A POST /_emulator/replica-status body that cannot be applied."""


class UnknownReplica(LookupError):
    """POST /_emulator/replica-status named an instance that is not a read replica."""


def install(durations: Durations) -> None:
    global _durations
    _durations = durations
    RDSResponse.create_db_instance_read_replica = create_db_instance_read_replica
    RDSResponse.promote_read_replica = promote_read_replica


def _source(response: RDSResponse, identifier: str) -> DBInstance:
    region = response.region
    name = identifier
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) != 7 or parts[2] != "rds" or parts[5] != "db":
            raise RDSClientError("InvalidParameterValue", f"Invalid source DB instance ARN: {identifier}")
        region, name = parts[3], parts[6]
    backend = rds_backends[response.current_account].get(region)
    if backend is None or name not in backend.databases:
        raise DBInstanceNotFoundError(identifier)
    return backend.databases[name]


def create_db_instance_read_replica(self: RDSResponse) -> ActionResult:
    params = self.params
    identifier = params["db_instance_identifier"]
    if identifier in self.backend.databases:
        raise DBInstanceAlreadyExists()
    source_id = params["source_db_instance_identifier"]
    source = _source(self, source_id)
    cross_region = source.region != self.region
    if cross_region and not source_id.startswith("arn:"):
        raise InvalidParameterCombination(
            "To create a read replica in another region, SourceDBInstanceIdentifier must be the source's ARN."
        )
    if source.status != "available":
        raise InvalidDBInstanceStateFault(f"DB instance {source.db_instance_identifier} is {source.status}, not available.")
    if cross_region and source.storage_encrypted and not params.get("kms_key_id"):
        raise InvalidParameterCombination(
            "The source DB instance is encrypted: a cross-region read replica needs KmsKeyId, a KMS key of the "
            f"destination region {self.region}."
        )
    replica = copy.copy(source)
    replica.backend = self.backend
    replica.db_instance_identifier = identifier
    replica.db_instance_class = params.get("db_instance_class") or source.db_instance_class
    replica.source_db_instance_identifier = source.db_instance_arn if cross_region else source.db_instance_identifier
    replica.tags = params.get("tags") or []  # the setter copies them
    replica.vpc_security_group_ids = list(params.get("vpc_security_group_ids") or [])
    # moto's db_subnet_group_name is write-only: a same-region replica keeps the copied group.
    if params.get("db_subnet_group_name") or cross_region:
        replica.db_subnet_group_name = params.get("db_subnet_group_name")
    replica.kms_key_id = params.get("kms_key_id") or source.kms_key_id
    replica.storage_type = params.get("storage_type") or source.storage_type
    replica.availability_zone = f"{self.region}a"
    replica.pending_modified_values = None
    replica.set_as_replica()
    replica.status_infos = [{"StatusType": "read replication", "Status": "replicating", "Normal": True}]
    replica.status = "available"
    self.backend.databases[identifier] = replica
    source.add_replica(replica)
    transitions.begin(replica, "creating", _durations.seconds("rds", "CreateDBInstanceReadReplica"))
    return ActionResult({"DBInstance": replica})


def promote_read_replica(self: RDSResponse) -> ActionResult:
    identifier = self.params["db_instance_identifier"]
    if identifier not in self.backend.databases:
        raise DBInstanceNotFoundError(identifier)
    replica = self.backend.databases[identifier]
    if not replica.is_replica or not replica.source_db_instance_identifier:
        raise InvalidDBInstanceStateFault(f"DB Instance {identifier} is not a read replica.")
    if replica.status != "available":
        raise InvalidDBInstanceStateFault(f"DB instance {identifier} is {replica.status}, not available.")

    def finish() -> None:
        source_id = replica.source_db_instance_identifier
        replica.is_replica = False
        replica.source_db_instance_identifier = None
        replica.status_infos = None
        # The source's list changes in its own region's backend; no request goes there.
        try:
            source = _source(self, source_id)
        except DBInstanceNotFoundError:
            return
        for name in (replica.db_instance_arn, replica.db_instance_identifier):
            if name in source.replicas:
                source.replicas.remove(name)

    transitions.begin(replica, "modifying", _durations.seconds("rds", "PromoteReadReplica"), finish)
    return ActionResult({"DBInstance": replica})


def set_status(account_id: str, data: object) -> dict:
    """POST /_emulator/replica-status: {"region", "instance", "status"}."""
    if not isinstance(data, dict) or set(data) != {"region", "instance", "status"}:
        raise InvalidReplicaStatus('body must be {"region": REGION, "instance": ID, "status": STATUS}')
    status = data["status"]
    if status not in REPLICATION_STATUSES:
        raise InvalidReplicaStatus(f"status must be one of {', '.join(REPLICATION_STATUSES)}, got {status!r}")
    with transitions.LOCK:
        backend = rds_backends[account_id].get(data["region"]) if isinstance(data["region"], str) else None
        instance = backend.databases.get(data["instance"]) if backend is not None else None
        if instance is None or not instance.is_replica:
            raise UnknownReplica(f"no read replica {data['instance']!r} in {data['region']!r}")
        instance.status_infos = [
            {"StatusType": "read replication", "Status": status, "Normal": REPLICATION_STATUSES[status]}
        ]
    return dict(data)
