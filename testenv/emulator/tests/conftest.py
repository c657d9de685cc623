"""Starts one emulator for the whole test session and resets it before each test."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.config import Config
from dnslib import QTYPE, DNSRecord

EMULATOR_DIR = Path(__file__).resolve().parent.parent
CREDENTIALS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}
PRIMARY, STANDBY = "us-east-1", "us-west-2"
CBOR = "smithy-rpc-v2-cbor"
#: The protocols CloudWatch clients speak: the Rust SDK's, then botocore's others.
CLOUDWATCH_PROTOCOLS = (CBOR, "json", "query")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Emulator:
    """A running emulator: its endpoint, boto3 clients and the control API."""

    def __init__(
        self, endpoint: str, cloudwatch_sessions: dict[str, botocore.session.Session], dns_port: int
    ) -> None:
        self.endpoint = endpoint
        self._cloudwatch_sessions = cloudwatch_sessions
        self.dns_port = dns_port

    def dns(self, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
        """The emulator's DNS answer to one query, over UDP or TCP."""
        answer = DNSRecord.question(name, qtype).send("127.0.0.1", self.dns_port, tcp=tcp, timeout=5)
        return DNSRecord.parse(answer)

    def resolve(self, name: str, qtype: str = "A", tcp: bool = False) -> list[str]:
        """The values of the answer's records of type ``qtype`` (CNAMEs followed are left out)."""
        return sorted(str(rr.rdata) for rr in self.dns(name, qtype, tcp).rr if rr.rtype == getattr(QTYPE, qtype))

    def health_checks(self) -> dict[str, bool]:
        """Health check id -> healthy, as Route 53's checkers see them now."""
        status, body = self.control("GET", "health-checks")
        assert status == 200, body
        return {check["id"]: check["healthy"] for check in body["healthChecks"]}

    def client(self, service: str, region: str = PRIMARY, **config):
        config.setdefault("retries", {"total_max_attempts": 1})
        if service == "s3":
            config.setdefault("s3", {"addressing_style": "path"})
        return boto3.client(
            service, region_name=region, endpoint_url=self.endpoint, config=Config(**config), **CREDENTIALS
        )

    def control(self, method: str, path: str, body=None):
        """(status, decoded JSON) of a control API call."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.endpoint}/_emulator/{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def raw_s3_get(self, path: str, region: str = PRIMARY) -> bytes:
        """The body of an S3 GET as sent on the wire (moto does not check signatures)."""
        scope = f"AKIDEXAMPLE/20260101/{region}/s3/aws4_request"
        request = urllib.request.Request(
            f"{self.endpoint}{path}",
            headers={"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"},
        )
        with urllib.request.urlopen(request) as response:
            return response.read()

    def calls(self, since: int = 0) -> list[dict]:
        return self.control("GET", f"calls?since={since}")[1]["calls"]

    def add_fault(self, **rule) -> dict:
        status, body = self.control("POST", "faults", rule)
        assert status == 200, body
        return body

    def set_durations(self, durations: dict[str, float]) -> None:
        assert self.control("PUT", "durations", durations) == (200, durations)

    def cbor_cloudwatch(self, region: str = STANDBY, **config):
        """A CloudWatch client speaking rpc-v2-cbor like the Rust SDK."""
        return self.cloudwatch(region, CBOR, **config)

    def cloudwatch(self, region: str, protocol: str, **config):
        """A CloudWatch client speaking only ``protocol`` (one of CLOUDWATCH_PROTOCOLS)."""
        config.setdefault("retries", {"total_max_attempts": 1})
        session = boto3.Session(botocore_session=self._cloudwatch_sessions[protocol])
        return session.client(
            "cloudwatch", region_name=region, endpoint_url=self.endpoint, config=Config(**config), **CREDENTIALS
        )


def cloudwatch_botocore_session(models: Path, protocol: str) -> botocore.session.Session:
    """A botocore session whose CloudWatch model lists only ``protocol``."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = [protocol]
    model["metadata"]["protocol"] = protocol
    version_dir = models / protocol / "cloudwatch" / model["metadata"]["apiVersion"]
    version_dir.mkdir(parents=True)
    (version_dir / "service-2.json").write_text(json.dumps(model))
    loader.search_paths.insert(0, str(models / protocol))
    return session


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    port, dns_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "pl_emulator.server", "--host", "127.0.0.1", "--port", str(port),
            "--dns-port", str(dns_port),
        ],
        cwd=EMULATOR_DIR,
        env={**os.environ, "PYTHONPATH": str(EMULATOR_DIR)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = process.stdout.readline()
        assert ready.strip() == f"pl-emulator ready on http://127.0.0.1:{port}", ready
        models = tmp_path_factory.mktemp("models")
        sessions = {protocol: cloudwatch_botocore_session(models, protocol) for protocol in CLOUDWATCH_PROTOCOLS}
        yield Emulator(f"http://127.0.0.1:{port}", sessions, dns_port)
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.fixture(autouse=True)
def clean(emulator):
    assert emulator.control("POST", "reset") == (200, {"ok": True})


def wait_for(fetch, condition, timeout: float = 5.0):
    """Polls fetch() until condition(value) holds or the timeout passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if condition(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


# --- Aurora global database fixtures (test_rds_global, test_durations) --------

ENGINE, VERSION = "aurora-postgresql", "15.4"
GLOBAL_ID = "app-global"


def error_code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def create_primary(rds, identifier: str = "primary-cluster") -> dict:
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine=ENGINE,
        EngineVersion=VERSION,
        MasterUsername="pladmin",
        MasterUserPassword="not-a-secret-1",
    )["DBCluster"]
    rds.create_db_instance(
        DBInstanceIdentifier=f"{identifier}-1",
        DBClusterIdentifier=identifier,
        DBInstanceClass="db.r5.large",
        Engine=ENGINE,
    )
    return cluster


@pytest.fixture
def rds(emulator):
    return {region: emulator.client("rds", region) for region in (PRIMARY, STANDBY)}


@pytest.fixture
def global_db(rds):
    """A writer cluster in us-east-1 and a secondary with one instance in us-west-2."""
    primary = create_primary(rds[PRIMARY])
    rds[PRIMARY].create_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, SourceDBClusterIdentifier=primary["DBClusterArn"]
    )
    secondary = rds[STANDBY].create_db_cluster(
        DBClusterIdentifier="dr-cluster", Engine=ENGINE, GlobalClusterIdentifier=GLOBAL_ID
    )["DBCluster"]
    rds[STANDBY].create_db_instance(
        DBInstanceIdentifier="dr-instance-1",
        DBClusterIdentifier="dr-cluster",
        DBInstanceClass="db.r5.large",
        Engine=ENGINE,
    )
    return primary["DBClusterArn"], secondary["DBClusterArn"]


def describe_global(rds, region: str = PRIMARY) -> dict:
    [cluster] = rds[region].describe_global_clusters(GlobalClusterIdentifier=GLOBAL_ID)["GlobalClusters"]
    return cluster


def writers(cluster: dict) -> dict[str, bool]:
    return {member["DBClusterArn"]: member["IsWriter"] for member in cluster["GlobalClusterMembers"]}


def cluster_writer_flags(rds, region: str, identifier: str) -> list[bool]:
    [cluster] = rds[region].describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
    return [member["IsClusterWriter"] for member in cluster["DBClusterMembers"]]
