"""What an AWS request is (service, region, operation, wire protocol), and how
each protocol spells an error.

The call log and fault matching need the real operation name whatever the
protocol, and injected faults must look exactly like the service's own errors
so that SDKs classify them (throttling, transient 5xx) as they would in AWS.
"""

import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import cbor2
from moto.core.request import Request
from moto.core.routing import get_service_router

SIGV4_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
APP_ID = re.compile(r"(?:^|\s)app/(\S+)")
#: service and region of a request without a SigV4 credential scope
UNKNOWN = "unknown"
RPC_V2_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
#: A Route 53 ARC cluster endpoint (arc.py): /arc-cluster/<cluster id>/<endpoint region>/...
ARC_CLUSTER_PATH = re.compile(r"^/arc-cluster/[^/]+/([^/]+)")

#: Route 53's control plane is in us-east-1 ("the control plane is in us-east-1", "the data plane is
#: globally distributed"): https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/disaster-recovery-resiliency.html
#: Every Route 53 API request is classified (logged, faulted) there, whatever region it was signed for.
ROUTE53_CONTROL_PLANE_REGION = "us-east-1"

#: Services whose REST protocol is XML (all other REST services speak JSON).
REST_XML_SERVICES = {"s3", "route53", "cloudfront"}


@dataclass(frozen=True)
class AwsRequest:
    service: str  # SigV4 signing name, e.g. "monitoring" for CloudWatch
    region: str
    action: str
    protocol: str  # query | ec2 | json | rpc-v2-cbor | rest-xml | rest-json
    query_compatible: bool  # client sent x-amzn-query-mode (awsQueryCompatible services)
    method: str
    app: str | None  # the SDK client's app name (User-Agent "app/NAME"), to tell callers apart


def unclassified(environ: dict) -> AwsRequest:
    """Stands in when classifying failed, so that the failure can still be answered and logged."""
    method = environ.get("REQUEST_METHOD", "GET")
    return AwsRequest(UNKNOWN, UNKNOWN, f"Unknown{method}", "rest-json", False, method, _app(environ))


def needs_body(environ: dict) -> bool:
    """Only Query form posts carry the operation name in the body."""
    return environ.get("REQUEST_METHOD") == "POST" and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    )


def classify(environ: dict, body: bytes) -> AwsRequest:
    service, region = _signing_scope(environ)
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    arc_endpoint = ARC_CLUSTER_PATH.match(path)
    if arc_endpoint:  # the endpoint's region serves it, whatever region the request was signed for
        service, region = "route53-recovery-cluster", arc_endpoint.group(1)
    if service == "route53":
        region = ROUTE53_CONTROL_PLANE_REGION
    query_compatible = environ.get("HTTP_X_AMZN_QUERY_MODE", "").lower() == "true"
    app = _app(environ)

    def request(action: str | None, protocol: str) -> AwsRequest:
        return AwsRequest(service, region, action or f"Unknown{method}", protocol, query_compatible, method, app)

    rpc_v2 = RPC_V2_PATH.match(path)
    if rpc_v2 and environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
        return request(rpc_v2.group(2), "rpc-v2-cbor")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return request(target.rsplit(".", 1)[-1], "json")
    action = _query_action(environ, body)
    if action:
        return request(action, "ec2" if service == "ec2" else "query")
    protocol = "rest-xml" if service in REST_XML_SERVICES else "rest-json"
    return request(_rest_action(service, environ), protocol)


def _app(environ: dict) -> str | None:
    for header in ("HTTP_X_AMZ_USER_AGENT", "HTTP_USER_AGENT"):
        match = APP_ID.search(environ.get(header, ""))
        if match:
            return match.group(1)
    return None


def _signing_scope(environ: dict) -> tuple[str, str]:
    """(service, region) from the SigV4 credential scope, in the header or a presigned URL."""
    scope = SIGV4_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope:
        return scope.group(2), scope.group(1)
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential")
    if credential:
        parts = credential[0].split("/")
        if len(parts) == 5:
            return parts[3], parts[2]
    return UNKNOWN, UNKNOWN


def _query_action(environ: dict, body: bytes) -> str | None:
    for source in (environ.get("QUERY_STRING", ""), body.decode("utf-8", "replace") if needs_body(environ) else ""):
        action = parse_qs(source).get("Action")
        if action:
            return action[0]
    return None


