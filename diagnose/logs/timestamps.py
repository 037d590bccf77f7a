"""Timestamps as logs write them, to epoch seconds (float, UTC).

ISO-8601 with a zone is converted; without one it is taken as UTC (container runtimes and most
shippers log UTC; a local-time log shifts by its offset, which the report's Z times make visible).
Numbers (or numeric strings) are epoch seconds, or milliseconds / microseconds / nanoseconds when
their magnitude says so (after 1973 in ms is > 1e11 and so on). nginx's `2023/10/27 10:30:00` and
`27/Oct/2023:10:30:00 +0000` are read too.

A value that is a time but outside [1970, 5138) (a year-9999 placeholder, year 1 or 0, a negative or
non-finite epoch) raises Skip: the line is counted as skipped, and everything downstream (windows of
first_seen - baseline, datetime conversions) stays inside datetime's range.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone

from .event import Skip

_NGINX_ERR = re.compile(r"(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)$")
_CLF = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?: ([+-]\d{4}))?$")
_MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
# Anything after 2001-09-09 in seconds is >= 1e9; these cut-offs separate the units for any year < 5138.
_MS, _US, _NS = 1e11, 1e14, 1e17
_FAST_ISO = sys.version_info >= (3, 11)
# The times kept: the epoch up to 1e11 s (year 5138), the range the unit cut-offs above can tell apart.
MIN_EPOCH, MAX_EPOCH = 0.0, 1e11


def out_of_range(value: object) -> Skip:
    return Skip(f"time out of range ({str(value)[:40]})")


def epoch_from_number(x: float) -> float:
    if x != x or x < 0:                    # NaN, or before 1970
        raise out_of_range(x)
    if x >= _NS:
        x /= 1e9
    elif x >= _US:
        x /= 1e6
    elif x >= _MS:
        x /= 1e3
    if x < MAX_EPOCH:
        return x
    raise out_of_range(x)


def _as_float(value: int | float | str) -> float:
    """float() of a JSON number or digits; an integer past float's range (400 digits) is out of range, not
    an OverflowError."""
    try:
        return float(value)
    except OverflowError:
        raise out_of_range(str(value)[:40]) from None


def _epoch(dt: datetime, text: str) -> float:
    """dt (UTC when it names no zone) in epoch seconds, or Skip when outside the times kept."""
    try:
        epoch = (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError):    # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise out_of_range(text) from None
    if MIN_EPOCH <= epoch < MAX_EPOCH:
        return epoch
    raise out_of_range(text)


def to_epoch(value: object) -> float | None:
    """Epoch seconds for a timestamp field value, or None when it is not a timestamp.

    Raises Skip when it is a time outside the times kept (see the module's docstring)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return epoch_from_number(_as_float(value))
    if not isinstance(value, str):
        return None
    if _FAST_ISO and len(value) >= 19 and value[4] == "-":
        try:
            dt = datetime.fromisoformat(value)      # the common case, first
        except ValueError:
            pass
        else:
            return _epoch(dt, value)
    text = value.strip()
    if not text:
        return None
    if text[0].isdigit() and text.replace(".", "", 1).isdigit():
        return epoch_from_number(_as_float(text))
    return parse_text(text)


def parse_text(text: str) -> float | None:
    if _FAST_ISO:
        try:
            dt = datetime.fromisoformat(text)     # 3.11+: Z, any fraction digits, space or T
        except ValueError:
            return _other(text)
        return _epoch(dt, text)
    iso = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    if sys.version_info < (3, 11):
        iso = _trim_fraction(iso)
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return _other(text)
    return _epoch(dt, text)


def _trim_fraction(iso: str) -> str:
    """Python < 3.11 takes only 3 or 6 fraction digits; logs write 1-9 (Go writes nanoseconds)."""
    dot = iso.find(".", 19)
    if dot < 0:
        return iso
    end = dot + 1
    while end < len(iso) and iso[end].isdigit():
        end += 1
    frac = iso[dot + 1:end]
    if len(frac) in (3, 6):
        return iso
    return iso[:dot + 1] + (frac + "000000")[:6] + iso[end:]


def _other(text: str) -> float | None:
    if text.startswith("0000-"):
        raise out_of_range(text)           # ISO 8601's year 0 (1 BC), which datetime cannot hold
    m = _NGINX_ERR.match(text)
    if m:
        y, mo, d, h, mi, s = map(int, m.groups())
        return _utc(y, mo, d, h, mi, s)
    m = _CLF.match(text)
    if m and m.group(2) in _MONTHS:
        epoch = _utc(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)), int(m.group(4)),
                     int(m.group(5)), int(m.group(6)))
        if epoch is not None and m.group(7):
            z = m.group(7)
            offset = (int(z[1:3]) * 60 + int(z[3:5])) * 60
            epoch -= offset if z[0] == "+" else -offset
            if not MIN_EPOCH <= epoch < MAX_EPOCH:
                raise out_of_range(text)
        return epoch
    return None


def _utc(y: int, mo: int, d: int, h: int, mi: int, s: int) -> float | None:
    try:
        dt = datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc)
    except ValueError:
        return None                        # not a date (month 13): not a time at all
    return _epoch(dt, dt.isoformat())


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)
