"""--exec-thread-dumps: `jcmd 1 Thread.print` (else `jstack 1`) in the upstream's JVM containers.

These two commands are the only ones this tool ever runs in a pod, and only when asked. The output is
kept as exec/<pod>/<container>-1.txt among the kubernetes source's files; the engine hands files under
exec/ to the thread-dump parser. A pod that refuses (403 on pods/exec, no jcmd or jstack) is noted in
exec/errors.json and costs the rest nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .base import RawFiles

COMMANDS = (["jcmd", "1", "Thread.print"], ["jstack", "1"])
MAX_PODS = 5                  # a few dumps tell the story; more would only spend the budget


def jvm_containers(pods_json: bytes | None) -> list[tuple[str, str]]:
    """(pod, container) for the running, JVM-looking containers of the upstream's pods."""
    from ..parsers.kubernetes import looks_jvm

    if not pods_json:
        return []
    doc = json.loads(pods_json)
    out = []
    for pod in doc.get("items") or ():
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        running = {s.get("name") for s in (pod.get("status") or {}).get("containerStatuses") or ()
                   if "running" in (s.get("state") or {})}
        for c in (pod.get("spec") or {}).get("containers") or ():
            if c.get("name") in running and looks_jvm(c):
                out.append((str(pod["metadata"]["name"]), str(c["name"])))
    return out[:MAX_PODS]


def _run(api: Any, namespace: str, pod: str, container: str, command: list[str], timeout: float) -> tuple[int, str]:
    from kubernetes import client
    from kubernetes.stream import stream

    core = client.CoreV1Api(api)
    ws = stream(core.connect_get_namespaced_pod_exec, pod, namespace, container=container, command=command,
                stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
                _request_timeout=timeout)
    try:
        ws.run_forever(timeout=timeout)
        out = ws.read_stdout() if ws.is_open() else ""
        out = (ws.read_channel(1) or "") if not out else out
        code = ws.returncode
    finally:
        ws.close()
    return (int(code) if code is not None else 1), out or ""


def thread_dumps(api: Any, namespace: str, pods_json: bytes | None, deadline: float) -> RawFiles:
    files: RawFiles = {}
    errors: dict[str, str] = {}
    for pod, container in jvm_containers(pods_json):
        for command in COMMANDS:
            left = deadline - time.monotonic()
            if left < 0.5:
                errors[f"{pod}/{container}"] = "not run: the --timeout budget was spent"
                break
            try:
                code, out = _run(api, namespace, pod, container, command, left)
            except Exception as e:  # the client raises ApiException, WebSocket errors: one line each
                errors[f"{pod}/{container}"] = f"{' '.join(command)}: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}"
                if "403" in str(e) or "Forbidden" in str(e):
                    break
                continue
            if code == 0 and "Full thread dump" in out or (code == 0 and out.strip()):
                files[f"exec/{pod}/{container}-1.txt"] = out.encode()
                break
            errors[f"{pod}/{container}"] = f"{' '.join(command)}: exit {code}"
    if errors:
        files["exec/errors.json"] = (json.dumps(errors, indent=1) + "\n").encode()
    return files
