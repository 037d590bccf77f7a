"""Reading small YAML files people write (runbooks, log-format mappings) without trusting them.

A leaf helper (stdlib and PyYAML only): `engine/runbook.py` and `logs/custom_format.py` both read through
it, so both refuse the same things. `read_bounded` reads at most `max_bytes` (+1 to tell), so a huge file
costs no memory; `refuse_bombs` is one streaming pass over the YAML events before anything is built:
anchors and aliases are refused (neither file needs them, and they are how a few lines expand to
gigabytes: billion laughs, a recursive alias), and so is nesting past `max_depth` (PyYAML composes
recursively: 50k levels are a RecursionError).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import InputError

MAX_DEPTH = 64


def refuse_bombs(text: str, path: str, error: type[InputError] = InputError, what: str = "a YAML file",
                 max_depth: int = MAX_DEPTH) -> None:
    """Raise `error` (file and line) at the first anchor, alias or nesting past max_depth."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            raise error(f"a YAML alias (*name): anchors and aliases are not allowed in {what}",
                        path=path, line=line)
        if getattr(event, "anchor", None):
            raise error(f"a YAML anchor (&name): anchors and aliases are not allowed in {what}",
                        path=path, line=line)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > max_depth:
                raise error(f"nested deeper than {max_depth} levels: not {what}", path=path, line=line)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def read_bounded(p: Path, max_bytes: int, error: type[InputError] = InputError, what: str = "a YAML file") -> str:
    """The file's text, read only up to max_bytes; `error` when it is larger, unreadable or not UTF-8."""
    try:
        with p.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"cannot read: {e.__class__.__name__}: {e.strerror or e}", path=str(p)) from None
    if len(data) > max_bytes:
        size = f"{max_bytes >> 20} MiB" if max_bytes >= 1 << 20 else f"{max_bytes >> 10} KiB"
        raise error(f"larger than {size}: not {what}", path=str(p))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"cannot read: not UTF-8 ({e.reason} at byte {e.start})", path=str(p)) from None
