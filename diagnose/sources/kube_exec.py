"""--exec-thread-dumps: `jcmd 1 Thread.print` (else `jstack 1`) in the upstream's JVM containers.

These two commands are the only ones this tool ever runs in a pod, and only when asked. A source of its
own, on its own budget: it finds the upstream's pods as the kubernetes source does (two List calls), and
keeps each output as <pod>/<container>-1.txt in its folder (exec-thread-dumps/ in a bundle). Its files feed
the thread-dumps evidence (`FEEDS`): the thread-dump parser reads them with the --thread-dumps files. A pod
that refuses (403 on pods/exec, no jcmd or jstack) is noted in errors.json and costs the rest nothing.
Bundles written before this was a source kept these files as kubernetes/exec/... (`MOVED_FROM`).

The exec API is a WebSocket (v4.channel.k8s.io): stdout on channel 1, stderr on 2, and on 3 a Status
document, {"status": "Success"} or a Failure whose details.causes holds the ExitCode. A Failure without
one (the runtime could not start the command: not in the image) has no exit code at all.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..errors import SourceError
from ..model.names import is_dns_label, is_dns_subdomain
from .base import DEFAULT_MAX_RESPONSE_BYTES, Option, RawFiles, SourceOptions, Target
from .bounded import AnswerTooLarge, Watchdog

NAME = "exec-thread-dumps"
IMPORTS = ("urllib3", "requests", "kubernetes.client", "kubernetes.config", "kubernetes.stream")
OPTIONS = (Option("exec-thread-dumps", "Run `jcmd 1 Thread.print` (or jstack) in the upstream's JVM containers "
                  "(off by default).", kind="flag"),)
FEEDS = "thread-dumps"
MOVED_FROM = ("kubernetes", "exec/")
ERRORS = "errors.json"        # {"<pod>/<container>": "why no dump"}; the thread-dump parser makes notes of it

COMMANDS: tuple[tuple[str, ...], ...] = (("jcmd", "1", "Thread.print"), ("jstack", "1"))
MAX_PODS = 5                  # a few dumps tell the story; more would only spend the budget
MIN_LEFT_S = 0.5              # below this, a dump of a busy JVM cannot arrive in time: not started
# The engine stops waiting for a source at the deadline itself, and would lose the dumps already taken
# with it: the dumps give up this much earlier.
MARGIN_S = 0.25


@dataclass(frozen=True)
class ExecResult:
    code: int | None          # None: no exit code (timed out, or the command could not be started)
    stdout: bytes
    stderr: bytes
    message: str              # the Status message of a Failure, or why there is no exit code


class Refused(Exception):
    """The API server refused the exec itself (an HTTP status on the upgrade): no command ran."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


def jvm_containers(pods_json: bytes | None) -> list[tuple[str, str]]:
    """(pod, container) for the running, JVM-looking containers of the upstream's pods."""
    from ..model.kube import looks_jvm

    if not pods_json:
        return []
    try:
        doc = json.loads(pods_json)
    except ValueError:
        return []
    out = []
    for pod in (doc.get("items") or ()) if isinstance(doc, dict) else ():
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        running = {s.get("name") for s in (pod.get("status") or {}).get("containerStatuses") or ()
                   if "running" in (s.get("state") or {})}
        for c in (pod.get("spec") or {}).get("containers") or ():
            # Names become exec URL parameters and file names in the bundle (<pod>/<container>-1.txt):
            # one that is not a pod or container name (a '/' or '..' in it) is not a pod to exec in.
            name = (pod.get("metadata") or {}).get("name")
            if c.get("name") in running and looks_jvm(c) and is_dns_subdomain(name) and is_dns_label(c.get("name")):
                out.append((str(name), str(c["name"])))
    return out[:MAX_PODS]


def exit_of(status_doc: bytes, finished: bool) -> tuple[int | None, str]:
    """(exit code, message) from the error channel's Status document."""
    if not finished:
        return None, "no answer before the --timeout budget was spent"
    try:
        doc = json.loads(status_doc) if status_doc.strip() else None
    except ValueError:
        return None, status_doc.decode("utf-8", "replace").strip()[:200]
    if not isinstance(doc, dict):
        return None, "the connection ended without an exit status"
    if doc.get("status") == "Success":
        return 0, ""
    message = str(doc.get("message") or doc.get("reason") or "Failure")
    for cause in (doc.get("details") or {}).get("causes") or ():
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(str(cause.get("message"))), message
            except ValueError:
                break
    return None, message


def _refusal(e: BaseException) -> Refused | None:
    """The handshake's HTTP status and the Status message, when the upgrade was answered with one.

    The client wraps websocket-client's WebSocketBadStatusException in ApiException(status=0), so the
    status and body are on the exception it was raised from."""
    inner = e.__context__ or e.__cause__
    status = getattr(inner, "status_code", None)
    if status is None:
        return None
    body = getattr(inner, "resp_body", None) or b""
    try:
        message = str(json.loads(body).get("message") or "")
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace").strip() if isinstance(body, bytes) else str(body)
    return Refused(int(status), message.splitlines()[0][:300] if message else f"HTTP {status}")


def _exec(api: Any, namespace: str, pod: str, container: str, command: tuple[str, ...], timeout: float,
          limit: int = DEFAULT_MAX_RESPONSE_BYTES) -> ExecResult:
    from kubernetes import client
    from kubernetes.stream import stream

    core = client.CoreV1Api(api)
    try:
        # binary: the client decodes text frame by frame, which mangles a UTF-8 character split between
        # two frames; the bytes are kept as they came and decoded once, by the parser.
        ws = stream(core.connect_get_namespaced_pod_exec, pod, namespace, container=container,
                    command=list(command), stderr=True, stdin=False, stdout=True, tty=False, binary=True,
                    _preload_content=False, _request_timeout=timeout)
    except Exception as e:  # the client raises ApiException(status=0) for every handshake failure
        raise (_refusal(e) or e) from None
    try:
        if ws.sock is not None and ws.sock.sock is not None:
            ws.sock.settimeout(timeout)        # a frame that stops half-way must not hold the read forever
        out, err, status, finished = _read_channels(ws, timeout, limit)
    finally:
        ws.close()
    code, message = exit_of(status, finished)
    return ExecResult(code, out, err, message)


