"""Prometheus evidence as named signals, so checks and runbooks speak of `cpu_limit_ratio`, not PromQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping


@dataclass(frozen=True)
class Signal:
    name: str                              # e.g. "cpu_limit_ratio", "gc_time_fraction", "upstream_latency_p99_ms"
    unit: str                              # "ratio", "seconds", "ms", "per_second", "count", "bytes", "cores"
    by_series: Mapping[str, float]         # peak in the incident window per pod (or per series label set)
    peak: float | None                     # max over all series in the incident window
    baseline: float | None                 # typical value before the first timeout
    onset: datetime | None                 # when it departed from its baseline, if it did
    query: str = ""
    # Labels of the series that reached the peak (gc name, hpa name, node...), for summaries and fixes.
    worst: Mapping[str, str] = field(default_factory=dict)
    # The value at the last sample of the window (a limit or a replica count is read here, not as a peak).
    last: float | None = None
    # Set when no series has a sample in the incident window (a target no longer scraped, an answer for an
    # older range): the time of the last sample. by_series and peak then hold the peaks of those older
    # samples, and a finding resting on them is marked stale (docs/ranking.md, "Stale evidence").
    ended: datetime | None = None
    # The query's step in seconds: onsets closer than this cannot be told apart (docs/ranking.md).
    step: float = 0.0


@dataclass(frozen=True)
class MetricsEvidence:
    signals: Mapping[str, Signal] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)   # metric family -> why it is absent
    notes: tuple[str, ...] = ()            # partial data: warnings, families answered for some pods only
    namespace: str | None = None
    deployment: str | None = None
    # Set when Prometheus answered but no signal came of it (every family empty or failed): the checks
    # that need it are not run, so that their causes stay unknown with this reason rather than healthy.
    no_data: str | None = None

    def get(self, name: str) -> Signal | None:
        return self.signals.get(name)
