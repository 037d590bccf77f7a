"""Thread dumps as records: what each thread was doing, which locks it held and wanted, and what the
analysis found across all the dumps of a pod (lock cycles, contention, exhausted pools, stuck threads).

Parsers for every dump format (JVM text and JSON, Go goroutines, py-spy) fill the same records, so the
analysis and the checks never look at a format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

# A normalised state. JVM states as they are; Go and Python states mapped onto them (a goroutine in
# `semacquire` is BLOCKED, one in `chan receive` WAITING; a py-spy "idle" thread WAITING).
State = Literal["RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "NEW", "TERMINATED", "UNKNOWN"]

# How a thread waits for `waiting_for`: entering a monitor, parked on a java.util.concurrent lock or
# condition, in Object.wait(), or (Go) in a sync primitive / channel operation.
WaitKind = Literal["monitor", "park", "object-wait", "semacquire", "channel", "select", "io", "sleep", "other"]


class Frame(NamedTuple):
    """One stack frame (a NamedTuple: dumps hold hundreds of thousands of them). `function` is what an engineer
    searches for: `com.example.auth.SessionCache.refresh`, `main.(*Store).Get`, `get_user`; `location` is the
    file and line as the runtime printed them."""

    function: str
    location: str = ""

    @property
    def code_location(self) -> str:
        """Class.method (JVM) or package.Func (Go) or function (file.py) without the package path noise."""
        f = self.function
        if "/" in f and "(" not in f:            # Java 9+ module prefix in JSON dumps: java.base/java.lang.X
            f = f.rsplit("/", 1)[-1]
        if "(*" in f or "/" in f or f.startswith("main."):
            return f.rsplit("/", 1)[-1]            # Go: pkg.(*Type).Method, as `go doc` and grep know it
        parts = f.split(".")
        if len(parts) >= 2 and parts[-2][:1].isupper():
            return ".".join(parts[-2:])            # SessionCache.refresh; TokenStore$Inner.run
        return f

    def __str__(self) -> str:
        return f"{self.function}({self.location})" if self.location else self.function


@dataclass(frozen=True)
class LockRef:
    """A lock as the dump names it: `0x000000069ec1ad80` and the class `com.example.auth.SessionCache`."""

    id: str
    class_name: str = ""

    @property
    def label(self) -> str:
        """The form an engineer greps for: `com.example.auth.SessionCache@0x000000069ec1ad80`."""
        return f"{self.class_name}@{self.id}" if self.class_name else self.id


class ThreadInfo(NamedTuple):
    """One thread (a NamedTuple, like Frame: a 50 MB dump holds ~100k of them, and a frozen dataclass costs
    a dozen `object.__setattr__` calls each). Change one with `t._replace(...)`."""

    name: str
    state: State
    frames: tuple[Frame, ...] = ()
    tid: str = ""                          # JVM nid / #n, goroutine id, OS thread id
    waiting_for: LockRef | None = None     # the lock or object this thread waits on, if the dump says
    wait_kind: WaitKind | None = None
    held: tuple[LockRef, ...] = ()         # monitors locked in the stack and ownable synchronizers (-l)
    daemon: bool = False
    virtual: bool = False
    wait_minutes: float | None = None      # Go: "[semacquire, 12 minutes]"
    raw_state: str = ""                    # the state text as printed ("chan receive", "idle", "in Object.wait()")
    cpu_ms: float | None = None            # JVM 11+: CPU time so far; growth between dumps means busy
    owner_hint: str | None = None          # JMX / VisualVM forms name the owner of `waiting_for` directly
    carrier: str = ""                      # a mounted virtual thread: the platform thread that carries it

    @property
    def top(self) -> Frame | None:
        return self.frames[0] if self.frames else None


@dataclass(frozen=True)
class ThreadDump:
    """One dump: one process at one moment."""

    source: str                            # the file it came from
    pod: str                               # the pod (or the file group) it belongs to
    format: str                            # "jvm", "jvm-json", "jvm-plain", "go", "py-spy", "dotnet-stack"
    threads: tuple[ThreadInfo, ...]
    taken_at: datetime | None = None
    runtime: str = ""                      # "OpenJDK 64-Bit Server VM (17.0.15+6 ...)", "Python v3.11.4"
    index: int = 0                         # position in the file when one file holds several dumps
    jvm_deadlocks: tuple[tuple[str, ...], ...] = ()   # thread names of each "Found one Java-level deadlock"
    notes: tuple[str, ...] = ()            # truncation, unparsed lines
    container: str = ""                    # the container it was taken in, when the exec source took it


@dataclass(frozen=True)
class CycleEdge:
    thread: str
    waits_for: LockRef
    held_by: str
    frame: Frame | None                    # where the thread waits (its first application frame)
    holds: tuple[LockRef, ...] = ()


@dataclass(frozen=True)
class LockCycle:
    pod: str
    source: str
    edges: tuple[CycleEdge, ...]
    jvm_reported: bool                     # the JVM printed it too ("Found one Java-level deadlock")
    dumps_seen: int = 1                    # in how many dumps of the pod the same cycle appears

    @property
    def threads(self) -> tuple[str, ...]:
        return tuple(e.thread for e in self.edges)


@dataclass(frozen=True)
class HotSpot:
    """Many threads waiting on one lock."""

    pod: str
    source: str
    lock: LockRef
    waiters: tuple[str, ...]
    waiter_frame: Frame | None             # the commonest application frame the waiters are in
    owner: str | None                      # who holds it, if the dump says
    owner_state: str = ""
    owner_frame: Frame | None = None       # what the owner is doing
    total_threads: int = 0
    # What it costs callers: request-serving threads (Tomcat, Jetty, Undertow, Netty, gRPC, Go handlers)
    # among the waiters, whether the holder is one, and how many the dump holds in all.
    request_waiters: int = 0
    request_holder: bool = False
    request_threads: int = 0
    request_pool: str = ""                 # "http-nio-8080-exec", "request handlers" (Go)

    @property
    def request_stopped(self) -> int:
        return self.request_waiters + (1 if self.request_holder else 0)

    @property
    def request_share(self) -> float:
        """The share of the dump's request threads this lock stops (its waiters and a holder that is one)."""
        return self.request_stopped / self.request_threads if self.request_threads else 0.0


