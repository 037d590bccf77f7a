"""Runbooks are data (runbooks/*.yaml), validated when loaded: an error names file, line and field.

A runbook says which log signal it answers, the causes in the order a person would work through them
(each with its prior, the checks that speak to it, and fix templates), how causes explain one another,
the verdict thresholds, and the params (thresholds, weights) of every check it uses.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import RunbookError
from ..model.check import CheckSpec, Param
from ..safe_yaml import read_bounded, refuse_bombs
from .registry import checks as registered_checks

# Facts the engine gives every fix template, from the incident (engine.diagnose.base_facts).
# Facts every fix may use (engine.diagnose.base_facts): the incident's, and the upstream's Deployment and
# pod selector, and a pod of the caller's to run a command in, when the Kubernetes source found them.
BASE_FACTS = ("service", "caller", "upstream", "namespace", "caller_timeout_ms", "caller_timeout",
              "upstream_deployment", "pod_selector", "caller_pod", "caller_container", "caller_namespace",
              "upstream_pod", "upstream_jvm_container", "upstream_port")

# The catalogue every report ranks (contract section 1). The check is data: a runbook names the causes it
# must rank under `requires_causes:` (every shipped runbook names these six, a test holds them so; a runbook
# of another signal adds its own and borrows these with `from:`).
CATALOGUE = ("overload", "network", "gc-pause", "database", "mesh-timeout", "deadlock")

# Numbers of the ranking itself (docs/ranking.md), set per runbook under `ranking:`.
RANKING = {
    "stale_discount": 0.5,      # weight kept by evidence older than the incident window
    "blip_events": 10,          # at most this many timeouts ...
    "blip_seconds": 120,        # ... within this long: a blip
    "budget_tolerance": 0.02,   # durations within this share of the caller's timeout_ms end at its own budget
}


@dataclass(frozen=True)
class FixTemplate:
    summary: str
    commands: tuple[str, ...]
    why: str
    fallback: bool = False      # shown only when no other fix of the cause could name its objects

    def placeholders(self) -> set[str]:
        names: set[str] = set()
        for text in (self.summary, *self.commands):
            names.update(n for _, n, _, _ in string.Formatter().parse(text) if n)
        return names


@dataclass(frozen=True)
class Step:
    cause: str
    title: str
    prior: float
    checks: tuple[str, ...]
    fixes: tuple[FixTemplate, ...]
    diagnosis: str = ""
    confirm: str = ""           # what would confirm the cause, shown when it is only `possible`


@dataclass(frozen=True)
class Relation:
    """`cause` can produce `effect`'s symptoms of the given `kinds` (the findings' `kind`): when cause's
    signals start first, or together with them and a finding of cause measured the mechanism, those
    findings of effect are discounted (docs/ranking.md). Empty `kinds` (code only; a runbook must name
    them): every finding of effect."""

    cause: str
    effect: str
    discount: float
    kinds: tuple[str, ...] = ()
    by: tuple[str, ...] = ()    # the kinds of cause's findings that carry the mechanism; empty: all of them


@dataclass(frozen=True)
class Runbook:
    name: str
    title: str
    path: str
    signals: tuple[str, ...]
    steps: tuple[Step, ...]
    relations: tuple[Relation, ...] = ()
    verdicts: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Param]] = field(default_factory=dict)   # check id -> params
    requires_causes: tuple[str, ...] = ()      # causes the runbook must rank (its signal's catalogue)
    ranking: Mapping[str, float] = field(default_factory=lambda: dict(RANKING))

    def check_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for step in self.steps:
            seen.update((c, None) for c in step.checks)
        return list(seen)

    def params_for(self, spec: CheckSpec) -> dict[str, Param]:
        return {**spec.params, **self.params.get(spec.id, {})}


def runbook_dirs() -> list[Path]:
    """DIAGNOSE_RUNBOOKS (colon-separated) first, then the runbooks shipped with the package."""
    dirs = [Path(p) for p in os.environ.get("DIAGNOSE_RUNBOOKS", "").split(os.pathsep) if p]
    repo = Path(__file__).resolve().parents[2] / "runbooks"
    # A checkout reads runbooks/ at its top; an installed package, the copy shipped in the wheel.
    dirs.append(repo if repo.is_dir() else Path(__file__).resolve().parents[1] / "_runbooks")
    return dirs


def runbook_files(dirs: list[Path] | None = None) -> list[Path]:
    found: dict[str, Path] = {}
    for d in dirs or runbook_dirs():
        for p in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
            found.setdefault(p.stem, p)
    return list(found.values())


def load_all(dirs: list[Path] | None = None) -> list[Runbook]:
    return [load(p) for p in runbook_files(dirs)]


def find(name: str) -> Runbook:
    for p in runbook_files():
        if p.stem == name:
            return load(p)
    names = ", ".join(p.stem for p in runbook_files()) or "none"
    raise RunbookError(f"no runbook named {name!r} (have: {names})")


def for_signal(signal: str) -> Runbook:
    """The first runbook (DIAGNOSE_RUNBOOKS first, then the shipped ones) whose `match: signals:` names it."""
    books = load_all()
    for rb in books:
        if signal in rb.signals:
            return rb
    answered = ", ".join(sorted({s for rb in books for s in rb.signals})) or "none"
    raise RunbookError(f"no runbook matches the log signal {signal!r} (runbooks answer: {answered})")


# --- loading with line numbers -------------------------------------------------------------------


def _refuse_bombs(text: str, path: str) -> None:
    """Anchors, aliases and nesting past MAX_DEPTH are refused before anything is built (safe_yaml.py)."""
    refuse_bombs(text, path, RunbookError, "a runbook", MAX_DEPTH)


class _Doc:
    """A YAML document as plain values plus the line of every key path, for precise errors."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines: dict[tuple[Any, ...], int] = {}
        self._loader = yaml.SafeLoader("")      # only its scalar constructors are used
        try:
            _refuse_bombs(text, path)
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            line = mark.line + 1 if mark else None
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise RunbookError(f"not valid YAML: {problem}", path=path, line=line) from None
        if node is None:
            raise RunbookError("the file is empty", path=path)
        self.value = self._convert(node, ())

    def _convert(self, node: yaml.Node, at: tuple[Any, ...]) -> Any:
        self.lines[at] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for k, v in node.value:
                if not isinstance(k, yaml.ScalarNode):
                    raise RunbookError("keys must be plain names", path=self.path, line=k.start_mark.line + 1)
                key = k.value
                self.lines[at + (key,)] = k.start_mark.line + 1
                out[key] = self._convert(v, at + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(v, at + (i,)) for i, v in enumerate(node.value)]
        try:
            return self._loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as e:   # ValueError: int() of a 5000-digit scalar (tests/fuzz)
            raise RunbookError(f"bad value: {e}", path=self.path, line=self.lines[at]) from None

    def fail(self, at: tuple[Any, ...], message: str) -> RunbookError:
        line = None
        probe = at
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe)
        fieldname = ".".join(str(p) for p in at) or None
        return RunbookError(message, path=self.path, line=line, field=fieldname)


