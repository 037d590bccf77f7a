import io
import json
import tarfile
from datetime import datetime, timezone

import pytest

from diagnose.bundle.store import read, write
from diagnose.errors import BundleError
from diagnose.model.evidence import SourceStatus
from diagnose.model.incident import Incident, Percentiles, Window
from diagnose.redact import scrub

T0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)
INC = Incident("frontend-api", "user-auth-service", 3, T0, T0, 10000.0, Percentiles(15000, 15000, 15000))
WIN = Window(start=T0, end=T0, onset=T0)


def make(dest, **extra):
    return write(dest, incident=INC, window=WIN, namespace="production",
                 sources={"prometheus": SourceStatus("prometheus", "ok"),
                          "postgres": SourceStatus("postgres", "error", "connection refused")},
                 files={"prometheus": {"cpu.json": b'{"query": "rate(x[5m])"}'}},
                 log_lines=b'{"message": "timeout"}\n', **extra)


def test_a_bundle_directory_round_trips_incident_sources_and_files(tmp_path):
    make(tmp_path / "b")
    b = read(tmp_path / "b")
    assert b.incident == INC
    assert b.sources["postgres"].error == "connection refused"
    assert b.files["prometheus"] == {"cpu.json": b'{"query": "rate(x[5m])"}'}
    assert b.namespace == "production"


def test_a_tar_gz_bundle_round_trips(tmp_path):
    make(tmp_path / "b.tar.gz")
    assert read(tmp_path / "b.tar.gz").incident == INC


def test_secrets_in_source_files_and_log_lines_are_redacted_when_written(tmp_path):
    write(tmp_path / "b", incident=INC, window=WIN, namespace=None,
          sources={"postgres": SourceStatus("postgres", "ok")},
          files={"postgres": {"server.json": b'{"dsn": "postgresql://auth:hunter2@db/auth"}'}},
          log_lines=b"login failed password=hunter2\n")
    everything = b"".join(p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert b"hunter2" not in everything


def test_writing_into_a_non_empty_directory_is_refused(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("x")
    with pytest.raises(BundleError, match="not an empty directory"):
        make(tmp_path / "b")


def test_an_edited_file_fails_its_checksum(tmp_path):
    make(tmp_path / "b")
    (tmp_path / "b" / "prometheus" / "cpu.json").write_text("{}")
    with pytest.raises(BundleError, match="checksum"):
        read(tmp_path / "b")


def test_a_missing_bundle_or_manifest_is_a_one_line_error(tmp_path):
    with pytest.raises(BundleError, match="no such bundle"):
        read(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no manifest.json"):
        read(tmp_path / "empty")


def test_a_corrupt_manifest_is_an_error_naming_it(tmp_path):
    make(tmp_path / "b")
    (tmp_path / "b" / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="manifest.json is corrupt"):
        read(tmp_path / "b")


def test_a_manifest_naming_a_path_outside_the_bundle_is_refused(tmp_path):
    make(tmp_path / "b")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    m["sources"]["prometheus"]["files"] = ["../../etc/passwd"]
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="unsafe"):
        read(tmp_path / "b")


def _tar_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"x"):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def test_an_archive_with_dot_dot_paths_is_refused_and_nothing_is_written_outside(tmp_path):
    m = tarfile.TarInfo("b/../../escaped.txt")
    m.size = 1
    with pytest.raises(BundleError, match="unsafe path"):
        read(_tar_with(tmp_path, m))
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_an_archive_with_an_absolute_path_or_a_symlink_is_refused(tmp_path):
    m = tarfile.TarInfo("/tmp/abs.txt")
    m.size = 1
    with pytest.raises(BundleError, match="unsafe path"):
        read(_tar_with(tmp_path, m))
    link = tarfile.TarInfo("b/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    with pytest.raises(BundleError, match="not a plain file"):
        read(_tar_with(tmp_path, link))


def test_a_truncated_archive_is_a_one_line_error(tmp_path):
    make(tmp_path / "b.tar.gz")
    data = (tmp_path / "b.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError):
        read(tmp_path / "cut.tar.gz")


def test_json_documents_stay_valid_json_when_secrets_are_redacted():
    from diagnose.redact import scrub

    doc = {"env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                   {"name": "API_TOKEN", "value": "tok-123"}, {"name": "LOG_LEVEL", "value": "info"}],
           "query": "SELECT 1 -- postgresql://auth:hunter2@db/auth", "tokens": 5}
    out = json.loads(scrub(json.dumps(doc).encode()))
    assert out["env"][0]["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "password"}}
    assert out["env"][1]["value"] == "<redacted>" and out["env"][2]["value"] == "info"
    assert "hunter2" not in out["query"] and out["tokens"] == 5


def test_a_manifest_window_without_a_start_is_a_bundle_error(tmp_path):
    make(tmp_path / "b")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    m["window"]["start"] = None
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="manifest.json: window.start: expected"):
        read(tmp_path / "b")


def test_a_password_in_sql_text_is_redacted():
    from diagnose.redact import scrub_text

    assert scrub_text("ALTER ROLE app WITH PASSWORD 'hunter2'") == "ALTER ROLE app WITH PASSWORD '<redacted>'"
    assert "s3" not in scrub_text("CREATE ROLE x ENCRYPTED PASSWORD 'it''s s3cret' LOGIN")
    doc = json.dumps({"rows": [[1, "ALTER ROLE app PASSWORD 'hunter2'"]]}).encode()
    assert b"hunter2" not in scrub(doc)
