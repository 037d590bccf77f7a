from dataclasses import replace
from datetime import datetime, timezone

from diagnose.engine.ranking import logit, rank, sigmoid
from diagnose.engine.runbook import FixTemplate, Relation, Runbook, Step
from diagnose.model.finding import CheckResult, Finding
from diagnose.model.incident import Incident

INC = Incident(service="frontend-api", upstream="user-auth-service", events=10, first_seen=None,
               last_seen=None, timeout_ms=10000)


def t(minute: int) -> datetime:
    return datetime(2023, 10, 27, 10, minute, tzinfo=timezone.utc)


def book(relations=(), fixes=()) -> Runbook:
    return Runbook(name="rb", title="rb", path="rb.yaml", signals=("upstream-timeout",), steps=(
        Step("overload", "{upstream} is overloaded", 0.3, ("res",), tuple(fixes)),
        Step("gc-pause", "GC", 0.15, ("gc",), ()),
        Step("database", "DB", 0.2, ("pg",), ()),
    ), relations=tuple(relations), verdicts={"likely": 0.7, "possible": 0.4, "unlikely": 0.15})


def by_id(causes):
    return {c.id: c for c in causes}


def test_a_cause_whose_checks_could_not_run_is_unknown_at_its_prior_not_ruled_out():
    results = [CheckResult("res", "skipped", error="kubernetes: no kubeconfig"),
               CheckResult("gc", "error", error="prometheus: no answer within 5 s"),
               CheckResult("pg", "ok")]
    causes = by_id(rank(book(), results, INC, {}))
    assert causes["overload"].verdict == "unknown"
    assert causes["overload"].confidence == 0.3
    assert "no kubeconfig" in causes["overload"].unknown_reason
    assert "no answer" in causes["gc-pause"].unknown_reason
    assert causes["database"].verdict != "unknown"


def test_confidence_is_the_prior_moved_by_the_log_odds_of_evidence_for_and_against():
    results = [CheckResult("res", "finding", findings=(
        Finding("overload", "for", 2.0, "prometheus", "CPU at 97% of limit"),
        Finding("overload", "against", 0.5, "kubernetes", "no restarts"))),
        CheckResult("gc", "ok"), CheckResult("pg", "ok")]
    causes = by_id(rank(book(), results, INC, {}))
    want = sigmoid(logit(0.3) + 2.0 - 0.5)
    assert causes["overload"].confidence == round(want, 2)
    assert causes["overload"].verdict == "possible"          # 0.66: between 0.4 and 0.7
    assert [f.direction for f in causes["overload"].evidence] == ["for", "against"]


def test_evidence_against_alone_rules_a_cause_out():
    results = [CheckResult("res", "ok"), CheckResult("gc", "ok"), CheckResult("pg", "ok", findings=(
        Finding("database", "against", 2.5, "postgres", "no waits, 12/100 connections"),))]
    assert by_id(rank(book(), results, INC, {}))["database"].verdict == "ruled_out"


def test_causes_are_sorted_by_confidence_highest_first():
    results = [CheckResult("res", "ok"), CheckResult("pg", "ok"), CheckResult("gc", "finding", findings=(
        Finding("gc-pause", "for", 3.0, "prometheus", "pauses of 6 s"),))]
    causes = rank(book(), results, INC, {})
    assert [c.id for c in causes][0] == "gc-pause"
    assert [c.confidence for c in causes] == sorted((c.confidence for c in causes), reverse=True)


def test_a_cpu_rise_that_follows_a_gc_rise_is_read_as_its_effect_and_never_outranks_it():
    results = [
        CheckResult("res", "finding", findings=(
            Finding("overload", "for", 3.0, "prometheus", "CPU at 95% of limit", onset=t(29)),)),
        CheckResult("gc", "finding", findings=(
            Finding("gc-pause", "for", 1.0, "prometheus", "GC time 40%", onset=t(26)),)),
        CheckResult("pg", "ok")]
    causes = rank(book([Relation("gc-pause", "overload", 0.3)]), results, INC, {})
    assert causes[0].id == "gc-pause"
    overload = by_id(causes)["overload"]
    assert overload.confidence < causes[0].confidence
    assert any("effect of gc-pause" in n for n in overload.notes)


def test_an_effect_is_not_discounted_when_it_began_first():
    results = [
        CheckResult("res", "finding", findings=(
            Finding("overload", "for", 3.0, "prometheus", "request rate x3", onset=t(25)),)),
        CheckResult("gc", "finding", findings=(
            Finding("gc-pause", "for", 1.0, "prometheus", "GC time 20%", onset=t(27)),)),
        CheckResult("pg", "ok")]
    causes = rank(book([Relation("gc-pause", "overload", 0.3)]), results, INC, {})
    assert causes[0].id == "overload"
    assert not by_id(causes)["overload"].notes


