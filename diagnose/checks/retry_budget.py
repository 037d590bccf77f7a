"""How long a mesh or ingress may hold one request, and a budget that fits inside the caller's deadline.

The semantics, per proxy (docs/ranking.md "Timeouts and retries" has the same with links):

- Istio VirtualService (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry):
  `retries.attempts` counts *retries*, so a request gets up to attempts + 1 tries; each try is cut at
  `perTryTimeout`, which defaults to the route `timeout`; the route `timeout` (disabled by default) caps
  the whole, retries included. Between tries Envoy waits a jittered back-off: retry N waits a random
  time in [0, (2^N - 1) x 25 ms), at most 250 ms
  (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-max-retries).
- Linkerd ServiceProfile (https://linkerd.io/2/reference/service-profiles/): a route's `timeout` (default
  10 s) bounds the request *including* retries; `isRetryable` retries are limited by the retry budget
  (a share of live traffic), not by a count, and have no per-try timeout. The bound is the route timeout.
- ingress-nginx (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-timeouts):
  proxy-*-timeout annotations are whole seconds; each try is cut at proxy-read-timeout (60 s by default)
  and up to proxy-next-upstream-tries (3) tries are made, capped by proxy-next-upstream-timeout when set.

So the bound is min(route timeout, tries x per-try timeout + back-off), and unbounded when nothing cuts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..model.kube import RouteTimeout

ENVOY_BACKOFF_BASE_MS = 25.0     # router_filter: "default base interval of 25ms"
ENVOY_BACKOFF_MAX_MS = 250.0     # max interval defaults to 10 x base


def envoy_backoff_ms(retries: int) -> float:
    """The longest total back-off Envoy may wait before `retries` retries: retry N waits under
    (2^N - 1) x 25 ms, at most 250 ms."""
    return float(sum(min((2 ** n - 1) * ENVOY_BACKOFF_BASE_MS, ENVOY_BACKOFF_MAX_MS) for n in range(1, retries + 1)))


def fmt_ms(ms: float) -> str:
    """15000 -> "15s", 1500 -> "1.5s", 250 -> "250ms": as the mesh configs spell durations."""
    if ms >= 1000:
        return f"{round(ms / 1000.0, 3):g}s"
    return f"{round(ms, 3):g}ms"


@dataclass(frozen=True)
class Budget:
    """What a route allows one request: `tries` tries, each cut at `per_try_ms`, the whole capped at
    `cap_ms`, with up to `backoff_ms` of waiting between tries."""

    tries: int
    per_try_ms: float | None     # None: nothing cuts a try
    cap_ms: float | None         # None: nothing caps the whole
    backoff_ms: float = 0.0

    @property
    def bound_ms(self) -> float | None:
        """The longest the proxy holds a request; None when nothing bounds it."""
        if self.per_try_ms is None:
            return self.cap_ms
        total = self.tries * self.per_try_ms + self.backoff_ms
        return total if self.cap_ms is None else min(total, self.cap_ms)

    @property
    def capped(self) -> bool:
        """The route timeout, not the tries, decides the bound."""
        return self.cap_ms is not None and self.bound_ms == self.cap_ms and self.per_try_ms is not None and \
            self.tries * self.per_try_ms + self.backoff_ms > self.cap_ms


def retries_of(r: RouteTimeout) -> int:
    return max(r.attempts or 0, 0)


def backoff_of(r: RouteTimeout, retries: int) -> float:
    return envoy_backoff_ms(retries) if r.kind == "VirtualService" else 0.0


def budget(r: RouteTimeout) -> Budget:
    """The route's budget under its proxy's semantics (module docstring)."""
    retries = retries_of(r) if r.kind != "ServiceProfile" else 0
    # Istio: perTryTimeout unset means each try may take the whole route timeout.
    per_try = r.per_try_timeout_ms if r.per_try_timeout_ms is not None else r.timeout_ms
    return Budget(tries=retries + 1, per_try_ms=per_try, cap_ms=r.timeout_ms, backoff_ms=backoff_of(r, retries))


def describe(r: RouteTimeout, b: Budget) -> str:
    """"3 tries (attempts 2 + the first) x perTryTimeout 5s (+ up to 100ms back-off), capped by timeout 15s:
    at most 15s" -- the arithmetic a reader can redo."""
    bound = b.bound_ms
    if r.kind == "ServiceProfile":
        retry = ", isRetryable (retries within the timeout, limited by the retry budget)" if r.retry_on else ""
        return f"timeout {fmt_ms(r.timeout_ms or 0)} including retries{retry}"
    per_name = "proxy-read-timeout" if r.kind == "Ingress" else "perTryTimeout"
    if b.per_try_ms is None:
        return "no timeout and no perTryTimeout: nothing bounds a request"
    if r.kind == "VirtualService" and r.per_try_timeout_ms is None:
        return f"timeout {fmt_ms(b.per_try_ms)} (no perTryTimeout: each try may take the whole timeout)"
    if b.tries == 1:
        text = f"1 try x {per_name} {fmt_ms(b.per_try_ms)}"
    else:
        how = "attempts" if r.kind == "VirtualService" else "proxy-next-upstream-tries"
        count = b.tries - 1 if r.kind == "VirtualService" else b.tries
        first = " + the first" if r.kind == "VirtualService" else ""
        text = f"{b.tries} tries ({how} {count}{first}) x {per_name} {fmt_ms(b.per_try_ms)}"
    if b.backoff_ms:
        text += f" (+ up to {fmt_ms(b.backoff_ms)} back-off)"
    if b.cap_ms is not None:
        text += f", capped by timeout {fmt_ms(b.cap_ms)}" if b.capped else f", within timeout {fmt_ms(b.cap_ms)}"
    return text + (f": at most {fmt_ms(bound)}" if bound is not None else "")


