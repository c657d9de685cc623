"""Log of the AWS requests the emulator served, so tests can assert on what was called.

With recording on, each entry also carries the request as it arrived and the answer's body, so a
benchmark can send the same requests again (see ``Exchange``).
"""

import base64
import threading
from urllib.parse import quote

OUTCOMES = ("ok", "error", "throttled", "fault5xx", "rejected", "outage", "responseLost")

#: Request headers a replay does not send as recorded: the connection's own, and the User-Agent
#: (a replay names its own app).
NOT_REPLAYED = {"HTTP_HOST", "HTTP_CONNECTION", "HTTP_CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING",
                "HTTP_USER_AGENT", "HTTP_X_AMZ_USER_AGENT"}


class Exchange:
    """One request and the body of its answer, kept when recording is on."""

    def __init__(self, environ: dict, body: bytes) -> None:
        self.method = environ.get("REQUEST_METHOD", "GET")
        # As sent (percent-encoded): PATH_INFO is decoded, and a replay must not decode twice.
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        self.path = raw.partition("?")[0] if raw else quote(environ.get("PATH_INFO", ""))
        self.query = environ.get("QUERY_STRING", "")
        self.headers = {
            _header_name(key): value
            for key, value in environ.items()
            if (key.startswith("HTTP_") and key not in NOT_REPLAYED) or (key == "CONTENT_TYPE" and value)
        }
        self.body = body
        self.answer = b""

    def as_json(self) -> dict:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": base64.b64encode(self.body).decode(),
            "answer": base64.b64encode(self.answer or b"").decode(),
        }


def _header_name(environ_key: str) -> str:
    return environ_key.removeprefix("HTTP_").lower().replace("_", "-")


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
