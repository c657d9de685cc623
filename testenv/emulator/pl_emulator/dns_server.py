"""A DNS server on loopback that answers from the Route 53 hosted zones: Route 53's data plane.

moto 5.2.5 stores hosted zones and records but answers no DNS query, and its
health checks decide nothing; failover routing cannot be observed. serve()
(python -m pl_emulator.server --dns-port N) answers queries over UDP and TCP
on HOST:N (daemon threads), the way Route 53's name servers would, and keeps
answering while Route 53's control plane (the API, us-east-1) is down: it does
not go through the gateway, so no fault rule stops it
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/disaster-recovery-resiliency.html).

* Zones: every public and private hosted zone, as its latest INSYNC change
  left it (route53_records.visible_zones(): a record is answered once its
  change is INSYNC, like on Route 53's servers); the zone with the longest
  name that the query's name is in answers (a private one before a public one
  of the same name, as a resolver in its VPC would). Health, on the other
  hand, is read live from route53_checkers.evaluate().
* Simple records (A, AAAA, CNAME, TXT, NS, SOA): as stored, with their TTL; a
  CNAME is followed through the zones (as a recursive resolver would), up to
  MAX_CHAIN names.
* Alias records (AliasTarget): the target's records of the same type under
  the alias's name, TTL ALIAS_TTL. A target in a hosted zone is resolved there
  (recursively); any other target is answered with its synthetic address.
  With EvaluateTargetHealth the alias is healthy when the target is: a record
  in a zone by its own routing and health checks, a load balancer
  (*.elb.amazonaws.com) unless an outage fault covers its region; anything
  else is healthy
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-alias.html#rrsets-values-alias-evaluate-target-health).
* Failover routing (Failover PRIMARY/SECONDARY): the primary while it is
  healthy (no health check, or a healthy one, and a healthy alias target with
  EvaluateTargetHealth), else the secondary if it is healthy, else the primary:
  when all records are unhealthy Route 53 "considers all of them healthy"
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
  Other policies (weighted, latency, geolocation, multivalue) are answered
  with one healthy record set (the heaviest weight first), else the first.
* AWS host names: a name under no hosted zone that ends in amazonaws.com
  (load balancers *.elb.amazonaws.com, ...) has one synthetic IPv4 address:
  synthetic_address(), 198.18.0.0/15 (RFC 2544 benchmarking space, never
  routed) plus the first 4 bytes of sha256(lower-case name without the final
  dot) modulo 2^17, TTL SYNTHETIC_TTL; other types have no record there.
* Answers: NXDOMAIN for a name that no zone has (with the zone's SOA in the
  authority section when the name is in a zone); NOERROR with no answer and
  the SOA for a name with records of other types only (or only below it);
  REFUSED for other opcodes, classes and record types (MX, SRV, PTR, ...);
  SERVFAIL if answering fails.

Not modelled: wildcard records, DNSSEC, EDNS, delegation (NS records below a
zone apex are answered as data), target group health for EvaluateTargetHealth.
"""

import hashlib
import ipaddress
import re
import sys
import traceback

from dnslib import AAAA, CLASS, CNAME, NS, OPCODE, QTYPE, RCODE, RR, SOA, TXT, A, DNSLabel, DNSRecord
from dnslib.server import DNSLogger, DNSServer
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.route53.models import route53_backends

from . import route53_checkers, route53_records
from .faults import FaultRules

SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "TXT", "NS", "SOA")
RDATA = {"A": A, "AAAA": AAAA, "CNAME": CNAME, "NS": NS}
#: Route 53 answers alias records of AWS resources with their TTL, 60 s for load balancers.
ALIAS_TTL = 60
SYNTHETIC_TTL = 60
SYNTHETIC_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
#: How many names a CNAME chain or an alias may go through before the answer stops there.
MAX_CHAIN = 8
TXT_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def synthetic_address(name: str) -> str:
    """The address of an AWS host name under no hosted zone (see the module's docstring)."""
    digest = hashlib.sha256(_normal(name).rstrip(".").encode()).digest()
    return str(SYNTHETIC_NETWORK[int.from_bytes(digest[:4], "big") % SYNTHETIC_NETWORK.num_addresses])


