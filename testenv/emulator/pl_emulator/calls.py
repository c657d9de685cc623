"""Log of the AWS requests the emulator served, so tests can assert on what was called.

With recording on, each entry also carries the request as it arrived and the answer's body, so a
benchmark can send the same requests again (see ``Exchange``).
"""

import base64
import threading

OUTCOMES = ("ok", "error", "throttled", "fault5xx", "outage", "responseLost")

#: The request headers a replay needs: the SigV4 scope (service, region), the protocol, the
#: operation of JSON and CBOR protocols. Not the User-Agent: a replay names its own app.
REPLAY_HEADERS = (
    "authorization",
    "content-type",
    "x-amz-target",
    "smithy-protocol",
    "x-amzn-query-mode",
    "x-amz-date",
    "x-amz-content-sha256",
    "accept",
)


class Exchange:
    """One request and the body of its answer, kept when recording is on."""

    def __init__(self, environ: dict, body: bytes, answer: bytes | None) -> None:
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.path = environ.get("PATH_INFO", "")
        self.query = environ.get("QUERY_STRING", "")
        self.headers = {
            name: environ[key]
            for name in REPLAY_HEADERS
            if (key := _environ_key(name)) in environ and environ[key]
        }
        self.body = body
        self.answer = answer

    def as_json(self) -> dict:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": base64.b64encode(self.body).decode(),
            "answer": None if self.answer is None else base64.b64encode(self.answer).decode(),
        }


def _environ_key(header: str) -> str:
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"


class CallLog:
    """Append-only list of calls with a sequence number that survives clear().

    Keeping seq monotonic across clears lets a poller use ``since`` without
    caring whether somebody cleared the log in between.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict] = []
        self._last_seq = 0
        self._recording = False

    @property
    def recording(self) -> bool:
        """Whether entries keep their request and answer (off by default: they cost memory)."""
        return self._recording

    def set_recording(self, on: bool) -> None:
        self._recording = on

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
        exchange: Exchange | None = None,
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
            if exchange is not None:
                self._calls[-1]["request"] = exchange.as_json()

    def since(self, seq: int = 0) -> list[dict]:
        with self._lock:
            return [dict(call) for call in self._calls if call["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._recording = False
