import subprocess
import sys

from cli.helpers import REPO, assert_clean_error, diagnose


def test_help_imports_none_of_the_heavy_clients():
    code = ("import sys; from diagnose.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('kubernetes', 'prometheus_api_client', 'psycopg', 'rich', 'yaml')\n"
            "         if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO).stdout
    assert "HEAVY []" in out


def test_every_subcommand_has_help():
    for args in (["run"], ["collect"], ["analyze"], ["demo"], ["logs"], ["runbooks"], ["runbooks", "list"],
                 ["runbooks", "show"], ["runbooks", "validate"]):
        p = diagnose(*args, "--help")
        assert p.returncode == 0 and "Usage:" in p.stdout, args


def test_analyze_of_a_missing_bundle_exits_2_with_one_line(tmp_path):
    line = assert_clean_error(diagnose("analyze", str(tmp_path / "nope")))
    assert "nope" in line and "no such bundle" in line


def test_analyze_of_a_corrupt_archive_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "b.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08garbage" * 100)
    assert "b.tar.gz" in assert_clean_error(diagnose("analyze", str(bad)))


def test_a_broken_runbook_fails_validation_with_file_line_and_field(tmp_path):
    rb = tmp_path / "broken.yaml"
    good = (REPO / "runbooks" / "upstream-timeout.yaml").read_text()
    rb.write_text(good.replace("    prior: 0.12", "    prior: high"))
    line = assert_clean_error(diagnose("runbooks", "validate", str(rb)))
    assert line.startswith("diagnose: error: " + str(rb) + ":") and "prior" in line


def test_the_shipped_runbooks_validate():
    p = diagnose("runbooks", "validate")
    assert p.returncode == 0, p.stderr
    assert "upstream-timeout" in p.stdout


def test_unknown_options_are_usage_errors_with_status_2():
    p = diagnose("logs", "--no-such-option", "x")
    assert p.returncode == 2 and "Traceback" not in p.stderr
