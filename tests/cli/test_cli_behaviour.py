"""What a script or a person at a shell sees: exit codes, pipes, paths checked before the work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cli.helpers import NO_SOURCES, REPO, diagnose

HEALTHY_LOG = str(REPO / "fixtures" / "healthy" / "logs" / "incident.log")


def test_logs_without_a_timeout_exits_3_after_its_report(tmp_path: Path) -> None:
    log = tmp_path / "quiet.log"
    log.write_text('{"level":"INFO","message":"request ok","service":"api","duration_ms":12}\n')
    text = diagnose("logs", str(log))
    assert text.returncode == 3, text.stderr
    assert "0 incident(s)" in text.stdout
    as_json = diagnose("logs", "--format", "json", str(log))
    assert as_json.returncode == 3 and json.loads(as_json.stdout)["incidents"] == []


def test_a_reader_that_leaves_early_is_not_an_error() -> None:
    # `diagnose demo | head -1`: rich and click both exit 1 on EPIPE by default.
    for args in (["demo"], ["demo", "--format", "markdown"], ["runbooks", "show", "upstream-timeout"],
                 ["logs", HEALTHY_LOG]):
        proc = subprocess.Popen([sys.executable, "-m", "diagnose", *args], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, **NO_SOURCES})
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()                       # as head does after its line
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0, (args, err)
        assert err == "", (args, err)


def test_a_missing_kubeconfig_or_dump_directory_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    for option in ("--kubeconfig", "--thread-dumps"):
        p = diagnose("run", "--log", HEALTHY_LOG, option, missing, env=NO_SOURCES)
        assert p.returncode == 2, (option, p.stderr)
        assert option in p.stderr and missing in p.stderr and "Traceback" not in p.stderr


def test_collect_refuses_an_archive_suffix_it_would_not_write(tmp_path: Path) -> None:
    for name in ("bundle.zip", "bundle.tar", "bundle.tar.xz"):
        p = diagnose("collect", "--log", HEALTHY_LOG, "--out", str(tmp_path / name), env=NO_SOURCES)
        assert p.returncode == 2, (name, p.stderr)
        assert ".tar.gz" in p.stderr
        assert not (tmp_path / name).exists()
    ok = diagnose("collect", "--log", HEALTHY_LOG, "--out", str(tmp_path / "b.tar.gz"), env=NO_SOURCES)
    assert ok.returncode == 0 and (tmp_path / "b.tar.gz").is_file()


def test_the_namespace_given_is_the_one_shown(tmp_path: Path) -> None:
    p = diagnose("run", "--log", HEALTHY_LOG, "--namespace", "staging-eu", "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["incident"]["namespace"] == "staging-eu"
    text = diagnose("run", "--log", HEALTHY_LOG, "--namespace", "staging-eu", env=NO_SOURCES)
    assert "namespace staging-eu" in text.stdout


def test_runbooks_validate_reports_every_bad_file_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text((REPO / "runbooks" / "upstream-timeout.yaml").read_text())
    (tmp_path / "broken.yaml").write_text("name: x\nsteps: [\n")
    (tmp_path / "unknown-field.yaml").write_text("name: y\nbogus: 1\n")
    p = diagnose("runbooks", "validate", str(tmp_path))
    assert p.returncode == 2
    assert "ok  " in p.stdout and "good.yaml" in p.stdout
    assert "broken.yaml:3" in p.stderr and "unknown-field.yaml:2" in p.stderr
    assert "2 of 3 runbook(s) invalid" in p.stderr and "Traceback" not in p.stderr


def test_usage_errors_are_one_line_naming_the_problem_and_the_help() -> None:
    for args, wanted in ((["run", "--log", HEALTHY_LOG, "--timeout", "nan"], "--timeout"),
                         (["bogus"], "bogus"), (["logs"], "PATHS"), (["run"], "--log")):
        p = diagnose(*args, env=NO_SOURCES)
        assert p.returncode == 2, (args, p.stderr)
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and wanted in lines[0] and "--help" in lines[0], (args, p.stderr)