def test_fix_commands_are_filled_from_facts_and_left_out_when_a_fact_is_missing():
    fixes = [FixTemplate("Add replicas to {deployment}",
                         ("kubectl scale deployment/{deployment} -n {namespace} --replicas={replicas_suggested}",),
                         "more instances"),
             FixTemplate("Raise the HPA ceiling", ("kubectl patch hpa/{hpa} -n {namespace}",), "ceiling")]
    results = [CheckResult("res", "finding", findings=(
        Finding("overload", "for", 2.0, "kubernetes", "HPA at max",
                facts={"deployment": "user-auth-service", "replicas_suggested": 5}),)),
        CheckResult("gc", "ok"), CheckResult("pg", "ok")]
    target = {"namespace": "production", "upstream": "user-auth-service"}
    overload = by_id(rank(book(fixes=fixes), results, INC, target))["overload"]
    assert overload.fixes[0].commands == (
        "kubectl scale deployment/user-auth-service -n production --replicas=5",)
    assert overload.fixes[1].commands == ()
    assert overload.title == "user-auth-service is overloaded"


def test_a_cause_is_not_ruled_out_while_one_of_its_checks_could_not_run():
    rb = Runbook(name="rb", title="rb", path="rb.yaml", signals=("x",), steps=(
        Step("database", "DB", 0.2, ("pg", "pool"), ()),), verdicts={"likely": 0.7, "possible": 0.4, "unlikely": 0.15})
    against = (Finding("database", "against", 3.0, "prometheus", "no thread waits for a connection"),)
    ran_both = [CheckResult("pg", "ok"), CheckResult("pool", "ok", findings=against)]
    assert rank(rb, ran_both, INC, {})[0].verdict == "ruled_out"
    pg_failed = [CheckResult("pg", "error", error="postgres: no answer within 2 s"),
                 CheckResult("pool", "ok", findings=against)]
    cause = rank(rb, pg_failed, INC, {})[0]
    assert cause.verdict == "unlikely"
    assert any("no answer within 2 s" in n for n in cause.notes)


def test_a_fix_naming_an_object_not_found_is_left_out_and_the_fallback_shown_instead():
    fixes = [FixTemplate("End the session that blocks the others (pid {pid})",
                         ("psql -d {db} -c 'SELECT pg_terminate_backend({pid});'",), "releases the locks"),
             FixTemplate("Find the long-running queries of {upstream}'s database", ("psql -c 'SELECT 1'",),
                         "generic", fallback=True)]
    rb = book(fixes=fixes)
    quiet = by_id(rank(rb, [CheckResult("res", "ok")], INC, {"upstream": "user-auth-service"}))["overload"]
    assert [f.summary for f in quiet.fixes] == ["Find the long-running queries of user-auth-service's database"]
    found = [CheckResult("res", "finding", findings=(
        Finding("overload", "for", 1.0, "postgres", "blocked", facts={"pid": 4242, "db": "auth"}),))]
    loud = by_id(rank(rb, found, INC, {"upstream": "user-auth-service"}))["overload"]
    assert [f.commands for f in loud.fixes] == [("psql -d auth -c 'SELECT pg_terminate_backend(4242);'",)]


def test_a_fix_is_filled_only_from_facts_found_for_its_own_cause():
    fixes = [FixTemplate("Fix the lock order at {code_location}", (), "cycle")]
    rb = Runbook(name="rb", title="rb", path="rb.yaml", signals=("x",), steps=(
        Step("deadlock", "DL", 0.1, ("td",), tuple(fixes)), Step("database", "DB", 0.2, ("td",), ())),
        verdicts={"likely": 0.7, "possible": 0.4, "unlikely": 0.15})
    results = [CheckResult("td", "finding", findings=(
        # a pool wait for the database, and healthy dumps against a deadlock: neither names a lock order
        Finding("database", "for", 2.0, "thread-dumps", "pool wait", facts={"code_location": "Repo.find"}),
        Finding("deadlock", "against", 1.5, "thread-dumps", "no cycle", facts={"code_location": "Main.run"}),
    ))]
    assert by_id(rank(rb, results, INC, {}))["deadlock"].fixes == ()


def test_evidence_only_for_a_cause_makes_it_possible_unless_all_of_it_is_stale():
    weak = Finding("database", "for", 0.2, "thread-dumps", "2 threads wait for a JDBC connection")
    fresh = [CheckResult("res", "ok"), CheckResult("gc", "ok"), CheckResult("pg", "finding", findings=(weak,))]
    assert by_id(rank(book(), fresh, INC, {}))["database"].verdict == "possible"
    old = Finding("database", "for", 0.2, "thread-dumps", "2 threads wait for a JDBC connection",
                  stale="dump taken 3 h before the incident")
    stale = [CheckResult("res", "ok"), CheckResult("gc", "ok"), CheckResult("pg", "finding", findings=(old,))]
    assert by_id(rank(book(), stale, INC, {}))["database"].verdict == "unlikely"