def _read_channels(ws: Any, timeout: float, limit: int) -> tuple[bytes, bytes, bytes, bool]:
    """(stdout, stderr, status, finished): the channels until the connection closes, for at most `timeout`
    seconds and `limit` bytes in all (--max-response-bytes). The client's run_forever keeps every byte a
    command prints; here the count is checked after each read, and a larger output is refused."""
    end = time.monotonic() + timeout
    got: dict[int, list[bytes]] = {1: [], 2: [], 3: []}
    total = 0

    def drain() -> None:
        nonlocal total
        for channel, parts in got.items():
            data = ws.read_channel(channel)
            if data:
                parts.append(data)
                total += len(data)
        if total > limit:
            got.clear()             # not kept alive by the exception's traceback
            raise AnswerTooLarge(limit)

    while ws.is_open():
        left = end - time.monotonic()
        if left <= 0:
            break
        ws.update(timeout=min(left, 1.0))
        drain()
    finished = not ws.is_open()
    drain()                         # what the last read brought with the close
    return b"".join(got[1]), b"".join(got[2]), b"".join(got[3]), finished


def _run(api: Any, namespace: str, pod: str, container: str, command: tuple[str, ...], timeout: float,
         limit: int = DEFAULT_MAX_RESPONSE_BYTES) -> ExecResult:
    """_exec within `timeout`: the client opens its WebSocket with no timeout, so an API server or kubelet
    that accepts the connection and never answers the upgrade would otherwise hold the run forever. The
    thread left waiting is a daemon and ends with the process."""
    box: list[ExecResult | BaseException] = []

    def work() -> None:
        try:
            box.append(_exec(api, namespace, pod, container, command, timeout, limit))
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box.append(e)

    t = threading.Thread(target=work, name=f"exec {pod}/{container}", daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        return ExecResult(None, b"", b"", "no answer before the --timeout budget was spent")
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _failure(command: tuple[str, ...], r: ExecResult) -> str:
    said = r.stderr.decode("utf-8", "replace").strip().splitlines()
    why = f"exit {r.code}" if r.code is not None else r.message
    if r.code == 0:
        why = "exit 0 but printed nothing"
    return f"{' '.join(command)}: {why}" + (f": {said[0][:200]}" if said else "")


def thread_dumps(api: Any, namespace: str, pods_json: bytes | None, deadline: float,
                 limit: int = DEFAULT_MAX_RESPONSE_BYTES) -> RawFiles:
    files: RawFiles = {}
    errors: dict[str, str] = {}
    refused: str | None = None
    for pod, container in jvm_containers(pods_json):
        key = f"{pod}/{container}"
        if refused:
            # RBAC on pods/exec is per namespace: the next pod would be refused the same way.
            errors[key] = f"not tried: {refused}"
            continue
        tried: list[str] = []
        for command in COMMANDS:
            left = deadline - time.monotonic() - MARGIN_S
            if left < MIN_LEFT_S:
                tried.append("not run: the --timeout budget was spent")
                break
            try:
                r = _run(api, namespace, pod, container, command, left, limit)
            except Refused as e:
                # The pod or the verb was refused, not the command: the other command would fare the same.
                tried.append(f"exec refused (HTTP {e.status}): {e}")
                if e.status in (401, 403):
                    refused = f"exec refused (HTTP {e.status}) in namespace {namespace}"
                break
            except AnswerTooLarge as e:       # jstack would print as much
                tried.append(f"{' '.join(command)}: {e}")
                break
            except Exception as e:  # WebSocket and socket errors, one line each
                # ApiException's str() starts with "(0)"; its reason is the WebSocket error's own words.
                text = str(getattr(e, "reason", None) or e)
                first = text.splitlines()[0][:200] if text.strip() else type(e).__name__
                tried.append(f"{' '.join(command)}: {first}")
                continue
            if r.code == 0 and r.stdout.strip():
                files[f"{pod}/{container}-1.txt"] = r.stdout
                tried = []
                break
            tried.append(_failure(command, r))
            if r.code is None and r.message.startswith("no answer"):
                break                         # the budget is gone; jstack would not fare better
        if tried:
            errors[key] = "; ".join(tried)
    if errors:
        files[ERRORS] = (json.dumps(errors, indent=1) + "\n").encode()
    return files


def skip_reason(opts: SourceOptions) -> str | None:
    return None if opts.exec_thread_dumps else "no --exec-thread-dumps given"


def collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
    """The upstream's pods (as the kubernetes source finds them), then a dump from each JVM container."""
    from .kubernetes import _api_client, _live_getter, namespace_for, upstream_pods
    from .private_tmp import private_dir

    with private_dir("diagnose-exec-") as temp_dir:
        api, ctx_ns = _api_client(opts, temp_dir)
        dog = Watchdog(deadline)
        try:
            ns = namespace_for(opts, target, ctx_ns)
            pods = upstream_pods(_live_getter(api, dog, opts.max_response_bytes), ns, target.upstream, deadline)
            if not jvm_containers(pods):
                raise SourceError(f"no running JVM container among the pods of {target.upstream} "
                                  f"in namespace {ns}: no dump to take")
            return thread_dumps(api, ns, pods, deadline, opts.max_response_bytes)
        finally:
            dog.close()
            api.close()
