"""The replication-lag metrics AWS publishes, read back over each CloudWatch protocol."""

import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import CLOUDWATCH_PROTOCOLS, ENGINE, GLOBAL_ID, PRIMARY, STANDBY, create_primary


def lag_query(name: str, dimensions: dict, query_id: str = "lag") -> dict:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/RDS" if name != "ReplicationLatency" else "AWS/S3",
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            },
            "Period": 60,
            "Stat": "Maximum",
        },
    }


def read(cloudwatch, *queries) -> dict[str, list]:
    """Query id -> [(timestamp, value)], newest first, over the last 10 minutes."""
    now = datetime.now(timezone.utc)
    out = cloudwatch.get_metric_data(
        MetricDataQueries=list(queries),
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        ScanBy="TimestampDescending",
    )
    return {r["Id"]: list(zip(r["Timestamps"], r["Values"])) for r in out["MetricDataResults"]}


@pytest.mark.parametrize("protocol", CLOUDWATCH_PROTOCOLS)
def test_a_secondary_cluster_has_both_lag_metrics_at_once_and_the_writer_none(emulator, global_db, protocol):
    cloudwatch = emulator.cloudwatch(STANDBY, protocol)
    results = read(
        cloudwatch,
        lag_query("AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": "dr-cluster"}, "lag"),
        lag_query("AuroraGlobalDBRPOLag", {"DBClusterIdentifier": "dr-cluster"}, "rpo"),
    )
    for query_id in ("lag", "rpo"):
        [(at, value)] = results[query_id]
        assert value == 800.0
        assert datetime.now(timezone.utc) - at < timedelta(seconds=61)
    writer = read(
        emulator.cloudwatch(PRIMARY, protocol),
        lag_query("AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": "primary-cluster"}),
    )
    assert writer["lag"] == []


def test_a_set_lag_is_published_at_once_and_mixes_with_put_data(emulator, global_db):
    cloudwatch = emulator.cbor_cloudwatch()
    query = lag_query("AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": "dr-cluster"})
    assert [v for _, v in read(cloudwatch, query)["lag"]] == [800.0]
    status, body = emulator.control(
        "POST", "replication-lag", {"region": STANDBY, "cluster": "dr-cluster", "milliseconds": 4200}
    )
    assert (status, body["milliseconds"]) == (200, 4200.0), body
    # Both points fall in the same minute or in two: the newest period's maximum is the new lag.
    assert read(cloudwatch, query)["lag"][0][1] == 4200.0
    cloudwatch.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "AuroraGlobalDBReplicationLag",
                "Dimensions": [{"Name": "DBClusterIdentifier", "Value": "dr-cluster"}],
                "Value": 9000.0,
                "Unit": "Milliseconds",
            }
        ],
    )
    assert read(cloudwatch, query)["lag"][0][1] == 9000.0
    # Publishing again after a stop, with no lag given: the default lag.
    emulator.control("POST", "replication-lag", {"region": STANDBY, "cluster": "dr-cluster", "publishing": False})
    status, body = emulator.control("POST", "replication-lag", {"region": STANDBY, "cluster": "dr-cluster"})
    assert (status, body["milliseconds"], body["publishing"]) == (200, 800.0, True), body


def test_a_series_stopped_before_its_replica_exists_never_has_a_datapoint(emulator, rds):
    status, _ = emulator.control("POST", "replication-lag", {"region": STANDBY, "cluster": "dr-cluster", "publishing": False})
    assert status == 200
    primary = create_primary(rds[PRIMARY])
    rds[PRIMARY].create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, SourceDBClusterIdentifier=primary["DBClusterArn"])
    rds[STANDBY].create_db_cluster(DBClusterIdentifier="dr-cluster", Engine=ENGINE, GlobalClusterIdentifier=GLOBAL_ID)
    results = read(emulator.cbor_cloudwatch(), lag_query("AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": "dr-cluster"}))
    assert results["lag"] == []


def test_no_datapoint_while_the_writer_region_is_down(emulator, global_db):
    cloudwatch = emulator.cbor_cloudwatch()
    query = lag_query("AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": "dr-cluster"})
    assert [v for _, v in read(cloudwatch, query)["lag"]] == [800.0]  # the series began
    emulator.add_fault(region=PRIMARY, service="rds", kind="outage")
    # A new lag would be published at once, but nothing replicates from a region that is down.
    emulator.control("POST", "replication-lag", {"region": STANDBY, "cluster": "dr-cluster", "milliseconds": 5000})
    assert [v for _, v in read(cloudwatch, query)["lag"]] == [800.0]
    emulator.control("DELETE", f"faults/{emulator.control('GET', 'faults')[1]['faults'][0]['id']}")
    assert read(cloudwatch, query)["lag"][0][1] == 5000.0, "published again once the region is back"


@pytest.mark.parametrize(
    "body",
    [
        {"cluster": "x"},
        {"region": STANDBY},
        {"region": STANDBY, "cluster": "x", "bucket": "y"},
        {"region": STANDBY, "cluster": "x", "milliseconds": -1},
        {"region": STANDBY, "cluster": "x", "publishing": "no"},
        {"region": STANDBY, "cluster": "x", "lag": 1},
    ],
)
def test_bad_lag_settings_are_refused(emulator, body):
    status, answer = emulator.control("POST", "replication-lag", body)
    assert status == 400, answer


def test_a_read_replica_has_replica_lag_in_seconds(emulator, rds):
    source = rds[PRIMARY].create_db_instance(
        DBInstanceIdentifier="source-db", DBInstanceClass="db.t3.micro", Engine="mysql", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="secret-password",
    )["DBInstance"]
    rds[STANDBY].create_db_instance_read_replica(
        DBInstanceIdentifier="replica-db", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )
    results = read(emulator.cbor_cloudwatch(), lag_query("ReplicaLag", {"DBInstanceIdentifier": "replica-db"}))
    assert [v for _, v in results["lag"]] == [1.0]


def test_s3_replication_time_control_publishes_replication_latency(emulator):
    s3 = emulator.client("s3", PRIMARY)
    s3.create_bucket(Bucket="rtc-source")
    s3.put_bucket_versioning(Bucket="rtc-source", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(
        Bucket="rtc-source",
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replication",
            "Rules": [
                {
                    "ID": "all",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {
                        "Bucket": "arn:aws:s3:::rtc-replica",
                        "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                        "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
                    },
                }
            ],
        },
    )
    dims = {"SourceBucket": "rtc-source", "DestinationBucket": "rtc-replica", "RuleId": "all"}
    results = read(emulator.cbor_cloudwatch(PRIMARY), lag_query("ReplicationLatency", dims))
    assert [v for _, v in results["lag"]] == [2.0]


def test_two_hundred_replicas_are_read_in_one_call(emulator, rds):
    primary = create_primary(rds[PRIMARY])
    rds[PRIMARY].create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, SourceDBClusterIdentifier=primary["DBClusterArn"])
    names = [f"dr-{i}" for i in range(200)]
    for name in names:
        rds[STANDBY].create_db_cluster(DBClusterIdentifier=name, Engine=ENGINE, GlobalClusterIdentifier=GLOBAL_ID)
    queries = [lag_query("AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": n}, f"q{i}") for i, n in enumerate(names)]
    started = time.monotonic()
    results = read(emulator.cbor_cloudwatch(), *queries)
    elapsed = time.monotonic() - started
    assert all(len(results[f"q{i}"]) == 1 for i in range(len(names)))
    print(f"200 lag queries in one GetMetricData: {elapsed:.2f} s")
