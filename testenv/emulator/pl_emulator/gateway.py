"""The WSGI application in front of moto.

Every AWS request is classified (service, region, operation), run through the
fault rules, served by moto (CloudWatch CBOR through its translation layer,
Route 53 ARC by arc.py) and logged. The control API and moto's own /moto-api pass by unlogged.
"""

import io
import socket
import struct
import sys
import time
import traceback

from . import arc, cloudwatch_cbor, faults, protocols, s3_roots, wsgi
from .calls import CallLog, Exchange

OUTCOME_OF_FAULT = {"throttle": "throttled", "error5xx": "fault5xx", "rejected": "rejected"}


class SimulatedOutage(ConnectionAbortedError):
    """Raised after dropping the socket; werkzeug treats it as a vanished client."""


class Gateway:
    def __init__(self, moto_app, control_app, calls: CallLog, fault_rules: faults.FaultRules) -> None:
        self._moto = moto_app
        self._control = control_app
        self._calls = calls
        self._faults = fault_rules

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_emulator" or path.startswith("/_emulator/"):
            return self._control(environ, start_response)
        if path.startswith("/moto-api"):
            return self._moto(environ, start_response)
        return self._serve_aws(environ, start_response)

    def _serve_aws(self, environ: dict, start_response):
        started, clock = time.time(), time.monotonic()
        request = None
        recording = self._calls.recording
        exchange = None
        try:
            needs_body = recording or protocols.needs_body(environ) or _is_cbor(environ)
            body = _buffer_body(environ) if needs_body else b""
            if recording:
                # Taken before moto reads the environ: the request exactly as it arrived.
                exchange = Exchange(environ, body)
            request = protocols.classify(environ, body)
            decision = self._faults.decide(request.region, request.service, request.action)
            if decision.latency_ms:
                time.sleep(decision.latency_ms / 1000)
            if decision.kind == "outage":
                self._log(request, started, clock, "outage", None, None)
                _drop_connection(environ)
            if decision.kind == "responseLost":
                # The request takes effect, then the connection breaks before the answer: what a
                # client must survive without repeating a create or a failover.
                status, _, _ = self._forward(environ, request, body)
                self._log(request, started, clock, "responseLost", status, None)
                _drop_connection(environ)
            if decision.kind is not None:
                status, headers, answer = protocols.error_response(request, decision.kind)
                outcome = OUTCOME_OF_FAULT[decision.kind]
            else:
                status, headers, answer = self._forward(environ, request, body)
                outcome = "ok" if status < 400 else "error"
        except SimulatedOutage:
            raise
        except Exception as exc:  # a bug in the extension or moto must not kill the server
            traceback.print_exc(file=sys.stderr)
            request = request or protocols.unclassified(environ)
            status, headers, answer = protocols.error_response(
                request, protocols.ERROR_5XX, f"pl-emulator internal error: {exc!r}"
            )
            outcome = "error"
        code = protocols.error_code(headers, answer) if status >= 400 else None
        if exchange is not None:
            exchange.answer = answer
        self._log(request, started, clock, outcome, status, code, exchange)
        return wsgi.respond(start_response, status, headers, answer)

    def _forward(self, environ: dict, request: protocols.AwsRequest, body: bytes) -> tuple[int, list, bytes]:
        if request.protocol == "rpc-v2-cbor" and request.service == "monitoring":
            return cloudwatch_cbor.handle(self._moto, environ, body, request.action)
        if request.service in arc.SERVICES:  # not in moto: served by the extension
            return arc.handle(environ, body or _buffer_body(environ), request)
        status, headers, answer = wsgi.call(self._moto, environ)
        if request.service == "s3" and status < 300:
            answer = s3_roots.fix_root(request.action, answer)
            headers = [(k, str(len(answer)) if k.lower() == "content-length" else v) for k, v in headers]
        return status, headers, answer

    def _log(self, request, started: float, clock: float, outcome: str, status, code, exchange=None) -> None:
        self._calls.record(
            started=started,
            service=request.service,
            action=request.action,
            region=request.region,
            app=request.app,
            outcome=outcome,
            status=status,
            code=code,
            duration_ms=(time.monotonic() - clock) * 1000,
            exchange=exchange,
        )


def _is_cbor(environ: dict) -> bool:
    return environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor"


def _buffer_body(environ: dict) -> bytes:
    """Reads the request body and puts it back for moto to read again."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _drop_connection(environ: dict) -> None:
    """Simulates an unreachable region: the client gets no HTTP response at all.

    SO_LINGER 0 makes the final close a reset, and the shutdown wakes the
    client right away instead of leaving it waiting for a timeout.
    """
    connection = environ["werkzeug.socket"]
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.shutdown(socket.SHUT_RDWR)
    raise SimulatedOutage("pl-emulator: simulated outage")
