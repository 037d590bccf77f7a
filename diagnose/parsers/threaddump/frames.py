"""What a stack means: which frame is the application's, whether a thread is idle, what it waits for.

Shared by every analysis; the lists are the frames of real runtimes and pools (JDK, Tomcat, Netty,
HikariCP, c3p0, DBCP, pgjdbc, Go runtime, CPython stdlib).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from ...model.threads import Frame, ThreadInfo

# Frames of the runtime and common libraries: not where an engineer would fix anything.
_RUNTIME_PREFIXES = (
    "java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.coroutines.", "scala.",
    "runtime.", "sync.", "internal/", "net/http.", "net.(*", "syscall.", "time.Sleep", "os.(*", "io.Read",
    "io.Copy", "bufio.", "context.", "database/sql.",
    "threading", "queue", "socket", "selectors", "concurrent/", "<frozen", "asyncio",
    "System.", "Microsoft.", "[Native Frames]",       # .NET (dotnet-stack)
)
_MODULE = re.compile(r"^[\w.]+@[\w.\-+]+/")    # java.base@17.0.15/ inside a location, or a prefix in JSON

# A thread parked here is waiting for work: idle, whatever its state says.
_IDLE = (
    "getTask", "LinkedBlockingQueue.take", "LinkedBlockingQueue.poll", "ArrayBlockingQueue.take",
    "SynchronousQueue.take", "DelayedWorkQueue.take", "ForkJoinPool.awaitWork", "ForkJoinPool.runWorker",
    "TaskQueue.take", "TaskQueue.poll", "ReferenceQueue.remove", "Reference.waitForReferencePendingList",
    "TimerThread.mainLoop", "CleanerImpl.run", "socketAccept", "ServerSocket.accept", "Net.accept",
    "EPoll.wait", "epollWait", "KQueue.poll", "SelectorImpl.select", "NioEndpoint$Poller.run",
    "Signal Dispatcher", "LinkedTransferQueue.take", "LinkedTransferQueue.poll", "Exchanger.exchange",
    "internal/poll.runtime_pollWait", "(*Server).Serve",
    "Condition.wait (threading.py", "Event.wait (threading.py", "Queue.get (queue.py", "select (selectors.py",
    "_worker (concurrent/futures/thread.py", "accept (socket.py",
)
_IDLE_STATES_GO = ("IO wait", "select (no cases)", "GC worker (idle)", "finalizer wait", "force gc (idle)",
                   "chan receive (nil chan)", "sleep")

# Waiting for a database connection from a pool: the database (or its pool) is the bottleneck.
DB_POOL_FRAMES = (
    ("com.zaxxer.hikari.pool.HikariPool.getConnection", "HikariPool.getConnection"),
    ("com.zaxxer.hikari.util.ConcurrentBag.borrow", "HikariPool.getConnection"),
    ("com.mchange.v2.resourcepool.BasicResourcePool.awaitAvailable", "c3p0 BasicResourcePool.awaitAvailable"),
    ("com.mchange.v2.c3p0.impl.C3P0PooledConnectionPool.checkoutPooledConnection", "c3p0 checkoutPooledConnection"),
    ("org.apache.commons.dbcp2.PoolingDataSource.getConnection", "DBCP PoolingDataSource.getConnection"),
    ("org.apache.commons.dbcp.PoolingDataSource.getConnection", "DBCP PoolingDataSource.getConnection"),
    ("org.apache.tomcat.jdbc.pool.ConnectionPool.borrowConnection", "tomcat-jdbc ConnectionPool.borrowConnection"),
    ("org.postgresql.ds.PGPoolingDataSource.getConnection", "pgjdbc PGPoolingDataSource.getConnection"),
    ("org.postgresql.jdbc2.optional.PoolingDataSource.getConnection", "pgjdbc PoolingDataSource.getConnection"),
    ("database/sql.(*DB).conn (", "database/sql DB.conn"),     # not (*DB).connectionOpener: see outbound.py
    ("psycopg_pool", "psycopg_pool getconn"), ("sqlalchemy/pool", "SQLAlchemy pool checkout"),
)
# Waiting for the database to answer a query on a connection it already has.
DB_QUERY_FRAMES = (
    ("org.postgresql.core.VisibleBufferedInputStream", "pgjdbc reading a query result"),
    ("org.postgresql.core.v3.QueryExecutorImpl.processResults", "pgjdbc reading a query result"),
    ("com.mysql.cj.protocol.ReadAheadInputStream", "MySQL Connector/J reading a query result"),
    ("oracle.jdbc.driver.T4CMAREngine", "Oracle JDBC reading a query result"),
    ("github.com/jackc/pgx", "pgx waiting for a query result"),
    ("github.com/lib/pq", "lib/pq waiting for a query result"),
    ("psycopg", "psycopg waiting for a query result"),
)
_SOCKET_READ = ("socketRead0", "SocketInputStream.read", "NioSocketImpl.read", "NioSocketImpl.park",
                "SocketDispatcher.read0", "readBytes", "SSLSocketImpl$AppInputStream.read", "recv_into")


def function_of(frame: Frame) -> str:
    return _MODULE.sub("", frame.function) if "/" in frame.function else frame.function


def _alternation(needles: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(n) for n in needles))


_IDLE_RE = _alternation(_IDLE)
_DB_POOL_RE = _alternation(n for n, _ in DB_POOL_FRAMES)
_DB_QUERY_RE = _alternation(n for n, _ in DB_QUERY_FRAMES)
_DB_WHAT = dict(DB_POOL_FRAMES + DB_QUERY_FRAMES)
_SOCKET_RE = _alternation(_SOCKET_READ)
_LIBRARIES = _RUNTIME_PREFIXES + ("com.zaxxer.", "com.mchange.", "org.apache.", "org.postgresql.", "io.netty.",
                                  "org.eclipse.jetty.", "org.springframework.", "reactor.")

# Stacks repeat (every idle worker of a pool has the same one), so what a stack means is computed once per
# distinct stack: these caches are keyed by the frames tuple itself.
_CACHE = 1 << 16


@lru_cache(maxsize=_CACHE)
def _text(frames: tuple[Frame, ...], depth: int) -> str:
    return "\n".join(f.function + " (" + f.location for f in frames[:depth])


# Threads parsed from one stack share one frames tuple: a lookup by identity spares hashing the whole tuple
# per thread (a tuple does not cache its hash). Each entry keeps its tuple alive, so an id is never reused
# while it is a key here.
_APP_BY_ID: dict[int, tuple[tuple[Frame, ...], Frame | None]] = {}


def app_frame(frames: tuple[Frame, ...]) -> Frame | None:
    """The first frame outside the runtime and common libraries; the top frame when all are runtime."""
    hit = _APP_BY_ID.get(id(frames))
    if hit is not None and hit[0] is frames:
        return hit[1]
    f = _app_frame(frames)
    if len(_APP_BY_ID) >= _CACHE:
        _APP_BY_ID.clear()
    _APP_BY_ID[id(frames)] = (frames, f)
    return f


@lru_cache(maxsize=_CACHE)
def _app_frame(frames: tuple[Frame, ...]) -> Frame | None:
    for f in frames:
        if function_of(f).startswith(_LIBRARIES) or f.location.startswith("<") or "/lib/python" in f.location:
            continue
        return f
    return frames[0] if frames else None


_IDLE_FIRST = frozenset(s[0] for s in _IDLE_STATES_GO)


def idle_state(raw_state: str) -> bool:
    """A Go wait reason that means idle whatever the stack shows ("IO wait", "select (no cases)")."""
    # The first-letter test spares the tuple startswith for JVM headers ("#12 daemon prio=5 ..."), once per thread.
    return raw_state[:1] in _IDLE_FIRST and raw_state.startswith(_IDLE_STATES_GO)


def is_idle(t: ThreadInfo, depth: int = 12) -> bool:
    """Waiting for work, not for a resource: pool workers on their queue, selectors, acceptors."""
    if not t.frames:
        return t.state != "BLOCKED" or t.raw_state in _IDLE_STATES_GO
    if idle_state(t.raw_state):
        return True
    return _search(_IDLE_RE, t.frames, depth) is not None


@lru_cache(maxsize=_CACHE)
def _search(pattern: re.Pattern[str], frames: tuple[Frame, ...], depth: int) -> str | None:
    m = pattern.search(_text(frames, depth))
    return m.group(0) if m else None


def db_wait(t: ThreadInfo, depth: int = 64) -> tuple[str, str] | None:
    """("db-connection" | "db-query", what) when the thread waits on its database."""
    m = _search(_DB_POOL_RE, t.frames, depth)
    if m:
        return "db-connection", _DB_WHAT[m]
    if t.state == "RUNNABLE" or t.wait_kind in ("io", "channel", None):
        m = _search(_DB_QUERY_RE, t.frames, 24)
        if m:
            return "db-query", _DB_WHAT[m]
    return None


def is_socket_read(t: ThreadInfo) -> bool:
    return _search(_SOCKET_RE, t.frames, 8) is not None


# A match starts at the beginning of a separator run or of a digit run, never inside one: the leftmost
# match is the same, and a long run of '#' or digits before a name's end is not rescanned from every
# offset (which was quadratic).
_POOL_SUFFIX = re.compile(r"(?<![-_#. ])(?!(?<=\d)\d)[-_#. ]*(?:\d+|\[\d+\])$")
_DIGITS = "0123456789"


def pool_name(thread_name: str) -> str | None:
    """`http-nio-8080-exec-12` -> `http-nio-8080-exec`; None when the name carries no number."""
    last = thread_name[-1:]
    if last and last in _DIGITS and thread_name.isascii():
        # What _POOL_SUFFIX removes from an ASCII name ending in a digit, with two rstrips (once per thread).
        stripped = thread_name.rstrip(_DIGITS).rstrip("-_#. ")
    elif last in ("]", "\n") or not thread_name.isascii():
        stripped = _POOL_SUFFIX.sub("", thread_name)
    else:
        return None          # no digit at the end: _POOL_SUFFIX cannot match
    if stripped in ("Thread", "goroutine", "Dummy") or stripped.startswith("goroutine "):
        return None          # default names of unrelated threads (and debug=1's goroutine groups), not a pool
    return stripped if stripped and stripped != thread_name else None


# Threads that serve requests, by the names their servers give them: Tomcat (http-nio-8080-exec-12,
# https-jsse-nio-8443-exec-1), Jetty (qtp1234567-42), Undertow / WildFly (XNIO-1 task-3, default task-7),
# Netty and Reactor Netty event loops, gRPC's executor.
_REQUEST_NAME = re.compile(r"https?-[\w.-]*-exec-\d+$|ajp-[\w.-]*-exec-\d+$|qtp\d+-\d+$|XNIO-\d+ task-\d+$|"
                           r"default task-\d+$|\w*EventLoop|nioEventLoopGroup-|epollEventLoopGroup-|"
                           r"reactor-http-(?:nio|epoll|kqueue)-\d+$|vert\.x-eventloop-thread-\d+$|grpc-default-executor-\d+$")
# ... or by the frames a request runs under, for runtimes whose threads carry no name (Go handlers).
_REQUEST_FRAMES = _alternation((
    "net/http.(*conn).serve", "net/http.HandlerFunc.ServeHTTP", "net/http.serverHandler.ServeHTTP",
    "google.golang.org/grpc.(*Server).handleStream", "google.golang.org/grpc.(*Server).processUnaryRPC",
    "org.apache.catalina.connector.CoyoteAdapter.service", "org.eclipse.jetty.server.HttpChannel.handle",
    "io.undertow.server.Connectors.executeRootHandler", "io.grpc.internal.ServerImpl",
))


def is_request_thread(t: ThreadInfo) -> bool:
    """A thread that serves requests: what a stall of it costs callers (a timeout upstream)."""
    if _REQUEST_NAME.match(t.name) is not None:
        return True
    return bool(t.frames) and _search(_REQUEST_FRAMES, t.frames, 64) is not None


def request_pool(name: str) -> str:
    """The pool a request thread belongs to ("http-nio-8080-exec"), or "request handlers" for nameless ones."""
    return pool_name(name) or ("request handlers" if name.startswith("goroutine ") else name)


def is_runtime(frame: Frame | None) -> bool:
    return frame is None or function_of(frame).startswith(_RUNTIME_PREFIXES)


def lock_key(lock_id: str) -> str:
    """Addresses printed differently by different forms (0x0000000069ec1ad80, 69ec1ad80) compare equal."""
    s = lock_id.lower()
    if s.startswith("0x"):
        s = s[2:].lstrip("0") or "0"
    return s
