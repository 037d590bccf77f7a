"""A manifest.json field of the wrong type is one line naming the field (exit 2), never an internal error."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from cli.helpers import NO_SOURCES, assert_clean_error, diagnose

from diagnose.bundle.store import read, write
from diagnose.errors import BundleError
from diagnose.model.evidence import SourceStatus
from diagnose.model.incident import Incident, Percentiles, Window

T0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)
INC = Incident("frontend-api", "user-auth-service", 3, T0, T0, 10000.0, Percentiles(15000, 15000, 15000),
               namespace="production", rate_per_min=3.0)
WIN = Window(start=T0, end=T0, onset=T0)
DROP = object()        # removes the field


def _bundle(tmp_path, field: str, value: object):
    root = tmp_path / "b"
    write(root, incident=INC, window=WIN, namespace="production",
          sources={"prometheus": SourceStatus("prometheus", "ok"),
                   "postgres": SourceStatus("postgres", "error", "connection refused", 3)},
          files={"prometheus": {"cpu.json": b'{"query": "rate(x[5m])"}'}},
          log_lines=b'{"message": "timeout"}\n', log_info={"lines": 1, "skipped": 0})
    mpath = root / "manifest.json"
    doc = json.loads(mpath.read_text())
    *parents, last = field.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is DROP:
        del node[last]
    else:
        node[last] = value
    mpath.write_text(json.dumps(doc))
    return root


BAD = [
    ("incident", "frontend-api", "incident"),
    ("incident.timeout_ms", "abc", "incident.timeout_ms"),
    ("incident.timeout_ms", float("nan"), "incident.timeout_ms"),
    ("incident.timeout_ms", -5, "incident.timeout_ms"),
    ("incident.events", "abc", "incident.events"),
    ("incident.events", 1.5, "incident.events"),
    ("incident.events", True, "incident.events"),
    ("incident.events", -1, "incident.events"),
    ("incident.service", 5, "incident.service"),
    ("incident.service", DROP, "incident.service"),
    ("incident.upstream", ["a"], "incident.upstream"),
    ("incident.first_seen", "yesterday", "incident.first_seen"),
    ("incident.last_seen", 1698402600, "incident.last_seen"),
    ("incident.first_seen", "9999-12-31T23:59:59-14:00", "incident.first_seen"),
    ("incident.duration_ms", [1, 2], "incident.duration_ms"),
    ("incident.duration_ms.p99", "slow", "incident.duration_ms.p99"),
    ("incident.rate_per_min", "fast", "incident.rate_per_min"),
    ("incident.namespace", 5, "incident.namespace"),
    ("incident.signal", {}, "incident.signal"),
    ("window", "today", "window"),
    ("window.start", "not a time", "window.start"),
    ("window.start", "0001-01-01T00:00:00+14:00", "window.start"),
    ("window.end", DROP, "window.end"),
    ("window.onset", 5, "window.onset"),
    ("namespace", 5, "namespace"),
    ("created", 5, "created"),
    ("logs", "incident.log", "logs"),
    ("logs.file", 5, "logs.file"),
    ("sources", ["prometheus"], "sources"),
    ("sources.postgres", "error", "sources.postgres"),
    ("sources.postgres.status", "weird", "sources.postgres.status"),
    ("sources.postgres.status", DROP, "sources.postgres.status"),
    ("sources.postgres.error", 5, "sources.postgres.error"),
    ("sources.postgres.duration_ms", [3], "sources.postgres.duration_ms"),
    ("sources.postgres.duration_ms", "3", "sources.postgres.duration_ms"),
    ("sources.prometheus.files", "cpu.json", "sources.prometheus.files"),
    ("sources.prometheus.files", [5], "sources.prometheus.files"),
]


@pytest.mark.parametrize("field,value,named", BAD, ids=[f"{f}={v!r}" for f, v, _ in BAD])
def test_a_manifest_field_of_the_wrong_type_is_an_error_naming_the_field(tmp_path, field, value, named):
    root = _bundle(tmp_path, field, value)
    with pytest.raises(BundleError) as e:
        read(root)
    assert f"manifest.json: {named}: " in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("field,value,named", [
    ("incident.timeout_ms", "abc", "incident.timeout_ms"),
    ("sources.postgres.status", "weird", "sources.postgres.status"),
    ("incident.duration_ms", [1], "incident.duration_ms"), ("window.start", "x", "window.start")])
def test_analyze_of_a_manifest_field_of_the_wrong_type_exits_2_naming_it(tmp_path, field, value, named):
    line = assert_clean_error(diagnose("analyze", str(_bundle(tmp_path, field, value)), env=NO_SOURCES))
    assert f"manifest.json: {named}: expected " in line


def test_the_error_says_what_was_expected_and_what_was_found(tmp_path):
    with pytest.raises(BundleError) as e:
        read(_bundle(tmp_path, "incident.timeout_ms", "abc"))
    assert str(e.value).endswith('manifest.json: incident.timeout_ms: expected a number, got "abc"')


@pytest.mark.parametrize("field,value", [("incident.timeout_ms", None), ("incident.rate_per_min", DROP),
                                         ("incident.namespace", None), ("window.onset", DROP),
                                         ("namespace", None), ("logs", DROP), ("sources.postgres.error", None),
                                         ("incident.duration_ms", DROP), ("incident.timeout_ms", 1500.5)])
def test_optional_manifest_fields_may_be_null_or_absent(tmp_path, field, value):
    read(_bundle(tmp_path, field, value))
