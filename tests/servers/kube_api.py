"""A small Kubernetes API server for tests: real paths, real documents, a log of every request.

It serves a dict of API path -> document (fixtures/build/kubernetes.py `cluster()` builds them), applies
labelSelector and fieldSelector (metadata.name, metadata.namespace; on pods also status.podIP, status.phase,
spec.nodeName; a 400 BadRequest for any other field) as the API server does, lists a namespaced kind
cluster-wide (/api/v1/pods, /apis/discovery.k8s.io/v1/endpointslices), answers 404 Status documents for
paths it does not know, and can be told to answer some paths with a given Status (403) or slowly.
Use as a context manager; `kubeconfig(tmp_path)` writes a kubeconfig pointing the real client at it.
Given `tls` (see `make_tls`), it serves HTTPS and requires a client certificate, and the kubeconfig carries
the CA, the client certificate and its key inline (`*-data`), as clusters made by kubeadm or kind do.

It also serves pods/exec as the API server does for the official client: a WebSocket (RFC 6455) carrying
the channel.k8s.io protocol, answered from a table (pod, container, command) -> (stdout, stderr, exit code).
Each binary message starts with its channel byte (1 stdout, 2 stderr, 3 the final Status document), and
the connection ends with a close frame. See `_Exec`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fixtures.build.kubernetes import answer

TOKEN = "test-token-not-a-secret"
EXEC_PATH = re.compile(r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<pod>[^/]+)/exec")
LOG_PATH = re.compile(r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<pod>[^/]+)/log")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"          # RFC 6455 section 1.3
# What this server speaks, in no order of its own: like the API server, it takes the first protocol in the
# client's list that it knows. v4 is the one whose error channel carries the JSON Status document.
EXEC_PROTOCOLS = ("v4.channel.k8s.io", "channel.k8s.io")
CHUNK = 32 * 1024                                         # the API server copies streams 32 KiB at a time
STDOUT, STDERR, ERROR = 1, 2, 3

# (pod, container, command) -> (stdout, stderr, exit code)
ExecTable = dict[tuple[str, str, tuple[str, ...]], tuple[bytes, bytes, int]]
# (pod, container, previous) -> the container's log: (when the runtime wrote it, the line)
LogTable = dict[tuple[str, str, bool], list[tuple[datetime, str]]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    authorization: str
    command: tuple[str, ...] = ()            # pods/exec: every `command` parameter, in order


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass        # a client that hangs up mid-handshake (killed by a test) is no news: keep test output clean


@dataclass(frozen=True)
class TLS:
    """PEM files: a CA, the server's certificate for 127.0.0.1, and a client certificate and key it signed."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls(directory: Path) -> TLS:
    """A fresh CA and its server and client certificates, made by the openssl command (EC keys: fast)."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    new_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *new_key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test-ca")
    for name, subject, ext in (("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
                               ("client", "/O=system:masters/CN=diagnose-test", "extendedKeyUsage=clientAuth")):
        (directory / f"{name}.ext").write_text(ext + "\n")
        openssl("req", *new_key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")
    return TLS(directory / "ca.crt", directory / "server.crt", directory / "server.key", directory / "client.crt",
               directory / "client.key")


@dataclass
class KubeAPI:
    docs: dict[str, dict[str, Any]]
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)   # path -> Status document to answer
    slow: dict[str, float] = field(default_factory=dict)                # path -> seconds to wait first
    requests: list[Request] = field(default_factory=list)
    exec_results: ExecTable = field(default_factory=dict)
    logs: LogTable = field(default_factory=dict)
    exec_protocols: tuple[str, ...] = EXEC_PROTOCOLS
    tls: TLS | None = None
    _server: ThreadingHTTPServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

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
                pairs = parse_qsl(parts.query)
                query = dict(pairs)
                command = tuple(v for k, v in pairs if k == "command")
                api.requests.append(Request("GET", parts.path, query, self.headers.get("Authorization", ""),
                                            command))
                delay = api.slow.get(parts.path)
                if delay:
                    api._stop.wait(delay)          # ends early when the server stops
                if parts.path in api.statuses:
                    doc = api.statuses[parts.path]
                    status = int(doc.get("code", 500))
                elif (m := LOG_PATH.fullmatch(parts.path)) is not None:
                    status, text = _log(api, m["ns"], m["pod"], query)
                    if isinstance(text, bytes):
                        self.send_body(status, "text/plain", text)
                        return
                    doc = text
                elif (m := EXEC_PATH.fullmatch(parts.path)) is not None:
                    refused = _Exec(api, self, m["ns"], m["pod"], query.get("container", ""), command).serve()
                    if refused is None:
                        return
                    status, doc = refused
                else:
                    status, doc = answer(api.docs, parts.path, query)
                    if status == 404:
                        status, doc = _one(api.docs, parts.path, status, doc)
                self.send_status(status, doc)

            def send_status(self, status: int, doc: dict[str, Any]) -> None:
                self.send_body(status, "application/json", json.dumps(doc).encode())

            def send_body(self, status: int, content_type: str, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Audit-Id", "6f1c0e5a-0000-4000-8000-000000000000")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass                            # the client gave up (its timeout): as a real server sees it

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls.server_cert, self.tls.server_key)
            ctx.load_verify_locations(self.tls.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED             # as an API server with client-certificate auth
            # The handshake happens on the handler's first read, in its own thread, not in accept().
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        # diagnose never reads Secrets (issue 9): whatever a test did, a request for one fails it.
        secret_reads = [r.path for r in self.requests if "secrets" in r.path.split("/")]
        if secret_reads and exc_type is None:
            raise AssertionError(f"a secrets path was requested: {secret_reads}")

    def kubeconfig(self, directory: Path, *, namespace: str | None = None, context: str = "test") -> Path:
        ctx: dict[str, Any] = {"cluster": "test-cluster", "user": "test-user"}
        if namespace:
            ctx["namespace"] = namespace
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": context,
               "clusters": [{"name": "test-cluster", "cluster": {"server": self.url}}],
               "contexts": [{"name": context, "context": ctx}],
               "users": [{"name": "test-user", "user": {"token": TOKEN}}]}
        if self.tls is not None:
            def b64(p: Path) -> str:
                return base64.b64encode(p.read_bytes()).decode()

            doc["clusters"][0]["cluster"]["certificate-authority-data"] = b64(self.tls.ca)
            doc["users"][0]["user"].update({"client-certificate-data": b64(self.tls.client_cert),
                                            "client-key-data": b64(self.tls.client_key)})
        path = directory / "kubeconfig"
        path.write_text(json.dumps(doc))
        return path

    def lists(self) -> list[Request]:
        """The List calls made (discovery GETs of /apis/<group> and pods/exec left out)."""
        return [r for r in self.requests if r.path.count("/") > 2 and not EXEC_PATH.fullmatch(r.path)]

    def execs(self) -> list[Request]:
        """The pods/exec requests made, upgraded or refused."""
        return [r for r in self.requests if EXEC_PATH.fullmatch(r.path)]


def secret_list(namespace: str) -> dict[str, Any]:
    """A SecretList as the API server answers it: what a path injection would put in a bundle."""
    pem = "-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFOQmdrcWhraUc5dzBC\n-----END PRIVATE KEY-----\n"
    secret = {"metadata": {"name": "ingress-tls", "namespace": namespace},
              "type": "kubernetes.io/tls",
              "data": {"tls.crt": base64.b64encode(b"cert").decode(),
                       "tls.key": base64.b64encode(pem.encode()).decode()}}
    return {"kind": "SecretList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": [secret]}


def _one(docs: dict[str, dict[str, Any]], path: str, status: int, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """GET of one object (`.../deployments/NAME`): the item of its List, as the API server answers it."""
    collection, _, name = path.rpartition("/")
    items = (docs.get(collection) or {}).get("items")
    if items is None:
        return status, doc
    found = next((i for i in items if i["metadata"]["name"] == name), None)
    if found is None:
        kind = collection.rsplit("/", 1)[1]
        return 404, _status(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind})
    return 200, found


def _log(api: KubeAPI, ns: str, pod_name: str, query: dict[str, str]) -> tuple[int, bytes | dict[str, Any]]:
    """pods/log as the API server answers it (k8s.io/kubernetes pkg/registry/core/pod/rest/log.go and the
    kubelet's GetContainerLogs): `container` required when the pod has more than one; `previous=true` is a
    400 when the container has not restarted ("previous terminated container ... not found"); `sinceSeconds`
    keeps the lines written since then; `timestamps=true` starts each line with its RFC 3339 time (nanoseconds);
    `limitBytes` cuts the answer after that many bytes, mid-line if need be."""
    items = (api.docs.get(f"/api/v1/namespaces/{ns}/pods") or {}).get("items") or ()
    pod = next((p for p in items if p["metadata"]["name"] == pod_name), None)
    if pod is None:
        return 404, _status(404, "NotFound", f'pods "{pod_name}" not found', {"name": pod_name, "kind": "pods"})
    spec = pod["spec"]
    names = [c["name"] for c in spec.get("initContainers") or ()] + [c["name"] for c in spec["containers"]]
    container = query.get("container", "")
    if not container:
        if len(spec["containers"]) != 1:
            return 400, _status(400, "BadRequest", f"a container name must be specified for pod {pod_name}, "
                                f"choose one of: [{' '.join(names)}]")
        container = spec["containers"][0]["name"]
    if container not in names:
        return 400, _status(400, "BadRequest", f"container {container} is not valid for pod {pod_name}")
    previous = query.get("previous") == "true"
    if previous and (pod_name, container, True) not in api.logs:
        return 400, _status(400, "BadRequest",
                            f'previous terminated container "{container}" in pod "{pod_name}" not found')
    lines = api.logs.get((pod_name, container, previous), [])
    if "sinceSeconds" in query:
        since = datetime.now(timezone.utc) - timedelta(seconds=int(query["sinceSeconds"]))
        lines = [(t, line) for t, line in lines if t >= since]
    stamp = query.get("timestamps") == "true"
    body = b"".join(((t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z ") * stamp + line + "\n").encode()
                    for t, line in lines)
    if "limitBytes" in query:
        body = body[:int(query["limitBytes"])]
    return 200, body


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason, "details": details or {}, "code": code}
    return doc


def exit_status(command: tuple[str, ...], code: int) -> dict[str, Any]:
    """The Status document the kubelet ends an exec with (error channel of v4.channel.k8s.io)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command [{' '.join(command)}], "
                       f"exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def not_in_image(command: tuple[str, ...]) -> dict[str, Any]:
    """What containerd/runc answer when the executable is not in the image: no exit code at all."""
    why = ("error executing command in container: failed to exec in container: failed to start exec "
           '"3f9c2a71e0b4": OCI runtime exec failed: exec failed: unable to start container process: exec: '
           f'"{command[0] if command else ""}": executable file not found in $PATH: unknown')
    doc = _status(500, "InternalError", f"Internal error occurred: {why}", {"causes": [{"message": why}]})
    del doc["kind"], doc["apiVersion"]
    return doc


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked server frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | opcode, 127]) + struct.pack("!Q", n)
    return head + payload


