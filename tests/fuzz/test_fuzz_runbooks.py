"""Fuzzing runbook loading and validation: a mutated runbook loads or fails with one RunbookError line.

Seeds: runbooks/*.yaml, mutated as text (bytes flipped, cut, YAML syntax inserted) and as a tree (a value
of another type, a field dropped or duplicated, deep nesting) dumped back to YAML.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import yaml
from fuzz.mutate import REPO, assert_clean_exit, mutated_bytes, mutated_tree, parses_or_refuses, run_cli, scaled
from hypothesis import example, given, settings
from hypothesis import strategies as st

from diagnose.engine import runbook
from diagnose.engine.registry import checks

SEEDS = {p.name: p.read_bytes() for p in sorted((REPO / "runbooks").glob("*.y*ml"))}
NAMES = sorted(SEEDS)
SPECS = checks()


def _yaml(doc: object) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, RecursionError):
        return "[" * 2000


@st.composite
def mutated_runbook(draw: st.DrawFn) -> str:
    seed = SEEDS[draw(st.sampled_from(NAMES))]
    if draw(st.booleans()):
        return _yaml(draw(mutated_tree(yaml.safe_load(seed))))
    return draw(mutated_bytes(seed)).decode("utf-8", "replace")


SEED = SEEDS["upstream-timeout.yaml"].decode("utf-8")


def _with(old: str, new: str) -> str:
    assert old in SEED, old
    return SEED.replace(old, new, 1)


# Crashes fuzzing found, each an exception other than RunbookError before its fix in engine/runbook.py:
def _tree_with(edit: Callable[[Any], None]) -> str:
    doc = yaml.safe_load(SEED)
    edit(doc)
    return _yaml(doc)


RELATIONS_NUMBER = _tree_with(lambda d: d.update(relations=1.5))                            # TypeError (enumerate)
FIXES_NUMBER = _tree_with(lambda d: d["steps"][0].update(fixes=3))                          # TypeError (enumerate)
VERDICT_HUGE = _with("likely: 0.7", "likely: " + "9" * 400)                               # OverflowError
PARAM_HUGE = _with("weight_cycle: 4.0", "weight_cycle: " + "9" * 400)                     # OverflowError
SCALAR_5000_DIGITS = _with("likely: 0.7", "likely: " + "9" * 5000)                        # ValueError (int())
# Deep nesting: RecursionError in yaml.compose (YAML depth limits are another helper's area, issue 9).
DEEP = SEED + "x_deep: " + "[" * 3000 + "]" * 3000 + "\n"


@given(text=mutated_runbook())
@example(text=RELATIONS_NUMBER)
@example(text=FIXES_NUMBER)
@example(text=VERDICT_HUGE)
@example(text=PARAM_HUGE)
@example(text=SCALAR_5000_DIGITS)
def test_a_mutated_runbook_loads_or_raises_a_runbook_error(text: str) -> None:
    rb = parses_or_refuses("runbook.parse", lambda: runbook.parse(text, "fuzz.yaml", SPECS))
    assert rb is None or isinstance(rb, runbook.Runbook)


def test_a_deeply_nested_runbook_is_a_runbook_error() -> None:
    parses_or_refuses("runbook.parse", lambda: runbook.parse(DEEP, "fuzz.yaml", SPECS))


@settings(max_examples=scaled(30))
@given(data=st.one_of(mutated_runbook().map(lambda t: t.encode("utf-8")),
                      st.sampled_from(NAMES).flatmap(lambda n: mutated_bytes(SEEDS[n]))))
def test_runbooks_validate_exits_0_or_2_without_a_traceback(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="diagnose-fuzz-") as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_bytes(data)
        assert_clean_exit(run_cli("cli.runbooks_validate", "runbooks", "validate", str(path)), allowed=(0, 2))
