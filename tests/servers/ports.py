"""Local servers the integration tests start: a free loopback port, and an HTTP upstream that answers late
(for proxies to time out on)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def slow_upstream(seconds: float) -> Iterator[int]:
    """An HTTP server on a loopback port (yielded) that waits `seconds` before every answer."""

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(seconds)
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:            # the proxy gave up and closed the connection
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def wait_listening(port: int, proc: "subprocess.Popen[bytes]", what: str, timeout: float = 10.0) -> None:
    """Until `port` accepts connections; a failure naming `what` when the process ended first or never listened."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what} did not start listening on {port} (exit code {proc.poll()})") from None
            time.sleep(0.05)


def get_each(port: int, paths: list[str], answers: tuple[int, ...]) -> None:
    """GET every path through a proxy on `port`; an error status must be one of `answers`."""
    for path in paths:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read()
        except urllib.error.HTTPError as e:
            assert e.code in answers, e


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port held bound but not listening for as long as the block runs: every connection to it
    is refused, and no other server of the test run can take it meanwhile (a port chosen free and let go
    may be handed to the next server that binds port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])
