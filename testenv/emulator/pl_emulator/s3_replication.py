"""S3 replication configurations returned as they were stored.

moto 5.2.5 answers GetBucketReplication with every rule's ``DeleteMarkerReplication`` forced to
``Disabled`` and its ``Filter`` forced to an empty prefix, whatever was put. A client that
compares (the operator repairs drift) would see drift that is not there, and one that writes the
configuration back would overwrite other people's filters.
"""

from moto.core.responses import ActionResult
from moto.s3.exceptions import ReplicationConfigurationNotFoundError
from moto.s3.responses import S3Response

# Rule members S3 returns, in its order; the rest of what was put is ignored as S3 does.
RULE_MEMBERS = (
    "ID",
    "Priority",
    "Prefix",
    "Filter",
    "Status",
    "SourceSelectionCriteria",
    "ExistingObjectReplication",
    "Destination",
    "DeleteMarkerReplication",
)


def install() -> None:
    S3Response.get_bucket_replication = get_bucket_replication


def get_bucket_replication(self: S3Response):
    self.data["Action"] = "GetBucketReplication"
    replication = self.backend.get_bucket_replication(self.bucket_name)
    if not replication:
        raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
    rules = []
    for stored in replication["Rule"]:
        rule = {name: stored[name] for name in RULE_MEMBERS if stored.get(name) is not None}
        rule["Priority"] = int(rule.get("Priority", 1))
        rule.setdefault("DeleteMarkerReplication", {"Status": "Disabled"})
        rules.append(rule)
    return self.serialized(
        ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}})
    )
