"""A fake platform served on a local port for the client's tests: any handler, over plain http or TLS."""

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol, TypeVar


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
