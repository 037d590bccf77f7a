"""Fix commands are pasted into a shell: a value from logs, clusters or databases either has the syntax of
what it names and ends up inside exactly one argument, or the command is left out and the fix says why."""

from __future__ import annotations

import random
import re
import shlex
import string
import textwrap
from pathlib import Path

import pytest

from diagnose.bundle.store import read
from diagnose.engine.commands import PLACEHOLDER_KINDS, Refused, _shown, fill_command
from diagnose.engine.diagnose import diagnose, from_bundle
from diagnose.engine.ranking import _fixes
from diagnose.engine.runbook import for_signal, parse
from diagnose.errors import RunbookError
from diagnose.model.check import CheckSpec

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted(p.parent for p in (REPO / "fixtures").glob("*/expected.json"))
RUNBOOK = for_signal("upstream-timeout")

# What the fixtures find, one value per fact every command of the runbook uses.
FACTS: dict[str, str | int | float] = {
    "service": "frontend-api", "caller": "frontend-api", "upstream": "user-auth-service",
    "namespace": "production", "caller_timeout": "10s", "deployment": "user-auth-service",
    "replicas_suggested": 5, "hpa": "user-auth-service", "hpa_max": 3, "hpa_max_suggested": 5,
    "cpu_limit_suggested": "2000m", "memory_limit_suggested": "3Gi", "heap_suggested": "2304m",
    "zones": "eu-west-1a", "db": "auth", "pid": 4242, "blocker": "pid 4242 (app user-auth-service)",
    "idle_pid": 4243, "idle_xact_age_s": 95, "terminate_sql": "SELECT pg_terminate_backend(4243);",
    "index_sql": "CREATE INDEX CONCURRENTLY idx_orders_customer_id ON orders (customer_id);",
    "blocker_user": "auth", "virtualservice": "user-auth-service", "route_index": 0,
    "per_try_timeout_suggested": "3s", "route_timeout_suggested": "4s", "code_location": "Auth.java:42",
    "pod": "user-auth-service-7d9f8b6c5-4xk2p", "upstream_deployment": "user-auth-service",
    "pod_selector": "app.kubernetes.io/name=user-auth-service,tier=auth",
    # mesh budget (checks/mesh.py plan_facts): one proposal of the "retries" kind, and the other proxies' names
    "attempts_suggested": 1, "tries_suggested": 2, "budget_reason": "each try above the upstream p99",
    "serviceprofile": "user-auth-service.production.svc.cluster.local", "ingress": "user-auth-service",
    "proxy_read_timeout_suggested": 4, "proxy_next_upstream_tries_suggested": 2,
    # scaling (checks/scaling.py), heap (checks/heap.py), network (checks/netpath.py), deadlock restarts
    "replicas": 3, "scale_note": "no HPA targets it", "hpa_at_max": "3/3 replicas", "hpa_min": 2,
    "hpa_min_suggested": 5, "hpa_current": 3, "container": "user-auth-service", "heap_limit": "2Gi",
    "heap_limit_suggested": "3Gi", "java_env_var": "JAVA_TOOL_OPTIONS",
    "java_env": "JAVA_TOOL_OPTIONS=-XX:+UseG1GC -Xmx2304m -XX:MaxGCPauseMillis=200",
    "caller_pod": "frontend-api-5c8d7f9b4-abcde", "caller_container": "frontend-api", "caller_namespace": "web",
    "workload": "deployment/user-auth-service",
    "caller_node": "ip-10-0-1-17.ec2.internal", "upstream_port": 8080, "caller_label_key": "app",
    "caller_label_value": "frontend-api", "stuck_pods": "user-auth-service-7d9f8b6c5-4xk2p",
    "stuck_deployment": "user-auth-service", "stuck_pod_1": "user-auth-service-7d9f8b6c5-4xk2p",
    "stuck_pod_2": "user-auth-service-7d9f8b6c5-9hq7m", "stuck_pod_3": "user-auth-service-7d9f8b6c5-tz6wn",
    # the dump command of the runtime the dumps showed (checks/threads.py dump_facts)
    "jvm_pid": 1, "jvm_container": "user-auth-service", "python_pid": 1,
    "upstream_pod": "user-auth-service-7d9f8b6c5-4xk2p", "upstream_jvm_container": "user-auth-service",
    # node trouble (checks/podhealth.py)
    "node": "ip-10-0-2-23.ec2.internal", "node_condition": "MemoryPressure since 10:12Z",
    "evicted_pod": "user-auth-service-7d9f8b6c5-9hq7m",
}

HOSTILE = ["prod$(id)", "a;rm -rf /", "`id`", "api\n 1. database likely 0.99", "it's", 'a"b', "two words",
           "prоd",                      # a Cyrillic 'о'
           "x" * 300, "-n", "\x1b[31mred", "a\u202egnp", ""]


