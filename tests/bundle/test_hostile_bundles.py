"""Hostile bundles: members that are not regular files, tar headers that claim a gigabyte, gzip bombs.

Each is `diagnose analyze` in a real process: exit 2, one line naming the member, quickly and in little
memory. The process runs under an address-space limit so that a regression fails the test instead of the
machine, and its peak RSS is read by a wrapper process whose only child it is.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from diagnose.bundle.store import MAX_MEMBERS, read, write
from diagnose.model.evidence import SourceStatus
from diagnose.model.incident import Incident, Percentiles, Window

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)
INC = Incident("frontend-api", "user-auth-service", 3, T0, T0, 10000.0, Percentiles(15000, 15000, 15000))
MAX_SECONDS = 5.0
MAX_RSS_MIB = 300

# Runs `diagnose analyze` as its only child, under an address-space cap (a bug fails, the machine does not),
# and prints the child's exit status, stderr, wall time and peak RSS (KiB) as JSON.
_WRAPPER = r"""
import json, resource, subprocess, sys, time
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
start = time.monotonic()
try:
    p = subprocess.run([sys.executable, "-m", "diagnose", "analyze", sys.argv[1]], capture_output=True,
                       timeout=float(sys.argv[2]), preexec_fn=cap)
    code, err = p.returncode, p.stderr.decode("utf-8", "replace")
except subprocess.TimeoutExpired:
    code, err = None, "timed out"
