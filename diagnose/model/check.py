"""The `@check` marker. It only annotates a function; the engine's registry collects and validates.

A check is a plain function `(evidence, params) -> list[Finding]`. It reads typed evidence and never
knows whether that evidence came from a live API or from a bundle. Its params (thresholds, weights)
have defaults here and are set per runbook in runbooks/*.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Union

if TYPE_CHECKING:
    from .evidence import Evidence
    from .finding import Finding

Param = Union[int, float, str, bool]
CheckFunc = Callable[["Evidence", Mapping[str, Param]], "list[Finding]"]

MARK = "__diagnose_check__"


@dataclass(frozen=True)
class CheckSpec:
    id: str
    func: CheckFunc
    needs: tuple[str, ...]                 # evidence sources that must have been gathered
    causes: tuple[str, ...]                # catalogue causes its findings speak to
    params: Mapping[str, Param] = field(default_factory=dict)
    title: str = ""
    facts: tuple[str, ...] = ()            # the names its findings may set in `facts`, for fix templates


def check(id: str, *, needs: tuple[str, ...], causes: tuple[str, ...],
          params: Mapping[str, Param] | None = None, title: str = "",
          facts: tuple[str, ...] = ()) -> Callable[[CheckFunc], CheckFunc]:
    """Mark a function as a check. `needs` names sources: logs, kubernetes, prometheus, postgres, thread-dumps."""

    def mark(func: CheckFunc) -> CheckFunc:
        setattr(func, MARK, CheckSpec(id=id, func=func, needs=tuple(needs), causes=tuple(causes),
                                      params=dict(params or {}), title=title or (func.__doc__ or "").strip()
                                      .split("\n")[0], facts=tuple(facts)))
        return func

    return mark
