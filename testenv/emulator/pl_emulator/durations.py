"""How long slow AWS operations take in the emulator (PUT /_emulator/durations).

Keys are "<signing name>:<Operation>", e.g. "rds:SwitchoverGlobalCluster";
values are seconds. A missing key means the operation completes instantly, so
tests only pay for the waits they ask for.

A few keys are factors, not seconds, and say what a missing key means
themselves (seconds() with a default): "route53:HealthCheckScale" multiplies
Route 53 health checkers' RequestInterval x FailureThreshold (missing: 1.0,
real time; 0: a new probe result counts at once).
"""

import re
import threading

KEY_PATTERN = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")


class InvalidDurations(ValueError):
    """A PUT body that is not a {"service:Operation": seconds} object."""


class Durations:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = {}

    def replace(self, data: object) -> dict[str, float]:
        if not isinstance(data, dict):
            raise InvalidDurations('durations must be a JSON object {"service:Operation": seconds}')
        parsed = {}
        for key, value in data.items():
            if not KEY_PATTERN.match(key):
                raise InvalidDurations(f"key {key!r} is not of the form service:Operation")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidDurations(f"{key}: seconds must be a non-negative number, got {value!r}")
            parsed[key] = float(value)
        with self._lock:
            self._seconds = parsed
            return dict(parsed)

    def all(self) -> dict[str, float]:
        with self._lock:
            return dict(self._seconds)

    def seconds(self, service: str, operation: str, default: float = 0.0) -> float:
        with self._lock:
            return self._seconds.get(f"{service}:{operation}", default)

    def clear(self) -> None:
        with self._lock:
            self._seconds = {}