@dataclass(frozen=True)
class PoolWait:
    """All (or most) workers of one pool waiting in the same place."""

    pod: str
    source: str
    pool: str                              # the thread-name prefix: "http-nio-8080-exec", "profile-pool"
    size: int                              # threads of this pool in the dump
    waiting: int                           # of them in `frame`
    frame: Frame | None                    # the application frame they wait in
    # "db-connection" (HikariCP, c3p0, DBCP, pgjdbc), "socket-read", "lock", "other", "cpu" (every worker
    # RUNNABLE in application code: saturated by computing, not waiting)
    resource: str
    detail: str = ""                       # "HikariPool.getConnection"


@dataclass(frozen=True)
class StuckThread:
    """A thread in the same frame in every dump of a pod: stuck, not busy."""

    pod: str
    thread: str
    state: str
    frame: Frame | None
    dumps: int
    span_seconds: float | None = None      # time between the first and last dump, when dumps are dated


@dataclass(frozen=True)
class GoroutineWait:
    """Goroutines of one pod waiting in the same operation for minutes."""

    pod: str
    source: str
    reason: str                            # "semacquire", "chan receive", "sync.Mutex.Lock"
    count: int
    max_minutes: float
    frame: Frame | None


@dataclass(frozen=True)
class OutboundWait:
    """Threads of one pod (Go handlers mostly) waiting at one call site on a call to another service: an HTTP
    or gRPC client call, a connection from database/sql, a query result. The callee is slow or gone, and
    with no deadline on the call the caller waits as long as it does."""

    pod: str
    source: str
    kind: str                              # "http-client", "grpc-client", "db-connection", "db-query"
    detail: str                            # the client frame: "net/http.(*persistConn).roundTrip"
    count: int
    requests: int                          # of them serving a request
    frame: Frame | None                    # the application frame that makes the call
    max_minutes: float | None = None       # Go: how long the longest has waited, when the dump says


@dataclass(frozen=True)
class GoroutinePile:
    """Very many goroutines in one wait at one frame: a leak when they grow and never finish."""

    pod: str
    source: str
    reason: str                            # "chan receive", "select", "waiting" (debug=1 shows no reason)
    count: int
    total: int                             # goroutines in the dump
    frame: Frame | None


@dataclass(frozen=True)
class CarrierPinning:
    """Virtual threads blocked while pinned to their carrier (JDK 21+): each holds a carrier thread of the
    scheduler, so when most are pinned the virtual threads behind them wait for a carrier."""

    pod: str
    source: str
    pool: str                              # the carriers' pool: "ForkJoinPool-1-worker"
    carriers: int                          # carrier threads of that pool in the dump
    pinned: tuple[str, ...]                # the pinned virtual threads
    reason: str                            # "blocked entering synchronized", "waiting for X's class initializer"
    frame: Frame | None                    # where the commonest of them block (their first application frame)
    lock: LockRef | None = None
    holder: str | None = None              # who holds the lock (runs the class initializer), when the dump says
    holder_frame: Frame | None = None
    queued: int = 0                        # virtual threads not yet run: waiting for a carrier


@dataclass(frozen=True)
class ThreadEvidence:
    dumps: tuple[ThreadDump, ...] = ()
    cycles: tuple[LockCycle, ...] = ()
    hotspots: tuple[HotSpot, ...] = ()
    pools: tuple[PoolWait, ...] = ()
    stuck: tuple[StuckThread, ...] = ()
    goroutine_waits: tuple[GoroutineWait, ...] = ()
    outbound: tuple[OutboundWait, ...] = ()
    piles: tuple[GoroutinePile, ...] = ()
    pinning: tuple[CarrierPinning, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)   # files skipped, partial dumps

    @property
    def pods(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.pod for d in self.dumps))

    def latest(self) -> tuple[ThreadDump, ...]:
        """The last dump of each pod (the one that shows the state the incident ended in)."""
        last: dict[str, ThreadDump] = {}
        for d in self.dumps:
            last[d.pod] = d
        return tuple(last.values())