def _read_frame(stream: io.BufferedIOBase) -> int | None:
    """Read one client frame (masked, as RFC 6455 requires of clients) and return its opcode; None at EOF."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", stream.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", stream.read(8))[0]
    if head[1] & 0x80:
        stream.read(4)                       # the masking key: the payload is ignored anyway
    if len(stream.read(n)) < n:
        return None
    return head[0] & 0x0F


class _Exec:
    """One pods/exec request: refuse it as the API server would, or upgrade it and play the table's answer."""

    def __init__(self, api: KubeAPI, handler: BaseHTTPRequestHandler, ns: str, pod: str, container: str,
                 command: tuple[str, ...]) -> None:
        self.api, self.h, self.ns, self.pod, self.container, self.command = api, handler, ns, pod, container, command

    def _pod(self) -> dict[str, Any] | None:
        items = (self.api.docs.get(f"/api/v1/namespaces/{self.ns}/pods") or {}).get("items") or ()
        return next((p for p in items if p["metadata"]["name"] == self.pod), None)

    def serve(self) -> tuple[int, dict[str, Any]] | None:
        pod = self._pod()
        if pod is None:
            return 404, _status(404, "NotFound", f'pods "{self.pod}" not found', {"name": self.pod, "kind": "pods"})
        names = [c["name"] for c in pod["spec"]["containers"]]
        if self.container not in names:
            return 400, _status(400, "BadRequest", f"container {self.container} is not valid for pod {self.pod}")
        if not self.command:
            return 400, _status(400, "BadRequest", "you must specify at least 1 command")
        if self.h.headers.get("Upgrade", "").lower() != "websocket" or not self.h.headers.get("Sec-WebSocket-Key"):
            return 400, _status(400, "BadRequest", "Upgrade request required")
        offered = [p.strip() for p in self.h.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        chosen = next((p for p in offered if p in self.api.exec_protocols), None)
        if chosen is None:
            return 400, _status(400, "BadRequest", f"requested protocol(s) are not supported: {offered}; "
                                f"supported protocols: {list(self.api.exec_protocols)}")
        self._upgrade(chosen)
        return None

    def _upgrade(self, protocol: str) -> None:
        h = self.h
        accept = base64.b64encode(hashlib.sha1((h.headers["Sec-WebSocket-Key"].strip() + WS_GUID).encode())
                                  .digest()).decode()
        h.close_connection = True
        try:
            h.send_response(101, "Switching Protocols")
            h.send_header("Upgrade", "websocket")
            h.send_header("Connection", "Upgrade")
            h.send_header("Sec-WebSocket-Accept", accept)
            h.send_header("Sec-WebSocket-Protocol", protocol)
            h.end_headers()
            found = self.api.exec_results.get((self.pod, self.container, self.command))
            out, err, code = found if found is not None else (b"", b"", 0)
            for channel, data in ((STDOUT, out), (STDERR, err)):
                for i in range(0, len(data), CHUNK):
                    h.wfile.write(ws_frame(0x2, bytes([channel]) + data[i:i + CHUNK]))
            status = exit_status(self.command, code) if found is not None else not_in_image(self.command)
            if protocol == "channel.k8s.io":       # v1: the error channel carries plain text, and only on failure
                if status["status"] != "Success":
                    h.wfile.write(ws_frame(0x2, bytes([ERROR]) + str(status["message"]).encode()))
            else:
                h.wfile.write(ws_frame(0x2, bytes([ERROR]) + json.dumps(status).encode()))
            h.wfile.write(ws_frame(0x8, struct.pack("!H", 1000)))
            # Read (and ignore) what the client sends until its close frame answers ours, then hang up.
            h.connection.settimeout(5.0)
            while (op := _read_frame(h.rfile)) is not None and op != 0x8:
                pass
        except (OSError, socket.timeout, struct.error):
            pass                                    # the client went away: as a real server sees it


def wait_until(cond: Any, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return bool(cond())