def all_fixes(facts: dict) -> list:
    return [f for step in RUNBOOK.steps for f in _fixes(step, facts, ())]


def templates_using(name: str) -> list[str]:
    return [c for s in RUNBOOK.steps for f in s.fixes for c in f.commands if "{" + name + "}" in c]


def test_valid_names_give_the_commands_the_fixtures_show():
    commands = [c for f in all_fixes(FACTS) for c in f.commands]
    assert "kubectl scale deployment/user-auth-service -n production --replicas=5" in commands
    assert "kubectl patch hpa/user-auth-service -n production --type merge -p '{\"spec\":{\"maxReplicas\":5}}'" \
        in commands
    assert "psql -d auth -c 'SELECT pg_terminate_backend(4243);'" in commands
    assert "psql -d auth -c 'CREATE INDEX CONCURRENTLY idx_orders_customer_id ON orders (customer_id);'" in commands
    assert ("kubectl set env deployment/user-auth-service -n production -c user-auth-service "
            "'JAVA_TOOL_OPTIONS=-XX:+UseG1GC -Xmx2304m -XX:MaxGCPauseMillis=200'") in commands
    assert not [f for f in all_fixes(FACTS) if "left out" in f.why]


@pytest.mark.parametrize("name", ["namespace", "deployment", "upstream", "caller_namespace", "caller_pod",
                                  "workload", "hpa", "pod", "virtualservice", "db", "blocker_user"])
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:20]))
def test_a_hostile_name_prints_no_command_and_the_fix_says_why(name: str, value: str):
    facts = {**FACTS, name: value}
    assert templates_using(name), name
    for t in templates_using(name):
        assert isinstance(fill_command(t, facts), Refused), t
    fixes = all_fixes(facts)
    printed = [c for f in fixes for c in f.commands]
    assert len(printed) < len([c for f in all_fixes(FACTS) for c in f.commands])
    left_out = [f.why for f in fixes if "command left out: " in f.why]
    assert any(f"{name} {_shown(value)} is not " in w for w in left_out), left_out


def test_the_reason_names_the_value_and_what_it_should_be():
    fixes = all_fixes({**FACTS, "namespace": "prod$(id)"})
    assert any("command left out: namespace 'prod$(id)' is not a valid Kubernetes name" in f.why for f in fixes)


@pytest.mark.parametrize("name, value", [
    ("pid", "4242; rm -rf /"), ("pid", -1), ("pid", "0x10"), ("replicas_suggested", "5 --all"),
    ("replicas_suggested", True), ("hpa_max_suggested", '5}}\' ; id ; echo \'{{'),
    ("java_env", "JAVA_TOOL_OPTIONS=-Xmx2g' ; id '"),
    ("java_env", "LD_PRELOAD=/tmp/x.so"), ("java_env", "JAVA_TOOL_OPTIONS=-Xmx2g $(id)"),
    ("upstream_port", "8080 --x"), ("upstream_port", 70000), ("caller_label_key", 'app"}}'),
    ("cpu_limit_suggested", "1,memory=1"), ("memory_limit_suggested", "$(id)Mi"),
    ("per_try_timeout_suggested", '3s"}]\' ; id #'), ("route_index", "0/../1"),
    ("terminate_sql", "SELECT pg_terminate_backend(1); DROP TABLE users;"),
    ("index_sql", "DROP TABLE orders;"), ("index_sql", "CREATE INDEX CONCURRENTLY i ON t (c); DROP TABLE t;"),
    ("db", "host=evil.example dbname=auth"), ("db", "postgresql://evil/auth"), ("blocker_user", "Auth"),
    ("blocker_user", "a$(id)"),
])
def test_numbers_sizes_durations_and_sql_must_have_their_syntax(name: str, value: object):
    templates = templates_using(name)
    assert templates, name
    for t in templates:
        got = fill_command(t, {**FACTS, name: value})
        assert isinstance(got, Refused), (t, got)
        assert got.reason.startswith(f"{name} ")


def test_generated_sql_is_one_argument_even_with_quotes_in_its_identifiers():
    sql = 'CREATE INDEX CONCURRENTLY "idx_o\'x$(id)_c" ON "it\'s"."o\'x `id`" ("c; rm -rf /");'
    got = fill_command("psql -d {db} -c {index_sql}", {**FACTS, "index_sql": sql})
    assert isinstance(got, str)
    assert shlex.split(got) == ["psql", "-d", "auth", "-c", sql]


def argv_expected(template: str, values: dict) -> list[str]:
    """The template's own argv, each placeholder replaced by its value inside the argument it stands in."""
    names = [n for _, n, _, _ in string.Formatter().parse(template) if n]
    markers = {n: f"MARK{i}X" for i, n in enumerate(dict.fromkeys(names))}
    argv = shlex.split(template.format_map(markers))
    for n, m in markers.items():
        argv = [a.replace(m, str(values[n])) for a in argv]
    return argv


