"""The evidence bundle on disk: a directory (or a .tar.gz of one). Layout: docs/bundle.md.

    manifest.json            format, when, incident, window, per-source status/error, sha256 of every file
    logs/incident.log        the raw timeout lines of the incident
    <source>/                each registered source's files in its native wire format (kubernetes/,
                             prometheus/, postgres/, thread-dumps/, exec-thread-dumps/, ...)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Mapping

from .. import __version__
from ..errors import BundleError
from ..model.evidence import SourceStatus
from ..model.incident import Incident, Window, iso
from ..model.target import RawFiles
from ..redact import scrub, scrub_json
from .manifest import parse as parse_manifest

FORMAT = "diagnose.bundle/v1"
MANIFEST = "manifest.json"
LOG_FILE = "logs/incident.log"
MAX_ARCHIVE_BYTES = 2 * 1024**3        # refuse archives that unpack past this (a tar bomb)


@dataclass(frozen=True)
class Bundle:
    path: str
    incident: Incident
    window: Window
    namespace: str | None
    sources: Mapping[str, SourceStatus]
    files: Mapping[str, RawFiles]          # source -> its files
    log_lines: bytes
    created: str | None = None


def write(dest: str | Path, *, incident: Incident, window: Window, namespace: str | None,
          sources: Mapping[str, SourceStatus], files: Mapping[str, RawFiles], log_lines: bytes,
          log_info: Mapping[str, object] | None = None, created: datetime | None = None) -> Path:
    """Write a bundle directory, or a .tar.gz when `dest` ends so. Every file passes through `scrub`."""
    dest = Path(dest)
    archive = dest.name.endswith((".tar.gz", ".tgz"))
    if archive:
        if dest.exists():
            raise BundleError("already exists; choose a new name", path=str(dest))
        workdir = Path(tempfile.mkdtemp(prefix="diagnose-bundle-"))
        root = workdir / dest.name.removesuffix(".tar.gz").removesuffix(".tgz")
    else:
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise BundleError("exists and is not an empty directory; choose a new one", path=str(dest))
        root = dest
    try:
        root.mkdir(parents=True, exist_ok=True)
        checksums: dict[str, str] = {}

        def put(rel: str, data: bytes) -> None:
            _check_rel(rel)
            data = scrub(data)
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            checksums[rel] = "sha256:" + hashlib.sha256(data).hexdigest()

        put(LOG_FILE, log_lines)
        source_doc: dict[str, object] = {}
        for name, status in sources.items():
            rels = []
            for rel, data in sorted(files.get(name, {}).items()):
                put(f"{name}/{rel}", data)
                rels.append(rel)
            source_doc[name] = {**status.to_json(), "files": rels}
        manifest = {
            "format": FORMAT,
            "created": iso(created or datetime.now(timezone.utc)),
            "tool": f"diagnose {__version__}",
            "incident": incident.to_json(),
            "window": window.to_json(),
            "namespace": namespace,
            "logs": {"file": LOG_FILE, **(log_info or {})},
            "sources": source_doc,
            "checksums": checksums,
        }
        # Source errors and the incident quote outside text; the checksums are ours and must stay exact.
        manifest = {**scrub_json({k: v for k, v in manifest.items() if k != "checksums"}), "checksums": checksums}
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        if archive:
            with tarfile.open(dest, "w:gz") as tar:
                tar.add(root, arcname=root.name)
    except OSError as e:
        raise BundleError(f"cannot write: {e.strerror or e}", path=str(dest)) from None
    finally:
        if archive:
            shutil.rmtree(workdir, ignore_errors=True)
    return dest


def read(path: str | Path) -> Bundle:
    p = Path(path)
    if not p.exists():
        raise BundleError("no such bundle (a directory or a .tar.gz of one)", path=str(p))
    if p.is_dir():
        return _read_dir(p, str(p))
    with tempfile.TemporaryDirectory(prefix="diagnose-analyze-") as tmp:
        root = extract(p, Path(tmp))
        return _read_dir(root, str(p))


def extract(archive: Path, into: Path) -> Path:
    """Unpack a bundle archive safely: no absolute paths, no `..`, no links or devices, bounded size."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            total = 0
            for m in members:
                name = m.name
                if name.startswith("/") or ".." in PurePosixPath(name).parts or "\\" in name:
                    raise BundleError(f"unsafe path in archive: {name!r}", path=str(archive))
                if not (m.isfile() or m.isdir()):
                    raise BundleError(f"archive member {name!r} is not a plain file or directory",
                                      path=str(archive))
                total += m.size
                if total > MAX_ARCHIVE_BYTES:
                    raise BundleError("archive unpacks to more than 2 GiB", path=str(archive))
            tar.extractall(into, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise BundleError(f"not a readable .tar.gz bundle: {e}", path=str(archive)) from None
    if (into / MANIFEST).is_file():
        return into
    tops = [d for d in into.iterdir() if d.is_dir() and (d / MANIFEST).is_file()]
    if len(tops) != 1:
        raise BundleError("archive holds no bundle (no manifest.json at its top)", path=str(archive))
    return tops[0]


def _read_dir(root: Path, shown: str) -> Bundle:
    mpath = root / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError("not a bundle: no manifest.json", path=shown) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"manifest.json is corrupt: {e}", path=shown) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise BundleError(f"manifest.json: format is {fmt!r}, this tool reads {FORMAT!r}", path=shown)
    checksums = manifest.get("checksums")
    if not isinstance(checksums, dict):
        raise BundleError("manifest.json lacks checksums", path=shown, field="checksums")

    def get(rel: str) -> bytes:
        _check_rel(rel, shown)
        try:
            data = (root / rel).read_bytes()
        except OSError:
            raise BundleError(f"{rel} is listed in the manifest but missing", path=shown) from None
        want = checksums.get(rel)
        if want != "sha256:" + hashlib.sha256(data).hexdigest():
            raise BundleError(f"{rel} does not match its checksum: the bundle is corrupt or was edited",
                              path=shown)
        return data

    # Every field is type-checked before any file is read (manifest.py).
    m = parse_manifest(manifest, shown, LOG_FILE)
    sources = {name: entry.status for name, entry in m.sources.items()}
    files: dict[str, RawFiles] = {name: {rel: get(f"{name}/{rel}") for rel in entry.files}
                                  for name, entry in m.sources.items()}
    log_lines = get(m.log_file) if m.log_file in checksums else b""
    return Bundle(path=shown, incident=m.incident, window=m.window, namespace=m.namespace,
                  sources=sources, files=files, log_lines=log_lines, created=m.created)


def _check_rel(rel: str, shown: str | None = None) -> None:
    parts = PurePosixPath(rel).parts
    if not rel or rel.startswith("/") or ".." in parts or "\\" in rel or os.path.isabs(rel):
        raise BundleError(f"unsafe file name {rel!r}", path=shown)
