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
    # it are searched in one pass. Start each at a byte that is rare in logs (upper case, q, x, y, z) and
    # check the context with a lookbehind: a chunk without that byte costs a memchr, and each occurrence
    # about 0.1 us; a common byte (n, m, E) costs a regex pass over the chunk plus a step at each one.
    # Every spelling `words` accepts must be found by one of them, or its events are never parsed.
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
    # Before the timeout row: HikariCP's and SQLAlchemy's messages also say "timed out", and the first
    # row that recognises an event wins.
    Signal(
        id="pool-exhausted", name="exhausted connection pool", events="pool exhaustions",
        verb="ran out of pooled connections to",
        # The messages as each library writes them:
        # - HikariCP, HikariPool.createTimeoutException: "<pool> - Connection is not available, request
        #   timed out after <n>ms." (java.sql.SQLTransientConnectionException);
        # - SQLAlchemy, pool/impl.py QueuePool._do_get: "QueuePool limit of size %d overflow %d reached,
        #   connection timed out, timeout %0.2f" (sqlalchemy.exc.TimeoutError, code 3o7r);
        # - pgx (pgxpool.Pool.Acquire) callers: "failed to acquire connection: ..." and "conn pool
        #   exhausted", as Go services wrap and log the pool's error;
        # - PostgreSQL, src/backend/storage/lmgr/proc.c InitProcess: "sorry, too many clients already"
        #   (SQLSTATE 53300, too_many_connections).
        words=(r"(?i:connection is not available|queuepool limit|failed to acquire (?:a )?conn|"
               r"pool[ _-]?exhausted|too many clients)"),
        # No first byte of its own: "nnection is not available" joins the unavailable row's "nnect" pass,
        # acquire (a) conn and QueuePool limit the timeout row's "u" pass, "many clients" starts at y, the
        # upper-case spellings at C and U (EXHAUSTED from its U).
        markers=(rb"nnection is not available", rb"uire con(?<=acquire con)",
                 rb"uire a con(?<=acquire a con)", rb"ueue[pP]ool limit", rb"y(?<=many) clients",
                 rb"xhausted", rb"CONNECTION IS NOT AVAILABLE", rb"UIRE CON(?<=ACQUIRE CON)",
                 rb"UIRE A CON(?<=ACQUIRE A CON)", rb"UEUEPOOL LIMIT", rb"CLIENTS(?<=MANY CLIENTS)",
                 rb"USTED(?<=XHAUSTED)"),
        examples=("HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                  "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
                  "request timed out after 30004ms.",
                  "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00",
                  "failed to acquire connection: context deadline exceeded", "conn pool exhausted",
                  "FATAL: sorry, too many clients already",
                  "pq: sorry, too many clients already"),
    ),
    Signal(
        id="upstream-timeout", name="upstream timeout", events="timeouts", verb="timed out waiting for",
        # timeout, time out, timed out, TimedOut, ETIMEDOUT, deadline exceeded, DeadlineExceeded, gRPC's
        # DEADLINE_EXCEEDED (status 4) and Go's "context deadline exceeded"; nginx's "upstream timed out".
        words=r"(?i:time[ _-]?out|timed[ _-]?out|deadline[ _-]?exceeded)",
        # "ut", read back: timeout, Timeout, TimeOut, SocketTimeoutException, time out, timed out, TimedOut,
        # timed_out (lower case has no rare byte; "ut" is the rarest pair in them); "UT" the same in upper
        # case (TIMEOUT, ETIMEDOUT, TIMED OUT, TIME_OUT); x: deadline exceeded, DeadlineExceeded; C:
        # DEADLINE_EXCEEDED, read back from its C (the C pass is there for ECONNREFUSED; X would be one more).
        markers=(rb"ut(?:(?<=me[oO]ut)|(?<=me[ _\-d][oO]ut)|(?<=med[ _\-][oO]ut))",
                 rb"UT(?:(?<=EOUT)|(?<=E[ _\-D]OUT)|(?<=ED[ _\-]OUT))", rb"xceeded", rb"CEEDED(?<=XCEEDED)"),
        # UT: upstream request timeout; URX with a 504: the retries were spent on per-try timeouts.
        proxy_flags=frozenset({"UT"}), proxy_flag_codes=frozenset({("URX", "504")}),
        # 504: what an ingress-nginx JSON access record says of a timed-out upstream (its status fields).
        proxy_markers=(rb'U(?:T|RX)[",]', rb"504\b"),
        examples=("upstream response timeout", "Timed out after 10000 ms", "TIMEOUT waiting for upstream",
                  "java.net.SocketTimeoutException: Read timed out", "connect ETIMEDOUT 10.0.0.5:8080",
                  "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
                  "io.grpc.StatusRuntimeException: DEADLINE_EXCEEDED: deadline exceeded after 9.9s"),
    ),
    Signal(
        id="upstream-unavailable", name="unavailable upstream", events="failed connections",
        verb="could not reach",
        # Connection refused or reset (ECONNREFUSED, ECONNRESET, nginx's "(111: Connection refused)" and
        # "connect() failed (111"), gRPC UNAVAILABLE (status 14: Go's "code = Unavailable", Java's and
        # Python's UNAVAILABLE), Envoy's "no healthy upstream" (UH) and "upstream connect error or
        # disconnect/reset before headers", nginx's "no live upstreams", a proxy's 502/503.
        words=(r"(?i:connection[ _-]?re(?:fused|set)|econnre(?:fused|set)|\bunavailable\b|"
               r"no (?:healthy|live) upstream|upstream connect error|connect\(\) failed \(111)"),
        # "nnect": (C|c)onnection refused/reset (ConnectionRefused too), connect error, connect() failed;
        # "u"/"U": unavailable, Unavailable, UNAVAILABLE and (N|n)o healthy/live upstream (the "u" pass is
        # the timeout row's); "C": ECONNREFUSED, ECONNRESET, CONNECTION_REFUSED, CONNECT ERROR.
        markers=(rb"nnection[ _\-]?[rR]e(?:fused|set)", rb"nnect error", rb"nnect\(\) failed", rb"unavailable",
                 rb"Unavailable", rb"UNAVAILABLE", rb"upstream(?:(?<=o live upstream)|(?<=o healthy upstream))",
                 rb"UPSTREAM(?:(?<=O LIVE UPSTREAM)|(?<=O HEALTHY UPSTREAM))", rb"CONNRE",
                 rb"CONNECTION[ _\-]?RE(?:FUSED|SET)", rb"CONNECT ERROR"),
        # UH: no healthy upstream host; UO: upstream overflow (circuit breaking: the connection pool or
        # pending-request limit was full), whatever the status code.
        proxy_flags=frozenset({"UH", "UO"}),
        proxy_codes=frozenset({"502", "503"}),
        proxy_markers=(rb"50[23]\b", rb'U[HO][",]'),
        examples=("dial tcp 10.0.0.5:8080: connect: connection refused", "connect ECONNREFUSED 10.0.0.5:8080",
                  "java.net.ConnectException: Connection refused", "read: connection reset by peer",
                  "socket hang up ECONNRESET", "rpc error: code = Unavailable desc = connection error",
                  "io.grpc.StatusRuntimeException: UNAVAILABLE: io exception", "503 Service Unavailable",
                  "no healthy upstream", "upstream connect error or disconnect/reset before headers",
                  "no live upstreams while connecting to upstream",
                  "connect() failed (111: Connection refused) while connecting to upstream"),
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