def serve(host: str, port: int, fault_rules: FaultRules) -> list[DNSServer]:
    """Starts the UDP and TCP servers on host:port in daemon threads."""
    resolver = Resolver(fault_rules)
    logger = DNSLogger(log="error", logf=lambda line: print(f"pl-emulator dns: {line}", file=sys.stderr, flush=True))
    servers = [DNSServer(resolver, address=host, port=port, tcp=tcp, logger=logger) for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    return servers


class Resolver:
    """dnslib's resolver interface: one reply per request, from the hosted zones as they are now."""

    def __init__(self, fault_rules: FaultRules) -> None:
        self._faults = fault_rules

    def resolve(self, request: DNSRecord, handler) -> DNSRecord:
        reply = request.reply()
        try:
            question = request.q
            qtype = QTYPE.get(question.qtype)
            if (
                request.header.opcode != OPCODE.QUERY
                or len(request.questions) != 1
                or question.qclass != CLASS.IN
                or qtype not in SUPPORTED_TYPES
            ):
                reply.header.rcode = RCODE.REFUSED
                return reply
            zones = route53_records.visible_zones(route53_backends[DEFAULT_ACCOUNT_ID]["aws"])
            rcode, answer, authority = _Lookup(zones, self._faults).resolve(question.qname, qtype, 0)
            reply.header.rcode = rcode
            for record in answer:
                reply.add_answer(record)
            for record in authority:
                reply.add_auth(record)
        except Exception:  # answer SERVFAIL, keep serving
            traceback.print_exc(file=sys.stderr)
            reply = request.reply()
            reply.header.rcode = RCODE.SERVFAIL
        return reply


class _Lookup:
    """One query's resolution over one set of zone snapshots."""

    def __init__(self, zones: list, fault_rules: FaultRules) -> None:
        # Longest name first; a private zone before a public one of the same name.
        self._zones = sorted(zones, key=lambda zone: (-len(zone.name), not zone.private))
        self._faults = fault_rules

    def resolve(self, qname, qtype: str, depth: int) -> tuple[int, list, list]:
        """(rcode, answer records, authority records) for qname (a DNSLabel or text)."""
        name = _normal(str(qname))
        zone = self._zone(name)
        if zone is None:
            if name.endswith(".amazonaws.com."):
                address = [RR(qname, QTYPE.A, ttl=SYNTHETIC_TTL, rdata=A(synthetic_address(name)))]
                return RCODE.NOERROR, address if qtype == "A" else [], []
            return RCODE.NXDOMAIN, [], []
        at_name = [rs for rs in zone.record_sets if _normal(rs.name) == name]
        if not at_name:
            below = any(_normal(rs.name).endswith("." + name) for rs in zone.record_sets)
            return (RCODE.NOERROR if below else RCODE.NXDOMAIN), [], self._soa(zone)
        of_type = [rs for rs in at_name if rs.type == qtype]
        if of_type:
            return RCODE.NOERROR, self._records(self._route(of_type, depth), qname, qtype, depth), []
        cnames = [rs for rs in at_name if rs.type == "CNAME"]
        if cnames:
            chain = self._records(self._route(cnames, depth), qname, "CNAME", depth)
            if not chain or depth >= MAX_CHAIN or chain[-1].rtype != QTYPE.CNAME:
                return RCODE.NOERROR, chain, []
            rcode, answer, authority = self.resolve(chain[-1].rdata.label, qtype, depth + 1)
            return rcode, chain + answer, authority
        return RCODE.NOERROR, [], self._soa(zone)

    # --- routing and health ---

    def _route(self, record_sets: list, depth: int):
        """The record set that answers among those of one name and type."""
        if len(record_sets) == 1:
            return record_sets[0]
        failover = {rs.failover: rs for rs in record_sets if rs.failover in ("PRIMARY", "SECONDARY")}
        if failover:
            primary, secondary = failover.get("PRIMARY"), failover.get("SECONDARY")
            if primary is not None and self._healthy(primary, depth):
                return primary
            if secondary is not None and self._healthy(secondary, depth):
                return secondary
            return primary or secondary
        by_weight = sorted(record_sets, key=lambda rs: -_number(rs.weight))
        return next((rs for rs in by_weight if self._healthy(rs, depth)), by_weight[0])

    def _healthy(self, record_set, depth: int) -> bool:
        if record_set.health_check_id:
            check = route53_checkers.health_check(record_set.health_check_id)
            if check is not None and not route53_checkers.evaluate(check):
                return False
        alias = record_set.alias_target or {}
        if alias.get("DNSName") and _true(alias.get("EvaluateTargetHealth")):
            return self._target_healthy(_normal(alias["DNSName"]), record_set.type, depth + 1)
        return True

    def _target_healthy(self, target: str, qtype: str, depth: int) -> bool:
        zone = self._zone(target)
        if zone is not None:
            sets = [rs for rs in zone.record_sets if _normal(rs.name) == target and rs.type == qtype]
            return not sets or depth >= MAX_CHAIN or self._healthy(self._route(sets, depth), depth)
        if target.endswith(".elb.amazonaws.com."):
            region = route53_checkers.region_of_name(target)
            return not (region and self._faults.outage_covers(region, route53_checkers.ENDPOINT_SERVICES))
        return True

    # --- records ---

    def _records(self, record_set, owner, qtype: str, depth: int) -> list:
        alias = record_set.alias_target or {}
        if alias.get("DNSName"):
            return self._alias(owner, _normal(alias["DNSName"]), qtype, depth)
        ttl = int(_number(record_set.ttl, 300))
        records = []
        for value in record_set.records or []:
            rdata = _rdata(qtype, value["Value"] if isinstance(value, dict) else value)
            if rdata is not None:
                records.append(RR(owner, getattr(QTYPE, qtype), ttl=ttl, rdata=rdata))
        return records

    def _alias(self, owner, target: str, qtype: str, depth: int) -> list:
        if self._zone(target) is None:
            if qtype != "A":
                return []
            return [RR(owner, QTYPE.A, ttl=ALIAS_TTL, rdata=A(synthetic_address(target)))]
        if depth >= MAX_CHAIN:
            return []
        _, answer, _ = self.resolve(target, qtype, depth + 1)
        wanted = getattr(QTYPE, qtype)
        return [RR(owner, wanted, ttl=ALIAS_TTL, rdata=record.rdata) for record in answer if record.rtype == wanted]

    def _zone(self, name: str):
        return next((z for z in self._zones if name == z.name or name.endswith("." + z.name)), None)

    def _soa(self, zone) -> list:
        for rs in zone.record_sets:
            if rs.type == "SOA" and _normal(rs.name) == zone.name and rs.records:
                value = rs.records[0]
                rdata = _rdata("SOA", value["Value"] if isinstance(value, dict) else value)
                if rdata is not None:
                    return [RR(DNSLabel(zone.name), QTYPE.SOA, ttl=int(_number(rs.ttl, 900)), rdata=rdata)]
        return []


def _rdata(qtype: str, value: str):
    """A stored record value as dnslib rdata; None for a value that does not parse."""
    try:
        if qtype in RDATA:
            return RDATA[qtype](value)
        if qtype == "TXT":
            strings = TXT_STRING.findall(value)
            return TXT([re.sub(r"\\(.)", r"\1", s) for s in strings] if strings else [value])
        if qtype == "SOA":
            mname, rname, *times = value.split()
            return SOA(mname, rname, tuple(int(t) for t in times[:5]))
    except Exception:  # dnslib raises several kinds for a malformed value
        return None
    return None


def _normal(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _number(value, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _true(value) -> bool:
    return value is True or str(value).lower() == "true"
