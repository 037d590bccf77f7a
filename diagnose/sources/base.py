"""What every source shares: the interface it implements, the options it declares, what the user gave.

A source is anything that satisfies `Source` (a `SourceDef` of plain functions is the usual way); the
engine's registry (diagnose/engine/registry.py) lists the built-in ones. The CLI's source options, the
bundle's folders, the evidence by source name and the gather loop all follow from that list.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Generic, Literal, Mapping, Protocol, TypeVar

from ..model.target import RawFiles, Target

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "Option", "OptionKind", "RawFiles", "Source", "SourceDef",
           "SourceOptions", "Target"]

# The largest answer a source reads from a server (--max-response-bytes): a JSON document this size costs
# about 25 times as much once parsed, so a larger one is refused, not held.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024

# How the CLI reads an option: free text, an on/off flag, an existing file, an existing directory.
OptionKind = Literal["text", "flag", "file", "dir"]


@dataclass(frozen=True)
class Option:
    """One command-line option of a source, as data: enough for the CLI to build it (`--<name>`)."""

    name: str                       # "pg-dsn": the option --pg-dsn, read back as SourceOptions.get("pg_dsn")
    help: str
    kind: OptionKind = "text"
    envvar: str | None = None       # read from this variable when the option is not given
    default: str | bool | None = None
    short: str | None = None        # "-n"

    @property
    def key(self) -> str:
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class SourceOptions:
    """The options the user gave: every source's by key in `values`; the built-in ones also as typed fields."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    prometheus_url: str | None = None
    pg_dsn: str | None = None
    thread_dumps: str | None = None
    exec_thread_dumps: bool = False
    timeout: float = 5.0                   # seconds, budget per source
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES   # per answer read from a server
    values: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Mapping[str, object], timeout: float = 5.0,
           max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> SourceOptions:
        """From option key -> value (what click parsed): the typed fields filled where a key names one."""
        typed = {f.name for f in fields(cls)} - {"timeout", "max_response_bytes", "values"}
        given = {k: v for k, v in values.items() if k in typed}
        if "exec_thread_dumps" in given:
            given["exec_thread_dumps"] = bool(given["exec_thread_dumps"])
        return cls(**given, timeout=timeout, max_response_bytes=max_response_bytes,  # type: ignore[arg-type]
                   values=dict(values))

    def get(self, key: str) -> object:
        """An option by key ("pg_dsn"), whether or not it has a typed field; None when not given."""
        if key in self.values:
            return self.values[key]
        return getattr(self, key, None) if key != "values" else None


E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)


class Source(Protocol[E_co]):
    """One kind of evidence: how to collect it live, and how to read it back (live or from a bundle).

    `name` is the source's name everywhere: its folder in a bundle, its entry in the report's sources and
    in a check's `needs`. `feeds` names another source whose evidence this one's files join (read by that
    source's `load`, under `<name>/`); such a source has no evidence or report entry of its own.
    `moved_from` is (source, prefix): where bundles written before this source existed kept its files.
    A source that `gives_logs` (pod-logs) is collected before the incident is known, with a `Target`
    that names only the namespace (`Target.before_incident`); its `*.log` files are scanned with --log's."""

    @property
    def name(self) -> str: ...
    @property
    def options(self) -> tuple[Option, ...]: ...
    @property
    def imports(self) -> tuple[str, ...]: ...   # client libraries imported up front, one thread (gather._preload)
    @property
    def feeds(self) -> str | None: ...
    @property
    def moved_from(self) -> tuple[str, str] | None: ...
    @property
    def gives_logs(self) -> bool: ...   # its `*.log` files are logs: collected before the incident (see gather)

    def skip_reason(self, opts: SourceOptions) -> str | None:
        """None when the source was given; otherwise one line saying why it is skipped ("no --pg-dsn given")."""
        ...

    def collect(self, opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
        """Read-only live collection: the source's files in their native wire format, exactly what a bundle
        keeps under <bundle>/<name>/. Raises diagnose.errors.SourceError with one line. `deadline` is a
        time.monotonic() value: every call made must end by then."""
        ...

    def load(self, files: RawFiles, target: Target) -> E_co:
        """The typed evidence from the files (a live run's or a bundle's alike); raises EvidenceError."""
        ...


@dataclass(frozen=True)
class SourceDef(Generic[E]):
    """A `Source` made of plain functions: a source module's skip_reason and collect, its parser's load."""

    name: str
    options: tuple[Option, ...]
    skip_reason: Callable[[SourceOptions], str | None]
    collect: Callable[[SourceOptions, Target, float], RawFiles]
    load: Callable[[RawFiles, Target], E]
    imports: tuple[str, ...] = ()
    feeds: str | None = None
    moved_from: tuple[str, str] | None = None
    gives_logs: bool = False
