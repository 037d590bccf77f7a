"""The signal table (model/signals.py) drives the pre-filter and the classifier: every spelling a row lists
is found among many lines and classified as that row's signal, in every format that can say it."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from diagnose.logs import classify
from diagnose.logs.scan import scan
from diagnose.model.signals import SIGNALS, describe

EXAMPLES = [(s.id, text) for s in SIGNALS for text in s.examples]


@pytest.mark.parametrize("signal, text", EXAMPLES)
def test_every_example_of_a_row_is_found_by_the_pre_filter_among_many_json_lines(tmp_path, signal, text):
    info = json.dumps({"level": "info", "msg": "GET /x 200", "service": "checkout", "duration_ms": 3})
    rec = {"level": "error", "msg": text, "service": "checkout", "peer.service": "payments"}
    p = tmp_path / "app.jsonl"
    p.write_text("\n".join([info] * 3000 + [json.dumps(rec)] + [info] * 3000) + "\n")
    r = scan([str(p)])
    assert [(i.signal, i.service, i.upstream, i.events) for i in r.incidents] == [(signal, "checkout", "payments", 1)]


@pytest.mark.parametrize("signal, text", EXAMPLES)
def test_every_example_of_a_row_is_an_event_in_logfmt(tmp_path, signal, text):
    p = tmp_path / "app.log"
    p.write_text(f'level=error msg="{text}" service=checkout upstream=payments\n')
    assert [i.signal for i in scan([str(p)]).incidents] == [signal]


def test_nginx_connect_refused_is_an_unavailable_upstream_and_timed_out_a_timeout(tmp_path):
    p = tmp_path / "error.log"
    p.write_text(
        '2023/10/27 10:30:00 [error] 31#31: *5 connect() failed (111: Connection refused) while connecting to '
        'upstream, client: 10.0.0.1, server: _, request: "GET /login HTTP/1.1", '
        'upstream: "http://user-auth-service.production.svc.cluster.local:8080/login", host: "api"\n'
        '2023/10/27 10:30:01 [error] 31#31: *6 upstream timed out (110: Connection timed out) while reading '
        'response header from upstream, client: 10.0.0.1, server: _, request: "GET /login HTTP/1.1", '
        'upstream: "http://user-auth-service.production.svc.cluster.local:8080/login", host: "api"\n')
    r = scan([str(p)])
    assert sorted((i.signal, i.service, i.upstream, i.namespace) for i in r.incidents) == [
        ("upstream-timeout", "nginx", "user-auth-service", "production"),
        ("upstream-unavailable", "nginx", "user-auth-service", "production")]


def test_the_first_row_wins_when_a_line_says_two_signals():
    assert classify.from_words("connection reset after the read timed out") == "upstream-timeout"


def test_markers_sharing_a_first_byte_are_one_pass():
    firsts = [m.pattern[:1] for m in classify.JSON_MARKERS]
    assert len(firsts) == len(set(firsts))
    assert len(classify.JSON_MARKERS) < sum(len(s.markers) for s in SIGNALS)


@pytest.mark.parametrize("marker", [rb"(?:a|b)c", rb"[xX]ceeded", rb"a*b", rb"E"])
def test_a_marker_without_one_literal_first_byte_is_refused(marker):
    with pytest.raises(ValueError, match="literal letter or digit"):
        classify.joined((marker,))


def test_an_unknown_signal_is_worded_plainly():
    s = describe("disk-full")
    assert (s.name, s.events) == ("disk full", "disk full events")
    assert describe("upstream-timeout").events == "timeouts"


def test_keep_lines_are_kept_per_signal(tmp_path: Path):
    p = tmp_path / "both.jsonl"
    lines = [{"service": "a", "upstream": "b", "msg": "connection refused"},
             {"service": "a", "upstream": "b", "msg": "upstream timeout"}]
    p.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    r = scan([str(p)], keep_lines=5)
    assert {i.signal: r.kept_for(i) for i in r.incidents} == {
        "upstream-unavailable": [json.dumps(lines[0]).encode()], "upstream-timeout": [json.dumps(lines[1]).encode()]}


# Each row's phrases, and whether `words` lets their words run together (time[ _-]?out), so that
# CamelCase, snake_case and Title Case are spellings of it too.
PHRASES = {
    "pool-exhausted": [("connection is not available", False), ("queuepool limit", False),
                       ("failed to acquire conn", False), ("failed to acquire a conn", False),
                       ("pool exhausted", True), ("too many clients", False)],
    "upstream-timeout": [("timeout", False), ("time out", True), ("timed out", True), ("deadline exceeded", True)],
    "upstream-unavailable": [("connection refused", True), ("connection reset", True), ("unavailable", False),
                             ("no healthy upstream", False), ("no live upstream", False),
                             ("upstream connect error", False)],
}
# Spellings that are not a case form of a phrase: errno names, nginx's fixed text, library class names.
LITERAL = {"pool-exhausted": ["QueuePool limit of size 5"],
           "upstream-timeout": ["ETIMEDOUT", "SocketTimeoutException", "DEADLINE_EXCEEDED", "DeadlineExceeded"],
           "upstream-unavailable": ["ECONNREFUSED", "ECONNRESET", "connect() failed (111: Connection refused)"]}


def _spellings(phrase: str, joins: bool) -> list[str]:
    words = phrase.split(" ")
    forms = [phrase, phrase[:1].upper() + phrase[1:], phrase.upper()]
    if joins:
        forms += [" ".join(w.capitalize() for w in words), "".join(w.capitalize() for w in words),
                  words[0] + "".join(w.capitalize() for w in words[1:]), "_".join(words), "_".join(words).upper(),
                  "-".join(words)]
    return forms


USUAL = sorted({(sid, text) for sid, phrases in PHRASES.items() for phrase, joins in phrases
                for text in _spellings(phrase, joins)} | {(sid, t) for sid, ts in LITERAL.items() for t in ts})


def _found(tmp_path: Path, filler: str, chunk_size: int) -> list[tuple[str, str]]:
    """(signal, message) of every usual spelling's line that a scan kept, each line among filler lines."""
    lines = []
    for _, text in USUAL:
        lines += [filler] * 40 + [json.dumps({"level": "error", "msg": text, "service": "checkout",
                                              "peer.service": "payments"})]
    p = tmp_path / "app.jsonl"
    p.write_text("\n".join(lines) + "\n")
    r = scan([str(p)], keep_lines=len(USUAL), chunk_size=chunk_size, workers=1)
    return sorted((i.signal, json.loads(raw)["msg"]) for i in r.incidents for raw in r.kept_for(i))


