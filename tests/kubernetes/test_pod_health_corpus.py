"""Our reading of a pod's health agrees with the expectations written into real pod manifests
(flanksource/is-healthy test data, /work/shared/corpus/kubernetes/pods, Apache-2.0)."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from diagnose.parsers.podhealth import pod_health

CORPUS = Path(os.environ.get("DIAGNOSE_CORPUS", "/work/shared/corpus")) / "kubernetes" / "pods"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
_REL = re.compile(r"@now(?:-(\d+)([smhd]))?")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _resolve(value: object) -> object:
    """'@now-5m' -> an RFC 3339 time five minutes ago, as the API would have written it."""
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and (m := _REL.fullmatch(value)):
        delta = timedelta(**{_UNIT[m.group(2)]: int(m.group(1))}) if m.group(1) else timedelta()
        return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _manifests() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.glob("*.yaml"))


@pytest.mark.skipif(not _manifests(), reason="pod corpus not present")
@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.stem)
def test_pod_health_matches_the_manifest_expectations(path: Path) -> None:
    pod = _resolve(yaml.safe_load(path.read_text()))
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    got = pod_health(pod, NOW)
    # Every manifest is read without error; those that state an expectation must match it.
    assert got.status and got.health, got
    if "expected-health" in ann:
        assert got.health == ann["expected-health"], got
    if "expected-status" in ann:
        assert got.status == ann["expected-status"], got


def test_the_corpus_is_read_at_all() -> None:
    if not _manifests():
        if os.environ.get("CI"):
            pytest.fail(f"pod corpus missing at {CORPUS}")
        pytest.skip("pod corpus not present")
    assert len(_manifests()) >= 15
