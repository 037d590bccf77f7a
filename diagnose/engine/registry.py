"""Collects the `@check` functions of the built-in check modules and validates them once."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Iterable, Mapping

from ..checks import MODULES
from ..model.check import MARK, CheckSpec
from ..model.evidence import SOURCE_NAMES


class RegistryError(Exception):
    """A check declared wrongly: a programming error, caught by the tests."""


def collect(modules: Iterable[str]) -> dict[str, CheckSpec]:
    specs: dict[str, CheckSpec] = {}
    for name in modules:
        module = importlib.import_module(name)
        for value in vars(module).values():
            spec = getattr(value, MARK, None)
            if not isinstance(spec, CheckSpec):
                continue
            if spec.id in specs and specs[spec.id].func is not spec.func:
                raise RegistryError(f"check id {spec.id!r} is declared twice ({name})")
            unknown = set(spec.needs) - set(SOURCE_NAMES)
            if unknown:
                raise RegistryError(f"check {spec.id!r} needs unknown sources {sorted(unknown)}")
            specs[spec.id] = spec
    return specs


@lru_cache(maxsize=1)
def checks() -> Mapping[str, CheckSpec]:
    return collect(MODULES)
