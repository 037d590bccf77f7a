"""The signals an incident can be: one row per signal, how a log event is recognised and how it is worded.

This is the one table (docs/architecture.md "Adding a signal"): the log layer builds its pre-filter and its
classifier from it (logs/classify.py), the renderers and the CLI take their words from it, and a runbook
answers a signal by naming its id under `match: signals:`. Adding a signal is adding a row here and a
runbook; the order of the rows is the order they are tried in, so the first row that recognises an event
wins (a line that says "timed out" and "connection reset" is a timeout).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signal:
    id: str                 # what runbooks match on and JSON says ("signal": "upstream-timeout")
    name: str               # one incident of it, for people: "no upstream timeout found"
    events: str             # its events, counted: "121 timeouts"
    verb: str               # caller <verb> upstream: "frontend-api timed out waiting for user-auth-service"
    # How an event is recognised. `words`: a regex (str; scoped flags like (?i:...) allowed) searched in a
    # record's text fields (message, error, gRPC code names, ...) and in an nginx error line's message.
    words: str
    # Byte regexes that find the JSON lines that may hold such an event before any is parsed (the
    # pre-filter, docs/logs.md "How lines are read"). Each starts with one literal byte: markers that share
    # it are searched in one pass, and a chunk without that byte costs a memchr. Every spelling `words`
    # accepts must be found by one of them, or its events are never parsed.
    markers: tuple[bytes, ...]
    # Envoy access logs (text and JSON): response flags that say it whatever the status code, a flag that
    # says it with one code, and codes that say it whatever the flags.
    proxy_flags: frozenset[str] = frozenset()
    proxy_flag_codes: frozenset[tuple[str, str]] = frozenset()
    proxy_codes: frozenset[str] = frozenset()
    # The pre-filter for Envoy JSON logs (searched only in files whose sample has response_flags).
    proxy_markers: tuple[bytes, ...] = ()
    # Messages the row must recognise, pre-filter included (tests/logs/test_signals_table.py runs them).
    examples: tuple[str, ...] = ()


SIGNALS: tuple[Signal, ...] = (
    Signal(
        id="upstream-timeout", name="upstream timeout", events="timeouts", verb="timed out waiting for",
        # timeout, time out, timed out, TimedOut, ETIMEDOUT, deadline exceeded, DeadlineExceeded, gRPC's
        # DEADLINE_EXCEEDED (status 4) and Go's "context deadline exceeded"; nginx's "upstream timed out".
        words=r"(?i:time[ _-]?out|timed[ _-]?out|deadline[ _-]?exceeded)",
        # "m..." finds timeout, Timeout, SocketTimeoutException, timed out, TimedOut; "xceeded" deadline
        # exceeded, DeadlineExceeded; "E..." TIMEOUT (EOUT), TIME OUT, ETIMEDOUT, TIMED OUT (EDOUT, ED OUT),
        # DEADLINE_EXCEEDED (EDED). One upper-case marker costs less than "TIME" plus "XCEEDED".
        markers=(rb"m(?:eout|ed[ _]?[oO]ut)", rb"xceeded", rb"E(?:D?[ _-]?OUT|DED)"),
        # UT: upstream request timeout; URX with a 504: the retries were spent on per-try timeouts.
        proxy_flags=frozenset({"UT"}), proxy_flag_codes=frozenset({("URX", "504")}),
        proxy_markers=(rb'U(?:T|RX)[",]',),
        examples=("upstream response timeout", "Timed out after 10000 ms", "TIMEOUT waiting for upstream",
                  "java.net.SocketTimeoutException: Read timed out", "connect ETIMEDOUT 10.0.0.5:8080",
                  "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
                  "io.grpc.StatusRuntimeException: DEADLINE_EXCEEDED: deadline exceeded after 9.9s"),
    ),
    Signal(
        id="upstream-unavailable", name="unavailable upstream", events="failed connections",
        verb="could not reach",
        # A minimal recogniser (the next signals widen it): connection refused or reset (ECONNREFUSED,
        # ECONNRESET, nginx's "(111: Connection refused)"), gRPC UNAVAILABLE (status 14: Go's "code =
        # Unavailable", Java's and Python's UNAVAILABLE), a proxy's 502/503.
        words=r"(?i:connection[ _-]?re(?:fused|set)|econnre(?:fused|set)|\bunavailable\b)",
        # "n..." finds (C|c)onnection refused/reset and (U|u)navailable; the upper-case spellings join the
        # timeout row's "E" pass (ECONNREFUSED, ECONNRESET, and UNAVAILABLE read back from its last E).
        markers=(rb"n(?:ection[ _-]?re(?:fused|set)|available)", rb"ECONNRE", rb"E(?<=UNAVAILABLE)"),
        proxy_codes=frozenset({"502", "503"}),
        proxy_markers=(rb"50[23]\b",),
        examples=("dial tcp 10.0.0.5:8080: connect: connection refused", "connect ECONNREFUSED 10.0.0.5:8080",
                  "java.net.ConnectException: Connection refused", "read: connection reset by peer",
                  "socket hang up ECONNRESET", "rpc error: code = Unavailable desc = connection error",
                  "io.grpc.StatusRuntimeException: UNAVAILABLE: io exception", "503 Service Unavailable"),
    ),
)

BY_ID: dict[str, Signal] = {s.id: s for s in SIGNALS}
DEFAULT = "upstream-timeout"       # a document without a signal (contract section 5) means this one


def describe(signal_id: str) -> Signal:
    """The row of a signal; for an id no row has (a bundle or runbook from a newer version), plain words."""
    found = BY_ID.get(signal_id)
    if found is not None:
        return found
    words = signal_id.replace("-", " ")
    return Signal(id=signal_id, name=words, events=f"{words} events", verb="had failures with", words="",
                  markers=())


def names() -> str:
    """'upstream timeout or unavailable upstream': what a log without any incident lacked."""
    all_names = [s.name for s in SIGNALS]
    return ", ".join(all_names[:-1]) + " or " + all_names[-1] if len(all_names) > 1 else all_names[0]
