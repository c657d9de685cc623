"""Fault injection rules: simulated outages, throttling, rate limits, 5xx errors, refusals and latency.

Rules are matched against each AWS request (region from the SigV4 scope,
signing name, operation) in the order they were added. Latency rules add up;
the first matching outage/throttle/error5xx/rejected rule decides the request's fate.

A ``rateLimit`` rule is AWS's own throttling: a token bucket of ``ratePerSecond`` tokens
(refilled at that rate, as many as the rate at most) shared by every request it matches; a request
that finds it empty is throttled. AWS limits API requests per account (and per region for regional
services) this way: Route 53 allows five requests a second per account
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests);
EC2 documents its buckets and refill rates
(https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).

A ``rejected`` rule answers with the protocol's 400 "invalid parameter" error: AWS refusing a call
that no retry will make succeed.
"""

import itertools
import random
import threading
import time
from dataclasses import dataclass, field

KINDS = ("outage", "throttle", "error5xx", "latency", "responseLost", "rateLimit", "rejected")
FIELDS = {"region", "service", "action", "kind", "probability", "remaining", "latencyMs", "ratePerSecond"}


class InvalidRule(ValueError):
    """A POSTed rule that does not follow the documented shape."""


@dataclass
class Rule:
    id: str
    region: str
    service: str
    action: str | None
    kind: str
    probability: float
    remaining: int | None
    latency_ms: int  # 0 unless kind is latency
    rate: float = 0.0  # requests a second, for kind rateLimit
    added_at: float = field(default_factory=time.time)  # epoch seconds
    tokens: float = 0.0  # rateLimit: the bucket, full when the rule is added
    refilled_at: float = field(default_factory=time.monotonic)

    def take_token(self) -> bool:
        """rateLimit: refills the bucket for the time passed and takes one token if there is one."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def matches(self, region: str, service: str, action: str) -> bool:
        return self.region in ("*", region) and self.service in ("*", service) and self.action in (None, "*", action)

    def to_json(self) -> dict:
        rule = {
            "id": self.id,
            "region": self.region,
            "service": self.service,
            "action": self.action,
            "kind": self.kind,
            "probability": self.probability,
            "remaining": self.remaining,
        }
        if self.kind == "latency":
            rule["latencyMs"] = self.latency_ms
        if self.kind == "rateLimit":
            rule["ratePerSecond"] = self.rate
        return rule


@dataclass
class Decision:
    """What the matching rules say about one request."""

    latency_ms: int = 0
    kind: str | None = None  # outage | throttle | error5xx, or None to serve normally


def _parse_rule(rule_id: str, data: object) -> Rule:
    if not isinstance(data, dict):
        raise InvalidRule("a fault rule must be a JSON object")
    unknown = set(data) - FIELDS
    if unknown:
        raise InvalidRule(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(FIELDS)}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidRule(f"kind must be one of {list(KINDS)}, got {kind!r}")
    for field in ("region", "service", "action"):
        if data.get(field) is not None and not isinstance(data[field], str):
            raise InvalidRule(f"{field} must be a string")
    probability = data.get("probability", 1)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
        raise InvalidRule(f"probability must be a number in [0, 1], got {probability!r}")
    remaining = data.get("remaining")
    if remaining is not None and (isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 1):
        raise InvalidRule(f"remaining must be a positive integer, got {remaining!r}")
    latency_ms = data.get("latencyMs")
    if kind == "latency":
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
            raise InvalidRule(f"latency rules need latencyMs, a non-negative integer, got {latency_ms!r}")
    elif latency_ms is not None:
        raise InvalidRule("latencyMs only applies to kind 'latency'")
    rate = data.get("ratePerSecond")
    if kind == "rateLimit":
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
            raise InvalidRule(f"rateLimit rules need ratePerSecond, a positive number, got {rate!r}")
    elif rate is not None:
        raise InvalidRule("ratePerSecond only applies to kind 'rateLimit'")
    return Rule(
        id=rule_id,
        region=data.get("region") or "*",
        service=data.get("service") or "*",
        action=data.get("action"),
        kind=kind,
        probability=float(probability),
        remaining=remaining,
        latency_ms=latency_ms or 0,
        rate=float(rate or 0),
        tokens=float(rate or 0),
    )


class FaultRules:
    """The ordered, thread-safe rule list behind /_emulator/faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._ids = itertools.count(1)

    def add(self, data: object) -> dict:
        with self._lock:
            rule = _parse_rule(f"fault-{next(self._ids)}", data)
            self._rules.append(rule)
            return rule.to_json()

    def list(self) -> list[dict]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            kept = [rule for rule in self._rules if rule.id != rule_id]
            removed = len(kept) != len(self._rules)
            self._rules = kept
            return removed

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def outage_covers(self, region: str, services: tuple[str, ...]) -> bool:
        """Whether an outage rule takes down all of ``region`` for one of ``services`` (or "*").

        What the data plane (Route 53's health checkers, the DNS server) sees of an outage
        rule: one limited to an action does not take an endpoint down; probability and
        remaining are not looked at (no request is made).
        """
        return self.outage_since(region, services) is not None

    def outage_since(self, region: str, services: tuple[str, ...]) -> float | None:
        """When the oldest outage rule that takes down all of ``region`` for one of ``services``
        was added (epoch seconds), or None: what the data plane's metrics see of an outage."""
        with self._lock:
            times = [
                rule.added_at
                for rule in self._rules
                if rule.kind == "outage"
                and rule.region in ("*", region)
                and rule.service in ("*", *services)
                and rule.action in (None, "*")
            ]
        return min(times, default=None)

    def decide(self, region: str, service: str, action: str) -> Decision:
        """Applies the rules to one request; a rule that fires uses up one of its ``remaining``."""
        decision = Decision()
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(region, service, action):
                    continue
                if rule.kind != "latency" and decision.kind is not None:
                    continue
                if rule.kind == "rateLimit":
                    if not rule.take_token():
                        decision.kind = "throttle"
                    continue
                if random.random() >= rule.probability:
                    continue
                if rule.kind == "latency":
                    decision.latency_ms += rule.latency_ms
                else:
                    decision.kind = rule.kind
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
        return decision