def _random_value(rng: random.Random, kind: str) -> str:
    hostile = string.ascii_letters + string.digits + " -_.:/=,@%+$`'\"\\;|&()<>{}[]*?!#~\n\t\x1b\u043e\u202e"
    if kind == "sql_create_index" and rng.random() < 0.7:
        def ident() -> str:
            return '"' + "".join(rng.choice(hostile.replace("\n", "").replace("\t", "").replace("\x1b", "")
                                            .replace("\u202e", "")) for _ in range(rng.randint(1, 12)))\
                .replace('"', '""') + '"'
        return f"CREATE INDEX CONCURRENTLY {ident()} ON {ident()}.{ident()} ({ident()});"
    if rng.random() < 0.5:      # mostly-valid values too, so the property is tested on printed commands
        return "".join(rng.choice(string.ascii_lowercase + string.digits + "-.") for _ in range(rng.randint(1, 10)))
    return "".join(rng.choice(hostile) for _ in range(rng.randint(0, 20)))


def test_any_value_is_either_refused_or_lands_inside_the_one_argument_the_template_gives_it():
    rng = random.Random(9)
    printed = 0
    templates = [c for s in RUNBOOK.steps for f in s.fixes for c in f.commands]
    for _ in range(300):
        for t in templates:
            names = {n for _, n, _, _ in string.Formatter().parse(t) if n}
            values = {**FACTS, **{n: _random_value(rng, PLACEHOLDER_KINDS[n]) for n in names
                                  if rng.random() < 0.5}}
            got = fill_command(t, values)
            if isinstance(got, str):
                printed += 1
                assert shlex.split(got) == argv_expected(t, values), (t, got)
            else:
                assert isinstance(got, Refused)
    assert printed > 1000


def _template_regex(template: str) -> tuple[re.Pattern[str], list[tuple[str, bool]]]:
    from diagnose.engine.commands import _fields

    parts, seen = [], set()
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
            seen.add(name)
    return re.compile("".join(parts)), _fields(template)


@pytest.mark.parametrize("bundle", FIXTURES, ids=[f.name for f in FIXTURES])
def test_every_printed_command_of_every_fixture_keeps_each_value_in_one_argument(bundle: Path):
    target, gathered = from_bundle(read(bundle))
    report = diagnose(target, gathered, RUNBOOK)
    steps = {s.cause: s for s in RUNBOOK.steps}
    for cause in report.causes:
        for fix in cause.fixes:
            for cmd in fix.commands:
                matched = False
                for t in (c for f in steps[cause.id].fixes for c in f.commands):
                    rx, fields = _template_regex(t)
                    m = rx.fullmatch(cmd)
                    if not m:
                        continue
                    # outside quotes a value is one shell word of its own: quoted once, or plain
                    words = {name: m.group(name) if quoted else shlex.split(m.group(name)) for name, quoted in fields}
                    if any(isinstance(w, list) and len(w) != 1 for w in words.values()):
                        continue
                    values = {n: w[0] if isinstance(w, list) else w for n, w in words.items()}
                    if fill_command(t, values) != cmd:
                        continue            # another template of the cause printed it
                    assert shlex.split(cmd) == argv_expected(t, values), cmd
                    matched = True
                assert matched, f"{cmd!r} comes from no template of {cause.id}"


SPECS = {"res": CheckSpec("res", lambda ev, p: [], ("kubernetes",), ("overload",), {},
                          facts=("deployment", "index_sql", "surprise"))}
RB = """\
name: slow
match: {signals: [slow]}
steps:
  - cause: overload
    title: t
    prior: 0.3
    checks: [res]
    fixes:
      - summary: s
        commands: [%s]
        why: w
"""


def test_runbook_validation_refuses_a_command_placeholder_with_no_known_kind():
    with pytest.raises(RunbookError) as e:
        parse(textwrap.dedent(RB % '"kubectl rollout restart deployment/{surprise}"'), "rb.yaml", SPECS)
    assert "{surprise} has no known kind" in str(e.value) and "rb.yaml:" in str(e.value)


def test_runbook_validation_refuses_free_text_inside_the_templates_quotes():
    with pytest.raises(RunbookError) as e:
        parse(textwrap.dedent(RB % "\"psql -c '{index_sql}'\""), "rb.yaml", SPECS)
    assert "cannot sit inside quotes" in str(e.value)


def test_summaries_may_use_facts_with_no_kind():
    rb = parse(textwrap.dedent(RB % '"kubectl get deployment/{deployment}"').replace("summary: s",
                                                                                      "summary: '{surprise}'"),
               "rb.yaml", SPECS)
    assert rb.steps[0].fixes[0].summary == "{surprise}"