# ---- a budget that fits ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """A budget to propose. `kind`: "retries" (tries x per_try_ms, each above the upstream's p99, inside
    `route_timeout_ms`), "no-retry" (one try: no second try above the p99 fits before the deadline), or
    "timeout" (the route has no retries to tune: only its timeout)."""

    kind: str
    route_timeout_ms: float
    tries: int = 1
    per_try_ms: float | None = None
    backoff_ms: float = 0.0
    why: str = ""

    @property
    def bound_ms(self) -> float:
        if self.per_try_ms is None:
            return self.route_timeout_ms
        return min(self.route_timeout_ms, self.tries * self.per_try_ms + self.backoff_ms)


def _step(r: RouteTimeout) -> float:
    """The unit proposed values are rounded to: ingress-nginx takes whole seconds; meshes, 100 ms."""
    return 1000.0 if r.kind == "Ingress" else 100.0


# p99 values come from histogram interpolation (3750.0000098): a millionth of a step is noise, not time
def _floor(ms: float, step: float) -> float:
    return math.floor(ms / step + 1e-6) * step


def _ceil(ms: float, step: float) -> float:
    return math.ceil(ms / step - 1e-6) * step


def plan(r: RouteTimeout, deadline_ms: float, p99_ms: float | None, *, fit_ratio: float = 0.9,
         headroom: float = 1.2) -> Plan | None:
    """A budget for route `r` whose bound stays below the caller's deadline, and whose per-try timeout
    stays at least `headroom` x the upstream's p99. When no per-try value does both, fewer tries; when
    not even two tries fit, one try ended by a route timeout below the deadline ("no-retry"). Never a
    per-try timeout below the p99. None when no positive timeout fits below the deadline."""
    step = _step(r)
    limit = _floor(deadline_ms * fit_ratio, step)
    if limit >= deadline_ms:
        limit -= step
    if limit <= 0:
        return None
    floor_try = _ceil(p99_ms * headroom, step) if p99_ms else None
    p99_text = f"the upstream's p99 {fmt_ms(p99_ms)}" if p99_ms else ""
    can_retry = r.kind == "Ingress" or (r.kind == "VirtualService" and r.attempts is not None)
    if not can_retry:
        why = f"ends requests before the caller's {fmt_ms(deadline_ms)} deadline"
        if floor_try is not None and floor_try > limit:
            why += f", though below {p99_text}: the caller's deadline itself is tighter than the upstream's pace"
        return Plan("timeout", limit, why=why)
    now = budget(r).tries
    for tries in range(max(now, 1), 1, -1):
        backoff = backoff_of(r, tries - 1)
        per_try = _floor((limit - backoff) / tries, step)
        if per_try <= 0 or (floor_try is not None and per_try < floor_try):
            continue
        if floor_try is None:
            why = "the upstream's p99 is unknown: check each try still outlasts its usual latency"
        elif tries == now:
            why = f"each try above {p99_text} x {headroom:g}"
        else:
            why = (f"fewer tries: {now} tries of at least {fmt_ms(floor_try)} ({p99_text} x {headroom:g}) "
                   f"do not fit in {fmt_ms(limit)}")
        return Plan("retries", limit, tries, per_try, backoff, why)
    if floor_try is None:
        why = f"no second try fits in {fmt_ms(limit)}"
    else:
        two = 2 * floor_try + backoff_of(r, 1)
        why = (f"two tries of at least {fmt_ms(floor_try)} ({p99_text} x {headroom:g}) need {fmt_ms(two)}, "
               f"more than the {fmt_ms(limit)} that fit before the caller's {fmt_ms(deadline_ms)} deadline")
    return Plan("no-retry", limit, why=why)
