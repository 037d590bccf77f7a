"""Fix commands are printed for a person to paste into a shell, and their values come from logs, clusters
and databases: a namespace written `prod$(id)` must never become `kubectl -n prod$(id)`.

Every placeholder a runbook command uses has a kind (PLACEHOLDER_KINDS, the one table to extend when a
check sets a new fact a command needs). A value is printed only when it has the syntax of its kind, and
then shell-quoted. A placeholder written inside quotes in the template (a JSON patch, `-c '...'`) may only
have a kind whose every valid value is one plain shell word, so no valid value can close those quotes; a
kind that allows spaces or quotes (generated SQL) must stand alone as a whole argument, quoted once here.
`template_problem` says at runbook load time when a template breaks those rules.
"""

from __future__ import annotations

import re
import shlex
import string
from dataclasses import dataclass
from typing import Callable, Mapping

from ..model.finding import Fact
from ..model.names import is_dns_label, is_dns_subdomain, is_label_key, is_label_value

# Placeholder -> kind. The data behind every printed command: add a line here with the placeholder.
PLACEHOLDER_KINDS: Mapping[str, str] = {
    "namespace": "dns_label",
    "upstream": "dns_label",        # a Service name (also its `app` label and, for fallbacks, its deployment)
    "caller": "dns_label",
    "service": "dns_label",
    "deployment": "dns_subdomain",
    "workload": "workload_ref",            # checks/netpath.py workload_facts: statefulset/db, deployment/api
    "hpa": "dns_subdomain",
    "pod": "dns_subdomain",
    "virtualservice": "dns_subdomain",
    "destinationrule": "dns_subdomain",
    "serviceprofile": "dns_subdomain",  # Linkerd names it after the Service's FQDN
    "ingress": "dns_subdomain",
    "container": "dns_label",
    "replicas": "count",
    "replicas_suggested": "count",
    "hpa_max": "count",
    "hpa_max_suggested": "count",
    "hpa_min": "count",
    "hpa_min_suggested": "count",
    "hpa_current": "count",
    "stuck_deployment": "dns_subdomain",   # checks/threads.py: restart every pod of it
    "stuck_pod_1": "dns_subdomain",        # ... or these, one `kubectl delete pod` each
    "stuck_pod_2": "dns_subdomain",
    "stuck_pod_3": "dns_subdomain",
    "jvm_pid": "pid",                      # checks/threads.py dump_facts: the runtime the dumps came from
    "jvm_container": "dns_label",
    "python_pid": "pid",
    "caller_pod": "dns_subdomain",         # checks/netpath.py: where a request to the upstream is timed from
    "caller_container": "dns_label",
    "caller_namespace": "dns_label",       # the caller's pod's namespace (the caller may live in another)
    "caller_node": "dns_subdomain",
    "node": "dns_subdomain",               # checks/podhealth.py: a node under the upstream's pods in trouble
    "evicted_pod": "dns_subdomain",        # checks/podhealth.py: a pod of the upstream the kubelet evicted
    "upstream_port": "port",
    "upstream_pod": "dns_subdomain",             # engine.diagnose.base_facts: a running pod of the upstream
    "upstream_jvm_container": "dns_label",
    "upstream_deployment": "dns_subdomain",  # engine.diagnose.base_facts, for the fallback commands
    "pod_selector": "selector",            # engine.diagnose.base_facts: the pods its Deployment selects
    "caller_label_key": "label_key",       # inside a JSON merge patch: plain-word kinds only
    "caller_label_value": "label_value",
    "heap_limit_suggested": "quantity",    # checks/heap.py
    "java_env": "jvm_env",                 # NAME=value for `kubectl set env`, one argument
    "route_index": "count",
    "pid": "pid",
    "idle_pid": "pid",
    "long_query_pid": "pid",
    "cpu_limit": "quantity",
    "cpu_limit_suggested": "quantity",
    "memory_limit": "quantity",
    "memory_limit_suggested": "quantity",
    "heap_max": "jvm_size",
    "heap_suggested": "jvm_size",
    "caller_timeout": "duration",
    "route_timeout": "duration",
    "route_timeout_suggested": "duration",
    "per_try_timeout": "duration",
    "per_try_timeout_suggested": "duration",
    "attempts_suggested": "count",            # Istio retries after the first try
    "proxy_read_timeout_suggested": "count",  # ingress-nginx reads whole seconds
    "proxy_next_upstream_tries_suggested": "count",
    "db": "pg_database",
    "blocker_user": "sql_name",
    "terminate_sql": "sql_backend_call",
    "index_sql": "sql_create_index",
}


def _full(pattern: str) -> Callable[[str], bool]:
    rx = re.compile(pattern)
    return lambda v: rx.fullmatch(v) is not None


# A SQL identifier as the postgres parser writes it: plain lower-case, or double-quoted with "" inside.
# Quoted ones may hold anything but control, bidi and line-separator characters (they are shown to a person).
_UNSHOWN = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_IDENT = rf'(?:[a-z_][a-z0-9_$]{{0,62}}|"(?:[^"{_UNSHOWN}]|""){{1,63}}")'


@dataclass(frozen=True)
class Kind:
    valid: Callable[[str], bool]
    what: str           # "is not {what}"
    word: bool = True   # every valid value is one plain shell word: safe inside the template's quotes too


