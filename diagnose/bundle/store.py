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
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Iterator, Mapping

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
MAX_ARCHIVE_BYTES = 2 * 1024**3        # refuse bundles that unpack (or read) past this (a tar or gzip bomb)
MAX_MEMBERS = 10_000                   # files and directories in one archive: a few per source and pod
MAX_META_BYTES = 64 * 1024             # a GNU long name or a PAX header: a path and a few numbers
MAX_MANIFEST_BYTES = 64 * 1024**2      # names and checksums of every file, the incident, the sources


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
    if not stat.S_ISREG(p.stat().st_mode):     # a FIFO would block the open, a device never end
        raise BundleError(f"not a bundle: a {_kind(p.stat().st_mode)}, not a directory or a .tar.gz file",
                          path=str(p))
    with tempfile.TemporaryDirectory(prefix="diagnose-analyze-") as tmp:
        root = extract(p, Path(tmp))
        return _read_dir(root, str(p))


class _HeaderTooLarge(tarfile.TarError):
    pass


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses a GNU long-name/long-link or PAX header claiming more than MAX_META_BYTES.

    tarfile reads such a header's whole payload into memory inside TarFile.next(), before any member is
    seen: a header claiming 1 GiB costs gigabytes. Every header passes through `frombuf` (tarfile calls it
    through the class it was given), so the claim is checked here, before the payload is read."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> "_BoundedTarInfo":
        info = super().frombuf(buf, encoding, errors)
        if info.type in _META_TYPES and info.size > MAX_META_BYTES:
            raise _HeaderTooLarge(f"a {'PAX' if info.type in _PAX_TYPES else 'GNU long-name'} header claims "
                                  f"{info.size} bytes (at most {MAX_META_BYTES})")
        return info


_PAX_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_META_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, *_PAX_TYPES)


def extract(archive: Path, into: Path) -> Path:
    """Unpack a bundle archive safely: no absolute paths, no `..`, no links or devices, bounded size.

    Two forward passes ("r|*"): the first reads only headers (each checked before its data is skipped) and
    refuses a bad archive before anything is written, the second extracts. Listing a compressed archive with
    random access would decompress all of it before the first check, and extracting from such a list seeks
    back, which decompresses from the start again."""
    shown = str(archive)
    try:
        for _ in _checked_members(archive, shown):
            pass
        with tarfile.open(archive, "r|*", tarinfo=_BoundedTarInfo) as tar:
            for m in _checked(tar, shown):
                tar.extract(m, into, filter="data")
    except _HeaderTooLarge as e:
        raise BundleError(f"refused: {e}", path=shown) from None
    except (tarfile.TarError, EOFError, OSError, ValueError, RecursionError) as e:
        # RecursionError: a chain of long-name headers, each naming the next (tarfile recurses per header).
        # tarfile's "r:*" message lists every method it tried, a line each: only its first line is kept.
        detail = (str(e) or e.__class__.__name__).splitlines()[0].strip().rstrip(":")
        raise BundleError(f"not a bundle: a directory or a .tar.gz of one ({detail})", path=shown) from None
    if (into / MANIFEST).is_file():
        return into
    tops = [d for d in into.iterdir() if d.is_dir() and (d / MANIFEST).is_file()]
    if len(tops) != 1:
        raise BundleError("archive holds no bundle (no manifest.json at its top)", path=str(archive))
    return tops[0]


def _checked_members(archive: Path, shown: str) -> Iterator[tarfile.TarInfo]:
    with tarfile.open(archive, "r|*", tarinfo=_BoundedTarInfo) as tar:
        yield from _checked(tar, shown)


def _checked(tar: tarfile.TarFile, shown: str) -> Iterator[tarfile.TarInfo]:
    """The members of a stream-mode archive, each checked from its header alone: name, kind, the running
    count and total size."""
    total = count = 0
    for m in tar:
        name = m.name
        count += 1
        if count > MAX_MEMBERS:
            raise BundleError(f"archive has more than {MAX_MEMBERS} members: not a bundle", path=shown)
        if name.startswith("/") or ".." in PurePosixPath(name).parts or "\\" in name:
            raise BundleError(f"unsafe path in archive: {name!r}", path=shown)
        if not (m.isfile() or m.isdir()) or m.issparse():
            raise BundleError(f"archive member {name!r} is not a plain file or directory", path=shown)
        total += m.size
        if total > MAX_ARCHIVE_BYTES:
            raise BundleError(f"archive unpacks to more than 2 GiB (at member {name!r})", path=shown)
        yield m


def _read_dir(root: Path, shown: str) -> Bundle:
    budget = [MAX_ARCHIVE_BYTES]           # bytes left to read: a directory bundle is bounded as an archive is
    try:
        manifest = json.loads(_read_regular(root, MANIFEST, shown, MAX_MANIFEST_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise BundleError("not a bundle: no manifest.json", path=shown) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"manifest.json is corrupt: {e}", path=shown) from None
    except RecursionError:                 # json.loads recurses per nesting level: "[[[[..." 50k deep
        raise BundleError("manifest.json is corrupt: nested too deeply", path=shown) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise BundleError(f"manifest.json: format is {fmt!r}, this tool reads {FORMAT!r}", path=shown)
    checksums = manifest.get("checksums")
    if not isinstance(checksums, dict):
        raise BundleError("manifest.json lacks checksums", path=shown, field="checksums")

    def get(rel: str) -> bytes:
        _check_rel(rel, shown)
        try:
            data = _read_regular(root, rel, shown, budget[0])
        except OSError:
            raise BundleError(f"{rel} is listed in the manifest but missing", path=shown) from None
        budget[0] -= len(data)
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


def _read_regular(root: Path, rel: str, shown: str, limit: int) -> bytes:
    """The bytes of the regular file `rel` inside the bundle, at most `limit` of them.

    A bundle holds regular files in real directories only: a symbolic link (to /dev/zero, /etc/passwd, a
    directory elsewhere), a FIFO (blocks the read forever), a device or a socket on the way is refused,
    naming the member. Each component is checked with lstat, and the file opened with O_NOFOLLOW and
    O_NONBLOCK and checked again, so a swap between the check and the open cannot slip one through."""
    here = root
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts):
        here = here / part
        mode = os.lstat(here).st_mode      # FileNotFoundError: the caller's "missing"
        last = i == len(parts) - 1
        if not (stat.S_ISREG(mode) if last else stat.S_ISDIR(mode)):
            at = "/".join(parts[:i + 1])
            raise BundleError(f"{at} is a {_kind(mode)}, not a regular file: refused (a bundle holds regular "
                              "files in directories)", path=shown)
    fd = os.open(here, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(f"{rel} is a {_kind(st.st_mode)}, not a regular file: refused", path=shown)
        if st.st_size > limit:
            raise BundleError(f"{rel} is larger than {limit} bytes (a bundle reads at most 2 GiB)", path=shown)
        data = f.read(limit + 1)
    if len(data) > limit:                  # grew since fstat
        raise BundleError(f"{rel} is larger than {limit} bytes (a bundle reads at most 2 GiB)", path=shown)
    return data


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISDIR(mode):
        return "directory"
    return "regular file" if stat.S_ISREG(mode) else "special file"
