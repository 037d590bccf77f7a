import textwrap

import pytest

from diagnose.engine.runbook import parse
from diagnose.errors import RunbookError
from diagnose.model.check import CheckSpec

SPECS = {
    "res": CheckSpec("res", lambda ev, p: [], ("kubernetes",), ("overload",), {"cpu_limit_ratio": 0.9, "n": 3},
                     facts=("deployment", "replicas_suggested")),
    "gc": CheckSpec("gc", lambda ev, p: [], ("prometheus",), ("gc-pause",), {}),
}

GOOD = """\
name: slow-upstream
match:
  signals: [slow-upstream]
steps:
  - cause: overload
    title: "{upstream} is overloaded"
    prior: 0.3
    checks: [res]
    fixes:
      - summary: Add replicas
        commands: ["kubectl scale deployment/{deployment} --replicas={replicas_suggested}"]
        why: more instances
  - cause: gc-pause
    title: GC
    prior: 0.1
    checks: [gc]
relations:
  - {cause: gc-pause, explains: overload, discount: 0.3, kinds: [cpu]}
checks:
  res: {cpu_limit_ratio: 0.8, n: 4}
"""


def error_of(text: str) -> str:
    with pytest.raises(RunbookError) as e:
        parse(textwrap.dedent(text), "rb.yaml", SPECS)
    return str(e.value)


def test_a_valid_runbook_loads_with_params_merged_over_check_defaults():
    rb = parse(GOOD, "rb.yaml", SPECS)
    assert [s.cause for s in rb.steps] == ["overload", "gc-pause"]
    assert rb.params_for(SPECS["res"]) == {"cpu_limit_ratio": 0.8, "n": 4}
    assert rb.relations[0].effect == "overload"


def test_a_misspelt_field_names_file_line_and_field():
    msg = error_of(GOOD.replace("    prior: 0.1", "    priro: 0.1"))
    assert msg.startswith("rb.yaml:15: field 'steps.1.priro': unknown field")


def test_an_unknown_check_is_named_with_its_line():
    msg = error_of(GOOD.replace("checks: [gc]", "checks: [gcc]"))
    assert "rb.yaml:16" in msg and "unknown check 'gcc'" in msg


def test_a_check_listed_under_a_cause_it_does_not_cover_is_refused():
    msg = error_of(GOOD.replace("checks: [gc]", "checks: [res]"))
    assert "does not speak to 'gc-pause'" in msg


def test_a_param_of_the_wrong_type_is_refused():
    msg = error_of(GOOD.replace("n: 4", "n: four"))
    assert "field 'checks.res.n'" in msg and "must be int" in msg


def test_an_unknown_param_is_refused_and_the_known_ones_listed():
    msg = error_of(GOOD.replace("n: 4", "m: 4"))
    assert "has no param 'm'" in msg and "cpu_limit_ratio" in msg


def test_a_prior_outside_zero_one_is_refused():
    assert "prior must be in (0, 1)" in error_of(GOOD.replace("prior: 0.3", "prior: 1.5"))


def test_broken_yaml_reports_the_line():
    msg = error_of(GOOD.replace("    checks: [gc]", "    checks: [gc"))
    assert msg.startswith("rb.yaml:") and "not valid YAML" in msg


def test_a_runbook_must_rank_every_cause_it_requires():
    msg = error_of(GOOD + "requires_causes: [overload, gc-pause, deadlock]\n")
    assert "must rank every cause it requires" in msg and "missing deadlock" in msg


def test_a_bad_template_is_refused():
    msg = error_of(GOOD.replace("--replicas={replicas_suggested}", "--replicas={replicas"))
    assert "bad template" in msg


def test_an_empty_file_is_an_error_not_a_crash():
    assert "empty" in error_of("")


def test_yaml_is_loaded_safely():
    msg = error_of("name: !!python/object/apply:os.system ['echo hi']\n")
    assert "rb.yaml" in msg


def test_a_mapping_used_as_a_key_is_an_error_not_a_crash():
    assert "keys must be plain names" in error_of("? [a, b]\n: 1\n")


def test_checks_params_that_are_not_a_mapping_are_an_error_not_a_crash():
    assert "field 'checks'" in error_of(GOOD.replace("checks:\n  res: {cpu_limit_ratio: 0.8, n: 4}", "checks: [res]"))


def test_a_fix_placeholder_no_check_of_the_cause_sets_is_refused():
    msg = error_of(GOOD.replace("--replicas={replicas_suggested}", "--replicas={replica_count}"))
    assert "field 'steps.0.fixes.0'" in msg and "{replica_count} is set by none of this cause's checks" in msg


def test_a_step_borrowed_from_another_runbook_is_that_step_with_the_keys_given_here(tmp_path):
    from diagnose.engine.runbook import find, load

    other = tmp_path / "mine.yaml"
    other.write_text("name: mine\nmatch: {signals: [upstream-unavailable]}\nsteps:\n"
                     "  - {from: upstream-timeout, cause: overload, prior: 0.11}\n")
    mine = load(other).steps[0]
    theirs = next(s for s in find("upstream-timeout").steps if s.cause == "overload")
    assert mine.prior == 0.11 and theirs.prior != 0.11
    assert (mine.title, mine.checks, mine.fixes) == (theirs.title, theirs.checks, theirs.fixes)


def test_a_borrowing_that_cannot_be_resolved_names_file_line_and_field(tmp_path):
    import pytest

    from diagnose.engine.runbook import load
    from diagnose.errors import RunbookError

    for step, wanted in (("{from: no-such-book, cause: overload, prior: 0.1}", "no other runbook"),
                         ("{from: upstream-timeout, cause: no-such-cause, prior: 0.1}", "has no step"),
                         ("{from: mine, cause: overload, prior: 0.1}", "no other runbook")):
        f = tmp_path / "mine.yaml"
        f.write_text(f"name: mine\nmatch: {{signals: [x]}}\nsteps:\n  - {step}\n")
        with pytest.raises(RunbookError) as e:
            load(f)
        assert wanted in str(e.value) and "mine.yaml:4" in str(e.value) and "steps.0.from" in str(e.value)


def test_borrowed_causes_bring_their_runbooks_check_params_and_relations_and_local_ones_win(tmp_path):
    from diagnose.engine.runbook import find, load

    lender = find("upstream-timeout")
    assert lender.params["thread-dumps"]["weight_cycle"] == 4.0          # tuned there, default elsewhere
    f = tmp_path / "mine.yaml"
    f.write_text("name: mine\nmatch: {signals: [upstream-unavailable]}\nsteps:\n"
                 "  - {from: upstream-timeout, cause: overload, prior: 0.2}\n"
                 "  - {from: upstream-timeout, cause: deadlock, prior: 0.1}\n"
                 "  - {from: upstream-timeout, cause: database, prior: 0.1}\n"
                 "relations:\n  - {cause: database, explains: overload, discount: 0.9, kinds: [pool-wait]}\n"
                 "checks:\n  thread-dumps: {min_pinned: 5}\n")
    mine = load(f)
    # The lender's tuning of the borrowed causes' checks, with this runbook's own param over it.
    assert mine.params["thread-dumps"]["weight_cycle"] == 4.0 and mine.params["thread-dumps"]["min_pinned"] == 5
    # Relations between causes both rank come along; gc-pause is not ranked here, so none of its; the one
    # declared here replaces the lender's between the same causes.
    pairs = {(r.cause, r.effect): r.discount for r in mine.relations}
    assert pairs == {("database", "overload"): 0.9, ("database", "deadlock"): 0.5, ("deadlock", "overload"): 0.4}