KINDS: Mapping[str, Kind] = {
    "dns_label": Kind(is_dns_label, "a valid Kubernetes name"),
    "dns_subdomain": Kind(is_dns_subdomain, "a valid Kubernetes object name"),
    "label_value": Kind(lambda v: v != "" and is_label_value(v), "a valid Kubernetes label value"),
    "label_key": Kind(is_label_key, "a valid Kubernetes label key"),
    # kind/name as kubectl takes it, for the controllers `kubectl set resources` and `patch` accept alike.
    "workload_ref": Kind(lambda v: v.partition("/")[0] in ("deployment", "statefulset", "daemonset") and
                         is_dns_subdomain(v.partition("/")[2]), "a workload (deployment/name, statefulset/name)"),
    # `kubectl -l k=v,k2=v2`: equality terms only, each key and value valid (so no space, quote or '$').
    "selector": Kind(lambda v: v != "" and all(
        "=" in term and is_label_key(term.split("=", 1)[0]) and is_label_value(term.split("=", 1)[1])
        for term in v.split(",")), "a label selector (k=v,k2=v2)"),
    "port": Kind(lambda v: _full(r"[1-9][0-9]{0,4}")(v) and int(v) <= 65535, "a port number"),
    "count": Kind(_full(r"0|[1-9][0-9]{0,8}"), "a whole number"),
    "pid": Kind(_full(r"[1-9][0-9]{0,9}"), "a process id"),
    "quantity": Kind(_full(r"[0-9]{1,12}(?:\.[0-9]{1,6})?(?:[mkMGTPE]|[KMGTPE]i)?"),
                     "a Kubernetes quantity (500m, 512Mi)"),
    "jvm_size": Kind(_full(r"[1-9][0-9]{0,8}[kKmMgGtT]?"), "a JVM memory size (768m)"),
    "duration": Kind(_full(r"[0-9]{1,9}(?:\.[0-9]{1,6})?(?:ms|s|m|h)"), "a duration (3s, 250ms)"),
    # `psql -d` reads a value with '=' or a URI as a connection string: a plain name only.
    "pg_database": Kind(_full(r"[A-Za-z_][A-Za-z0-9_-]{0,62}"), "a plain PostgreSQL database name"),
    # Written unquoted inside a double-quoted shell string: no '$', no quotes, lower case as PostgreSQL folds.
    "sql_name": Kind(_full(r"[a-z_][a-z0-9_]{0,62}"), "a plain lower-case SQL name"),
    # One JVM options variable with its whole value: flags that start with '-' and hold no quote, '$',
    # backslash or space inside (shell-quoted once as a single argument when filled).
    "jvm_env": Kind(_full(r"(?:JAVA_TOOL_OPTIONS|JDK_JAVA_OPTIONS|JAVA_OPTS)=-[\w@%+=:,./-]*(?: -[\w@%+=:,./-]*)*"),
                    "JVM options (NAME=-flag -flag ...)", word=False),
    "sql_backend_call": Kind(_full(r"SELECT pg_(?:terminate|cancel)_backend\([1-9][0-9]{0,9}\);"),
                             "a pg_terminate_backend/pg_cancel_backend call", word=False),
    "sql_create_index": Kind(_full(rf"CREATE INDEX CONCURRENTLY {_IDENT} ON {_IDENT}(?:\.{_IDENT})? \({_IDENT}\);"),
                             "a CREATE INDEX statement of one column", word=False),
}

_WORD = re.compile(r"[\w@%+=:,./-]+", re.ASCII)     # what shlex.quote leaves as it is


@dataclass(frozen=True)
class Refused:
    """A value that cannot be what it names: the command is left out, and this says why."""

    reason: str


def _fields(template: str) -> list[tuple[str, bool]]:
    """(placeholder, inside quotes) for each placeholder of a template, in order."""
    out: list[tuple[str, bool]] = []
    quote: str | None = None
    escaped = False
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        for ch in literal:
            if escaped:
                escaped = False
            elif ch == "\\" and quote != "'":
                escaped = True
            elif quote is None and ch in "'\"":
                quote = ch
            elif ch == quote:
                quote = None
        if name is not None:
            out.append((name, quote is not None))
    return out


def template_problem(template: str) -> str | None:
    """Why a command template cannot be filled safely, or None."""
    for name, quoted in _fields(template):
        if not name or not name.isidentifier():
            return f"placeholder {{{name}}} must be a plain name"
        kind = PLACEHOLDER_KINDS.get(name)
        if kind is None:
            return (f"command placeholder {{{name}}} has no known kind; add it to PLACEHOLDER_KINDS in "
                    f"{__name__} (kinds: {', '.join(sorted(KINDS))})")
        if quoted and not KINDS[kind].word:
            return (f"{{{name}}} ({kind}) may hold spaces or quotes, so it cannot sit inside quotes: "
                    f"make it a whole argument of its own, which is quoted when filled")
    return None


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def value_fits(name: str, value: Fact) -> bool:
    """A value is what its placeholder names (True for a placeholder with no kind: prose, never a command)."""
    kind = PLACEHOLDER_KINDS.get(name)
    return kind is None or KINDS[kind].valid(str(value))


def fill_command(template: str, facts: Mapping[str, Fact]) -> str | Refused | None:
    """The command with every value checked and quoted; Refused when a value cannot be what it names;
    None when a fact it needs was not found."""
    fmt = string.Formatter()
    out: list[str] = []
    fields = iter(_fields(template))
    for literal, name, spec, conv in fmt.parse(template):
        out.append(literal)
        if name is None:
            continue
        _, quoted = next(fields)
        if name not in facts:
            return None
        kind = PLACEHOLDER_KINDS.get(name)
        if kind is None:                  # runbook validation refuses this; never print an unchecked value
            return Refused(f"{{{name}}} has no known kind")
        value = fmt.format_field(fmt.convert_field(facts[name], conv), spec or "")
        if not KINDS[kind].valid(value):
            return Refused(f"{name} {_shown(value)} is not {KINDS[kind].what}")
        if quoted and not _WORD.fullmatch(value):
            return Refused(f"{name} {_shown(value)} cannot be placed inside quotes")
        out.append(value if quoted else shlex.quote(value))
    return "".join(out)
