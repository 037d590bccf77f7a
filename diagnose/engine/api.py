"""What a command does between parsing its arguments and rendering its output.

cli.py parses arguments, calls these and hands what they return to render/: it imports no layer below
the engine (docs/architecture.md, tests/test_layers.py). Each function here composes the layers for one
step of a command: scan logs, gather the sources, write or open a bundle, clean up private files. Each
imports what it uses when called, so `diagnose --help` (and the clean-up on every exit) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO, Mapping, Sequence

if TYPE_CHECKING:
    from pathlib import Path

    from ..model.logscan import LogScan
    from ..model.target import Target
    from ..sources.base import SourceOptions
    from .gather import Gathered

__all__ = ["SourceOptions", "demo_bundle", "open_bundle", "remove_private_files", "scan_logs",
           "source_options", "write_bundle"]


def scan_logs(paths: Sequence[str], *, keep_lines: int = 0, stdin: BinaryIO | None = None,
              streams: Mapping[str, bytes] | None = None) -> LogScan:
    """`diagnose logs`, and the first step of run and collect: the incidents in the logs."""
    from ..logs.scan import scan

    return scan(list(paths), keep_lines=keep_lines, stdin=stdin, streams=streams)


def source_options(opts: Mapping[str, Any]) -> SourceOptions:
    """What click parsed (option key -> value) as the sources' options: every registered source's, the
    budget per source (`timeout`) and the largest answer read (`max_response_bytes`)."""
    from ..sources.base import DEFAULT_MAX_RESPONSE_BYTES, SourceOptions
    from .registry import sources

    values = {o.key: opts.get(o.key) for s in sources() for o in s.options}
    return SourceOptions.of(values, timeout=float(opts["timeout"]),
                            max_response_bytes=int(opts.get("max_response_bytes") or DEFAULT_MAX_RESPONSE_BYTES))


def write_bundle(out: str, target: Target, gathered: Mapping[str, Gathered], logs: LogScan) -> str:
    """`collect` and `run --bundle-out`: the target, every source's status and files, the incident's lines."""
    from ..bundle import store

    kept = logs.kept_for(target.incident)
    lines = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in kept)
    path = store.write(out, incident=target.incident, window=target.window, namespace=target.namespace,
                       sources={n: g.status for n, g in gathered.items()},
                       files={n: g.files for n, g in gathered.items()}, log_lines=lines,
                       log_info={"lines": logs.lines, "skipped": logs.skipped, "kept": len(kept),
                                 "truncated": len(kept) < target.incident.events})
    return str(path)


def open_bundle(path: str) -> tuple[Target, dict[str, Gathered]]:
    """`analyze`: a bundle's target and its sources, as if just gathered."""
    from ..bundle import store
    from .diagnose import from_bundle

    return from_bundle(store.read(path))


def demo_bundle() -> Path:
    """`demo`: the example incident's bundle, shipped with the package."""
    from ..bundle import fixtures

    return fixtures.demo_bundle()


def remove_private_files(*, final: bool = False) -> None:
    """Every exit: the private files a source still running keeps on disk (a client key) removed."""
    from ..sources import private_tmp

    private_tmp.remove_all(final=final)
