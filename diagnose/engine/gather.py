"""Query every live source at once, each within its own budget; a dead source costs its timeout only.

Each source runs in a daemon thread: a source that overruns is reported as `error` when its budget is
spent, and the process does not wait for it on exit (the sources also pass the deadline on to every
network call they make, so in practice they end by themselves).
"""

from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import DiagnoseError
from ..model.evidence import SourceStatus
from ..model.target import RawFiles, Target
from ..model.text import single_line
from ..sources.base import Source, SourceOptions
from .registry import sources as registered_sources

Progress = Callable[[str, SourceStatus | None], None]   # (source, None) when it starts, status when done


@dataclass(frozen=True)
class Gathered:
    status: SourceStatus
    files: RawFiles


def gather(opts: SourceOptions, target: Target, progress: Progress | None = None,
           logs: bool = False) -> dict[str, Gathered]:
    """Every registered source, in the registry's order: skipped, or collected on a thread of its own.
    `logs`: the sources that give logs instead (pod-logs), collected for `Target.before_incident`."""
    out: dict[str, Gathered] = {}
    running: dict[str, tuple[threading.Thread, dict[str, object], float]] = {}
    lock = threading.Lock()
    everyone = tuple(s for s in registered_sources() if bool(getattr(s, "gives_logs", False)) == logs)

    # The budget starts now: importing a client library is part of what a source costs, so that the
    # run as a whole ends within --timeout of here, whatever the sources do.
    started = time.monotonic()
    deadline = started + opts.timeout
    given: dict[str, Source[Any]] = {}
    for source in everyone:
        reason = source.skip_reason(opts)
        if reason:
            out[source.name] = Gathered(SourceStatus(source.name, "skipped", reason), {})
        else:
            given[source.name] = source
    _preload(given.values())

    for name, source in given.items():
        box: dict[str, object] = {}

        def work(source: Source[Any] = source, box: dict[str, object] = box, deadline: float = deadline) -> None:
            try:
                result: object = source.collect(opts, target, deadline)
            except DiagnoseError as e:
                result = e
            except Exception as e:  # noqa: BLE001 - a source bug must not end the diagnosis
                result = DiagnoseError(f"{e.__class__.__name__}: {e}")
            with lock:
                box["result"] = result
                box["ended"] = time.monotonic()     # the source's own time, not when it was joined

        thread = threading.Thread(target=work, name=f"source-{name}", daemon=True)
        running[name] = (thread, box, started)
        if progress:
            progress(name, None)
        thread.start()

    for name, (thread, box, started) in running.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        with lock:
            result = box.get("result")
            ended = box.get("ended")
        elapsed = int(((ended if isinstance(ended, float) else time.monotonic()) - started) * 1000)
        if result is None:
            status = SourceStatus(name, "error", f"no answer within {opts.timeout:g} s", elapsed)
            files: RawFiles = {}
        elif isinstance(result, Exception):
            status, files = SourceStatus(name, "error", _one_line(str(result)), elapsed), {}
        else:
            status, files = SourceStatus(name, "ok", None, elapsed), dict(result)  # type: ignore[call-overload]
        out[name] = Gathered(status, files)
        if progress:
            progress(name, status)
    return {s.name: out[s.name] for s in everyone}


def _preload(sources: Iterable[Source[Any]]) -> None:
    """Import the sources' client libraries in this thread, one after another, before any source
    starts. Two threads importing `requests` at once can see it half-initialised (ImportError from
    requests.utils); under the GIL the imports cost the same either way."""
    for source in sources:
        for name in source.imports:
            try:
                importlib.import_module(name)
            except ImportError:
                pass        # the source reports a missing library itself, as its own error


def _one_line(text: str) -> str:
    return single_line(text, 500) or "failed"