def test_a_relation_discounts_only_the_kinds_of_evidence_its_cause_can_produce():
    # database from 10:28, an OOM kill at 10:33: a lock can make request threads wait, not raise the traffic
    results = [
        CheckResult("res", "finding", findings=(
            Finding("overload", "for", 1.0, "prometheus", "request rate x3", onset=t(25), kind="traffic"),
            Finding("overload", "for", 1.0, "kubernetes", "HPA at max", kind="hpa"),
            Finding("overload", "for", 1.0, "kubernetes", "OOMKilled", onset=t(33), kind="oom"),
            Finding("overload", "for", 1.0, "thread-dumps", "pool saturated", onset=t(31), kind="pool-wait"))),
        CheckResult("gc", "ok"),
        CheckResult("pg", "finding", findings=(
            Finding("database", "for", 2.0, "postgres", "lock wait", onset=t(28), kind="lock"),))]
    rel = Relation("database", "overload", 0.5, ("pool-wait",))
    overload = by_id(rank(book([rel]), results, INC, {}))["overload"]
    weights = {f.summary: f.weight for f in overload.evidence}
    assert weights == {"request rate x3": 1.0, "HPA at max": 1.0, "OOMKilled": 1.0, "pool saturated": 0.5}
    assert any("(pool-wait)" in n and "effect of database" in n for n in overload.notes)


def test_onsets_within_one_step_are_simultaneous_and_the_measured_mechanism_decides():
    # GC and CPU rose in the same 15 s step: order says nothing, GC's measured share of the CPU does
    gc = Finding("gc-pause", "for", 2.0, "prometheus", "GC time 90%", onset=t(26), kind="gc-time", resolution=15)
    share = Finding("gc-pause", "for", 0.5, "prometheus", "GC work is 92% of the CPU used", onset=t(26),
                    kind="gc-cpu-share", explains=("cpu", "throttling"), resolution=15)
    cpu = Finding("overload", "for", 1.5, "prometheus", "CPU at 97% of limit",
                  onset=datetime(2023, 10, 27, 10, 26, 10, tzinfo=timezone.utc), kind="cpu", resolution=15)
    traffic = Finding("overload", "for", 1.0, "prometheus", "request rate x2", onset=t(24), kind="traffic")
    rel = Relation("gc-pause", "overload", 0.3, ("cpu", "throttling"))

    def ranked(*gc_findings):
        results = [CheckResult("res", "finding", findings=(cpu, traffic)),
                   CheckResult("gc", "finding", findings=gc_findings), CheckResult("pg", "ok")]
        return {f.summary: round(f.weight, 3) for f in by_id(rank(book([rel]), results, INC, {}))["overload"].evidence}

    assert ranked(gc) == {"CPU at 97% of limit": 1.5, "request rate x2": 1.0}        # simultaneous: kept
    assert ranked(gc, share) == {"CPU at 97% of limit": 0.45, "request rate x2": 1.0}  # GC's CPU: discounted


def test_a_relation_by_one_kind_of_its_cause_ignores_the_cause_s_other_findings():
    # overload explains GC through load: a CPU rise before GC is not load and explains nothing
    results = [
        CheckResult("res", "finding", findings=(
            Finding("overload", "for", 1.5, "prometheus", "CPU at 97%", onset=t(24), kind="cpu"),)),
        CheckResult("gc", "finding", findings=(
            Finding("gc-pause", "for", 2.0, "prometheus", "GC time 40%", onset=t(26), kind="gc-time"),)),
        CheckResult("pg", "ok")]
    rel = Relation("overload", "gc-pause", 0.5, ("gc-time",), by=("traffic",))
    assert [f.weight for f in by_id(rank(book([rel]), results, INC, {}))["gc-pause"].evidence] == [2.0]
    assert [f.weight for f in by_id(rank(book([replace(rel, by=())]), results, INC, {}))["gc-pause"].evidence] == [1.0]


def test_the_confirm_text_is_left_out_when_a_value_it_quotes_in_a_command_is_not_a_valid_name():
    # `confirm:` quotes kubectl commands; a namespace from a log must not reach them unchecked.
    step = Step("database", "DB", 0.2, ("pg",), (), confirm="locks held (kubectl get pods -n {namespace})")
    rb = Runbook(name="rb", title="rb", path="rb.yaml", signals=("upstream-timeout",), steps=(step,),
                 relations=(), verdicts={"likely": 0.7, "possible": 0.4, "unlikely": 0.15})
    weak = Finding("database", "for", 0.2, "thread-dumps", "2 threads wait for a JDBC connection")
    results = [CheckResult("pg", "finding", findings=(weak,))]
    good = by_id(rank(rb, results, INC, {"namespace": "prod"}))["database"]
    assert good.verdict == "possible" and good.to_confirm == "locks held (kubectl get pods -n prod)"
    bad = by_id(rank(rb, results, INC, {"namespace": "prod$(touch /tmp/x)"}))["database"]
    assert bad.verdict == "possible" and bad.to_confirm is None


