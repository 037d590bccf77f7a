"""`diagnose run`, `collect`, `analyze` and `demo` as a user runs them, with only local sources."""

import json
import shutil

import pytest
from cli.helpers import NO_SOURCES, REPO, assert_clean_error, diagnose

SEED = ('{"timestamp": "2023-10-27T10:30:%02dZ", "level": "ERROR", "message": "request failed: upstream '
        'response timeout", "service": "frontend-api", "upstream_service": "user-auth-service", '
        '"duration_ms": 15000, "timeout_ms": 10000}\n')


def seed_log(tmp_path, n=20):
    log = tmp_path / "frontend.log"
    log.write_text("".join(SEED % i for i in range(n)) + '{"level": "INFO", "message": "ok"}\n')
    return log


def causes(p):
    assert p.returncode == 0, p.stderr
    return {c["id"]: c for c in json.loads(p.stdout)["causes"]}


def test_run_with_logs_only_reports_unqueried_sources_as_skipped_and_their_causes_unknown(tmp_path):
    p = diagnose("run", "--log", str(seed_log(tmp_path)), "--format", "json", env=NO_SOURCES)
    report = json.loads(p.stdout)
    assert {k: v["status"] for k, v in report["sources"].items()} == {
        "logs": "ok", "kubernetes": "skipped", "prometheus": "skipped", "postgres": "skipped",
        "thread-dumps": "skipped"}
    by_id = causes(p)
    for cause in ("overload", "network", "gc-pause", "database", "deadlock"):
        assert by_id[cause]["verdict"] == "unknown", cause
        assert by_id[cause]["unknown_reason"]
    # The log alone shows another timeout in force: duration 15000 ms against a 10000 ms deadline.
    assert by_id["mesh-timeout"]["verdict"] != "unknown"
    assert any("another timeout is in force" in e["summary"] for e in by_id["mesh-timeout"]["evidence"])


def test_run_with_thread_dumps_of_a_deadlock_ranks_deadlock_first(tmp_path):
    dumps = tmp_path / "dumps"
    shutil.copytree(REPO / "fixtures" / "deadlock" / "thread-dumps", dumps)
    p = diagnose("run", "--log", str(seed_log(tmp_path)), "--thread-dumps", str(dumps), "--format", "json",
                 env=NO_SOURCES)
    report = json.loads(p.stdout)
    assert report["causes"][0]["id"] == "deadlock", [(c["id"], c["confidence"]) for c in report["causes"]]
    assert report["sources"]["thread-dumps"]["status"] == "ok"


def test_run_reads_standard_input_and_keeps_a_bundle_that_analyze_reads_back(tmp_path):
    bundle = tmp_path / "bundle"
    p = diagnose("run", "--log", "-", "--bundle-out", str(bundle), "--format", "json",
                 stdin=seed_log(tmp_path).read_bytes(), env=NO_SOURCES)
    live = causes(p)
    again = causes(diagnose("analyze", str(bundle), "--format", "json"))
    assert {k: (v["verdict"], v["confidence"]) for k, v in live.items()} == \
           {k: (v["verdict"], v["confidence"]) for k, v in again.items()}
    assert (bundle / "logs" / "incident.log").read_text().count("upstream response timeout") == 20


def test_collect_writes_a_tar_gz_bundle_and_analyze_reads_it(tmp_path):
    out = tmp_path / "incident.tar.gz"
    p = diagnose("collect", "--log", str(seed_log(tmp_path)), "--out", str(out),
                 env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    assert "skipped" in p.stdout
    assert causes(diagnose("analyze", str(out), "--format", "json"))["mesh-timeout"]["verdict"] != "unknown"


def test_a_log_without_timeouts_exits_3(tmp_path):
    log = tmp_path / "quiet.log"
    log.write_text('{"level": "INFO", "message": "ok", "service": "frontend-api"}\n' * 5)
    line = assert_clean_error(diagnose("run", "--log", str(log), env=NO_SOURCES), code=3)
    assert "upstream timeout" in line and "found in" in line


def test_a_log_of_binary_garbage_exits_2_with_one_line(tmp_path):
    log = tmp_path / "garbage.bin"
    log.write_bytes(bytes(range(256)) * 200)
    assert "garbage.bin" in assert_clean_error(diagnose("run", "--log", str(log), env=NO_SOURCES))


def test_a_missing_log_exits_2_naming_it(tmp_path):
    assert "nope.log" in assert_clean_error(diagnose("run", "--log", str(tmp_path / "nope.log"), env=NO_SOURCES))


def test_demo_explains_the_seed_incident_in_every_format(tmp_path):
    text = diagnose("demo")
    assert text.returncode == 0 and "mesh-timeout" in text.stdout and "kubectl patch virtualservice" in text.stdout
    report = json.loads(diagnose("demo", "--format", "json").stdout)
    assert (report["incident"]["service"], report["incident"]["upstream"]) == ("frontend-api", "user-auth-service")
    assert report["causes"][0]["id"] == "mesh-timeout"
    md = tmp_path / "postmortem.md"
    assert diagnose("demo", "--format", "markdown", "--output", str(md)).returncode == 0
    first, _, heading = md.read_text().splitlines()[:3]
    assert first.startswith("frontend-api -> user-auth-service: mesh-timeout likely")
    assert heading == "# Incident: frontend-api timed out waiting for user-auth-service"


def test_the_markdown_heading_says_what_the_signal_is_not_always_a_timeout(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(json.dumps({
        "timestamp": f"2024-03-14T21:47:{i:02d}Z", "level": "ERROR", "service": "checkout",
        "message": "dial tcp 10.0.0.5:8080: connect: connection refused", "upstream_service": "payments"}) + "\n"
        for i in range(5)))
    md = diagnose("run", "--log", str(log), "--format", "markdown", env=NO_SOURCES).stdout
    assert "# Incident: checkout could not reach payments" in md.splitlines()


@pytest.mark.integration       # a missing checker skips here, and fails where servers are required (CI)
def test_the_shared_contract_check_passes(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    checker = REPO.parent / "shared" / "tools" / "contract-check"
    exe = Path(sys.executable).with_name("diagnose")
    if not checker.exists() or not exe.exists():
        pytest.skip("the shared contract-check tool or the installed console script is not here")
    p = subprocess.run([sys.executable, str(checker), str(exe)], capture_output=True, text=True, timeout=300)
    assert "contract: ok" in p.stdout, p.stdout