# A runbook is a few KiB a few levels deep. The caps are far above that and far below what hurts: a file
# is read only up to MAX_RUNBOOK_BYTES, and MAX_DEPTH nesting levels (PyYAML composes recursively: 50k
# levels are a RecursionError, not a runbook).
MAX_RUNBOOK_BYTES = 1 << 20
MAX_DEPTH = 64


def load(path: Path | str) -> Runbook:
    p = Path(path)
    return parse(_read(p), str(p), registered_checks())


def _read(p: Path) -> str:
    return read_bounded(p, MAX_RUNBOOK_BYTES, RunbookError, "a runbook")


def parse(text: str, path: str, specs: Mapping[str, CheckSpec]) -> Runbook:
    doc = _Doc(path, text)
    root = doc.value
    if not isinstance(root, dict):
        raise doc.fail((), "a runbook is a mapping (name, match, steps, ...)")

    def need(at: tuple[Any, ...], kind: type | tuple[type, ...], what: str) -> Any:
        cur: Any = root
        for k in at:
            if not isinstance(cur, (dict, list)) or (isinstance(cur, dict) and k not in cur):
                raise doc.fail(at, f"missing ({what})")
            cur = cur[k]
        if not isinstance(cur, kind) or isinstance(cur, bool) and bool not in _tuple(kind):
            raise doc.fail(at, f"must be {what}, not {type(cur).__name__}")
        return cur

    _only(doc, (), root, {"name", "title", "description", "match", "steps", "relations", "verdicts", "checks",
                          "ranking", "requires_causes"})
    name = need(("name",), str, "a string")
    title = root.get("title", name)
    match = need(("match",), dict, "a mapping with signals")
    _only(doc, ("match",), match, {"signals"})
    signals = need(("match", "signals"), list, "a list of log signals")
    for i, _s in enumerate(signals):
        need(("match", "signals", i), str, "a string")

    steps: list[Step] = []
    lenders: dict[Path, None] = {}          # the runbooks steps were borrowed from, in order
    for i, raw in enumerate(need(("steps",), list, "a list of causes")):
        at = ("steps", i)
        need(at, dict, "a mapping")
        if "from" in raw:
            raw, lender = _borrowed(doc, at, raw, need(at + ("from",), str, "a runbook name"), Path(path).parent)
            lenders[lender] = None
            root["steps"][i] = raw          # need() reads by path from the document
        _only(doc, at, raw, {"cause", "title", "prior", "checks", "fixes", "diagnosis", "confirm"})
        cause = need(at + ("cause",), str, "a cause id")
        if any(s.cause == cause for s in steps):
            raise doc.fail(at + ("cause",), f"cause {cause!r} appears twice")
        prior = need(at + ("prior",), (int, float), "a number in (0, 1)")
        if not 0 < prior < 1:
            raise doc.fail(at + ("prior",), f"prior must be in (0, 1), not {prior}")
        check_ids = need(at + ("checks",), list, "a list of check ids")
        for j, cid in enumerate(check_ids):
            need(at + ("checks", j), str, "a check id")
            if cid not in specs:
                raise doc.fail(at + ("checks", j), f"unknown check {cid!r} (known: {', '.join(sorted(specs))})")
            if cause not in specs[cid].causes:
                raise doc.fail(at + ("checks", j), f"check {cid!r} does not speak to {cause!r} "
                                                  f"(it covers {', '.join(specs[cid].causes)})")
        fixes = []
        # need(): a number or true here is a one-line error, not a TypeError out of enumerate (tests/fuzz)
        for j, fx in enumerate(need(at + ("fixes",), list, "a list of fixes") if raw.get("fixes") is not None else []):
            fat = at + ("fixes", j)
            need(fat, dict, "a mapping")
            _only(doc, fat, fx, {"summary", "commands", "why", "fallback"})
            commands = need(fat + ("commands",), list, "a list of commands")
            for k, _c in enumerate(commands):
                need(fat + ("commands", k), str, "a string")
            fix = FixTemplate(summary=need(fat + ("summary",), str, "a string"), commands=tuple(commands),
                              why=need(fat + ("why",), str, "a string"),
                              fallback=need(fat + ("fallback",), bool, "true or false") if "fallback" in fx
                              else False)
            try:
                fix.placeholders()
            except ValueError as e:
                raise doc.fail(fat, f"bad template: {e}") from None
            # A placeholder that no check of this cause can set would silently hide the fix forever.
            known = set(BASE_FACTS).union(*(specs[c].facts for c in check_ids))
            unknown = sorted(fix.placeholders() - known)
            if unknown:
                raise doc.fail(fat, f"{{{unknown[0]}}} is set by none of this cause's checks "
                                    f"({', '.join(check_ids)}) nor by the incident")
            _check_commands(doc, fat, fix)
            fixes.append(fix)
        if "confirm" in raw:
            try:
                FixTemplate(need(at + ("confirm",), str, "a string"), (), "").placeholders()
            except ValueError as e:
                raise doc.fail(at + ("confirm",), f"bad template: {e}") from None
        steps.append(Step(cause=cause, title=need(at + ("title",), str, "a string"), prior=float(prior),
                          checks=tuple(check_ids), fixes=tuple(fixes), diagnosis=str(raw.get("diagnosis", "")),
                          confirm=need(at + ("confirm",), str, "a string") if "confirm" in raw else ""))

    causes = [s.cause for s in steps]
    required = need(("requires_causes",), list, "a list of cause ids") if "requires_causes" in root else []
    for i, _c in enumerate(required):
        need(("requires_causes", i), str, "a cause id")
    missing = [c for c in required if c not in causes]
    if missing:
        raise doc.fail(("steps",), f"the runbook must rank every cause it requires (requires_causes: its "
                                   f"signal's catalogue); missing {', '.join(missing)}")

    relations = []
    for i, rel in enumerate(need(("relations",), list, "a list of relations")
                            if root.get("relations") is not None else []):
        at = ("relations", i)
        need(at, dict, "a mapping")
        _only(doc, at, rel, {"cause", "explains", "discount", "kinds", "by"})
        for key in ("cause", "explains"):
            if need(at + (key,), str, "a cause id") not in causes:
                raise doc.fail(at + (key,), f"{rel[key]!r} is not a cause of this runbook")
        discount = need(at + ("discount",), (int, float), "a number in [0, 1]")
        if not 0 <= discount <= 1:
            raise doc.fail(at + ("discount",), "discount must be in [0, 1]")
        # Which evidence of the effect the cause can produce: a relation by onset order alone would discount
        # symptoms the cause cannot make (a traffic surge read as an effect of a database lock).
        kinds = need(at + ("kinds",), list, "a list of finding kinds (cpu, throttling, pool-wait, ...)")
        if not kinds:
            raise doc.fail(at + ("kinds",), "name at least one kind of the effect's evidence the cause produces")
        for j in range(len(kinds)):
            need(at + ("kinds", j), str, "a finding kind")
        by = need(at + ("by",), list, "a list of the cause's finding kinds") if "by" in rel else []
        for j in range(len(by)):
            need(at + ("by", j), str, "a finding kind")
        relations.append(Relation(rel["cause"], rel["explains"], float(discount), tuple(kinds), tuple(by)))

    verdicts = {"likely": 0.7, "possible": 0.4, "unlikely": 0.15}
    if "verdicts" in root:
        raw_v = need(("verdicts",), dict, "a mapping of likely/possible/unlikely thresholds")
        _only(doc, ("verdicts",), raw_v, set(verdicts))
        for k in raw_v:
            value = need(("verdicts", k), (int, float), "a number in (0, 1)")
            if abs(value) > 1e300:       # float() of a 400-digit integer raises OverflowError (tests/fuzz)
                raise doc.fail(("verdicts", k), "must be a number in (0, 1), not an integer of that size")
            verdicts[k] = float(value)
        if not verdicts["likely"] > verdicts["possible"] > verdicts["unlikely"] > 0:
            raise doc.fail(("verdicts",), "thresholds must fall: likely > possible > unlikely > 0")

    params: dict[str, dict[str, Param]] = {}
    used = {c for s in steps for c in s.checks}
    raw_params = need(("checks",), dict, "a mapping of check id to params") if "checks" in root else {}
    for cid, values in raw_params.items():
        at = ("checks", cid)
        if cid not in specs:
            raise doc.fail(at, f"params for unknown check {cid!r}")
        if cid not in used:
            raise doc.fail(at, f"params for check {cid!r}, which no step uses")
        need(at, dict, "a mapping of params")
        declared = specs[cid].params
        for pname, value in values.items():
            if pname not in declared:
                raise doc.fail(at + (pname,), f"check {cid!r} has no param {pname!r} "
                                              f"(it has: {', '.join(sorted(declared)) or 'none'})")
            want = type(declared[pname])
            ok = isinstance(value, want) and not (isinstance(value, bool) and want is not bool)
            if want is float and isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1e300:
                ok, value = True, float(value)      # (a 400-digit integer is refused: float() would overflow)
            if not ok:
                raise doc.fail(at + (pname,), f"must be {want.__name__}, not {type(value).__name__}")
            params.setdefault(cid, {})[pname] = value

    # A borrowed cause comes with what its runbook says of it: the params of its checks (thresholds and
    # weights tuned there) and the relations between causes both runbooks rank. What this runbook says
    # itself wins; a relation it declares between the same two causes replaces the lender's.
    for lender in lenders:
        other = load(lender)
        for cid in used:
            if other.params.get(cid):
                params[cid] = {**other.params[cid], **params.get(cid, {})}
        pairs = {(r.cause, r.effect) for r in relations}
        relations += [r for r in other.relations if r.cause in causes and r.effect in causes
                      and (r.cause, r.effect) not in pairs]

    return Runbook(name=name, title=str(title), path=path, signals=tuple(signals), steps=tuple(steps),
                   relations=tuple(relations), verdicts=verdicts, params=params, ranking=_ranking(doc, root),
                   requires_causes=tuple(required))


