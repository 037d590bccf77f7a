"""An HTTP answer a source could not use, in words a person acts on: the status with its name and, where
one status has one usual cause, what to check (never `HTTP 404: b''`)."""

from __future__ import annotations

from http import HTTPStatus

# What a status from a monitoring or API server most often means for the flag that pointed at it.
_HINTS = {
    301: "the URL redirects: give the address it moves to",
    302: "the URL redirects: give the address it moves to",
    400: "the server refused the request as malformed",
    401: "the server wants credentials",
    403: "the credentials given may not read this",
    404: "is the URL the server's base URL?",
    405: "is the URL the server's base URL?",
    429: "the server is rate-limiting: try again later",
    502: "a proxy in front of the server could not reach it",
    503: "the server is unavailable or overloaded",
    504: "a proxy in front of the server timed out",
}


def http_status(code: int | str) -> str:
    """`404` -> `404 Not Found`; a code with no standard name stays a number."""
    try:
        return f"{int(code)} {HTTPStatus(int(code)).phrase}"
    except ValueError:
        return str(code)


def http_error(server: str, code: int | str, path: str, detail: str = "", flag: str = "") -> str:
    """One line: `Prometheus answered 404 Not Found for /api/v1/query_range: is --prometheus-url the
    Prometheus base URL?` The server's own error text (`detail`) is kept when it said one."""
    status = http_status(code)
    line = f"{server} answered {status} for {path}"
    # A body that only restates the status ("Unauthorized", "404 page not found") adds nothing.
    number, _, phrase = status.partition(" ")
    said = detail.strip().lower()
    if said and said not in (status.lower(), phrase.lower(), f"{number} page not found"):
        return f"{line}: {detail}"
    try:
        hint = _HINTS.get(int(code))
    except ValueError:
        hint = None
    if hint and flag and int(code) in (404, 405):
        hint = f"is {flag} the {server} base URL?"
    elif hint is None and str(code).startswith("5"):
        hint = "the server failed; try again, or look at its own logs"
    return f"{line}: {hint}" if hint else line
