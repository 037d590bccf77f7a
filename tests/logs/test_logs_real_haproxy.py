"""A real HAProxy (Debian's haproxy, installed by scripts/test.sh) in front of a slow server and a closed port
logs to its standard output (`log stdout format raw`, `option httplog`): the lines are what HAProxy 2.6 writes,
with its own timers and termination states (`sH--` when `timeout server` fired, `SC--` when the connection
was refused: the configuration manual's section 8.5), and they become the right incidents.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from diagnose.logs.scan import scan
from tests.servers.ports import free_port, get_each, refusing_port, slow_upstream, wait_listening

pytestmark = pytest.mark.integration
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"




def test_haproxys_own_log_gives_server_timeouts_and_refusals_by_backend(tmp_path: Path) -> None:
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy is not installed (scripts/test.sh installs it)")
    out = tmp_path / "haproxy.log"
    # longer than `timeout server 1s`; the port is chosen while the others are held, so it is none of them
    with slow_upstream(2.5) as up_port, refusing_port() as closed, out.open("wb") as sink:
        port = free_port()
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
  server srv1 127.0.0.1:{up_port}
backend ledger
  server srv1 127.0.0.1:{closed}
""")
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(conf)], stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_listening(port, proc, "haproxy")
            get_each(port, ["/charge"] * 3 + ["/ledger"] * 2, (503, 504))
            # HAProxy logs a request once it has closed it, not before the client has its answer: wait for
            # the five lines before stopping it (on a loaded runner the last one came after the answer).
            deadline = time.monotonic() + 10
            while len(re.findall(r" http-in \S+/\S+ ", out.read_text())) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    r = scan([str(out)])
    by = {i.signal: i for i in r.incidents}
    assert set(by) == {"upstream-timeout", "upstream-unavailable"}, out.read_text()
    assert (by["upstream-timeout"].service, by["upstream-timeout"].upstream, by["upstream-timeout"].events) == \
        ("haproxy", "payment", 3)
    assert by["upstream-timeout"].duration_ms.max is not None and by["upstream-timeout"].duration_ms.max >= 1000
    # sH--: `timeout server` fired waiting for the headers (sC-- when a loaded runner made the connect time out)
    (view,) = by["upstream-timeout"].seen_by
    assert view.log == "haproxy" and all(state[0] == "s" for state, _ in view.details), view
    assert (by["upstream-unavailable"].upstream, by["upstream-unavailable"].events) == ("ledger", 2), out.read_text()
