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
from typing import Callable, Mapping

from ..errors import DiagnoseError
from ..model.evidence import LIVE_SOURCE_NAMES, SourceStatus
from ..sources.base import RawFiles, SourceOptions, Target

# source name -> module name in diagnose.sources and diagnose.parsers
LIVE_SOURCES: Mapping[str, str] = {name: name.replace("-", "_") for name in LIVE_SOURCE_NAMES}

Progress = Callable[[str, SourceStatus | None], None]   # (source, None) when it starts, status when done


@dataclass(frozen=True)
class Gathered:
    status: SourceStatus
    files: RawFiles


def source_module(name: str):  # noqa: ANN201 - a module
    module = importlib.import_module(f"diagnose.sources.{LIVE_SOURCES[name]}")
    if module.NAME != name:
        raise RuntimeError(f"diagnose.sources.{LIVE_SOURCES[name]} calls itself {module.NAME!r}, not {name!r}")
    return module


def gather(opts: SourceOptions, target: Target, progress: Progress | None = None) -> dict[str, Gathered]:
    out: dict[str, Gathered] = {}
    running: dict[str, tuple[threading.Thread, dict[str, object], float]] = {}
    lock = threading.Lock()

    # The budget starts now: importing a client library is part of what a source costs, so that the
    # run as a whole ends within --timeout of here, whatever the sources do.
    started = time.monotonic()
    deadline = started + opts.timeout
    given = {}
    for name in LIVE_SOURCES:
        module = source_module(name)
        reason = module.skip_reason(opts)
        if reason:
            out[name] = Gathered(SourceStatus(name, "skipped", reason), {})
        else:
            given[name] = module
    _preload(given.values())

    for name, module in given.items():
        box: dict[str, object] = {}

        def work(module=module, box=box, deadline=deadline) -> None:  # type: ignore[no-untyped-def]
            try:
                result: object = module.collect(opts, target, deadline)
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
    return {name: out[name] for name in LIVE_SOURCES}


def _preload(modules: object) -> None:
    """Import the sources' client libraries in this thread, one after another, before any source
    starts. Two threads importing `requests` at once can see it half-initialised (ImportError from
    requests.utils); under the GIL the imports cost the same either way."""
    for module in modules:  # type: ignore[attr-defined]
        for name in getattr(module, "IMPORTS", ()):
            try:
                importlib.import_module(name)
            except ImportError:
                pass        # the source reports a missing library itself, as its own error


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500] or "failed"
