"""ElastiCache caches with creation and deletion times (see pl_emulator/elasticache_caches.py)."""

import pytest
from botocore.exceptions import ClientError
from conftest import STANDBY, error_code, wait_for


@pytest.fixture
def cache(emulator):
    client = emulator.client("elasticache", STANDBY)
    ec2 = emulator.client("ec2", STANDBY)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    client.create_cache_subnet_group(
        CacheSubnetGroupName="dr-cache", CacheSubnetGroupDescription="dr", SubnetIds=[subnet]
    )
    return client


def groups(client, identifier):
    return client.describe_replication_groups(ReplicationGroupId=identifier)["ReplicationGroups"]


def test_a_replication_group_is_creating_then_available_and_deleting_then_gone(emulator, cache):
    emulator.set_durations({"elasticache:CreateReplicationGroup": 0.5, "elasticache:DeleteReplicationGroup": 0.5})
    created = cache.create_replication_group(
        ReplicationGroupId="app-cache-dr",
        ReplicationGroupDescription="dr",
        Engine="redis",
        CacheNodeType="cache.r6g.large",
        NumCacheClusters=1,
        CacheSubnetGroupName="dr-cache",
    )["ReplicationGroup"]
    assert created["Status"] == "creating"
    wait_for(lambda: groups(cache, "app-cache-dr")[0], lambda g: g["Status"] == "available")
    assert cache.delete_replication_group(ReplicationGroupId="app-cache-dr")["ReplicationGroup"]["Status"] == "deleting"

    def gone():
        try:
            groups(cache, "app-cache-dr")
            return False
        except ClientError as error:
            return error.response["Error"]["Code"] == "ReplicationGroupNotFoundFault"

    wait_for(gone, bool)


def test_a_memcached_cluster_is_creating_then_available_and_deleted(emulator, cache):
    emulator.set_durations({"elasticache:CreateCacheCluster": 0.5})
    created = cache.create_cache_cluster(
        CacheClusterId="app-mc-dr", Engine="memcached", CacheNodeType="cache.t4g.small", NumCacheNodes=2,
        CacheSubnetGroupName="dr-cache",
    )["CacheCluster"]
    assert created["CacheClusterStatus"] == "creating"
    wait_for(
        lambda: cache.describe_cache_clusters(CacheClusterId="app-mc-dr")["CacheClusters"][0],
        lambda c: c["CacheClusterStatus"] == "available",
    )
    cache.delete_cache_cluster(CacheClusterId="app-mc-dr")
    with pytest.raises(ClientError) as raised:
        cache.describe_cache_clusters(CacheClusterId="app-mc-dr")
    assert error_code(raised) == "CacheClusterNotFound"


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"CacheSubnetGroupName": "missing"}, "CacheSubnetGroupNotFoundFault"),
        ({"CacheNodeType": "cache.x9.huge"}, "InvalidParameterValue"),
    ],
)
def test_a_missing_subnet_group_or_unknown_node_type_is_refused_before_anything_is_created(cache, kwargs, code):
    params = {
        "ReplicationGroupId": "app-cache-dr",
        "ReplicationGroupDescription": "dr",
        "Engine": "redis",
        "CacheNodeType": "cache.r6g.large",
        "CacheSubnetGroupName": "dr-cache",
        **kwargs,
    }
    with pytest.raises(ClientError) as raised:
        cache.create_replication_group(**params)
    assert error_code(raised) == code
    assert cache.describe_replication_groups()["ReplicationGroups"] == []


def test_offerings_name_the_node_types_of_the_region(cache):
    offered = cache.describe_reserved_cache_nodes_offerings(CacheNodeType="cache.r6g.large", ProductDescription="redis")
    assert [o["CacheNodeType"] for o in offered["ReservedCacheNodesOfferings"]] == ["cache.r6g.large"]
    none = cache.describe_reserved_cache_nodes_offerings(CacheNodeType="cache.x9.huge")
    assert none["ReservedCacheNodesOfferings"] == []
