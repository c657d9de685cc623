"""Entry point: python -m pl_emulator.server --host 127.0.0.1 --port N [--dns-port M]

One threaded werkzeug server, every moto service, one endpoint for all
regions (moto takes the region from the SigV4 credential scope), wrapped by
the gateway; with --dns-port, a DNS server (UDP and TCP) on HOST:M answering
from the Route 53 hosted zones (dns_server.py). Route 53's health checkers
run in a daemon thread (route53_checkers.py). Prints "pl-emulator ready on
http://HOST:PORT" once listening and exits cleanly on SIGTERM or SIGINT.
"""

import argparse
import logging
import os
import signal
import sys
import threading

from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from . import (
    arc,
    autoscaling_groups,
    autoscaling_instances,
    cloudwatch_alarms,
    cloudwatch_periods,
    dns_server,
    dynamodb_replicas,
    elasticache_caches,
    ec2_images,
    ec2_launch_templates,
    ec2_subnets,
    rds_global,
    rds_replicas,
    replication_metrics,
    route53_checkers,
    route53_health_checks,
    route53_records,
    s3_replication,
)
from .calls import CallLog
from .control import ControlApi
from .durations import Durations
from .faults import FaultRules
from .gateway import Gateway


class RequestHandler(MotoRequestHandler):
    """After a simulated outage, stop instead of parsing the rest of the
    request body as if it were the next request."""

    def connection_dropped(self, error, environ=None) -> None:
        self.close_connection = True


def build_app(fault_rules: FaultRules | None = None) -> Gateway:
    """The WSGI application: gateway + control API + patched moto."""
    calls, durations = CallLog(), Durations()
    fault_rules = fault_rules or FaultRules()
    target_health = autoscaling_instances.TargetHealthOverrides()
    health_check_statuses = route53_health_checks.HealthCheckStatuses()
    arc.install(durations)
    rds_global.install(durations)
    rds_replicas.install(durations)
    dynamodb_replicas.install(durations)
    elasticache_caches.install(durations)
    cloudwatch_periods.install()
    cloudwatch_alarms.install(durations)
    replication_metrics.install(fault_rules)
    s3_replication.install()
    ec2_images.install(durations)
    ec2_launch_templates.install()
    ec2_subnets.install()
    autoscaling_groups.install()
    autoscaling_instances.install(durations, target_health)  # after autoscaling_groups: wraps its detach
    route53_records.install(durations)
    route53_health_checks.install(health_check_statuses)
    route53_checkers.install(health_check_statuses, fault_rules, durations)  # after route53_health_checks
    control = ControlApi(
        calls, fault_rules, durations, target_health, health_check_statuses, reset_moto=moto_api_backend.reset
    )
    return Gateway(DomainDispatcherApplication(create_backend_app), control, calls, fault_rules)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pl_emulator.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="a free port chosen by the caller (not 0)")
    parser.add_argument("--dns-port", type=int, help="also serve DNS (UDP and TCP) on this free port")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535; pick a free port")
    if args.dns_port is not None and not 0 < args.dns_port < 65536:
        parser.error("--dns-port must be between 1 and 65535; pick a free port")
    os.environ["MOTO_PORT"] = str(args.port)  # moto builds some URLs (e.g. presigned ones) from it
    # moto counts the automatic snapshot it takes of every new DB instance against a quota of
    # 1000 snapshots per region, so a thousand PilotLights could not be set up. RDS's quota
    # applies to manual snapshots only ("Manual DB instance snapshots: 100 per Region";
    # automated backups are not counted): https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html
    os.environ.setdefault("MOTO_RDS_SNAPSHOT_LIMIT", "1000000")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the call log replaces access logs

    fault_rules = FaultRules()
    server = make_server(
        args.host, args.port, build_app(fault_rules), threaded=True, request_handler=RequestHandler
    )
    route53_checkers.start()
    if args.dns_port is not None:
        dns_server.serve(args.host, args.dns_port, fault_rules)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, name="pl-emulator", daemon=True)
    serving.start()
    if args.dns_port is not None:
        print(f"pl-emulator: DNS on {args.host}:{args.dns_port} (UDP and TCP)", file=sys.stderr, flush=True)
    print(f"pl-emulator ready on http://{args.host}:{args.port}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    print("pl-emulator stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
