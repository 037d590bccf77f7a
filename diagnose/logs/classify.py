"""Which signal a log event is, from the one table (model/signals.py): the pre-filter and the classifier.

Everything here is built from the table's rows when the module is imported, so adding a row adds its
words to the classifier and its markers to the pre-filter with no other change.
"""

from __future__ import annotations

import re

from ..model.signals import SIGNALS

FAILURE = "failure"      # Envoy UF / URX that no signal claims (no 502/503/504): counted apart, not a signal
FAILURE_FLAGS = frozenset({"UF", "URX"})
_FAILURE_MARKERS = (rb'U(?:F|RX)[",]',)

def _lower_case(words: str) -> re.Pattern[str] | None:
    """The words as a case-sensitive regex for lower-cased ASCII text, when they are one (?i:...) group
    with no upper-case letter and no inline flag inside: the same matches on ASCII text at half the cost
    (the regex engine folds every character it compares under (?i)). None for words written otherwise."""
    if not (words.startswith("(?i:") and words.endswith(")")):
        return None
    body = words[4:-1]
    letters = re.sub(r"\\.", "", body)
    if any(c.isupper() for c in letters) or re.search(r"\(\?[aiLmsux-]", body):
        return None
    try:
        return re.compile(body)      # fails when the group does not span the words, as in (?i:a)|(?i:b)
    except re.error:
        return None


_WORDS: tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...] = tuple(
    (s.id, re.compile(s.words), _lower_case(s.words)) for s in SIGNALS)


def from_words(text: str) -> str | None:
    """The first signal whose words the text says, or None."""
    if text.isascii():
        low = text.lower()
        for sid, words, lower_case in _WORDS:
            if lower_case.search(low) if lower_case is not None else words.search(text):
                return sid
        return None
    for sid, words, _ in _WORDS:
        if words.search(text):
            return sid
    return None


def from_proxy(flags: set[str], code: str) -> str | None:
    """What an Envoy access-log entry says (its response flags and status code): a signal id, FAILURE or
    None. docs/logs.md "Envoy response flags"."""
    for s in SIGNALS:
        if flags & s.proxy_flags or code in s.proxy_codes or any(
                f in flags and c == code for f, c in s.proxy_flag_codes):
            return s.id
    return FAILURE if flags & FAILURE_FLAGS else None


def joined(markers: tuple[bytes, ...]) -> tuple[re.Pattern[bytes], ...]:
    """One regex per first byte: markers that start with the same byte are searched in one pass.

    Each marker must start with a literal letter or digit (the kernel finds it with a memchr and the regex
    engine skips ahead to it): an alternation of two first bytes loses that skip and runs 20x slower.
    The literal bytes the markers of one pass share are written before the alternation ("nnect(?:ion
    ...|...)", not "n(?:nection ...|...)"): the regex engine checks a literal prefix in its scan loop and
    starts a match only where all of it is."""
    by_first: dict[bytes, list[bytes]] = {}
    for mk in markers:
        first, rest = mk[:1], mk[1:]
        if not first.isalnum() or not rest or rest[:1] in _QUANTIFIERS:
            raise ValueError(f"marker {mk!r} must be a literal letter or digit followed by more")
        by_first.setdefault(first, []).append(mk)
    return tuple(re.compile(_one_pass(group)) for group in by_first.values())


_QUANTIFIERS = (b"*", b"?", b"+", b"{", b"|")


def _one_pass(group: list[bytes]) -> bytes:
    """The markers of one first byte as one regex, their shared literal prefix outside the alternation."""
    if len(group) == 1:
        return group[0]
    n = 1
    # Only plain letters, digits and blanks are literal bytes for sure; a byte followed by a quantifier
    # is not part of every match.
    while all(len(mk) > n + 1 and mk[n:n + 1] == group[0][n:n + 1] and mk[n + 1:n + 2] not in _QUANTIFIERS
              for mk in group) and (group[0][n:n + 1].isalnum() or group[0][n:n + 1] == b" "):
        n += 1
    return group[0][:n] + b"(?:" + b"|".join(mk[n:] for mk in group) + b")"


JSON_MARKERS = joined(tuple(mk for s in SIGNALS for mk in s.markers))
# The same markers as one regex, for one line at a time (text formats): one call a line instead of one a
# pass, and the regex engine's scan checks each byte against the set of first bytes (410 ns a line of the
# bench's mixed log, where seven searches took 690).
LINE_MARKERS = re.compile(b"|".join(b"(?:" + mk.pattern + b")" for mk in JSON_MARKERS))
# Envoy's JSON access logs say it with flags and codes; searched only in files whose sample has the
# response_flags key.
ENVOY_JSON_MARKERS = joined(tuple(mk for s in SIGNALS for mk in s.proxy_markers) + _FAILURE_MARKERS)

def _envoy_candidate() -> re.Pattern[bytes]:
    # An Envoy text line: `"GET / HTTP/1.1" 503 UF ...`: a code after the request's closing quote, or a
    # flag in the flags field.
    codes = sorted({c for s in SIGNALS for c in s.proxy_codes})
    flags = sorted({f for s in SIGNALS for f in s.proxy_flags} | {f for s in SIGNALS for f, _ in s.proxy_flag_codes}
                   | FAILURE_FLAGS, key=lambda f: (-len(f), f))
    code_part = f'" (?:{"|".join(codes)}) |' if codes else ""
    # The flags field is one run of [A-Z,] between blanks holding a flag: looked for ahead, then the run
    # taken once. (`[A-Z,]*FLAG[A-Z,]* ` rescanned the run to its end after every flag in it: quadratic.)
    return re.compile(f"{code_part} (?=[A-Z,]*(?:{'|'.join(flags)}))[A-Z,]* ".encode())

ENVOY_CANDIDATE = _envoy_candidate()
