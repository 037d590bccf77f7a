"""A scenario from a seed: the truth (causes, cast, formats, herrings, sources) and nothing of the tool.

`generate(seed)` is deterministic: the same seed gives the same Scenario (and `write_bundle` the same files).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from .cast import Cast, random_cast

CAUSES = ("overload", "network", "gc-pause", "database", "mesh-timeout", "deadlock")
# Causes whose evidence the fixture writers put into Kubernetes documents (HPA, zones, VirtualService), and
# the others (metrics, sessions, dumps): a pair is one of each, so both stories fit in one cluster.
KUBE_CAUSES = ("overload", "network", "mesh-timeout")
OTHER_CAUSES = ("gc-pause", "database", "deadlock")
LOG_FORMATS = ("json", "json-variant", "logfmt", "nginx", "envoy")
SOURCES = ("kubernetes", "prometheus", "postgres", "thread-dumps")
# Where each cause's evidence lives in the writers' output: with all of these missing, nothing can show it.
EVIDENCE_IN = {"overload": ("prometheus", "kubernetes"), "network": ("prometheus", "kubernetes"),
               "gc-pause": ("prometheus",), "database": ("postgres", "prometheus", "thread-dumps"),
               "mesh-timeout": ("kubernetes",), "deadlock": ("thread-dumps",)}
# Prometheus families a scrape setup may lack; cAdvisor and kube-state-metrics are always there.
OPTIONAL_FAMILIES = ("istio", "jvm", "node", "hikari")


@dataclass(frozen=True)
class Scenario:
    seed: int
    cast: Cast
    causes: tuple[str, ...]              # () = healthy
    gc_variant: str                      # "gc-pause" or "gc-misleading-cpu" (CPU rises after GC)
    log_format: str
    gc_flavour: str                      # "simpleclient" or "micrometer"
    families: tuple[str, ...]            # Prometheus exporters present
    window: str                          # "on-call" (30 min baseline) or "postmortem" (2 h baseline, 1 h after)
    herrings: tuple[str, ...]
    sources: dict[str, str] = field(default_factory=dict)   # source -> "ok" | "skipped" | "error"

    def detectable(self, cause: str) -> bool:
        """Whether a source holding the cause's evidence is in the bundle (else `unknown` is the best answer)."""
        needed = EVIDENCE_IN[cause]
        if cause == "gc-pause" and "jvm" not in self.families:
            return False
        if cause == "database" and "hikari" not in self.families:
            needed = tuple(s for s in needed if s != "prometheus")
        return any(self.sources.get(s) == "ok" for s in needed)

    def truth(self) -> dict[str, Any]:
        d = asdict(self)
        d["detectable"] = {c: self.detectable(c) for c in self.causes}
        return d


def generate(seed: int) -> Scenario:
    rng = random.Random(seed)
    cast = random_cast(rng)
    roll = rng.random()
    if roll < 0.2:
        causes: tuple[str, ...] = ()
    elif roll < 0.85:
        causes = (rng.choice(CAUSES),)
    else:
        causes = (rng.choice(KUBE_CAUSES), rng.choice(OTHER_CAUSES))
    if "mesh-timeout" in causes:
        # The writers' mesh story: 3 tries x 5 s ended by a 15 s route timeout; the caller must wait longer
        # than the mesh for the mesh's timer to be the one that fires, or be the seed's 10 s caller.
        cast = _with_timeout(cast, rng.choice((10000, 30000)))
    families = ("cadvisor", "ksm") + tuple(f for f in OPTIONAL_FAMILIES if rng.random() < 0.85)
    sources: dict[str, str] = {}
    for s in SOURCES:
        r = rng.random()
        sources[s] = "ok" if r < 0.82 else ("skipped" if r < 0.93 else "error")
    herrings = tuple(h for h in ("hot-pod-other-namespace", "rollout-outside-window") if rng.random() < 0.35)
    if sources["postgres"] == "ok":
        herrings += ("analytics-query-other-database",)     # the postgres writer always writes one
    return Scenario(seed=seed, cast=cast, causes=causes,
                    gc_variant=rng.choice(("gc-pause", "gc-misleading-cpu")),
                    log_format=rng.choice(LOG_FORMATS), gc_flavour=rng.choice(("simpleclient", "micrometer")),
                    families=families, window="postmortem" if rng.random() < 0.25 else "on-call",
                    herrings=herrings, sources=sources)


def _with_timeout(c: Cast, ms: int) -> Cast:
    from dataclasses import replace

    return replace(c, timeout_ms=ms)
