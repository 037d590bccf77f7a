"""Wrappers around a log line, peeled before the line is parsed (docs/logs.md "Wrappers").

  kubectl logs --timestamps   `2024-03-14T21:47:03.123456789Z <line>`: the API server's RFC 3339 time
      (kubernetes.io/docs/reference/kubectl/generated/kubectl_logs: "--timestamps: Include timestamps on
      each line in the log output").
  kubectl logs --prefix       `[pod/checkout-web-7d9f8b6c5d-x2x4z/app] <line>`: "Prefix each log line with
      the log source (pod name and container name)"; the prefix comes before --timestamps' time, which is
      part of the stream the API sends.
  CRI container log           `<RFC3339Nano> stdout F <msg>`, the kubelet's file format (kubernetes
      design-proposals-archive node/kubelet-cri-logging.md; Grafana's promtail `cri` stage: "time, stream
      (stdout or stderr), flags (F or P), log", `2019-04-30T02:12:41.8443515Z stdout F message`). A `P`
      (partial) line is joined with the lines that follow it up to the `F` one.
  Docker json-file            `{"log":"Log line is here\\n","stream":"stdout","time":"2019-01-01T11:11:11.111111111Z"}`
      (docs.docker.com/engine/logging/drivers/json-file). A `log` that does not end with a newline was
      split by the daemon (16 KiB) and is joined with what follows, as a CRI `P` line is.

A wrapped file is peeled chunk by chunk: each chunk's lines become their inner lines (one line per line,
partial lines joined), and the kernel parses the inner chunk as any other, the JSON fast path included.
The wrapper's time and pod are kept beside each inner line and used only when that line is an event:
the time when the inner line has none, the pod's workload as the caller when the inner line names none
(or names only the proxy, "envoy" / "nginx" / "haproxy": the pod is the workload the proxy serves).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from .event import Event, Skip
from .stream import Chunk, LongLine, Piece
from .timestamps import parse_text

_PREFIX = re.compile(rb"\[pod/([^/\]\s]+)/([^\]\s]+)\] ")
_TIME = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) ")
_CRI = re.compile(rb"std(?:out|err) ([FP])(?: |$)")
_DOCKER = b'{"log":'
_DOCKER_KEYS = frozenset({"log", "stream", "time", "attrs"})     # json-file's keys (attrs: --log-opt labels)
# Callers a parser falls back to when the line does not say who called: the wrapper's pod says better.
DEFAULT_CALLERS = frozenset({"unknown", "envoy", "nginx", "haproxy"})
# Pod-name suffixes Kubernetes generates (ReplicaSet pod-template-hash, the pod's own random suffix):
# k8s.io/apimachinery's rand.SafeEncodeString alphabet, which has no vowels and no 0, 1 or 3.
_GENERATED = re.compile(r"[bcdfghjklmnpqrstvwxz2456789]{4,10}")
_MAX_JOIN = 1 << 20      # a partial line joined past this many bytes is cut (memory stays bounded)


def workload(pod: str) -> str:
    """The workload a pod belongs to, from its name: `checkout-web-7d9f8b6c5d-x2x4z` -> `checkout-web`,
    `checkout-web-7d9f` -> `checkout-web`, `db-0` -> `db` (a StatefulSet's ordinal)."""
    parts = pod.split("-")
    # A Deployment's pod: <name>-<pod-template-hash>-<5 characters>. A hash of the generated alphabet with a
    # digit in it before a 5-character suffix is the shape, whatever the suffix's letters (names made up
    # by hand, or by older clusters, break the alphabet there first).
    if len(parts) > 2 and len(parts[-1]) == 5 and parts[-1].isalnum() and _GENERATED.fullmatch(parts[-2]) \
            and any(c.isdigit() for c in parts[-2]):
        return "-".join(parts[:-2])
    for _ in range(2):
        if len(parts) > 1 and _GENERATED.fullmatch(parts[-1]) and (
                any(c.isdigit() for c in parts[-1]) or len(parts[-1]) == 5):
            parts.pop()
    if len(parts) > 1 and parts[-1].isdigit():
        parts.pop()
    return "-".join(parts)


@dataclass(frozen=True)
class Peeled:
    """What the wrappers of one chunk's lines said, by inner line index (only read for events)."""
    times: tuple[bytes | None, ...]
    pods: tuple[bytes | None, ...]
    line_nos: tuple[int, ...] | None = None    # raw line number of each inner line, when lines were joined

    def fill(self, ev: Event, index: int) -> None:
        if not 0 <= index < len(self.times):
            return
        t = self.times[index]
        if ev.ts is None and t is not None:
            try:
                ev.ts = parse_text(t.decode("ascii"))
            except (Skip, UnicodeDecodeError):
                pass
        pod = self.pods[index]
        if pod is not None:
            ev.pod = pod.decode("utf-8", "replace")
            if ev.service in DEFAULT_CALLERS:
                ev.service = workload(ev.pod)

    def line_no(self, first_line: int, index: int) -> int:
        if self.line_nos is not None and 0 <= index < len(self.line_nos):
            return self.line_nos[index]
        return first_line + index


def peel_line(raw: bytes) -> tuple[bytes, bytes | None, bytes | None, bool]:
    """(inner line, wrapper time, pod, partial) of one raw line; a line without a wrapper is itself."""
    pod = None
    if raw.startswith(b"[pod/"):
        m = _PREFIX.match(raw)
        if m:
            pod, raw = m.group(1), raw[m.end():]
    if raw[10:11] == b"T" and raw[4:5] == b"-":
        m = _TIME.match(raw)
        if m:
            rest = raw[m.end():]
            c = _CRI.match(rest)
            if c:
                return rest[c.end():], m.group(1), pod, c.group(1) == b"P"
            return rest, m.group(1), pod, False
    elif raw.startswith(_DOCKER):
        doc = _docker(raw)
        if doc is not None:
            return doc[0], doc[1], pod, doc[2]
    return raw, None, pod, False


def _docker(raw: bytes) -> tuple[bytes, bytes | None, bool] | None:
    try:
        rec = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return _docker_rec(rec)


def _docker_rec(rec: object) -> tuple[bytes, bytes | None, bool] | None:
    if not isinstance(rec, dict):
        return None
    log, t = rec.get("log"), rec.get("time")
    if not isinstance(log, str) or "stream" not in rec or not _DOCKER_KEYS.issuperset(rec):
        return None             # a log shipper's record (Fluent Bit's kubernetes labels): jsonlines opens it
    partial = not log.endswith("\n")
    inner = log.rstrip("\n").replace("\n", " ").encode("utf-8", "surrogatepass")
    return inner, t.encode("ascii", "replace") if isinstance(t, str) else None, partial


def is_wrapped(raw: bytes) -> bool:
    """Whether a raw line carries a wrapper this module peels."""
    inner, t, pod, _ = peel_line(raw)
    return inner is not raw or t is not None or pod is not None


def sniff(lines: list[bytes], fit: Callable[[list[bytes]], int]) -> bool:
    """Whether a file's sample lines are wrapped: a kubectl prefix, a CRI or a Docker line, or a leading
    RFC 3339 time whose removal makes more lines parse (`fit` counts the lines the best format takes):
    Spring Boot 3 starts its own lines with such a time, and they are not peeled."""
    if not any(is_wrapped(ln) for ln in lines):
        return False
    strong = sum(1 for ln in lines if ln.startswith((b"[pod/", _DOCKER)) or _is_cri(ln))
    if strong * 2 >= len(lines) > 0:
        return True
    return fit(peel_sample(lines)) > fit(lines)


def _is_cri(line: bytes) -> bool:
    m = _TIME.match(line)
    return bool(m and _CRI.match(line, m.end()))


def peel_sample(lines: list[bytes]) -> list[bytes]:
    return [peel_line(ln)[0] for ln in lines]


def peel(pieces: Iterable[Piece]) -> Iterator[Piece]:
    """The inner chunks of a wrapped stream, partial lines joined (across chunks too)."""
    pending: list[bytes] = []        # parts of a partial line not yet ended
    pending_meta: tuple[bytes | None, bytes | None, int] | None = None
    pending_size = 0
    for piece in pieces:
        if isinstance(piece, LongLine):
            yield piece
            continue
        raws = piece.text.split(b"\n")
        if raws and raws[-1] == b"":
            raws.pop()
        out: list[bytes] = []
        times: list[bytes | None] = []
        pods: list[bytes | None] = []
        nos: list[int] = []
        joined = False
        peeled = _peel_docker_batch(raws) if raws and raws[0].startswith(_DOCKER) else None
        for k, raw in enumerate(raws):
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if peeled is not None:
                inner, t, pod, partial = peeled[k]
            else:
                inner, t, pod, partial = peel_line(raw)
            if partial:
                if pending_meta is None:
                    pending_meta = (t, pod, piece.first_line + k)
                if pending_size < _MAX_JOIN:
                    pending.append(inner)
                    pending_size += len(inner)
                joined = True
                continue
            if pending_meta is not None:
                pending.append(inner)
                inner = b"".join(pending)[:_MAX_JOIN]
                t, pod, no = pending_meta
                pending, pending_meta, pending_size = [], None, 0
            else:
                no = piece.first_line + k
            out.append(inner)
            times.append(t)
            pods.append(pod)
            nos.append(no)
        yield _chunk(out, times, pods, nos if joined else None, piece.first_line, piece.lines)
    if pending_meta is not None:     # the stream ended inside a partial line: it is a line
        t, pod, no = pending_meta
        yield _chunk([b"".join(pending)], [t], [pod], [no], no, 0)


def _peel_docker_batch(raws: list[bytes]) -> list[tuple[bytes, bytes | None, bytes | None, bool]] | None:
    """All of a chunk's Docker lines in one json.loads (a third of the cost of one call per line); None
    when any line is not one (then each is peeled alone)."""
    try:
        recs = json.loads(b"[" + b",".join(r.rstrip(b"\r") for r in raws) + b"]")
    except (ValueError, RecursionError):
        return None
    out: list[tuple[bytes, bytes | None, bytes | None, bool]] = []
    for rec in recs:
        doc = _docker_rec(rec)
        if doc is None:
            return None
        out.append((doc[0], doc[1], None, doc[2]))
    return out


def _chunk(out: list[bytes], times: list[bytes | None], pods: list[bytes | None], nos: list[int] | None,
           first_line: int, raw_lines: int) -> Chunk:
    data = b"\n".join(ln.replace(b"\n", b" ") for ln in out) + b"\n" if out else b""
    return Chunk(data, first_line, raw_lines,
                 peeled=Peeled(tuple(times), tuple(pods), tuple(nos) if nos is not None else None))