def _rest_action(service: str, environ: dict) -> str | None:
    """The operation of a REST request, found with moto's model-driven router."""
    try:
        operation, _ = get_service_router(service).match(Request(environ.copy()))
    except Exception:  # unknown service or no matching operation: logged as Unknown<METHOD>
        return None
    return operation.name


# --- errors -----------------------------------------------------------------

THROTTLE = "throttle"
ERROR_5XX = "error5xx"
REJECTED = "rejected"

# The 400 each protocol answers a call with an invalid parameter, as AWS spells it.
REJECTED_CODES = {"s3": "InvalidRequest", "ec2": "InvalidParameterValue", "query": "InvalidParameterValue"}


def error_response(request: AwsRequest, kind: str, message: str | None = None) -> tuple[int, list, bytes]:
    """(status, headers, body) of a throttling, internal or invalid-request error in the request's protocol."""
    if kind == REJECTED:
        if request.service == "s3":
            code = REJECTED_CODES["s3"]
        elif request.protocol == "ec2":
            code = REJECTED_CODES["ec2"]
        elif request.protocol in ("query", "rest-xml"):
            code = REJECTED_CODES["query"]
        else:
            code = "ValidationException"
        return _format_error(request, 400, code, message or "The request was refused (injected fault).")
    throttle = kind == THROTTLE
    if request.service == "s3":
        code, status = ("SlowDown", 503) if throttle else ("InternalError", 500)
        default_message = (
            "Please reduce your request rate." if throttle else "We encountered an internal error. Please try again."
        )
    elif request.protocol == "ec2":
        code, status = ("RequestLimitExceeded", 503) if throttle else ("InternalFailure", 500)
        default_message = "Request limit exceeded." if throttle else "An internal error occurred."
    elif request.protocol in ("query", "rest-xml"):
        code, status = ("Throttling", 400) if throttle else ("InternalFailure", 500)
        default_message = "Rate exceeded" if throttle else "An internal error occurred."
    else:
        code, status = ("ThrottlingException", 400) if throttle else ("InternalFailure", 500)
        default_message = "Rate exceeded" if throttle else "An internal error occurred."
    return _format_error(request, status, code, message or default_message)


def _format_error(request: AwsRequest, status: int, code: str, message: str) -> tuple[int, list, bytes]:
    request_id = str(uuid.uuid4())
    fault_type = "Sender" if status < 500 else "Receiver"
    headers = [("x-amzn-RequestId", request_id)]
    if request.query_compatible:
        query_code = "Throttling" if code == "ThrottlingException" else code
        headers.append(("x-amzn-query-error", f"{query_code};{fault_type}"))
    if request.service == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
            f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        )
        headers += [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        return status, headers, b"" if request.method == "HEAD" else body.encode()
    if request.protocol == "ec2":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return status, headers + [("Content-Type", "text/xml")], body.encode()
    if request.protocol in ("query", "rest-xml"):
        body = (
            f"<ErrorResponse><Error><Type>{fault_type}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, headers + [("Content-Type", "text/xml")], body.encode()
    payload = {"__type": code, "message": message}
    headers.append(("x-amzn-ErrorType", code))
    if request.protocol == "rpc-v2-cbor":
        headers += [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]
        return status, headers, cbor2.dumps(payload)
    content_type = "application/x-amz-json-1.0" if request.protocol == "json" else "application/json"
    return status, headers + [("Content-Type", content_type)], json.dumps(payload).encode()


def error_code(headers: list, body: bytes) -> str | None:
    """The AWS error code of an error response, whatever its protocol."""
    by_name = {name.lower(): value for name, value in headers}
    if "x-amzn-query-error" in by_name:
        return by_name["x-amzn-query-error"].split(";")[0]
    if "x-amzn-errortype" in by_name:
        return _sanitize(by_name["x-amzn-errortype"])
    if not body:
        return None
    if by_name.get("content-type", "").startswith("application/cbor"):
        try:
            decoded = cbor2.loads(body)
        except Exception:  # not CBOR after all: no code to report
            return None
        return _sanitize(decoded.get("__type")) if isinstance(decoded, dict) else None
    if body.lstrip().startswith(b"{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            return None
        return _sanitize(decoded.get("__type") or decoded.get("code")) if isinstance(decoded, dict) else None
    match = re.search(rb"<Code>([^<]+)</Code>", body)
    return match.group(1).decode() if match else None


def _sanitize(error_type: str | None) -> str | None:
    """'aws.protocoltests#FooError:http://...' -> 'FooError', as the SDKs do."""
    if not error_type:
        return None
    return error_type.split(":")[0].split("#")[-1]
