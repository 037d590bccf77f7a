"""A kubeconfig's inline client key never outlives the process on disk (issue 9, item 4).

The kubernetes client writes `client-key-data` (and the certificate and CA) to temporary files, which it
removes only in an atexit hook that SIGTERM never reaches. `diagnose run` runs here in a subprocess with
TMPDIR set to a fresh directory, against the local API server over TLS with client-certificate auth; the
test scans that directory for the key's bytes after each way the process can end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.kubernetes.test_kube_run_live import (
    _log,
)
from tests.servers.kube_api import TLS, KubeAPI, make_tls, wait_until

ROOT = Path(__file__).resolve().parents[2]
SLOW_PATH = "/api/v1/nodes"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLS:
    if shutil.which("openssl") is None:
        msg = "the openssl command is needed to make test certificates (scripts/test.sh installs it)"
        if os.environ.get("CI") or os.environ.get("DIAGNOSE_REQUIRE_SERVERS"):
            pytest.fail(msg)
        pytest.skip(msg)
    return make_tls(tmp_path_factory.mktemp("tls"))


def _key_marker(tls: TLS) -> bytes:
    """A line of the client key's PEM that appears nowhere else (the client writes the PEM as is)."""
    return tls.client_key.read_bytes().splitlines()[1]


def _files_with(directory: Path, needle: bytes) -> list[Path]:
    found = []
    for root, _, names in os.walk(directory):
        for name in names:
            path = Path(root, name)
            try:
                if stat.S_ISREG(path.lstat().st_mode) and needle in path.read_bytes():
                    found.append(path)
            except OSError:
                pass
    return found


def _restore_default_signals() -> None:
    # A shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT ignored:
    # the child must see Ctrl-C as a terminal would deliver it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _start(api: KubeAPI, tmp_path: Path, scratch: Path, *extra: str) -> subprocess.Popen[str]:
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PROMETHEUS", "KUBE"))}
    env.update(HOME=str(tmp_path), TMPDIR=str(scratch))
    cmd = [sys.executable, "-m", "diagnose", "run", "--log", str(_log(tmp_path / "app.log")),
           "--kubeconfig", str(api.kubeconfig(tmp_path)), "--namespace", sc.NAMESPACE, "--timeout", "30",
           "--format", "json", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_restore_default_signals)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


@pytest.mark.parametrize(("sig", "code", "said"), [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                                  (signal.SIGINT, 130, "interrupted")])
def test_a_signal_mid_run_leaves_no_client_key_on_disk(tls: TLS, tmp_path: Path, sig: signal.Signals,
                                                       code: int, said: str) -> None:
    scratch = tmp_path / "tmp"
    marker = _key_marker(tls)
    with KubeAPI(fk.cluster("overload"), slow={SLOW_PATH: 60.0}, tls=tls) as api:
        proc = _start(api, tmp_path, scratch)
        try:
            assert wait_until(lambda: any(r.path == SLOW_PATH for r in api.requests), 60), "never reached mid-run"
            during = _files_with(scratch, marker)
            assert during, "the client wrote no key file under TMPDIR: this test would prove nothing"
            for path in during:      # mid-run the key sits in a directory only this user can enter
                assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path.parent
                assert path.parent != scratch
            proc.send_signal(sig)
            returncode, _, err = _finish(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert returncode == code, err
    assert err.strip().splitlines()[-1] == f"diagnose: error: {said}", err
    assert _files_with(scratch, marker) == []
    assert list(scratch.iterdir()) == []


def test_a_normal_run_leaves_no_client_key_on_disk(tls: TLS, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    with KubeAPI(fk.cluster("overload"), tls=tls) as api:
        returncode, out, err = _finish(_start(api, tmp_path, scratch))
    assert returncode == 0, err
    assert json.loads(out)["sources"]["kubernetes"]["status"] == "ok"       # over TLS, with the client key
    assert api.lists()
    assert _files_with(scratch, _key_marker(tls)) == []
    assert list(scratch.iterdir()) == []


def test_a_run_that_fails_after_collecting_leaves_no_client_key_on_disk(tls: TLS, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "something").write_text("x")
    with KubeAPI(fk.cluster("overload"), tls=tls) as api:
        returncode, _, err = _finish(_start(api, tmp_path, scratch, "--bundle-out", str(taken)))
    assert returncode == 2, err
    assert api.lists(), "the kubernetes source was not asked: this test would prove nothing"
    assert _files_with(scratch, _key_marker(tls)) == []
    assert list(scratch.iterdir()) == []


def test_a_private_directory_is_owner_only_and_gone_after_an_error(tmp_path: Path) -> None:
    from diagnose.sources.private_tmp import private_dir

    with pytest.raises(RuntimeError):
        with private_dir() as path:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
            Path(path, "client-key").write_bytes(b"key")
            raise RuntimeError("the source failed")
    assert not os.path.exists(path)


def test_a_directory_removed_under_a_running_source_is_not_written_into_again() -> None:
    from diagnose.errors import SourceError
    from diagnose.sources.private_tmp import private_dir, remove_all, writing

    with private_dir() as path:
        remove_all()                       # what main() does on its way out while a source still runs
        assert not os.path.exists(path)
        with pytest.raises(SourceError):
            with writing(path):
                pass
    with private_dir() as again:           # the process goes on (a command run in-process): new ones work
        assert os.path.isdir(again)
