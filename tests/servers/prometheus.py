"""A real Prometheus server holding backfilled data, for integration tests.

`PrometheusServer(openmetrics_text)` writes the OpenMetrics text, backfills it with
`promtool tsdb create-blocks-from openmetrics`, starts `prometheus` on a free local port with a retention
long enough for 2023 data, waits for /-/ready, and stops it on `close()`. The binaries are Debian's
`prometheus` package (/usr/bin/prometheus, /usr/bin/promtool).

`start_or_skip(text)` is the pytest helper: when the server cannot be started it fails under CI
(os.environ["CI"] set) and skips elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.servers.ports import free_port

CONFIG = """global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs: []
"""


class ServerUnavailable(RuntimeError):
    pass


class PrometheusServer:
    def __init__(self, openmetrics: str, *, extra_args: tuple[str, ...] = (), ready_seconds: float = 60) -> None:
        prom, tool = shutil.which("prometheus"), shutil.which("promtool")
        if not prom or not tool:
            raise ServerUnavailable("prometheus/promtool not installed (apt-get install prometheus)")
        self.dir = Path(tempfile.mkdtemp(prefix="diagnose-prom-"))
        self.proc: subprocess.Popen[bytes] | None = None
        data, src = self.dir / "data", self.dir / "data.om"
        data.mkdir()
        if not openmetrics.rstrip().endswith("# EOF"):
            openmetrics = openmetrics.rstrip("\n") + "\n# EOF\n"
        src.write_text(openmetrics)
        done = subprocess.run([tool, "tsdb", "create-blocks-from", "openmetrics", str(src), str(data)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            self.close()
            raise ServerUnavailable("promtool backfill failed: " + (done.stderr or done.stdout)[-2000:])
        (self.dir / "prometheus.yml").write_text(CONFIG)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.dir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [prom, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{self.port}",
             *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready(ready_seconds)

    def _wait_ready(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        tail = (self.dir / "prometheus.log").read_text(errors="replace")[-2000:]
        self.close()
        raise ServerUnavailable("prometheus did not become ready: " + tail)

    def api_requests(self) -> int:
        """Query API requests this server has answered so far (its own prometheus_http_requests_total)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("prometheus_http_requests_total{") and '/api/v1/query' in line:
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PrometheusServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_or_skip(openmetrics: str, **kw: object) -> PrometheusServer:
    import pytest

    try:
        return PrometheusServer(openmetrics, **kw)  # type: ignore[arg-type]
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a real Prometheus: {exc}")
        pytest.skip(str(exc))
        raise  # unreachable; pytest.skip raises
