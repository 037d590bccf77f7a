"""A real HAProxy (Debian's haproxy, installed by scripts/test.sh) in front of a slow server and a closed port
logs to its standard output (`log stdout format raw`, `option httplog`): the lines are what HAProxy 2.6 writes,
with its own timers and termination states (`sH--` when `timeout server` fired, `SC--` when the connection
was refused: the configuration manual's section 8.5), and they become the right incidents.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from diagnose.logs.scan import scan

pytestmark = pytest.mark.integration
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(2.5)                 # longer than HAProxy's `timeout server 1s`
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


def test_haproxys_own_log_gives_server_timeouts_and_refusals_by_backend(tmp_path: Path) -> None:
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy is not installed (scripts/test.sh installs it)")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port, closed = _free_port(), _free_port()
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(f"""
global
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  timeout connect 1s
  timeout client 5s
  timeout server 1s
frontend http-in
  bind 127.0.0.1:{port}
  use_backend payment if {{ path_beg /charge }}
  default_backend ledger
backend payment
  server srv1 127.0.0.1:{upstream.server_address[1]}
backend ledger
  server srv1 127.0.0.1:{closed}
""")
    out = tmp_path / "haproxy.log"
    with out.open("wb") as sink:
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(conf)], stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
                    time.sleep(0.05)
            for path in ["/charge"] * 3 + ["/ledger"] * 2:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read()
                except urllib.error.HTTPError as e:
                    assert e.code in (503, 504), e
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            upstream.shutdown()
    r = scan([str(out)])
    by = {i.signal: i for i in r.incidents}
    assert (by["upstream-timeout"].service, by["upstream-timeout"].upstream, by["upstream-timeout"].events) == \
        ("haproxy", "payment", 3)
    assert by["upstream-timeout"].duration_ms.max is not None and by["upstream-timeout"].duration_ms.max >= 1000
    assert [v.details[0][0] for v in by["upstream-timeout"].seen_by] == ["sH--"]
    assert (by["upstream-unavailable"].upstream, by["upstream-unavailable"].events) == ("ledger", 2)
