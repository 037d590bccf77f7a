"""Duration percentiles in constant memory: exact while the log holds few distinct durations, within
1% after that; min and max always exact.

Durations in logs are mostly whole milliseconds and repeat (timeouts fire at the same budget), so
the distinct values of one incident usually number in the hundreds: up to EXACT_LIMIT of them are
counted one by one and the percentiles are the true nearest-rank values (15025 stays 15025). Past
that the counts fold into a log-bucket sketch: buckets grow geometrically by GAMMA, so a bucket's
midpoint is within ALPHA of every value in it (the DDSketch construction). ALPHA is 0.5% so that
rounding the result to whole milliseconds (done for values >= 100 ms, where one ms is at most 1%)
still keeps the total error within 1%. `exact` says which of the two answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

ALPHA = 0.005
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
EXACT_LIMIT = 4096          # distinct values counted exactly (a dict of this size is ~300 KiB)


@dataclass
class LogHistogram:
    values: dict[float, int] | None = field(default_factory=dict)  # value -> count; None once folded
    buckets: dict[int, int] = field(default_factory=dict)   # bucket index -> count
    zeros: int = 0                                          # values <= 0 have no logarithm
    count: int = 0
    min: float | None = None
    max: float | None = None

    @property
    def exact(self) -> bool:
        return self.values is not None

    def add(self, value: float) -> None:
        self.count += 1
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value
        if self.values is not None:
            self.values[value] = self.values.get(value, 0) + 1
            if len(self.values) > EXACT_LIMIT:
                self._fold()
            return
        self._bucket(value, 1)

    def merge(self, other: "LogHistogram") -> None:
        if self.values is not None and other.values is not None:
            for v, c in other.values.items():
                self.values[v] = self.values.get(v, 0) + c
            if len(self.values) > EXACT_LIMIT:
                self._fold()
        else:
            self._fold()
            for v, c in (other.values or {}).items():
                self._bucket(v, c)
            for i, c in other.buckets.items():
                self.buckets[i] = self.buckets.get(i, 0) + c
            self.zeros += other.zeros
        self.count += other.count
        if other.min is not None and (self.min is None or other.min < self.min):
            self.min = other.min
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile: exact from the counted values, else the sketch's estimate clamped to
        [min, max] (so equal values come back exact)."""
        if self.count == 0 or self.min is None or self.max is None:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        if self.values is not None:
            for v in sorted(self.values):
                seen += self.values[v]
                if seen >= rank:
                    return v
            return self.max
        seen = self.zeros
        value = 0.0
        if seen < rank:
            for i in sorted(self.buckets):
                seen += self.buckets[i]
                if seen >= rank:
                    value = 2 * GAMMA ** i / (GAMMA + 1)
                    break
        return _tidy(min(max(value, self.min), self.max))

    def _fold(self) -> None:
        if self.values is None:
            return
        values, self.values = self.values, None
        for v, c in values.items():
            self._bucket(v, c)

    def _bucket(self, value: float, n: int) -> None:
        if value <= 0:
            self.zeros += n
            return
        i = math.ceil(math.log(value) / _LOG_GAMMA)
        self.buckets[i] = self.buckets.get(i, 0) + n


def _tidy(v: float) -> float:
    return float(round(v)) if v >= 100 else round(v, 2)
