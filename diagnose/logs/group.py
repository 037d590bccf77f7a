"""Grouping events by (signal, caller, upstream) into incidents, in constant memory per group.

Accumulators are plain picklable objects so that worker processes can return them and the parent can
merge them (merge is associative; the parent merges in file order, so `kept` keeps the first lines).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .classify import FAILURE
from .event import Event
from .histogram import LogHistogram

Key = tuple[str, str, str, str]     # (signal, caller, upstream, via): one vantage point's view (vantage.py)
Pair = tuple[str, str]              # (caller, upstream)

# Memory stays bounded whatever the log says: at most this many (signal, caller, upstream) groups (later
# new ones are counted in Groups.dropped), and this many distinct timeout / namespace values per group.
MAX_GROUPS = 10_000
MAX_VALUES = 1_000


@dataclass
class GroupAcc:
    events: int = 0
    first: float | None = None
    last: float | None = None
    durations: LogHistogram = field(default_factory=LogHistogram)
    timeouts: Counter[float] = field(default_factory=Counter)
    namespaces: Counter[str] = field(default_factory=Counter)
    details: Counter[str] = field(default_factory=Counter)      # a proxy's flags or status codes
    peers: Counter[str] = field(default_factory=Counter)        # where a sidecar's calls came from (IPs)
    logged: Counter[str] = field(default_factory=Counter)       # upstream names as logged (Event.logged)
    pods: Counter[str] = field(default_factory=Counter)         # events per pod whose log said them
    kept: list[bytes] = field(default_factory=list)

    def add(self, ev: Event, raw: bytes, keep: int) -> None:
        self.events += 1
        if ev.ts is not None:
            if self.first is None or ev.ts < self.first:
                self.first = ev.ts
            if self.last is None or ev.ts > self.last:
                self.last = ev.ts
        if ev.duration_ms is not None:
            self.durations.add(ev.duration_ms)
        if ev.timeout_ms is not None and (ev.timeout_ms in self.timeouts or len(self.timeouts) < MAX_VALUES):
            self.timeouts[ev.timeout_ms] += 1
        if ev.namespace and (ev.namespace in self.namespaces or len(self.namespaces) < MAX_VALUES):
            self.namespaces[ev.namespace] += 1
        if ev.detail and (ev.detail in self.details or len(self.details) < MAX_VALUES):
            self.details[ev.detail] += 1
        if ev.peer:
            ip = ev.peer.rsplit(":", 1)[0] if ev.peer.count(":") == 1 or ev.peer.startswith("[") else ev.peer
            ip = ip.strip("[]")
            if ip in self.peers or len(self.peers) < MAX_VALUES:
                self.peers[ip] += 1
        if ev.pod and (ev.pod in self.pods or len(self.pods) < MAX_VALUES):
            self.pods[ev.pod] += 1
        if ev.logged and (ev.logged in self.logged or len(self.logged) < MAX_VALUES):
            self.logged[ev.logged] += 1
        if len(self.kept) < keep:
            self.kept.append(bytes(raw.rstrip(b"\r")))

    def merge(self, o: "GroupAcc", keep: int) -> None:
        self.events += o.events
        if o.first is not None and (self.first is None or o.first < self.first):
            self.first = o.first
        if o.last is not None and (self.last is None or o.last > self.last):
            self.last = o.last
        self.durations.merge(o.durations)
        self.timeouts.update(o.timeouts)
        self.namespaces.update(o.namespaces)
        self.details.update(o.details)
        self.peers.update(o.peers)
        self.logged.update(o.logged)
        self.pods.update(o.pods)
        self.kept.extend(o.kept[:max(0, keep - len(self.kept))])


@dataclass
class Groups:
    signals: dict[Key, GroupAcc] = field(default_factory=dict)
    failures: Counter[Pair] = field(default_factory=Counter)
    dropped: int = 0             # events of groups beyond MAX_GROUPS

    def add(self, ev: Event, raw: bytes, keep: int) -> None:
        if ev.kind == FAILURE:
            pair = (ev.service, ev.upstream)
            if pair in self.failures or len(self.failures) < MAX_GROUPS:
                self.failures[pair] += 1
            return
        key = (ev.kind, ev.service, ev.upstream, ev.via)
        acc = self.signals.get(key)
        if acc is None:
            if len(self.signals) >= MAX_GROUPS:
                self.dropped += 1
                return
            acc = self.signals[key] = GroupAcc()
        acc.add(ev, raw, keep)

    def merge(self, o: "Groups", keep: int) -> None:
        self.dropped += o.dropped
        for key, acc in o.signals.items():
            mine = self.signals.get(key)
            if mine is None:
                if len(self.signals) >= MAX_GROUPS:
                    self.dropped += acc.events
                    continue
                mine = self.signals[key] = GroupAcc()
            mine.merge(acc, keep)
        self.failures.update(o.failures)
