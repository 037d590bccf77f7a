"""Prometheus evidence as named signals, so checks and runbooks speak of `cpu_limit_ratio`, not PromQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping


@dataclass(frozen=True)
class Signal:
    name: str                              # e.g. "cpu_limit_ratio", "gc_time_fraction", "upstream_latency_p99_ms"
    unit: str                              # "ratio", "seconds", "ms", "per_second", "count", "bytes"
    by_series: Mapping[str, float]         # peak in the incident window per pod (or per series label set)
    peak: float | None                     # max over all series in the incident window
    baseline: float | None                 # typical value before the first timeout
    onset: datetime | None                 # when it departed from its baseline, if it did
    query: str = ""


@dataclass(frozen=True)
class MetricsEvidence:
    signals: Mapping[str, Signal] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)   # metric family -> why it is absent

    def get(self, name: str) -> Signal | None:
        return self.signals.get(name)
