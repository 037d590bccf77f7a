"""A small Kubernetes API server for tests: real paths, real documents, a log of every request.

It serves a dict of API path -> document (fixtures/build/kubernetes.py `cluster()` builds them), applies
labelSelector and fieldSelector=metadata.name as the API server does, answers 404 Status documents for
paths it does not know, and can be told to answer some paths with a given Status (403) or slowly.
Use as a context manager; `kubeconfig(tmp_path)` writes a kubeconfig pointing the real client at it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fixtures.build.kubernetes import answer

TOKEN = "test-token-not-a-secret"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    authorization: str


@dataclass
class KubeAPI:
    docs: dict[str, dict[str, Any]]
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)   # path -> Status document to answer
    slow: dict[str, float] = field(default_factory=dict)                # path -> seconds to wait first
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "KubeAPI":
        api = self

        class Handler(BaseHTTPRequestHandler):
            # A real API server (Go) sets TCP_NODELAY; without it headers and body wait ~40 ms on
            # Nagle and delayed ACK, and every call looks slow.
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:   # keep test output clean
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                api.requests.append(Request("GET", parts.path, query, self.headers.get("Authorization", "")))
                delay = api.slow.get(parts.path)
                if delay:
                    api._stop.wait(delay)          # ends early when the server stops
                if parts.path in api.statuses:
                    doc = api.statuses[parts.path]
                    status = int(doc.get("code", 500))
                else:
                    status, doc = answer(api.docs, parts.path, query)
                body = json.dumps(doc).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Audit-Id", "6f1c0e5a-0000-4000-8000-000000000000")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass                            # the client gave up (its timeout): as a real server sees it

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def kubeconfig(self, directory: Path, *, namespace: str | None = None, context: str = "test") -> Path:
        ctx: dict[str, Any] = {"cluster": "test-cluster", "user": "test-user"}
        if namespace:
            ctx["namespace"] = namespace
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": context,
               "clusters": [{"name": "test-cluster", "cluster": {"server": self.url}}],
               "contexts": [{"name": context, "context": ctx}],
               "users": [{"name": "test-user", "user": {"token": TOKEN}}]}
        path = directory / "kubeconfig"
        path.write_text(json.dumps(doc))
        return path

    def lists(self) -> list[Request]:
        """The List calls made (discovery GETs of /apis/<group> left out)."""
        return [r for r in self.requests if r.path.count("/") > 2]


def wait_until(cond: Any, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return bool(cond())
