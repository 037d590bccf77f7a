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
    from .gather import Gathered, Progress

__all__ = ["demo_bundle", "gather", "gather_logs", "open_bundle", "pick_target",
           "remove_private_files", "resolve_upstream", "scan_logs", "explain_logs", "source_options", "write_bundle"]


KEEP_LINES = 10_000      # the raw lines run and collect keep per incident, for the bundle


def scan_logs(paths: Sequence[str], *, keep_lines: int = 0, stdin: BinaryIO | None = None,
              streams: Mapping[str, bytes] | None = None, log_format: str | None = None) -> LogScan:
    """`diagnose logs`, and the first step of run and collect: the incidents in the logs. `log_format`: a
    --log-format mapping file (logs/custom_format.py), validated first (InputError naming file and line)."""
    from ..logs.scan import scan

    custom = None
    if log_format:
        from ..logs.custom_format import load

        custom = load(log_format)
    return scan(list(paths), keep_lines=keep_lines, stdin=stdin, streams=streams, custom=custom)


def explain_logs(path: str, *, lines: int = 10, log_format: str | None = None) -> list[dict[str, Any]]:
    """`diagnose logs --explain PATH`: how the first lines and the first candidate lines are read."""
    from ..logs.explain import explain

    custom = None
    if log_format:
        from ..logs.custom_format import load

        custom = load(log_format)
    return explain(path, lines, custom)


def source_options(opts: Mapping[str, Any]) -> SourceOptions:
    """What click parsed (option key -> value) as the sources' options: every registered source's, the
    budget per source (`timeout`) and the largest answer read (`max_response_bytes`)."""
    from ..sources.base import DEFAULT_MAX_RESPONSE_BYTES, SourceOptions
    from .registry import sources

    values = {o.key: opts.get(o.key) for s in sources() for o in s.options}
    return SourceOptions.of(values, timeout=float(opts["timeout"]),
                            max_response_bytes=int(opts.get("max_response_bytes") or DEFAULT_MAX_RESPONSE_BYTES))


def gather_logs(opts: Mapping[str, Any], progress: Progress | None = None) -> dict[str, Gathered]:
    """run and collect, first: the sources that give logs (pod-logs: --from, -l), gathered before the
    incident is known (skipped when not asked for)."""
    from ..model.target import Target
    from .gather import gather as gather_sources

    source_opts = source_options(opts)
    return gather_sources(source_opts, Target.before_incident(source_opts.namespace), progress, logs=True)


def pick_target(logs: Sequence[str], opts: Mapping[str, Any], early: Mapping[str, Gathered] | None = None,
                stdin: BinaryIO | None = None) -> tuple[Target, LogScan]:
    """run and collect, then: the incident to diagnose, from the logs given (`--log`; "-" is `stdin`) and
    those the log sources gave (`early`), picked by the `service` and `upstream` options; NoIncidentError
    when none matches."""
    from ..errors import NoIncidentError
    from ..model.incident import Window
    from ..model.signals import names
    from ..model.target import Target
    from ..model.text import first_of

    # The logs the sources gave (pod-logs/<pod>/<container>.log), scanned after --log's, as files are.
    streams = {f"{name}/{rel}": data for name, g in (early or {}).items() if g.status.status == "ok"
               for rel, data in sorted(g.files.items()) if rel.endswith(".log")}
    inputs = [*logs, *streams]
    result = scan_logs(inputs, keep_lines=KEEP_LINES, stdin=stdin, streams=streams, log_format=opts.get("log_format"))
    incidents = [i for i in result.incidents if _picked(i.service, opts.get("service"))
                 and _picked(i.upstream, opts.get("upstream"))]
    if not incidents:      # (scan itself raises InputError when no line at all was usable)
        asked = [f"--{k} {opts[k]!r}" for k in ("service", "upstream") if opts.get(k)]
        wanted = f" matching {' '.join(asked)}" if asked else ""
        found = first_of([f"{i.service} -> {i.upstream} ({i.events} events)" for i in result.incidents], 10, sep="; ")
        candidates = f"; incidents found: {found}" if found else ""
        shown = first_of(inputs, 5)
        raise NoIncidentError(f"no {names()}{wanted} found in "
                              f"{shown} ({result.lines} lines read, {result.skipped} skipped)"
                              f"{candidates}")
    # An exact name (any case) wins over names that only contain it; then the most events.
    exact = [i for i in incidents if all((opts.get(k) or "").lower() in ("", getattr(i, k).lower())
                                         for k in ("service", "upstream"))]
    incident = (exact or incidents)[0]
    target = Target(incident=incident, window=Window.around(incident),
                    namespace=opts.get("namespace") or incident.namespace)
    return target, result


def _picked(name: str, wanted: str | None) -> bool:
    """--service/--upstream pick an incident by a case-insensitive part of its name ("AUTH")."""
    return not wanted or wanted.lower() in name.lower()


def resolve_upstream(target: Target, opts: Mapping[str, Any], progress: Progress | None = None,
                     scan: LogScan | None = None) -> tuple[Target, dict[str, Gathered]]:
    """run and collect, before `gather`: an upstream the logs named by address (10.0.3.17:8080) named from the
    cluster (the Service, else the workload), so that every source queries the name; with the lookup's
    answers, kept in the bundle. Nothing to do when the upstream is a name or no cluster is given. With the
    `scan`, the caller's other addresses of the same Service join the incident (engine/address.py)."""
    from .address import resolve

    return resolve(target, source_options(opts), progress, scan)


def gather(target: Target, opts: Mapping[str, Any], progress: Progress | None = None) -> dict[str, Gathered]:
    """run and collect, last: every other source, for the incident picked."""
    from .gather import gather as gather_sources

    return gather_sources(source_options(opts), target, progress)


def write_bundle(out: str, target: Target, gathered: Mapping[str, Gathered], logs: LogScan) -> str:
    """`collect` and `run --bundle-out`: the target, every source's status and files, the incident's lines."""
    from ..bundle import store

    # The lines under the name found (several addresses folded into it), else as logged.
    kept = logs.kept_for(target.incident) or logs.kept_for(target.incident.as_logged())
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
