"""Sources are one registry: a source defined here, registered with its check, works end to end without a
change to the engine or the CLI; the exec thread dumps are a source of their own that feeds thread-dumps;
bundles written before that still read the same."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import pytest
import yaml
from click.testing import CliRunner

from diagnose.bundle.store import read, write
from diagnose.cli import cli
from diagnose.engine.diagnose import diagnose, from_bundle, load_evidence
from diagnose.engine.gather import Gathered
from diagnose.engine.registry import (
    RegistryError,
    evidence_sources,
    register_check,
    register_source,
    sources,
    unregister_check,
    unregister_source,
)
from diagnose.engine.runbook import for_signal
from diagnose.errors import SourceError
from diagnose.model.check import Param, check
from diagnose.model.evidence import Evidence, SourceStatus
from diagnose.model.finding import Finding
from diagnose.model.target import RawFiles, Target
from diagnose.sources.base import Option, SourceDef, SourceOptions

REPO = Path(__file__).resolve().parents[2]
LOG = REPO / "fixtures" / "overload" / "logs" / "incident.log"
DEADLOCK = REPO / "fixtures" / "deadlock"


# ---- a source that exists only in this test: feature flags flipped, read from a JSON file ----------------

@dataclass(frozen=True)
class Flags:
    flipped: tuple[str, ...]


def _skip(opts: SourceOptions) -> str | None:
    return None if opts.get("flags_file") else "no --flags-file given"


def _collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
    try:
        return {"flags.json": Path(str(opts.get("flags_file"))).read_bytes()}
    except OSError as e:
        raise SourceError(f"--flags-file: {e.strerror}") from None


def _load(files: RawFiles, target: Target) -> Flags:
    return Flags(tuple(json.loads(files["flags.json"])["flipped"]))


FLAGS = SourceDef("feature-flags", (Option("flags-file", "JSON file of the feature flags flipped.", kind="file"),),
                  _skip, _collect, _load)


@check("flag-flips", needs=("feature-flags",), causes=("overload",), params={"weight": 1.5})
def flag_flips(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    flags = ev.get("feature-flags")
    assert isinstance(flags, Flags)
    return [Finding(cause="overload", direction="for", weight=float(p["weight"]), source="feature-flags",
                    summary=f"feature flags flipped before the onset: {', '.join(flags.flipped)}")]


@pytest.fixture
def flags_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The extra source and its check registered; a runbook using the check; no other source given."""
    register_source(FLAGS)
    register_check(flag_flips)
    book = yaml.safe_load((REPO / "runbooks" / "upstream-timeout.yaml").read_text())
    book["name"] = "flags-test"
    next(s for s in book["steps"] if s["cause"] == "overload")["checks"].append("flag-flips")
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "flags-test.yaml").write_text(yaml.safe_dump(book))
    monkeypatch.setenv("DIAGNOSE_RUNBOOKS", str(tmp_path / "runbooks"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "PROMETHEUS_URL", "PGHOST", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps({"flipped": ["new-session-cache", "eager-token-refresh"]}))
    try:
        yield flags
    finally:
        unregister_check("flag-flips")
        unregister_source("feature-flags")


def test_a_registered_source_has_its_option_in_run_and_collect_help(flags_source: Path) -> None:
    for command in ("run", "collect"):
        done = CliRunner().invoke(cli, [command, "--help"])
        assert done.exit_code == 0, done.output
        assert "--flags-file FILE" in done.output and "JSON file of the feature flags flipped." in done.output


def test_a_registered_source_is_bundled_read_back_and_reaches_its_check(flags_source: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    done = CliRunner().invoke(cli, ["collect", "--log", str(LOG), "--flags-file", str(flags_source),
                                    "--out", str(bundle)])
    assert done.exit_code == 0, done.output
    assert "feature-flags: ok, 1 file(s)" in done.output
    # Its folder in the bundle, its entry in the manifest, its bytes back as written.
    assert (bundle / "feature-flags" / "flags.json").read_bytes() == flags_source.read_bytes()
    assert json.loads((bundle / "manifest.json").read_text())["sources"]["feature-flags"]["files"] == ["flags.json"]
    assert read(bundle).files["feature-flags"] == {"flags.json": flags_source.read_bytes()}

    done = CliRunner().invoke(cli, ["analyze", str(bundle), "--runbook", "flags-test", "--format", "json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert (report["sources"]["feature-flags"]["status"], report["sources"]["feature-flags"]["error"]) == ("ok", None)
    assert next(c for c in report["checks"] if c["id"] == "flag-flips")["status"] == "finding"
    overload = next(c for c in report["causes"] if c["id"] == "overload")
    assert {"source": "feature-flags",
            "summary": "feature flags flipped before the onset: new-session-cache, eager-token-refresh"} in \
        [{k: e[k] for k in ("source", "summary")} for e in overload["evidence"]]


def test_a_registered_source_not_given_is_skipped_and_its_check_with_it(flags_source: Path) -> None:
    done = CliRunner().invoke(cli, ["run", "--log", str(LOG), "--runbook", "flags-test", "--format", "json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["sources"]["feature-flags"]["status"] == "skipped"
    assert report["sources"]["feature-flags"]["error"] == "no --flags-file given"
    flips = next(c for c in report["checks"] if c["id"] == "flag-flips")
    assert (flips["status"], flips["error"]) == ("skipped", "feature-flags: no --flags-file given")


def test_the_registry_refuses_a_taken_name_or_option_and_a_check_needing_an_unknown_source() -> None:
    with pytest.raises(RegistryError, match="registered twice"):
        register_source(SourceDef("postgres", (), _skip, _collect, _load))
    with pytest.raises(RegistryError, match="--pg-dsn is already source 'postgres'"):
        register_source(SourceDef("other-db", (Option("pg-dsn", "again"),), _skip, _collect, _load))
    with pytest.raises(RegistryError, match="not 'logs'"):
        register_source(SourceDef("logs", (), _skip, _collect, _load))
    with pytest.raises(RegistryError, match="needs unknown sources"):
        register_check(flag_flips)
    assert "feature-flags" not in [s.name for s in sources()]


def test_no_source_option_takes_a_name_run_or_collect_has_of_its_own() -> None:
    for command in ("run", "collect"):
        ctx = cli.commands[command].make_context(command, ["--help"], resilient_parsing=True)
        names = [o for p in cli.commands[command].get_params(ctx) for o in p.opts]
        assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


# ---- exec thread dumps: a source of its own, feeding thread-dumps ----------------------------------------

def _dumps() -> dict[str, bytes]:
    root = DEADLOCK / "thread-dumps"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.glob("*/*.txt"))}


def test_exec_thread_dumps_is_a_source_that_feeds_thread_dumps_and_is_not_listed_apart() -> None:
    assert [s.name for s in sources()] == ["kubernetes", "prometheus", "postgres", "thread-dumps",
                                          "exec-thread-dumps", "pod-logs"]
    assert "exec-thread-dumps" not in [s.name for s in evidence_sources()]
    bundle = read(DEADLOCK)
    target, _ = from_bundle(bundle)
    # Only exec dumps (no --thread-dumps): the thread-dumps evidence is theirs, read under their folder.
    gathered = {"thread-dumps": Gathered(SourceStatus("thread-dumps", "skipped", "no --thread-dumps given"), {}),
                "exec-thread-dumps": Gathered(SourceStatus("exec-thread-dumps", "ok", None, 40), _dumps())}
    ev = load_evidence(target, gathered)
    assert ev.sources["thread-dumps"].status == "ok" and "exec-thread-dumps" not in ev.sources
    assert ev.threads is not None and ev.threads is ev.get("thread-dumps")
    assert set(ev.threads.pods) == {p.split("/")[0] for p in _dumps()}


def test_a_failed_exec_source_is_the_thread_dumps_error_when_no_dump_directory_was_given() -> None:
    target, _ = from_bundle(read(DEADLOCK))
    gathered = {"thread-dumps": Gathered(SourceStatus("thread-dumps", "skipped", "no --thread-dumps given"), {}),
                "exec-thread-dumps": Gathered(SourceStatus("exec-thread-dumps", "error", "cannot load kubeconfig"), {})}
    ev = load_evidence(target, gathered)
    assert ev.sources["thread-dumps"] == SourceStatus("thread-dumps", "error",
                                                      "exec-thread-dumps: cannot load kubeconfig", 0)
    # Beside dumps from a directory, the same failure is a note, not the source's status.
    gathered["thread-dumps"] = Gathered(SourceStatus("thread-dumps", "ok"), _dumps())
    ev = load_evidence(target, gathered)
    assert ev.sources["thread-dumps"].status == "ok"
    assert ev.notes == ("exec-thread-dumps: cannot load kubeconfig",)


def test_a_bundle_with_exec_dumps_under_kubernetes_exec_reads_as_before(tmp_path: Path) -> None:
    """Bundles written before exec-thread-dumps was a source kept its files as kubernetes/exec/<pod>/..."""
    old = read(DEADLOCK)
    statuses = {n: s for n, s in old.sources.items()}
    statuses["thread-dumps"] = SourceStatus("thread-dumps", "skipped", "no --thread-dumps given")
    files = {n: dict(f) for n, f in old.files.items() if n != "thread-dumps"}
    files["kubernetes"].update({f"exec/{rel}": data for rel, data in _dumps().items()})
    write(tmp_path / "old", incident=old.incident, window=old.window, namespace=old.namespace,
          sources=statuses, files=files, log_lines=old.log_lines)
    assert not (tmp_path / "old" / "exec-thread-dumps").exists()

    target, gathered = from_bundle(read(tmp_path / "old"))
    assert not [rel for rel in gathered["kubernetes"].files if rel.startswith("exec/")]
    assert gathered["exec-thread-dumps"].files == _dumps()
    report = diagnose(target, gathered, for_signal(target.incident.signal)).to_json()
    assert report["causes"][0]["id"] == "deadlock", [(c["id"], c["confidence"]) for c in report["causes"]]
    assert report["sources"]["thread-dumps"]["status"] == "ok"
    assert list(report["sources"]) == ["logs", "kubernetes", "prometheus", "postgres", "thread-dumps"]
