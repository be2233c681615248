"""A fake platform served on a local port for the client's tests: any handler, over plain http or TLS,
answering JSON and problem documents as the platform does."""

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, TypeVar


class Fake(Protocol):
    url: str


F = TypeVar("F", bound=Fake)


@contextmanager
def serve(fake: F, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> Iterator[F]:
    """``fake`` answering on a free local port (its ``url`` set to it) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    fake.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def problem(
    status: int,
    code: str,
    detail: str,
    errors: list[tuple[str, str, str]] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str = "req-7",
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A problem document as the platform answers one: status, body and headers, ready for ``answer``."""
    body: dict[str, Any] = {"type": f"urn:riskshare:problem:{code}", "title": "Error", "status": status}
    body.update(detail=detail, code=code, request_id=request_id)
    if errors is not None:
        body["errors"] = [{"field": name, "code": code, "message": message} for name, code, message in errors]
    return status, body, headers or {}


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler that answers a JSON document, or a problem document from status 400."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status < 400 else "application/problem+json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