def test_every_usual_spelling_of_a_rows_phrases_is_classified_as_that_row():
    assert [(sid, text) for sid, text in USUAL if classify.from_words(text) != sid] == []


def test_every_usual_spelling_is_found_by_the_pre_filter_where_the_markers_first_bytes_are_rare(tmp_path):
    # No u, U, x, X, C or y in the filler: each marker's first byte is found with a memchr and matched there.
    filler = json.dumps({"level": "info", "msg": "GET /cart 200", "service": "cart", "ms": 3})
    assert _found(tmp_path, filler, 1 << 20) == USUAL


def test_every_usual_spelling_is_found_where_the_markers_first_bytes_are_in_every_line(tmp_path):
    # Every first byte in every filler line: the kernel leaves the rest of each chunk to the regex engine's
    # search after a few misses; small chunks make it switch many times, mid-chunk.
    filler = json.dumps({"level": "info", "msg": "nUxXCyu queue Unix CPU yes " * 4, "service": "cart"})
    assert _found(tmp_path, filler, 8192) == USUAL


def test_every_usual_spelling_is_an_event_in_a_logfmt_line(tmp_path):
    # Text formats search one line at a time with all markers in one regex (classify.LINE_MARKERS).
    p = tmp_path / "app.log"
    p.write_text("".join(f'level=error msg="{text}" service=checkout upstream=payments\n' for _, text in USUAL))
    assert {i.signal: i.events for i in scan([str(p)]).incidents} == Counter(sid for sid, _ in USUAL)


def _first_row_whose_words_match(text: str) -> str | None:
    return next((s.id for s in SIGNALS if re.search(s.words, text)), None)


def test_classifying_ascii_text_lower_cased_says_what_the_rows_words_say():
    # from_words searches ASCII text lower-cased with case-sensitive copies of the words: it must agree
    # with the words themselves on every case form, in text around them, ASCII or not.
    rng = random.Random(7)
    texts = [t for _, t in USUAL] + [s.words for s in SIGNALS] + ["GET /cart 200", "", "TIMEOUTS: 0", "ſ"]
    texts += ["".join(c.upper() if rng.random() < 0.5 else c for c in t) for _, t in USUAL]
    texts += [f"é {t} ü" for _, t in USUAL] + [f"xx{t}yy" for _, t in USUAL] + ["connection refuſed", "tİmeout"]
    assert [(t, classify.from_words(t)) for t in texts] == [(t, _first_row_whose_words_match(t)) for t in texts]


@pytest.mark.parametrize("words", ["(?i:a)|(?i:b)", "(?i:Abc)", "(?i:a(?-i:b))", r"(?i:\N{LATIN SMALL LETTER A})",
                                   "timeout"])
def test_words_that_are_not_one_lower_case_ignore_case_group_are_searched_as_written(words):
    assert classify._lower_case(words) is None