def _borrowed(doc: _Doc, at: tuple[Any, ...], raw: dict[str, Any], name: str, beside: Path,
              ) -> tuple[dict[str, Any], Path]:
    """A step written `{from: upstream-timeout, cause: overload, prior: 0.25}`: that runbook's step for the
    cause (title, checks, fixes, ...), with the keys given here in its place. One cause is written once, in
    one runbook, and every runbook that ranks it says only what differs (its prior, say): the contract's
    catalogue causes are ranked in every report without a second copy of their fixes. Returns the step
    and the runbook it came from (whose check params and relations `load` carries over)."""
    cause = raw.get("cause")
    if not isinstance(cause, str):
        raise doc.fail(at + ("cause",), "missing (a cause id to take from the other runbook)")
    source = next((p for d in (beside, *runbook_dirs()) for p in (d / f"{name}.yaml", d / f"{name}.yml")
                   if p.is_file()), None)
    if source is None or source.resolve() == Path(doc.path).resolve():
        raise doc.fail(at + ("from",), f"no other runbook named {name!r} to take {cause!r} from")
    try:
        other = _Doc(str(source), _read(source)).value
    except RunbookError as e:
        raise doc.fail(at + ("from",), f"cannot read runbook {name!r}: {e}") from None
    steps = other.get("steps") if isinstance(other, dict) else None
    found = next((s for s in steps or () if isinstance(s, dict) and s.get("cause") == cause), None)
    if found is None:
        raise doc.fail(at + ("from",), f"runbook {name!r} has no step for {cause!r}")
    if "from" in found:         # one level: a chain of borrowings would hide where a cause is written
        raise doc.fail(at + ("from",), f"runbook {name!r} borrows {cause!r} itself; take it from where it is written")
    return {**found, **{k: v for k, v in raw.items() if k != "from"}}, source


