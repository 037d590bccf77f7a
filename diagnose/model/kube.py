"""Typed evidence of one source (filled in by its parser)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KubeEvidence:
    pass
