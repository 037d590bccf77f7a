"""Every regex that reads outside text (logs, cluster objects, dumps, query text) runs in linear time.

The patterns are found, not listed: every module-level compiled pattern under diagnose/logs, parsers and
checks is fed the worst-case tokens (long identifier runs, `a.a.a.`, whitespace, unclosed quotes, digit
and separator runs) at 10k and 40k characters, after each prefix that lets it get going. Linear time grows
about 4x from one size to the other; quadratic grows 16x and exponential never returns. The bounds are
generous: 40k characters in under 0.5 s, and under 8x the 10k time (plus a little for noise).

A pattern the code only ever anchors (`.match`, `.fullmatch`) is tried that way: list it in ANCHORED.
"""

from __future__ import annotations

import gc
import importlib
import json
import pkgutil
import re
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import diagnose.checks
import diagnose.logs
import diagnose.parsers
from diagnose.checks.podhealth import scheduling_reasons
from diagnose.logs import formats, haproxy
from diagnose.logs.durations import to_ms
from diagnose.parsers.mesh import parse_duration_ms
from diagnose.parsers.postgres import load as load_postgres
from diagnose.parsers.postgres import where_columns
from diagnose.parsers.thread_dumps import load as load_threads
from diagnose.parsers.thread_dumps import pod_of
from diagnose.parsers.threaddump.frames import pool_name

SMALL, LARGE = 10_000, 40_000
MAX_LARGE_S = 0.5

# Worst-case tokens, repeated to the size: identifier runs, dotted names, blanks, unclosed quotes, numbers,
# separators, brackets, flags, key=value, escapes.
UNITS = ("a", "a.", " ", '"a', "1", "1.", "-1", "_1", "#", "[", "(", "UT", "a=", ":", "\\", "0x", "1s", "é",
         "a-", "\t")
# What the patterns look for first, so that the tokens after it reach their quantifiers.
PREFIXES = ("", "x", '"', "WHERE a", "goroutine 1 [", "\tat ", "2024-01-01T00:00:00Z ",
            "2023/10/27 10:30:00 [error] 1#1: ", "Oct 27 10:30:00 lb haproxy[1]: ",
            "10.0.0.1 - - [27/Oct/2023:10:30:00 +0000] \"", "[2023-10-27T10:30:00.000Z] \"", "Process 1: ",
            "nodes are available: ", "owned by ", "timeout ", "http://")

# Patterns the code only anchors at a position (`.match`) or to the whole text (`.fullmatch`).
ANCHORED = {
    "logs.durations._WHOLE", "logs.durations._ISO", "logs.durations._TIMESPAN", "logs.envoy.LINE",
    "logs.haproxy.LINE",
    "logs.formats.STRUCTURE", "logs.formats._TEXT_HEAD", "logs.logfmt._PAIR", "logs.names._LABEL",
    "logs.names._IP", "logs.names._IPV4_PORT", "logs.nginx.ERROR_LINE", "logs.nginx.ACCESS_LINE",
    "logs.nginx.KLOG_LINE", "logs.nginx.UPSTREAMINFO", "logs.text_formats._CONTINUATION",
    "logs.timestamps._NGINX_ERR", "logs.timestamps._CLF", "logs.wrappers._PREFIX", "logs.wrappers._TIME",
    "logs.wrappers._CRI", "logs.wrappers._GENERATED", "logs.vantage._KUBELET_POD_DIR", "logs.vantage._KUBELET_LINK",
    "logs.vantage._KUBELET_FILE", "parsers.kubernetes._QUANTITY", "parsers.mesh._PART",
    "parsers.mesh._NGINX_INT", "parsers.thread_dumps._COUNTER", "parsers.threaddump.frames._REQUEST_NAME",
    "parsers.threaddump.jvm_json._FRAME", "parsers.threaddump.jvm_text._HEADER",
    "parsers.threaddump.jvm_text._DEADLOCK",
}


def _patterns() -> dict[str, re.Pattern[Any]]:
    """name -> pattern, for every module-level pattern (or tuple/dict of them) defined under the packages."""
    found: dict[str, re.Pattern[Any]] = {}
    seen: set[int] = set()
    for pkg in (diagnose.logs, diagnose.parsers, diagnose.checks):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            mod = importlib.import_module(info.name)
            for key, value in vars(mod).items():
                group = (value.values() if isinstance(value, dict) else value
                         if isinstance(value, (tuple, list)) else (value,))
                pats = [p for p in group if isinstance(p, re.Pattern)]
                for i, p in enumerate(pats):
                    if id(p) in seen:
                        continue            # imported from its own module, tested there
                    seen.add(id(p))
                    name = f"{info.name.removeprefix('diagnose.')}.{key}"
                    found[name if len(pats) == 1 else f"{name}[{i}]"] = p
    return found


PATTERNS = _patterns()


