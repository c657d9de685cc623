"""Control API basics: health, reset, errors."""

import urllib.error
import urllib.request

from conftest import PRIMARY


def test_health(emulator):
    assert emulator.control("GET", "health") == (200, {"ok": True})


def test_reset_clears_moto_state_calls_faults_and_durations(emulator):
    emulator.client("s3").create_bucket(Bucket="before-reset")
    emulator.client("rds").create_global_cluster(GlobalClusterIdentifier="gone", Engine="aurora-postgresql")
    emulator.add_fault(service="iam", kind="latency", latencyMs=1)
    emulator.set_durations({"rds:CreateDBCluster": 2.0})
    assert emulator.control("POST", "reset") == (200, {"ok": True})
    assert emulator.calls() == []
    assert emulator.control("GET", "faults") == (200, {"faults": []})
    assert emulator.control("GET", "durations") == (200, {})
    assert emulator.client("s3").list_buckets()["Buckets"] == []
    assert emulator.client("rds").describe_global_clusters()["GlobalClusters"] == []


def test_moto_api_reset_also_clears_global_clusters(emulator):
    emulator.client("rds").create_global_cluster(GlobalClusterIdentifier="gone", Engine="aurora-postgresql")
    urllib.request.urlopen(urllib.request.Request(f"{emulator.endpoint}/moto-api/reset", method="POST")).read()
    assert emulator.client("rds", PRIMARY).describe_global_clusters()["GlobalClusters"] == []


def test_errors(emulator):
    assert emulator.control("GET", "nothing-here")[0] == 404
    assert emulator.control("PUT", "health")[0] == 404
    assert emulator.control("GET", "calls?since=x")[0] == 400
    request = urllib.request.Request(f"{emulator.endpoint}/_emulator/faults", data=b"{not json", method="POST")
    try:
        urllib.request.urlopen(request)
    except urllib.error.HTTPError as error:
        assert error.code == 400
    else:
        raise AssertionError("invalid JSON accepted")
