"""Fuzzing the reader of an address lookup's answers (parsers/kube_address.py): the pods, EndpointSlices,
Services and ReplicaSets the API gave for an upstream logged as an IP, kept in a bundle's upstream-address/.

Seeds: the nginx-address fixture's recorded answers.
"""

from __future__ import annotations

from typing import Any

from fuzz.mutate import edited, mutated_source, parses_or_refuses, source_files
from hypothesis import example, given

from diagnose.model.address import AddressName
from diagnose.parsers import kube_address

SEEDS = {"nginx-address": source_files("nginx-address", "upstream-address")}


def _labels_as_bool(doc: Any) -> None:
    doc["items"][0]["metadata"]["labels"] = True


@given(case=mutated_source("upstream-address", SEEDS))
# An EndpointSlice whose labels are a bool: AttributeError before the reader's errors became one line.
@example(case=edited(SEEDS, "nginx-address", "endpointslices.json", _labels_as_bool))
def test_mutated_lookup_answers_name_the_address_or_raise_an_evidence_error(case) -> None:
    named = parses_or_refuses("kube_address.load", lambda: kube_address.load(case.files))
    assert named is None or isinstance(named, AddressName)
    if isinstance(named, AddressName):
        named.note()            # the one line the report prints must come out of whatever was read