def _runner(name: str, pattern: re.Pattern[Any]) -> Callable[[Any], object]:
    if name.split("[")[0] in ANCHORED:
        return lambda s: (pattern.match(s), pattern.fullmatch(s))
    return lambda s: sum(1 for _ in pattern.finditer(s))


def _seconds(run: Callable[[Any], object], text: Any, times: int = 2) -> float:
    """The best of `times` runs, garbage collection paused: the machine's noise only ever adds time."""
    best = float("inf")
    gc.disable()
    try:
        for _ in range(times):
            started = time.perf_counter()
            run(text)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best


def assert_linear(run: Callable[[Any], object], make: Callable[[int], Any], what: str) -> None:
    small_text, large_text = make(SMALL), make(LARGE)
    small = _seconds(run, small_text)
    if small < 0.0005:
        large = _seconds(run, large_text, 1)
        if large < MAX_LARGE_S:
            return
    else:
        large = _seconds(run, large_text)
        if large < MAX_LARGE_S and large < 8 * small + 0.05:
            return
    # Over a bound: measured again, more carefully, before it counts (other work shares the machine).
    small, large = _seconds(run, small_text, 5), _seconds(run, large_text, 3)
    assert large < MAX_LARGE_S and large < 8 * small + 0.05, \
        f"{what}: {small:.4f}s at {SMALL} chars, {large:.4f}s at {LARGE}: not linear"


