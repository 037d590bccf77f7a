"""Bad options are usage errors (exit 2) found before any work, never an internal error."""

from __future__ import annotations

import pytest
from cli.helpers import NO_SOURCES, diagnose
from cli.test_run import seed_log


def _usage_error(p, *named: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stderr[-500:])
    assert "Traceback" not in p.stderr + p.stdout
    for text in named:
        assert text in p.stderr, p.stderr


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "-1", "0", "0.0", "1e400"])
def test_a_timeout_that_is_not_a_positive_finite_number_is_a_usage_error(tmp_path, value):
    p = diagnose("run", "--log", str(seed_log(tmp_path)), "--timeout", value, "--format", "json", env=NO_SOURCES)
    _usage_error(p, "--timeout")
    assert p.stdout == ""


@pytest.mark.parametrize("command", [["demo"], ["logs", "{log}"], ["run", "--log", "{log}"],
                                     ["analyze", "{bundle}"]])
def test_an_output_in_a_missing_directory_fails_before_the_work_naming_it(tmp_path, command):
    log = seed_log(tmp_path)
    bundle = tmp_path / "b"
    if "{bundle}" in command:
        assert diagnose("collect", "--log", str(log), "--out", str(bundle), env=NO_SOURCES).returncode == 0
    out = tmp_path / "missing" / "report.txt"
    args = [a.format(log=log, bundle=bundle) for a in command]
    _usage_error(diagnose(*args, "-o", str(out), env=NO_SOURCES), str(out))
    assert not out.parent.exists()


def test_an_output_that_is_a_directory_is_a_usage_error(tmp_path):
    _usage_error(diagnose("demo", "-o", str(tmp_path), env=NO_SOURCES), str(tmp_path))


def test_an_output_under_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" / "report.json"
    _usage_error(diagnose("demo", "--format", "json", "-o", str(out), env=NO_SOURCES), str(out))


@pytest.mark.parametrize("name", ["bundle", "bundle.tar.gz"])
def test_collect_into_a_missing_directory_fails_before_collecting(tmp_path, name):
    out = tmp_path / "missing" / name
    p = diagnose("collect", "--log", str(seed_log(tmp_path)), "--out", str(out), env=NO_SOURCES)
    _usage_error(p, str(out))
    assert "bundle written" not in p.stdout
    assert not out.parent.exists()


@pytest.mark.parametrize("name", ["bundle", "bundle.tar.gz"])
def test_run_keeping_a_bundle_in_a_missing_directory_fails_before_the_work(tmp_path, name):
    out = tmp_path / "missing" / name
    p = diagnose("run", "--log", str(seed_log(tmp_path)), "--bundle-out", str(out), "--format", "json",
                 env=NO_SOURCES)
    _usage_error(p, str(out))
    assert p.stdout == ""
    assert not out.parent.exists()


def test_an_output_the_system_refuses_is_exit_2_naming_it(tmp_path):
    # /proc exists and passes the access check for root, but no new file can be made there.
    p = diagnose("logs", str(seed_log(tmp_path)), "-o", "/proc/diagnose-report", env=NO_SOURCES)
    _usage_error(p, "/proc/diagnose-report")
