"""Network answers bounded in time and size, whatever the server does; workers that never hold the exit.

Three bounds on every HTTP answer a live source reads (through urllib3, directly or under requests):

- connect and per-read timeouts: the client's own, never longer than what is left of the budget;
- a total deadline: a per-read timeout never trips on a server that drips a byte a second (the headers
  alone may be 6 MB long), so a `Watchdog` shuts down, at the deadline, the socket of every connection
  used under it. The read blocked on it returns at once and the call fails as "no answer in time";
- a size cap: bodies are read in chunks and counted (decoded bytes, so a gzip bomb counts what it
  becomes); past the cap the connection is closed and the answer refused, never held whole.

The watchdog reaches the sockets through urllib3 connection classes (`guard_pool_manager`) that register
themselves, on connect and on each request, with the watchdog bound to the calling thread.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, TypeVar

from ..errors import SourceError

CHUNK = 256 * 1024
K = TypeVar("K")
T = TypeVar("T")


class AnswerTooLarge(SourceError):
    """A server's answer went past --max-response-bytes: refused, not read further."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {size_text(limit)}, refused (see --max-response-bytes)")


class DeadlineSpent(SourceError):
    """The --timeout budget ran out while waiting for (part of) an answer."""

    def __init__(self) -> None:
        super().__init__("no complete answer within the --timeout budget")


def size_text(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


# ---- the deadline watchdog --------------------------------------------------------------------------------

_bound = threading.local()


class Watchdog:
    """Shuts down, at `deadline` (time.monotonic()), every socket used by a thread bound to it."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def close(self) -> None:
        """The source is done: nothing used under this watchdog may read on (a call its caller gave up
        waiting for included), so its sockets are shut now rather than at the deadline."""
        self._timer.cancel()
        self._fire()

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def bound(self) -> Iterator[Watchdog]:
        """Connections used by this thread inside the block are watched."""
        before = getattr(_bound, "watchdog", None)
        _bound.watchdog = self
        try:
            yield self
        finally:
            _bound.watchdog = before

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def watch(self, conn: Any) -> None:
        with self._lock:
            if not self.fired:
                self._conns.append(conn)
                return
        _shut(conn)                     # too late: the budget is spent, this connection may not wait

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            conns, self._conns = self._conns, []
        for conn in conns:
            _shut(conn)


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    try:
        # The plain socket's shutdown, also for TLS: it ends a read blocked in another thread at once,
        # without touching the TLS object that thread is using.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _watched(cls: type) -> type:
    class Watched(cls):  # type: ignore[misc]
        def connect(self) -> None:
            super().connect()
            _watch(self)

        def request(self, *args: Any, **kwargs: Any) -> None:
            _watch(self)                # a kept-alive connection is reused under another deadline
            super().request(*args, **kwargs)

    Watched.__name__ = Watched.__qualname__ = f"Watched{cls.__name__}"
    return Watched


def _watch(conn: Any) -> None:
    dog = getattr(_bound, "watchdog", None)
    if dog is not None:
        dog.watch(conn)


_POOLS: dict[str, type] | None = None


def _pool_classes() -> dict[str, type]:
    global _POOLS
    if _POOLS is None:
        from urllib3.connection import HTTPConnection, HTTPSConnection
        from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

        http = type("WatchedHTTPConnectionPool", (HTTPConnectionPool,),
                    {"ConnectionCls": _watched(HTTPConnection)})
        https = type("WatchedHTTPSConnectionPool", (HTTPSConnectionPool,),
                     {"ConnectionCls": _watched(HTTPSConnection)})
        _POOLS = {"http": http, "https": https}
    return _POOLS


def guard_pool_manager(manager: Any) -> Any:
    """Make a urllib3 PoolManager (or ProxyManager) open watched connections. Before its first request."""
    manager.pool_classes_by_scheme = dict(_pool_classes())
    return manager


# ---- reading a body with a cap ------------------------------------------------------------------------------

def read_capped(resp: Any, limit: int, dog: Watchdog) -> bytes:
    """The body of a urllib3 response (opened with preload_content=False), at most `limit` bytes.

    Raises AnswerTooLarge (the connection closed, nothing more read) or DeadlineSpent."""
    declared = str(resp.headers.get("Content-Length") or "").strip()
    if declared.isdigit() and int(declared) > limit:
        resp.close()
        raise AnswerTooLarge(limit)
    chunks: list[bytes] = []        # joined once at the end: a growing buffer would copy as it grows
    total = 0
    try:
        for chunk in resp.stream(CHUNK, decode_content=True):
            total += len(chunk)
            if total > limit:
                raise AnswerTooLarge(limit)
            chunks.append(chunk)
    except AnswerTooLarge:
        chunks.clear()              # the exception's traceback keeps this frame (in a Future, for long)
        resp.close()
        raise
    except Exception:
        chunks.clear()
        resp.close()
        if dog.fired:
            raise DeadlineSpent() from None
        raise
    if dog.fired:                   # an answer without a length ends at the close: the watchdog's
        chunks.clear()
        resp.close()
        raise DeadlineSpent()
    resp.release_conn()
    return b"".join(chunks)


def requests_adapter(dog: Watchdog, limit: int) -> Any:
    """A requests transport adapter whose answers are bounded by `dog` and `limit`; no retries.

    Mount it on the session for every scheme, so that a redirect elsewhere is bounded too. The answer
    is read here, whole and capped; requests then reads it from memory."""
    import io

    from requests.adapters import HTTPAdapter

    class BoundedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            guard_pool_manager(self.poolmanager)

        def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
            return guard_pool_manager(super().proxy_manager_for(*args, **kwargs))

        def send(self, request: Any, stream: bool = False, timeout: Any = None,  # type: ignore[override]
                 **kwargs: Any) -> Any:
            left = dog.left()
            if left <= 0:
                raise DeadlineSpent()
            connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
            timeout = (min(connect or left, left), min(read or left, left))
            with dog.bound():
                try:
                    resp = super().send(request, stream=True, timeout=timeout, **kwargs)
                except Exception:
                    if dog.fired:
                        raise DeadlineSpent() from None
                    raise
                body = read_capped(resp.raw, limit, dog)
            resp.raw = io.BytesIO(body)     # requests reads .raw for .content: the capped body
            return resp

    return BoundedAdapter(max_retries=0)


# ---- workers that never hold the process -----------------------------------------------------------------

def run_daemons(calls: Mapping[K, Callable[[], T]], workers: int, name: str) -> dict[K, Future[T]]:
    """Run the calls on at most `workers` daemon threads; their futures, at once.

    Not a ThreadPoolExecutor: its threads are joined when the interpreter exits, so a call stuck on a
    server would hold the process long after the budget (and a Ctrl-C with it)."""
    jobs: queue.SimpleQueue[tuple[Callable[[], T], Future[T]]] = queue.SimpleQueue()
    futures: dict[K, Future[T]] = {}
    for key, call in calls.items():
        fut: Future[T] = Future()
        futures[key] = fut
        jobs.put((call, fut))

    def work() -> None:
        while True:
            try:
                call, fut = jobs.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(call())
            except BaseException as e:  # noqa: BLE001 - handed to whoever reads the future
                fut.set_exception(e)

    for i in range(min(workers, len(futures))):
        threading.Thread(target=work, name=f"{name}-{i}", daemon=True).start()
    return futures
