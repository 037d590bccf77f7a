"""Hostile servers on loopback: each misbehaves in one way a sick or malicious server can.

    silent     accepts the connection and never sends a byte
    drip       sends a valid-looking HTTP answer (status line, headers, JSON) one byte a second
    huge       answers 200 with 100 MB of JSON, no Content-Length (the end is the close), sent fast
    reset      accepts and resets the connection at once (RST, not FIN)
    redirect   answers every request with a 302 to another path of itself, forever

It speaks no protocol beyond that: the same server stands in for Prometheus, the Kubernetes API server and
(silent, drip, reset) PostgreSQL. Use as a context manager; `url` and `port` say where it listens.
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

MODES = ("silent", "drip", "huge", "reset", "redirect")
HUGE_BYTES = 100 * 1024 * 1024

# One series of a Prometheus matrix answer; repeated, it makes a large answer that parses as one.
_SERIES = (b'{"metric":{"namespace":"production","pod":"user-auth-service-7d9c-xk2lp","kind":"usage"},'
           b'"values":[' + b",".join(b'[%d,"0.25"]' % (1696155300 + 15 * i) for i in range(40)) + b"]}")
_DRIP = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"
         b'{"status":"success","data":{"resultType":"matrix","result":[]}}')


@dataclass
class Hostile:
    mode: str
    huge_bytes: int = HUGE_BYTES
    connections: int = 0                         # accepted so far (a test can check the client came)
    _listener: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _open: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {MODES}")

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Hostile":
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept, name=f"hostile-{self.mode}", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for conn in self._open:
                try:
                    conn.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.mode == "reset":
                # SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif self.mode == "silent":
                self._stop.wait()
            elif self.mode == "drip":
                for byte in itertools.cycle(_DRIP[i:i + 1] for i in range(len(_DRIP))):
                    conn.sendall(byte)
                    if self._stop.wait(1.0):
                        return
            elif self.mode == "huge":
                self._read_request(conn)
                self._send_huge(conn)
            elif self.mode == "redirect":
                for n in itertools.count():
                    if not self._read_request(conn):
                        return
                    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /loop/%d\r\nContent-Length: 0\r\n\r\n" % n)
        except OSError:
            pass                    # the client went away: that is what it should do
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _read_request(self, conn: socket.socket) -> bool:
        """Read up to the end of one request's headers (requests here have no body)."""
        data = b""
        conn.settimeout(1.0)
        while b"\r\n\r\n" not in data and not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return False
            data += chunk
        return not self._stop.is_set()

    def _send_huge(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                     b'{"status":"success","kind":"List","apiVersion":"v1","items":[],'
                     b'"data":{"resultType":"matrix","result":[' + _SERIES)
        block = (b"," + _SERIES) * max(1, 1_048_576 // (len(_SERIES) + 1))
        sent = len(_SERIES)
        while sent < self.huge_bytes and not self._stop.is_set():
            conn.sendall(block)
            sent += len(block)
        conn.sendall(b"]}}")


def wait_for_connection(server: Hostile, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if server.connections:
            return True
        time.sleep(0.02)
    return False
