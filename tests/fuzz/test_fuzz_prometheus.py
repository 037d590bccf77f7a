"""Fuzzing the PromQL answer reader: prometheus.load over mutated range-query answers.

Seeds: every recorded scenario's prometheus/<family>.json.
"""

from __future__ import annotations

from typing import Any

from fuzz.mutate import SCENARIOS, Case, edited, mutated_source, parses_or_refuses, source_files, target_of
from hypothesis import example, given

from diagnose.model.metrics import MetricsEvidence
from diagnose.parsers import prometheus

SEEDS = {s: source_files(s, "prometheus") for s in SCENARIOS}
TARGETS = {s: target_of(s) for s in SCENARIOS}




def _pair_as_object(doc: Any) -> None:
    doc["response"]["data"]["result"][0]["values"][0] = {"t": 1698402600, "v": "0.5"}


def _metric_as_text(doc: Any) -> None:
    doc["response"]["data"]["result"][0]["metric"] = "pod=user-auth-service-0"


@given(case=mutated_source("prometheus", SEEDS))
# A [time, "value"] pair that is an object: KeyError 0 before the fix.
@example(case=edited(SEEDS, "database", "cpu.json", _pair_as_object))
# A series' labels as a string: AttributeError ('str' has no 'items') before the fix.
@example(case=edited(SEEDS, "database", "cpu.json", _metric_as_text))
def test_mutated_query_answers_load_or_raise_an_evidence_error(case: Case) -> None:
    ev = parses_or_refuses("prometheus.load", lambda: prometheus.load(case.files, TARGETS[case.scenario]))
    assert ev is None or isinstance(ev, MetricsEvidence)