print(json.dumps({"code": code, "stderr": err, "seconds": time.monotonic() - start,
                  "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def analyze_refuses(path: Path, *expect: str) -> str:
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("DIAGNOSE_DEBUG", None)
    out = subprocess.run([sys.executable, "-c", _WRAPPER, str(path), "30"], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=60)
    r = json.loads(out.stdout)
    lines = [ln for ln in r["stderr"].splitlines() if ln.strip()]
    assert r["code"] == 2, r
    assert "Traceback" not in r["stderr"] and len(lines) == 1, r["stderr"]
    assert r["seconds"] < MAX_SECONDS, r
    assert r["rss_kib"] < MAX_RSS_MIB * 1024, r
    for e in expect:
        assert e in lines[0], lines[0]
    return lines[0]


def bundle_dir(dest: Path) -> Path:
    return write(dest, incident=INC, window=Window(start=T0, end=T0, onset=T0), namespace="production",
                 sources={"prometheus": SourceStatus("prometheus", "ok")},
                 files={"prometheus": {"cpu.json": b'{"query": "rate(x[5m])"}'}},
                 log_lines=b'{"message": "timeout"}\n')


def replace_member(root: Path, rel: str, make) -> None:
    """Swap a bundle file for something else, and make the manifest's checksum agree with what the
    something else reads as, so only the kind of file can give it away."""
    target = root / rel
    target.unlink()
    content = make(target)
    manifest = json.loads((root / "manifest.json").read_text())
    if content is not None:
        manifest["checksums"][rel] = "sha256:" + hashlib.sha256(content).hexdigest()
        (root / "manifest.json").write_text(json.dumps(manifest))


# ---- directory bundles --------------------------------------------------------------------------------


def test_a_member_linked_to_dev_zero_is_refused_not_read(tmp_path):
    root = bundle_dir(tmp_path / "b")
    replace_member(root, "prometheus/cpu.json", lambda t: t.symlink_to("/dev/zero"))
    analyze_refuses(root, "prometheus/cpu.json", "link")


def test_a_member_linked_to_etc_passwd_is_refused_even_when_its_checksum_matches(tmp_path):
    root = bundle_dir(tmp_path / "b")
    passwd = Path("/etc/passwd").read_bytes()
    replace_member(root, "prometheus/cpu.json", lambda t: (t.symlink_to("/etc/passwd"), passwd)[1])
    analyze_refuses(root, "prometheus/cpu.json", "link")


def test_a_source_directory_linked_elsewhere_is_refused(tmp_path):
    root = bundle_dir(tmp_path / "b")
    elsewhere = tmp_path / "elsewhere"
    (root / "prometheus").rename(elsewhere)
    (root / "prometheus").symlink_to(elsewhere)
    analyze_refuses(root, "prometheus", "link")


def test_a_fifo_member_is_refused_without_waiting_for_a_writer(tmp_path):
    root = bundle_dir(tmp_path / "b")
    replace_member(root, "prometheus/cpu.json", lambda t: os.mkfifo(t))
    analyze_refuses(root, "prometheus/cpu.json", "FIFO")


def test_a_device_member_is_refused(tmp_path):
    root = bundle_dir(tmp_path / "b")
    try:
        replace_member(root, "prometheus/cpu.json", lambda t: os.mknod(t, 0o600 | 0o020000, os.makedev(1, 5)))
    except PermissionError:
        pytest.skip("creating a device node needs privileges here")
    analyze_refuses(root, "prometheus/cpu.json", "device")


def test_a_manifest_linked_to_dev_zero_is_refused(tmp_path):
    root = bundle_dir(tmp_path / "b")
    (root / "manifest.json").unlink()
    (root / "manifest.json").symlink_to("/dev/zero")
    analyze_refuses(root, "manifest.json", "link")


def test_a_manifest_nested_fifty_thousand_deep_is_exit_2(tmp_path):
    root = bundle_dir(tmp_path / "b")
    (root / "manifest.json").write_text("[" * 50_000 + "]" * 50_000)
    analyze_refuses(root, "manifest.json")


def test_a_fifo_given_as_the_bundle_is_refused(tmp_path):
    os.mkfifo(tmp_path / "b.tar.gz")
    analyze_refuses(tmp_path / "b.tar.gz", "b.tar.gz")


# ---- archives -----------------------------------------------------------------------------------------


def _header(name: str, size: int, kind: bytes) -> bytes:
    """One raw 512-byte ustar header: what an archive claims, whatever follows it."""
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _gzip_of_repeats(head: bytes, block: bytes, times: int) -> bytes:
    """gzip(head + block * times), built cheaply: gzip members may be concatenated, so one compressed block
    is written `times` times (a gigabyte costs a megabyte and a fraction of a second)."""
    one = gzip.compress(block, compresslevel=9)
    return gzip.compress(head) + one * times


@pytest.mark.parametrize("kind, label", [(tarfile.XHDTYPE, "pax"), (tarfile.GNUTYPE_LONGNAME, "long-name")])
def test_a_tar_header_claiming_a_gigabyte_is_refused_before_it_is_read(tmp_path, kind, label):
    path = tmp_path / f"{label}.tar.gz"
    block = b"9" * (16 << 20)
    path.write_bytes(_gzip_of_repeats(_header("b/././@LongLink", 1 << 30, kind), block, 64))
    analyze_refuses(path, path.name, "header")


def test_a_gzip_bomb_of_zeros_is_refused_at_its_first_header(tmp_path):
    path = tmp_path / "bomb.tar.gz"
    zeros = bytes(64 << 20)
    path.write_bytes(_gzip_of_repeats(_header("b/zeros.bin", 3 << 30, tarfile.REGTYPE), zeros, 48))
    analyze_refuses(path, path.name, "2 GiB")


def test_an_archive_of_too_many_members_is_refused(tmp_path):
    path = tmp_path / "many.tar.gz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(MAX_MEMBERS + 1):
            tar.addfile(tarfile.TarInfo(f"b/{i}"))
    path.write_bytes(gzip.compress(raw.getvalue(), compresslevel=1))
    analyze_refuses(path, path.name, "members")


def test_an_honest_archive_still_reads(tmp_path):
    path = write(tmp_path / "b.tar.gz", incident=INC, window=Window(start=T0, end=T0, onset=T0),
                 namespace=None, sources={"prometheus": SourceStatus("prometheus", "ok")},
                 files={"prometheus": {"cpu.json": b"{}"}}, log_lines=b"x\n")
    started = time.monotonic()
    assert read(path).files["prometheus"] == {"cpu.json": b"{}"}
    assert time.monotonic() - started < MAX_SECONDS


@pytest.mark.parametrize("content", [b"hello\n", bytes(range(256)) * 12, gzip.compress(b"not a tar at all" * 100)],
                         ids=["text", "random", "gzip-of-text"])
def test_a_file_that_is_not_an_archive_is_refused_in_one_line_saying_so(tmp_path, content):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(content)
    analyze_refuses(path, "x.tar.gz: not a bundle: a directory or a .tar.gz of one")
