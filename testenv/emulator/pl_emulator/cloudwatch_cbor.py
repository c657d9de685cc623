"""CloudWatch over Smithy RPC v2 CBOR, which moto 5.2.5 does not speak.

The Rust SDK (aws-sdk-cloudwatch 1.140) only speaks rpc-v2-cbor to CloudWatch.
Each such request is re-encoded as the awsJson1_0 request that moto does
implement, and moto's JSON answer is re-encoded as CBOR following botocore's
CloudWatch model: timestamps as tag 1 epoch seconds, doubles as floats,
integers as integers (the Rust decoder is strict about major types).
"""

import base64
import functools
import io
import json
from datetime import datetime

import botocore.session
import cbor2
from botocore.utils import parse_timestamp

from . import wsgi

SERVICE_SHAPE = "GraniteServiceVersion20100801"
PROTOCOL_HEADERS = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]
#: moto headers worth passing on; the rest describe its JSON body.
FORWARDED_HEADERS = {"x-amzn-requestid", "x-amzn-query-error"}


@functools.cache
def _model():
    return botocore.session.get_session().get_service_model("cloudwatch")


def handle(moto_app, environ: dict, body: bytes, operation: str) -> tuple[int, list, bytes]:
    """Serves one rpc-v2-cbor CloudWatch request through moto's JSON protocol."""
    if operation not in _model().operation_names:
        payload = {"__type": "UnknownOperationException", "message": f"Unknown operation {operation}"}
        return 404, list(PROTOCOL_HEADERS), cbor2.dumps(payload)
    output_shape = _model().operation_model(operation).output_shape

    json_body = json.dumps(_to_json(cbor2.loads(body)) if body else {}).encode()
    json_environ = dict(environ)
    json_environ.pop("HTTP_SMITHY_PROTOCOL", None)
    json_environ.update(
        {
            "PATH_INFO": "/",
            "RAW_URI": "/",
            "REQUEST_URI": "/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(json_body)),
            "HTTP_X_AMZ_TARGET": f"{SERVICE_SHAPE}.{operation}",
            "HTTP_X_AMZN_QUERY_MODE": "true",
            "wsgi.input": io.BytesIO(json_body),
        }
    )
    status, headers, answer = wsgi.call(moto_app, json_environ)
    decoded = json.loads(answer) if answer.strip() else {}
    if status >= 400:
        cbor_body = cbor2.dumps(
            {"__type": decoded.get("__type"), "message": decoded.get("message") or decoded.get("Message")}
        )
    elif output_shape is None:
        cbor_body = b""
    else:
        cbor_body = cbor2.dumps(_to_cbor(decoded, output_shape))
    forwarded = [(name, value) for name, value in headers if name.lower() in FORWARDED_HEADERS]
    return status, PROTOCOL_HEADERS + forwarded, cbor_body


def _to_json(value):
    """CBOR-decoded request values as awsJson1_0 expects them."""
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _to_cbor(value, shape):
    """A JSON-decoded response value typed for CBOR by its botocore shape."""
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _to_cbor(value[name], member) for name, member in shape.members.items() if value.get(name) is not None
        }
    if kind == "list":
        return [_to_cbor(item, shape.member) for item in value]
    if kind == "map":
        return {key: _to_cbor(item, shape.value) for key, item in value.items()}
    if kind == "timestamp":
        seconds = value if isinstance(value, (int, float)) else parse_timestamp(value).timestamp()
        return cbor2.CBORTag(1, float(seconds))
    if kind in ("double", "float"):
        return float(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind == "blob":
        return base64.b64decode(value)
    return value