def _maker(prefix: str, unit: str, tail: str, as_bytes: bool) -> Callable[[int], Any]:
    def make(n: int) -> Any:
        text = prefix + unit * (n // len(unit)) + tail
        return text.encode("utf-8") if as_bytes else text
    return make


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_every_pattern_on_outside_text_is_linear_in_its_input(name: str) -> None:
    pattern = PATTERNS[name]
    run = _runner(name, pattern)
    as_bytes = isinstance(pattern.pattern, bytes)
    for prefix in PREFIXES:
        for unit in UNITS:
            for tail in ("x",):
                assert_linear(run, _maker(prefix, unit, tail, as_bytes),
                              f"{name} on {prefix!r} + {unit!r}*n + {tail!r} (anchored only? list it in ANCHORED)")


def test_the_anchored_list_names_patterns_that_exist() -> None:
    assert ANCHORED <= {n.split("[")[0] for n in PATTERNS}


# ---- the call sites that were superlinear, through the functions that use them ---------------------------


@pytest.mark.parametrize("make", [
    lambda n: "SELECT * FROM users WHERE /* " + "a" * n + " */ id = $1",
    lambda n: "SELECT * FROM users WHERE " + "a." * (n // 2) + "id = 1",
    lambda n: "SELECT * FROM users WHERE name = '" + "a" * n,
    lambda n: 'SELECT * FROM users WHERE "' + "a" * n,
    lambda n: "SELECT * FROM users WHERE " + " " * n + "x",
], ids=["comment", "dotted", "quote", "dquote", "blanks"])
def test_where_columns_is_linear_in_the_query(make: Callable[[int], str]) -> None:
    assert_linear(where_columns, make, "where_columns")


def test_a_session_whose_query_holds_a_20k_character_comment_is_parsed_in_well_under_a_second(
        tmp_path: Path) -> None:
    from fixtures.build import postgres as writer

    writer.write("database", tmp_path)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    doc = json.loads(files["activity.json"])
    cols = doc["columns"]
    row = list(doc["rows"][-2])
    row[cols.index("state")] = "active"
    row[cols.index("query")] = "SELECT * FROM users WHERE /* " + "x" * 20_000 + " */ email = $1"
    doc["rows"][-2] = row
    files["activity.json"] = json.dumps(doc).encode()
    started = time.perf_counter()
    ev = load_postgres(files, None)
    assert time.perf_counter() - started < 0.5
    assert any("x" * 100 in (s.query or "") for s in ev.sessions)


@pytest.mark.parametrize("make", [
    lambda n: "pool" + "#" * n + "x]",
    lambda n: "pool-" + "1" * n + "x]",
    lambda n: "pool-" + "-" * n + "é",
    lambda n: "pool" + "[1" * (n // 2) + "]",
], ids=["hashes", "digits", "dashes", "brackets"])
def test_pool_names_are_linear_in_the_thread_name(make: Callable[[int], str]) -> None:
    assert_linear(pool_name, make, "pool_name")
    assert pool_name("http-nio-8080-exec-12") == "http-nio-8080-exec"
    assert pool_name("worker-[3]") == "worker" and pool_name("pool-é-7\n") == "pool-é\n"


def test_a_dump_file_name_of_ambiguous_counters_does_not_hang() -> None:
    # `12345678-1` is one timestamp-like counter or two counters: the regex tried every split.
    assert_linear(pod_of, lambda n: "a" + ".12345678-1" * (n // 11) + "x.txt", "pod_of")
    assert pod_of("pod-a.2024-01-01T10:00:00.jstack.txt") == "pod-a"
    assert pod_of("pod-a_20240101-101010.txt") == "pod-a" and pod_of("pod-b.2.txt") == "pod-b"


@pytest.mark.parametrize("make", [lambda n: "1" * n + "x", lambda n: "1 " * (n // 2) + "x",
                                  lambda n: "1.5" * (n // 3) + "x", lambda n: "1s" * (n // 2) + "1"],
                         ids=["digits", "spaced", "dotted", "trailing"])
def test_log_durations_are_linear_in_the_value(make: Callable[[int], str]) -> None:
    # "11111111111111111111111x" took a second; each digit more doubled it.
    assert_linear(lambda s: to_ms(s, "duration"), make, "to_ms")
    assert to_ms("1m30s", "duration") == 90_000 and to_ms("250 ms", "latency") == 250
    assert to_ms("1m30", "duration") is None


def test_mesh_durations_are_linear_in_the_value() -> None:
    def parse(text: str) -> object:
        try:
            return parse_duration_ms(text)
        except Exception:          # EvidenceError for a bad duration: only the time matters here
            return None
    assert_linear(parse, lambda n: '"' + "0" * n, "parse_duration_ms")
    assert parse_duration_ms("1m30s") == 90_000 and parse_duration_ms("250ms") == 250


def test_an_envoy_flags_field_is_linear_in_its_length() -> None:
    assert_linear(lambda s: formats.is_candidate(formats.ENVOY, s), lambda n: b" " + b"UT" * (n // 2),
                  "is_candidate(envoy)")
    assert formats.is_candidate(formats.ENVOY, b'"GET / HTTP/1.1" 200 UF,URX 0 0 ')


def _jvm_dump(names: list[str]) -> bytes:
    """A jstack dump of one thread per name, each parked on its pool's queue or waiting on a socket."""
    head = "2024-01-01 10:00:00\nFull thread dump OpenJDK 64-Bit Server VM (17.0.8+7 mixed mode):\n\n"
    body = "".join(
        f'"{name}" #{i} prio=5 os_prio=0 cpu=1.00ms elapsed=9.00s tid=0x{i:016x} nid=0x{i:x} runnable\n'
        "   java.lang.Thread.State: RUNNABLE\n"
        "\tat java.net.SocketInputStream.socketRead0(java.base@17.0.8/Native Method)\n"
        "\tat com.example.Client.call(Client.java:42)\n\n"
        for i, name in enumerate(names, 1))
    return (head + body).encode()


@pytest.mark.parametrize("token", ["a" * 20_000, "#" * 20_000 + "x]", "é" + "-" * 20_000, "1" * 20_000 + "x]",
                                   "a." * 10_000, " " * 20_000 + "é"],
                         ids=["ident", "hashes", "dashes", "digits", "dotted", "blanks"])
def test_a_thread_dump_whose_thread_names_are_20k_character_tokens_is_parsed_in_well_under_a_second(
        token: str) -> None:
    names = [f"{token}-{i}" for i in range(3)] + [token + "]", token, f"pool-{token}[7]"]
    data = _jvm_dump(names)
    started = time.perf_counter()
    ev = load_threads({"pod-a/dump-1.txt": data})
    assert time.perf_counter() - started < 0.5
    assert sum(len(d.threads) for d in ev.dumps) == len(names)


@pytest.mark.parametrize("make", [lambda n: "a" * n + ":1 [01/Jan/2024:" + "x",
                                  lambda n: "a:1 [01/Jan/2024:00:00:00] " * (n // 27),
                                  lambda n: "1:" * (n // 2), lambda n: "10.0.0.1:1 [" + "a" * n],
                         ids=["client", "many-dates", "ports", "after-date"])
def test_haproxy_lines_are_linear_in_their_length(make: Callable[[int], str]) -> None:
    assert_linear(haproxy.looks_like, make, "haproxy.looks_like")
    line = ("Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in "
            "static/srv1 10/0/30/69/109 504 2750 - - sH-- 1/1/1/1/0 0/0 {1wt.eu} {} \"GET /index.html HTTP/1.1\"")
    ev = haproxy.parse(line)
    assert ev is not None and ev.upstream == "static" and haproxy.looks_like(line)


@pytest.mark.parametrize("make", [lambda n: "0/3 nodes are available: " + " " * n + "x",
                                  lambda n: "0/3 nodes are available: 1 Insufficient cpu," + " 1" * (n // 2)],
                         ids=["blanks", "terms"])
def test_scheduler_messages_are_linear_in_their_length(make: Callable[[int], str]) -> None:
    assert_linear(scheduling_reasons, make, "scheduling_reasons")
    got = scheduling_reasons("0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint "
                             "{node.kubernetes.io/memory-pressure: }.   preemption: 0/3 nodes are available")
    assert got["resources"] == ["2 Insufficient cpu"] and got["pressure"]