def _ranking(doc: _Doc, root: dict[str, Any]) -> dict[str, float]:
    """The `ranking:` numbers (RANKING's names only), each a non-negative number; a discount at most 1."""
    out = dict(RANKING)
    raw = root.get("ranking")
    if raw is None:
        return out
    if not isinstance(raw, dict):
        raise doc.fail(("ranking",), f"must be a mapping of {', '.join(RANKING)}, not {type(raw).__name__}")
    _only(doc, ("ranking",), raw, set(RANKING))
    for k, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e300:
            raise doc.fail(("ranking", k), "must be a number >= 0")
        if k.endswith(("_discount", "_tolerance")) and value > 1:
            raise doc.fail(("ranking", k), "must be in [0, 1]")
        out[k] = float(value)
    return out


def _check_commands(doc: _Doc, at: tuple[Any, ...], fix: FixTemplate) -> None:
    """Every value a command prints must have a kind to be checked against (engine.commands)."""
    from .commands import template_problem

    for k, command in enumerate(fix.commands):
        problem = template_problem(command)
        if problem:
            raise doc.fail(at + ("commands", k), problem)


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _only(doc: _Doc, at: tuple[Any, ...], mapping: dict[str, Any], allowed: set[str]) -> None:
    for key in mapping:
        if key not in allowed:
            raise doc.fail(at + (key,), f"unknown field (allowed: {', '.join(sorted(allowed))})")
