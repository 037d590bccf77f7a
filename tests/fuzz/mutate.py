"""Hypothesis strategies that mutate real inputs, and the guards every fuzz property shares.

Random bytes stop at the first format check; a real fixture changed in one place gets past it and into
the code that reads fields. So every strategy here starts from a recorded input (fixtures/*/,
tests/data/) and mutates it: bytes flipped, cut, control characters and huge numbers inserted (the
byte level), or a JSON/YAML value replaced by one of another type, removed, nested deep (the structure
level, serialised again so the document still parses as JSON).
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from hypothesis import strategies as st

from diagnose.errors import DiagnoseError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
SCENARIOS = sorted(p.name for p in FIXTURES.iterdir() if (p / "manifest.json").is_file())

# Examples run per fuzz target in this process; bench/fuzz.py reads them (tests/fuzz/conftest.py writes
# them where DIAGNOSE_FUZZ_STATS says).
TRIED: Counter[str] = Counter()

# Per example: far above any honest parse of these inputs (milliseconds), far below a CI timeout.
HANG_SECONDS = float(os.environ.get("DIAGNOSE_FUZZ_HANG_SECONDS", "20"))


class Hang(AssertionError):
    """An example ran past HANG_SECONDS: a hang (or a super-linear regex) on that input.

    An AssertionError so that hypothesis shrinks it like any failure, and the parsers' `except
    (ValueError, ...)` safety nets do not swallow it."""


@contextmanager
def no_hang(target: str, seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Count one example of `target`, and fail it with Hang when it runs longer than `seconds`."""
    TRIED[target] += 1

    def _alarm(signum: int, frame: object) -> None:
        raise Hang(f"{target}: still running after {seconds:g}s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def parses_or_refuses(target: str, call: Callable[[], object]) -> object | None:
    """The property of every parser: it returns, or raises one of diagnose.errors with one line."""
    with no_hang(target):
        try:
            return call()
        except DiagnoseError as e:
            assert "\n" not in str(e), f"{type(e).__name__} of more than one line: {str(e)!r}"
            return None


# --- byte level -----------------------------------------------------------------------------------

CONTROL = [b"\x00", b"\x1b[31m", b"\r", b"\x7f", b"\x0b", b"\x0c", "\u2028".encode(), "\ufeff".encode(),
           b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\t"]
HUGE = [b"9" * 400, b"7" * 5000, b"1e400", b"-1e400", b"1e-400", b"NaN", b"Infinity", b"-Infinity", b"-0",
        b"18446744073709551616", b"-9223372036854775809", b"0x7fffffff", b"1_000", b"\xd9\xa3"]   # Arabic 3
SYNTAX = [b"\n", b"\r\n", b'"', b"'", b"{", b"}", b"[", b"]", b":", b",", b"=", b" ", b"\\", b"\\u0000",
          b"\\ud800", b"[" * 5000, b"{\"a\":" * 3000, b"- " * 2000, b"*a", b"&a ", b"!!python/object:x ",
          b"%", b"{}", b"null", b"true", b"-", b"0", b"\n\n\n"]
TOKENS = CONTROL + HUGE + SYNTAX

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


@st.composite
def _one_byte_op(draw: st.DrawFn, data: bytes) -> bytes:
    n = len(data)
    at = draw(st.integers(0, n))
    op = draw(st.sampled_from(["insert", "flip", "truncate", "delete", "duplicate", "number", "random"]))
    if op == "insert":
        token = draw(st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=8)))
        return data[:at] + token + data[at:]
    if op == "flip" and n:
        i = min(at, n - 1)
        return data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1:]
    if op == "truncate":
        return data[:at]
    if op == "delete":
        return data[:at] + data[at + draw(st.integers(1, 64)):]
    if op == "duplicate":
        end = min(n, at + draw(st.integers(1, 200)))
        return data[:end] + data[at:end] * draw(st.integers(1, 20)) + data[end:]
    if op == "number":
        # A number in the input (a duration, a timestamp, a count) becomes a huge or odd one.
        numbers = list(_NUMBER.finditer(data, at)) or list(_NUMBER.finditer(data))
        if numbers:
            m = numbers[draw(st.integers(0, min(len(numbers), 50) - 1))]
            return data[:m.start()] + draw(st.sampled_from(HUGE)) + data[m.end():]
        return data
    return data[:at] + draw(st.binary(max_size=32)) + data[at:]


@st.composite
def mutated_bytes(draw: st.DrawFn, seed: bytes, max_ops: int = 4) -> bytes:
    """`seed` with 1..max_ops byte-level mutations."""
    data = seed
    for _ in range(draw(st.integers(1, max_ops))):
        data = draw(_one_byte_op(data))
    return data


# --- structure level (JSON-shaped trees, also what YAML loads to) ----------------------------------

ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1, 2**64, -(2**63) - 1, 10**400, 1e308, -1e308, 5e-324,
                         float("nan"), float("inf"), float("-inf"), "", " ", "x", "\x00\x1b[2J", "9" * 40,
                         "1e400", "NaN", "-5m", "1Gi", "10s", "abc", "2023-10-27T10:30:00Z", "not-a-time",
                         "\u202e", "a" * 1000, [], {}, [None], [[]], {"": None}, {"a": {"b": [1, "2"]}}]


def paths(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in a tree of dicts and lists, the root included."""
    out = [at]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(paths(v, at + (k,)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(paths(v, at + (i,)))
    return out


def _get(doc: Any, at: tuple[Any, ...]) -> Any:
    for k in at:
        doc = doc[k]
    return doc


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def _one_tree_op(draw: st.DrawFn, doc: Any) -> Any:
    every = paths(doc)
    at = every[draw(st.integers(0, len(every) - 1))]
    value = _get(doc, at)
    op = draw(st.sampled_from(["odd", "odd", "text", "number", "stringify", "wrap", "unwrap", "drop", "dup",
                               "nest", "retype"]))
    new: Any
    if op == "odd":
        new = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
    elif op == "text":
        new = draw(st.text(max_size=24))
    elif op == "number":
        new = draw(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)))
    elif op == "stringify":
        new = json.dumps(value, default=str) if not isinstance(value, str) else value + draw(st.text(max_size=4))
    elif op == "wrap":
        new = draw(st.sampled_from([[value], {"value": value}]))
    elif op == "unwrap":
        new = (list(value.values()) if isinstance(value, dict) else value[0] if isinstance(value, list) and value
               else value)
    elif op == "nest":
        new = _nested(value, draw(st.sampled_from([3, 50, 400])))
    elif op == "retype":
        new = {list: dict, dict: list, str: int, int: str, float: str, bool: str}.get(type(value), str)()
    elif op in ("drop", "dup") and at:
        parent = _get(doc, at[:-1])
        key = at[-1]
        if op == "drop":
            del parent[key]
        elif isinstance(parent, list):
            parent[key:key] = [copy.deepcopy(value)] * draw(st.integers(1, 200))
        else:
            parent[f"{key}_"] = copy.deepcopy(value)
        return doc
    else:
        new = None
    if not at:
        return new
    _get(doc, at[:-1])[at[-1]] = new
    return doc


@st.composite
def mutated_tree(draw: st.DrawFn, seed: Any, max_ops: int = 3) -> Any:
    """A deep copy of `seed` with 1..max_ops structural mutations."""
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        doc = draw(_one_tree_op(doc))
    return doc


def dumps(doc: Any) -> bytes:
    """JSON as the tools write it; NaN/Infinity kept (json.loads accepts them), deep nesting kept."""
    try:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except RecursionError:
        return b"[" * 5000 + b"]" * 5000


@st.composite
def mutated_json(draw: st.DrawFn, seed: bytes) -> bytes:
    """A JSON document mutated in its structure, sometimes then in its bytes too."""
    try:
        tree = json.loads(seed)
    except (ValueError, RecursionError):           # already mutated past JSON: bytes only
        return draw(mutated_bytes(seed))
    data = dumps(draw(mutated_tree(tree)))
    if draw(st.integers(0, 3)) == 0:
        data = draw(mutated_bytes(data, max_ops=2))
    return data


def json_or_bytes(seed: bytes) -> st.SearchStrategy[bytes]:
    """Mostly structural mutations (they reach the field readers), some byte-level ones."""
    return st.one_of(mutated_json(seed), mutated_json(seed), mutated_bytes(seed))


# --- the command line, in this process (a subprocess per example would cost 100x) ----------------


def run_cli(target: str, *args: str) -> tuple[int, str, str]:
    """`diagnose ARGS` through cli.main as the console script runs it: (exit status, stdout, stderr)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from diagnose.cli import main

    out, err = io.StringIO(), io.StringIO()
    os.environ.pop("DIAGNOSE_DEBUG", None)
    code: int = 0
    with no_hang(target), redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def assert_clean_exit(result: tuple[int, str, str], allowed: tuple[int, ...] = (0, 2, 3)) -> None:
    """An allowed exit status; a failure is one line on stderr; never a traceback or an internal error."""
    code, out, err = result
    assert "Traceback" not in out + err, err[-2000:]
    assert code in allowed, f"exit {code}: {err.strip()[-1000:]}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if code == 2:
        assert len(lines) == 1, err
    elif code == 3:          # "no incident": one line, or none where the report said so on stdout
        assert len(lines) <= 1, err


def scaled(n: int) -> int:
    """`n` examples in the ci profile (60 a test), as many more in a longer profile: for the slow tests."""
    from hypothesis import settings

    return max(1, n * settings.default.max_examples // 60)


# --- recorded evidence -----------------------------------------------------------------------------


def source_files(scenario: str, source: str) -> dict[str, bytes]:
    """A recorded scenario's files of one source, as a parser receives them (paths relative to it)."""
    root = FIXTURES / scenario / source
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def target_of(scenario: str) -> Any:
    """The diagnosis target of a recorded scenario, read from its manifest without the bundle reader
    (the reader is fuzzed on its own; here it would only stand between the parser and its input)."""
    from diagnose.model.incident import Incident, Window
    from diagnose.sources.base import Target

    manifest = json.loads((FIXTURES / scenario / "manifest.json").read_text(encoding="utf-8"))
    incident = Incident.from_json(manifest["incident"])
    return Target(incident=incident, window=Window.from_json(manifest["window"]),
                  namespace=manifest.get("namespace") or incident.namespace)


class Case:
    """A scenario's files with some changed. Its repr shows only the changes, so that a failing example
    reads in a few lines (and can be pasted into an @example as `Case.of(...)`)."""

    def __init__(self, scenario: str, changed: dict[str, bytes | None], seeds: dict[str, dict[str, bytes]]) -> None:
        self.scenario, self.changed = scenario, changed
        self.files = {k: v for k, v in {**seeds[scenario], **changed}.items() if v is not None}

    def __repr__(self) -> str:
        shown = {k: (v if v is None or len(v) <= 600 else v[:300] + b"..." + v[-300:]) for k, v in self.changed.items()}
        return f"Case({self.scenario!r}, {shown!r})"


@st.composite
def mutated_source(draw: st.DrawFn, source: str, seeds: dict[str, dict[str, bytes]]) -> Case:
    """A scenario's files with one or two of the source's files mutated (or one left out), the others as
    recorded."""
    scenario = draw(st.sampled_from(sorted(seeds)))
    changed: dict[str, bytes | None] = {}
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(sorted(seeds[scenario])))
        seed = changed.get(name) or seeds[scenario][name]
        changed[name] = draw(json_or_bytes(seed) if name.endswith(".json") else mutated_bytes(seed))
    if draw(st.integers(0, 9)) == 0:
        changed[draw(st.sampled_from(sorted(seeds[scenario])))] = None       # a file not recorded
    return Case(scenario, changed, seeds)


def edited(seeds: dict[str, dict[str, bytes]], scenario: str, name: str, edit: Callable[[Any], Any]) -> Case:
    """A scenario with one JSON file changed by `edit` (which changes the tree in place, or returns a new
    one): how a crash found by fuzzing is kept as an explicit @example."""
    doc = json.loads(seeds[scenario][name])
    new = edit(doc)
    return Case(scenario, {name: dumps(doc if new is None else new)}, seeds)
