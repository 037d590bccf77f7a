"""The engine's two registries, each validated at registration: the evidence sources and the checks.

Built-in sources and checks go through the same functions a plug-in (or a test) would call:
`register_source` and `register_check`. Everything that depends on which sources exist (the CLI's
source options, the bundle's folders, the evidence by source name, the gather loop, a check's `needs`)
reads `sources()` here, in this order.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Iterable, Mapping

from ..checks import MODULES
from ..model.check import MARK, CheckFunc, CheckSpec
from ..parsers import kubernetes as kube_parser
from ..parsers import pod_logs as pod_logs_parser
from ..parsers import postgres as pg_parser
from ..parsers import prometheus as prom_parser
from ..parsers import thread_dumps as dump_parser
from ..sources import kube_exec, kubernetes, pod_logs, postgres, prometheus, thread_dumps
from ..sources.base import Source, SourceDef

# The evidence the engine makes itself, from the logs: a check may need it, no source may take its name.
LOGS = "logs"
# A source's name is a folder in a bundle and a word in reports: lowercase letters, digits and '-'.
_NAME = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")

# The built-in sources, in the order reports list them.
BUILT_IN_SOURCES: tuple[Source[Any], ...] = (
    SourceDef(kubernetes.NAME, kubernetes.OPTIONS, kubernetes.skip_reason, kubernetes.collect, kube_parser.load,
              imports=kubernetes.IMPORTS),
    SourceDef(prometheus.NAME, prometheus.OPTIONS, prometheus.skip_reason, prometheus.collect, prom_parser.load,
              imports=prometheus.IMPORTS),
    SourceDef(postgres.NAME, postgres.OPTIONS, postgres.skip_reason, postgres.collect, pg_parser.load,
              imports=postgres.IMPORTS),
    SourceDef(thread_dumps.NAME, thread_dumps.OPTIONS, thread_dumps.skip_reason, thread_dumps.collect,
              dump_parser.load),
    # Its files are read with the thread-dumps source's (feeds); on their own they are thread dumps all the same.
    SourceDef(kube_exec.NAME, kube_exec.OPTIONS, kube_exec.skip_reason, kube_exec.collect, dump_parser.load,
              imports=kube_exec.IMPORTS, feeds=kube_exec.FEEDS, moved_from=kube_exec.MOVED_FROM),
    # Gives logs: collected before the incident is known (engine.gather, logs=True), scanned with --log's;
    # listed in a report only when given (--from, -l).
    SourceDef(pod_logs.NAME, pod_logs.OPTIONS, pod_logs.skip_reason, pod_logs.collect, pod_logs_parser.load,
              imports=pod_logs.IMPORTS, gives_logs=True),
)


class RegistryError(Exception):
    """A source or check declared wrongly: a programming error, caught by the tests."""


# ---- sources ----------------------------------------------------------------------------------------------

_sources: dict[str, Source[Any]] = {}


def register_source(source: Source[Any]) -> None:
    """Add a source after the ones already registered. Its name and options must be new."""
    _ensure_built_in()
    _add_source(source)


def unregister_source(name: str) -> None:
    """Remove a source (and nothing else: a check needing it fails validation when registered again)."""
    _ensure_built_in()
    if any(s.feeds == name for s in _sources.values()):
        raise RegistryError(f"source {name!r} is fed by {[s.name for s in _sources.values() if s.feeds == name]}")
    _sources.pop(name, None)


def sources() -> tuple[Source[Any], ...]:
    """Every registered source, in order (those that feed another's evidence included)."""
    _ensure_built_in()
    return tuple(_sources.values())


def evidence_sources() -> tuple[Source[Any], ...]:
    """The sources that have evidence of their own: what checks may need and reports list."""
    return tuple(s for s in sources() if s.feeds is None)


def feeders_of(name: str) -> tuple[Source[Any], ...]:
    """The sources whose files join `name`'s when its evidence is loaded."""
    return tuple(s for s in sources() if s.feeds == name)


def _ensure_built_in() -> None:
    if not _sources:
        for s in BUILT_IN_SOURCES:
            _add_source(s)


def _add_source(source: Source[Any]) -> None:
    name = source.name
    if not _NAME.fullmatch(name) or name == LOGS:
        raise RegistryError(f"source name {name!r}: lowercase letters, digits and '-', not {LOGS!r}")
    if name in _sources:
        raise RegistryError(f"source {name!r} is registered twice")
    taken = {o.name: s.name for s in _sources.values() for o in s.options}
    for o in source.options:
        if o.name in taken:
            raise RegistryError(f"source {name!r}: option --{o.name} is already source {taken[o.name]!r}'s")
    if source.feeds is not None and (source.feeds not in _sources or _sources[source.feeds].feeds is not None):
        raise RegistryError(f"source {name!r} feeds {source.feeds!r}, which is not a source with evidence of its own")
    _sources[name] = source


# ---- checks -----------------------------------------------------------------------------------------------

_checks: dict[str, CheckSpec] = {}


def collect(modules: Iterable[str]) -> dict[str, CheckSpec]:
    """The `@check` functions of these modules, validated."""
    specs: dict[str, CheckSpec] = {}
    for name in modules:
        module = importlib.import_module(name)
        for value in vars(module).values():
            spec = getattr(value, MARK, None)
            if isinstance(spec, CheckSpec):
                _validate(spec, specs, name)
                specs[spec.id] = spec
    return specs


def checks() -> Mapping[str, CheckSpec]:
    if not _checks:
        _checks.update(collect(MODULES))
    return _checks


def register_check(func: CheckFunc) -> CheckSpec:
    """Add a function marked with `@check` (diagnose.model.check) to the built-in ones."""
    spec = getattr(func, MARK, None)
    if not isinstance(spec, CheckSpec):
        raise RegistryError(f"{getattr(func, '__name__', func)!r} is not marked with @check")
    _validate(spec, checks(), getattr(func, "__module__", "?"))
    _checks[spec.id] = spec
    return spec


def unregister_check(check_id: str) -> None:
    checks()
    _checks.pop(check_id, None)


def _validate(spec: CheckSpec, specs: Mapping[str, CheckSpec], where: str) -> None:
    if spec.id in specs and specs[spec.id].func is not spec.func:
        raise RegistryError(f"check id {spec.id!r} is declared twice ({where})")
    unknown = set(spec.needs) - {LOGS, *(s.name for s in evidence_sources())}
    if unknown:
        raise RegistryError(f"check {spec.id!r} needs unknown sources {sorted(unknown)}")
