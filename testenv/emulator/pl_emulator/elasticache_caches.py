"""ElastiCache caches that take time to create and delete, on top of moto's ElastiCache.

moto 5.2.5 creates replication groups and cache clusters ``available`` at once, accepts a
subnet group that does not exist and any node type, leaves a deleted cache ``deleting`` for ever,
and has no ``DescribeReservedCacheNodesOfferings``. install() changes that, following
https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html,
https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateCacheCluster.html and
https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeReservedCacheNodesOfferings.html:

* ``CacheSubnetGroupName`` must name a subnet group of the region (``CacheSubnetGroupNotFoundFault``)
  and ``CacheNodeType`` a node type of NODE_TYPES (``InvalidParameterValue``), checked before
  anything is created;
* a new cache is ``creating`` for ``elasticache:CreateReplicationGroup`` (or
  ``elasticache:CreateCacheCluster``) seconds, then ``available``; a deleted one is ``deleting``
  for ``elasticache:DeleteReplicationGroup`` (``...:DeleteCacheCluster``) seconds, then gone
  (``ReplicationGroupNotFoundFault`` / ``CacheClusterNotFound``);
* ``DescribeReservedCacheNodesOfferings`` answers one offering (1 year, No Upfront) per node type
  of NODE_TYPES and engine, filtered by ``CacheNodeType`` and ``ProductDescription``: every
  region offers them all here (in AWS the set differs per region: the page of supported node
  types lists them).
"""

from moto.core.responses import ActionResult
from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
from moto.elasticache.responses import ElastiCacheResponse

from . import transitions
from .durations import Durations

_durations = Durations()

#: Current-generation node types
#: (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheNodes.SupportedTypes.html).
NODE_TYPES = tuple(
    f"cache.{family}.{size}"
    for family, sizes in (
        ("t3", ("micro", "small", "medium")),
        ("t4g", ("micro", "small", "medium")),
        ("m5", ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")),
        ("m6g", ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")),
        ("m7g", ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")),
        ("r5", ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")),
        ("r6g", ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")),
        ("r7g", ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")),
    )
    for size in sizes
)
ENGINES = ("redis", "valkey", "memcached")

_moto_call_action = ElastiCacheResponse.call_action
_moto_create_replication_group = ElastiCacheResponse.create_replication_group
_moto_create_cache_cluster = ElastiCacheResponse.create_cache_cluster
_moto_delete_replication_group = ElastiCacheResponse.delete_replication_group
_moto_delete_cache_cluster = ElastiCacheResponse.delete_cache_cluster


class InvalidParameterValue(ElastiCacheException):
    code = "InvalidParameterValue"

    def __init__(self, message: str):
        super().__init__(message)


def install(durations: Durations) -> None:
    global _durations
    _durations = durations
    ElastiCacheResponse.call_action = call_action
    ElastiCacheResponse.create_replication_group = create_replication_group
    ElastiCacheResponse.create_cache_cluster = create_cache_cluster
    ElastiCacheResponse.delete_replication_group = delete_replication_group
    ElastiCacheResponse.delete_cache_cluster = delete_cache_cluster
    ElastiCacheResponse.describe_reserved_cache_nodes_offerings = describe_reserved_cache_nodes_offerings


def call_action(self: ElastiCacheResponse):
    with transitions.LOCK:
        transitions.settle_due()
        return _moto_call_action(self)


def _check(self: ElastiCacheResponse) -> None:
    subnet_group = self._get_param("CacheSubnetGroupName")
    if subnet_group and subnet_group not in self.elasticache_backend.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(subnet_group)
    node_type = self._get_param("CacheNodeType")
    if node_type is not None and node_type not in NODE_TYPES:
        raise InvalidParameterValue(f"Invalid Cache Node Type: {node_type}")


def _seconds(operation: str) -> float:
    return _durations.seconds("elasticache", operation)


def create_replication_group(self: ElastiCacheResponse) -> ActionResult:
    _check(self)
    result = _moto_create_replication_group(self)
    group = self.elasticache_backend.replication_groups[self._get_param("ReplicationGroupId")]
    group.status = "creating"
    transitions.begin(group, "creating", _seconds("CreateReplicationGroup"), lambda: setattr(group, "status", "available"))
    return result


def create_cache_cluster(self: ElastiCacheResponse) -> ActionResult:
    _check(self)
    result = _moto_create_cache_cluster(self)
    cluster = self.elasticache_backend.cache_clusters[self._get_param("CacheClusterId")]
    cluster.cache_cluster_status = "creating"
    transitions.begin(
        cluster, "creating", _seconds("CreateCacheCluster"), lambda: setattr(cluster, "cache_cluster_status", "available")
    )
    return result


def delete_replication_group(self: ElastiCacheResponse) -> ActionResult:
    result = _moto_delete_replication_group(self)
    backend, identifier = self.elasticache_backend, self._get_param("ReplicationGroupId")
    group = backend.replication_groups[identifier]
    transitions.begin(group, "deleting", _seconds("DeleteReplicationGroup"), lambda: backend.replication_groups.pop(identifier, None))
    return result


def delete_cache_cluster(self: ElastiCacheResponse) -> ActionResult:
    result = _moto_delete_cache_cluster(self)
    backend, identifier = self.elasticache_backend, self._get_param("CacheClusterId")
    cluster = backend.cache_clusters[identifier]
    transitions.begin(cluster, "deleting", _seconds("DeleteCacheCluster"), lambda: backend.cache_clusters.pop(identifier, None))
    return result


def describe_reserved_cache_nodes_offerings(self: ElastiCacheResponse) -> ActionResult:
    node_type = self._get_param("CacheNodeType")
    engine = self._get_param("ProductDescription")
    offerings = [
        {
            "ReservedCacheNodesOfferingId": f"{t}-{e}-1y",
            "CacheNodeType": t,
            "Duration": 31536000,
            "FixedPrice": 0.0,
            "UsagePrice": 0.0,
            "ProductDescription": e,
            "OfferingType": "No Upfront",
            "RecurringCharges": [],
        }
        for t in NODE_TYPES
        for e in ENGINES
        if node_type in (None, t) and engine in (None, e)
    ]
    return ActionResult({"ReservedCacheNodesOfferings": offerings})