def _db_book() -> Runbook:
    fixes = (FixTemplate("End the session that blocks the others: {blocker}",
                         ("psql -d {db} -c {terminate_sql}",), "why"),
             FixTemplate("End the transaction left idle (pid {idle_pid})", ("psql -d {db} -c {terminate_sql}",), "why"))
    return Runbook(name="rb", title="rb", path="rb.yaml", signals=("upstream-timeout",), steps=(
        Step("database", "DB", 0.2, ("pg",), fixes),), relations=(),
        verdicts={"likely": 0.7, "possible": 0.4, "unlikely": 0.15})


def test_each_fix_is_filled_from_one_finding_so_a_command_never_names_another_findings_object():
    # Two findings for one cause, each with its own pid: the idle transaction's fix must end pid 200,
    # never the blocker's 100 (facts pooled across findings printed pg_terminate_backend(100) for it).
    results = [CheckResult("pg", "finding", findings=(
        Finding("database", "for", 2.0, "postgres", "blocker", facts={
            "db": "auth", "pid": 100, "blocker": "pid 100", "terminate_sql": "SELECT pg_terminate_backend(100);"}),
        Finding("database", "for", 1.0, "postgres", "idle", facts={
            "db": "orders", "idle_pid": 200, "terminate_sql": "SELECT pg_terminate_backend(200);"})))]
    fixes = {f.summary: f.commands for f in by_id(rank(_db_book(), results, INC, {}))["database"].fixes}
    assert fixes["End the session that blocks the others: pid 100"] == (
        "psql -d auth -c 'SELECT pg_terminate_backend(100);'",)
    assert fixes["End the transaction left idle (pid 200)"] == (
        "psql -d orders -c 'SELECT pg_terminate_backend(200);'",)


def test_a_template_filled_by_several_findings_gives_one_fix_per_object():
    results = [CheckResult("pg", "finding", findings=tuple(
        Finding("database", "for", 1.0, "postgres", f"idle {pid}", facts={
            "db": "auth", "idle_pid": pid, "terminate_sql": f"SELECT pg_terminate_backend({pid});"})
        for pid in (201, 202)))]
    fixes = by_id(rank(_db_book(), results, INC, {}))["database"].fixes
    assert [f.summary for f in fixes] == ["End the transaction left idle (pid 201)",
                                          "End the transaction left idle (pid 202)"]


def test_a_fix_whose_commands_all_lack_an_object_says_which_rather_than_dropping_them_silently():
    book = Runbook(name="rb", title="rb", path="rb.yaml", signals=("upstream-timeout",), steps=(
        Step("overload", "{upstream} is overloaded", 0.3, ("res",), (
            FixTemplate("Add replicas to {upstream}", ("kubectl scale deployment/{deployment} -n {namespace} "
                                                       "--replicas={replicas_suggested}",), "why"),)),),
        relations=(), verdicts={"likely": 0.7, "possible": 0.4, "unlikely": 0.15})
    results = [CheckResult("res", "finding", findings=(
        Finding("overload", "for", 2.0, "prometheus", "CPU at 97%", facts={"replicas_suggested": 5}),))]
    (fix,) = by_id(rank(book, results, INC, {"upstream": "auth", "namespace": "prod"}))["overload"].fixes
    assert fix.commands == () and fix.why == "why (command left out: not found: deployment)"


def test_with_no_dump_the_deadlock_fix_offers_jcmd_only_in_a_container_that_looks_like_a_jvm():
    from diagnose.engine.runbook import for_signal

    book = for_signal("upstream-timeout")
    base = {"upstream": "ledger", "namespace": "pay", "upstream_pod": "ledger-5c8d7f9b4-x2x4z"}
    results = [CheckResult("thread-dumps", "skipped", error="no --thread-dumps given")]

    def deadlock_fixes(facts: dict) -> list:
        return next(c for c in rank(book, results, INC, facts) if c.id == "deadlock").fixes

    go = deadlock_fixes(base)                     # a Go service: no container looks like a JVM
    assert [f.commands for f in go] == [()] and "never SIGQUIT" in go[0].why
    jvm = deadlock_fixes({**base, "upstream_jvm_container": "ledger"})
    assert jvm[0].commands == ("kubectl exec -n pay ledger-5c8d7f9b4-x2x4z -c ledger -- jcmd 1 Thread.print -l",)
