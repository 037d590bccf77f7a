"""The project's own exception tree. Every user-facing error is one line naming the input.

Library exceptions (psycopg, kubernetes, urllib3, requests, yaml, json) are translated into these at the
boundary where they happen, so the CLI only needs to know this file.
"""

from __future__ import annotations


class DiagnoseError(Exception):
    """Base of every error the tool reports to a person."""

    exit_code = 1


class InputError(DiagnoseError):
    """Bad usage or unreadable input (a log, a bundle, a runbook): exit status 2."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path, self.line, self.field = path, line, field
        where = ""
        if path:
            where = path + (f":{line}" if line else "")
            where += f": field {field!r}" if field else ""
            where += ": "
        super().__init__(where + message)


class RunbookError(InputError):
    """A runbook that does not validate."""


class BundleError(InputError):
    """A bundle that is missing, corrupt or unsafe."""


class NoIncidentError(DiagnoseError):
    """The logs were readable but held no timeout incident: exit status 3."""

    exit_code = 3


class SourceError(DiagnoseError):
    """A live source failed (unreachable, refused, too slow). Recorded on the source, never fatal."""


class EvidenceError(DiagnoseError):
    """Source data that could not be understood (a malformed document). Recorded on the source."""
