"""Hostile runbooks (YAML bombs, recursion, huge files) are refused quickly with one line naming the file."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import measure
import pytest
from cli.helpers import REPO, assert_clean_error, diagnose

from diagnose.engine.runbook import MAX_RUNBOOK_BYTES, parse
from diagnose.errors import RunbookError

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
) + "name: *j\n"


def _validate_quickly(path: Path) -> str:
    start = time.monotonic()
    p = diagnose("runbooks", "validate", str(path), timeout=60)
    took = time.monotonic() - start
    line = assert_clean_error(p, 2)
    assert took < 10, took                        # generous: a bomb took a minute before
    assert str(path) in line
    return line


@pytest.mark.parametrize("name, text, expect", [
    ("laughs.yaml", BILLION_LAUGHS, "alias"),
    ("recursive.yaml", "a: &a [*a]\n", "alias"),
    ("anchor.yaml", "name: &n x\n", "anchor"),
    ("deep-flow.yaml", "a: " + "[" * 50_000 + "]" * 50_000 + "\n", "nest"),
    ("deep-map.yaml", "a: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n", "nest"),
])
def test_yaml_bombs_and_deep_nesting_exit_2_naming_the_file_and_line(tmp_path, name, text, expect):
    path = tmp_path / name
    path.write_text(text)
    line = _validate_quickly(path)
    assert f"{path}:" in line and expect in line.lower()


def test_a_runbook_past_the_size_cap_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("w") as f:
        f.write("name: x\nsteps:\n")
        chunk = "  - {cause: c, title: t, prior: 0.1, checks: [a]}\n" * 20_000
        while f.tell() < 100 * 1024 * 1024:
            f.write(chunk)
    line = _validate_quickly(path)
    assert "larger than" in line
    # The child's own peak (tests/measure.py), not one inherited from this pytest process's size.
    m = measure.run_measured([sys.executable, "-m", "diagnose", "runbooks", "validate", str(path)], cwd=REPO,
                             env=dict(os.environ), stdout=tmp_path / "out", stderr=tmp_path / "err")
    assert m.code == 2 and m.rss_mb < 300, m


def test_the_depth_cap_leaves_ordinary_nesting_alone():
    # A runbook is a few levels deep; the cap is far above it.
    text = "name: x\nchecks:\n  res: {n: [[[[1]]]]}\n"
    with pytest.raises(RunbookError) as e:
        parse(text, "rb.yaml", {})
    assert "nest" not in str(e.value)


def test_the_size_cap_is_far_above_a_real_runbook():
    real = max(p.stat().st_size for p in (REPO / "runbooks").glob("*.yaml"))
    assert real * 20 < MAX_RUNBOOK_BYTES
