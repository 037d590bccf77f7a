"""Duration percentiles in constant memory: a log-bucket histogram (relative error <= 1%), exact min/max.

Buckets grow geometrically by GAMMA, so a bucket's midpoint is within ALPHA of every value in it
(the DDSketch construction). ALPHA is 0.5% so that rounding the result to whole milliseconds (done
for values >= 100 ms, where one ms is at most 1%) still keeps the total error within 1%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

ALPHA = 0.005
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)


@dataclass
class LogHistogram:
    buckets: dict[int, int] = field(default_factory=dict)   # bucket index -> count
    zeros: int = 0                                          # values <= 0 have no logarithm
    count: int = 0
    min: float | None = None
    max: float | None = None

    def add(self, value: float) -> None:
        self.count += 1
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value
        if value <= 0:
            self.zeros += 1
            return
        i = math.ceil(math.log(value) / _LOG_GAMMA)
        self.buckets[i] = self.buckets.get(i, 0) + 1

    def merge(self, other: "LogHistogram") -> None:
        for i, c in other.buckets.items():
            self.buckets[i] = self.buckets.get(i, 0) + c
        self.zeros += other.zeros
        self.count += other.count
        if other.min is not None and (self.min is None or other.min < self.min):
            self.min = other.min
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile; the estimate is clamped to [min, max] so equal values come back exact."""
        if self.count == 0 or self.min is None or self.max is None:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = self.zeros
        value = 0.0
        if seen < rank:
            for i in sorted(self.buckets):
                seen += self.buckets[i]
                if seen >= rank:
                    value = 2 * GAMMA ** i / (GAMMA + 1)
                    break
        return _tidy(min(max(value, self.min), self.max))


def _tidy(v: float) -> float:
    return float(round(v)) if v >= 100 else round(v, 2)
