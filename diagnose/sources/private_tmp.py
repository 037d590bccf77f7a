"""Private temporary directories for files a client library must have on disk, removed on every exit path.

The kubernetes client writes a kubeconfig's inline `client-key-data`, `client-certificate-data` and
`certificate-authority-data` to files made by `tempfile.mkstemp` (kube_config._create_temp_file_with_content),
and removes them only in an atexit hook, which a SIGTERM never reaches. So the source hands the client a
directory of its own (`temp_file_path`): made by mkdtemp (mode 0700, under TMPDIR), removed when the source
ends, and removed by the CLI on any exit (`remove_all` in main's `finally`, after SIGINT and SIGTERM too),
because a source still running at exit is a daemon thread that never reaches its own `finally`. An atexit
hook removes what a source made after that, and refuses new directories from then on.

The client re-creates a missing directory (os.makedirs) before it writes. A directory is therefore written
into only under `writing(path)`: removal waits for a write under way (bounded: a kubeconfig exec plugin may
be slow), and a removed directory is never handed out again.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

from ..errors import SourceError

# How long `remove_all` waits for a kubeconfig being loaded (its files being written) before removing anyway.
WAIT_FOR_WRITER_S = 2.0

_lock = threading.Lock()
_dirs: set[str] = set()
_closed = False


@contextmanager
def private_dir(prefix: str = "diagnose-") -> Iterator[str]:
    """A new directory only this user can enter, for the duration of the with block."""
    with _lock:
        if _closed:
            raise SourceError("not started: diagnose is exiting")
        path = tempfile.mkdtemp(prefix=prefix)      # mode 0700, whatever the umask
        _dirs.add(path)
    try:
        yield path
    finally:
        with _lock:
            _remove(path)


@contextmanager
def writing(path: str) -> Iterator[None]:
    """Hold while a library may write into `path`: removal waits for it, and a removed directory is never
    written into again (SourceError instead)."""
    with _lock:
        if path not in _dirs:
            raise SourceError("not started: diagnose is exiting")
        yield


def remove_all(*, final: bool = False) -> None:
    """Remove every private directory still there (a source still running finds its own gone and stops
    with a SourceError). `final`: the interpreter is ending, no new directory is made after this."""
    global _closed
    held = _lock.acquire(timeout=WAIT_FOR_WRITER_S)
    try:
        _closed = _closed or final
        for path in list(_dirs):
            _remove(path)
    finally:
        if held:
            _lock.release()


def _remove(path: str) -> None:
    _dirs.discard(path)
    shutil.rmtree(path, ignore_errors=True)


# Not in main() alone: a command run in-process (tests) returns to a process that goes on collecting.
atexit.register(remove_all, final=True)
