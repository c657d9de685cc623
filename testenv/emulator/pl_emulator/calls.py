"""Log of the AWS requests the emulator served, so tests can assert on what was called."""

import threading

OUTCOMES = ("ok", "error", "throttled", "fault5xx", "outage", "responseLost")


class CallLog:
    """Append-only list of calls with a sequence number that survives clear().

    Keeping seq monotonic across clears lets a poller use ``since`` without
    caring whether somebody cleared the log in between.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict] = []
        self._last_seq = 0

    def record(
        self,
        *,
        started: float,
        service: str,
        action: str,
        region: str,
        app: str | None,
        outcome: str,
        status: int | None,
        code: str | None,
        duration_ms: float,
    ) -> None:
        assert outcome in OUTCOMES, outcome
        with self._lock:
            self._last_seq += 1
            self._calls.append(
                {
                    "seq": self._last_seq,
                    "time": started,
                    "service": service,
                    "action": action,
                    "region": region,
                    "app": app,
                    "outcome": outcome,
                    "status": status,
                    "code": code,
                    "durationMs": round(duration_ms, 3),
                }
            )

    def since(self, seq: int = 0) -> list[dict]:
        with self._lock:
            return [dict(call) for call in self._calls if call["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
