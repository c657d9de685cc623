"""Small WSGI helpers: run an app to completion, and send a buffered response."""

from http import HTTPStatus


def call(app, environ: dict) -> tuple[int, list, bytes]:
    """Runs a WSGI app and returns (status, headers, body), fully buffered.

    Buffering costs nothing with moto (it builds every response in memory) and
    lets the gateway inspect errors before anything reaches the client.
    """
    started: dict = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list, exc_info=None):
        started["status"], started["headers"] = status, headers
        return chunks.append

    iterable = app(environ, start_response)
    try:
        chunks.extend(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return int(started["status"].split(" ", 1)[0]), list(started["headers"]), b"".join(chunks)


def respond(start_response, status: int, headers: list, body: bytes) -> list[bytes]:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    if not any(name.lower() == "content-length" for name, _ in headers):
        # Kept when present: a HEAD response announces the length of a body it omits.
        headers = headers + [("Content-Length", str(len(body)))]
    start_response(f"{status} {reason}", headers)
    return [body]
