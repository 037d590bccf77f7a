"""Redaction: the rule table holds to its own examples, the walk keeps JSON valid, every regex is linear,
and no secret reaches a bundle, a report or the tool's own stderr, end to end."""

from __future__ import annotations

import copy
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from diagnose import redact
from diagnose.redact import MASK, NOT_SECRET_NAMES, RULES, SECRET_NAMES, Rule, is_secret_name, scrub, scrub_text
from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.cli.helpers import NO_SOURCES, diagnose
from tests.servers.kube_api import KubeAPI

# ---- the table ------------------------------------------------------------------------------------------

REDACTS = [(r, text, secret) for r in RULES for text, secret in r.redacts]
KEEPS = [(r, text) for r in RULES for text in r.keeps]


def _id(v: object) -> str:
    return v.name if isinstance(v, Rule) else repr(v)[:40]


def test_every_rule_has_examples_to_redact_and_to_keep_and_a_unique_name() -> None:
    assert len({r.name for r in RULES}) == len(RULES)
    assert all(r.redacts and r.keeps for r in RULES), [r.name for r in RULES if not (r.redacts and r.keeps)]


@pytest.mark.parametrize(("rule", "text", "secret"), REDACTS, ids=_id)
def test_each_rule_redacts_its_examples_alone_and_within_the_whole_table(rule: Rule, text: str, secret: str) -> None:
    assert secret in text
    assert secret not in rule.apply(text.encode()).decode(), rule.name
    out = scrub_text(text)
    assert secret not in out and MASK in out


@pytest.mark.parametrize(("rule", "text", "secret"), REDACTS, ids=_id)
def test_each_rules_trigger_is_in_every_text_it_redacts(rule: Rule, text: str, secret: str) -> None:
    assert all(t == t.lower() for t in rule.trigger)
    assert any(t in text.lower().encode() for t in rule.trigger), rule.name


@pytest.mark.parametrize(("rule", "text"), KEEPS, ids=_id)
def test_each_rule_keeps_its_ordinary_examples_unchanged_by_the_whole_table(rule: Rule, text: str) -> None:
    assert rule.apply(text.encode()).decode() == text
    assert scrub_text(text) == text


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_like_names_are_secret_and_hold_a_trigger_of_the_name_rules(name: str) -> None:
    assert is_secret_name(name)
    assert any(t in name.lower().encode() for t in redact._STEM_WORDS)   # or the walk's fast path would skip it


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_names_about_secrets_or_merely_containing_the_letters_are_not(name: str) -> None:
    assert not is_secret_name(name)


def test_the_other_secret_name_tests_of_the_tree_are_this_one() -> None:
    from diagnose.parsers import kubernetes as kube_parser
    from diagnose.sources import kube_mask

    assert kube_parser.is_secret_name is is_secret_name
    assert kube_mask.is_secret_name is is_secret_name


# ---- JSON by structure ----------------------------------------------------------------------------------


def test_a_json_document_stays_valid_json_with_env_entries_args_and_embedded_json_masked() -> None:
    doc = {"spec": {"containers": [{
        "env": [{"name": "DB_CREDS", "value": "c-1"}, {"name": "SESSION_COOKIE", "value": "c-2"},
                {"name": "LOG_LEVEL", "value": "info"}, {"name": "TOKEN_COUNT", "value": "5"}],
        "args": ["--token", "c-3", "--client-secret", "c-4", "--password=c-5", "--port", "8080"],
        "command": ["mysql", "-u", "root", "-p", "c-6"]}]},
        "metadata": {"annotations": {"cfg": json.dumps({"auth": {"apiKey": "c-7"}, "replicas": 3})}},
        "tokens": 5, "secretKeyRef": {"name": "db", "key": "password"}}
    out = scrub(json.dumps(doc).encode())
    clean = json.loads(out)
    for n in range(1, 8):
        assert f"c-{n}".encode() not in out
    ctr = clean["spec"]["containers"][0]
    assert ctr["env"][2:] == [{"name": "LOG_LEVEL", "value": "info"}, {"name": "TOKEN_COUNT", "value": "5"}]
    assert ctr["args"][4:] == ["--password=<redacted>", "--port", "8080"]
    assert ctr["command"][:4] == ["mysql", "-u", "root", "-p"]
    assert json.loads(clean["metadata"]["annotations"]["cfg"])["replicas"] == 3
    assert clean["tokens"] == 5 and clean["secretKeyRef"] == {"name": "db", "key": "password"}


def test_json_log_lines_stay_one_json_document_per_line() -> None:
    lines = (b'{"msg": "call", "authorization": "Bearer t-1", "n": 1}\n'
             b'plain text Cookie: sid=t-2\n'
             b'{"msg": "upstream call with Bearer t.3"}\n')
    out = scrub(lines)
    assert b"t-1" not in out and b"t-2" not in out and b"t.3" not in out
    first, second, third = out.splitlines()
    assert json.loads(first)["n"] == 1 and json.loads(third)["msg"].startswith("upstream call with Bearer")
    assert second.startswith(b"plain text Cookie:")


def test_a_document_nested_past_the_recursion_limit_is_scrubbed_as_text() -> None:
    data = b"[" * 100_000 + b'"password=hunter2"' + b"]" * 100_000
    assert b"hunter2" not in scrub(data)


# ---- linear on hostile text -----------------------------------------------------------------------------

# Prefixes of every rule, repeated: each would make a backtracking regex rescan the rest of the line.
ADVERSARIAL = ["a", "a=", "a-", "password=\"", "password='", "--token ", "Bearer ", "Basic ", "eyJ-", "eyJaaaaa.",
               "AKIA", "AKIAIOSFODNN7EXAMPLE ", "ghp_", "xoxb-", "a://", "a://b:", "-----BEGIN PRIVATE KEY-----",
               "mysql ", "mysql -p", "cookie: ", "authorization: ", "name: A_TOKEN\n", '"name":"x",',
               "PASSWORD '", "identified by ", "x" * 63 + " ", "'", '"', "\\", "/a=", "\n{", '{"token":"x"}\n']


@pytest.mark.parametrize("seed", ADVERSARIAL)
def test_a_one_megabyte_hostile_line_is_scrubbed_in_well_under_a_second(seed: str) -> None:
    line = (seed * (1_000_000 // len(seed) + 1))[:1_000_000]
    for scrubber, data in ((scrub_text, line), (scrub, line.encode())):
        start = time.perf_counter()
        scrubber(data)                                                    # type: ignore[operator]
        assert time.perf_counter() - start < 2.0, (scrubber.__name__, seed)   # generous, for a loaded machine


# ---- end to end: bundle, reports, stderr ----------------------------------------------------------------

# Each kind of secret as it would appear in a log line, with the bytes that must not survive.
LOG_SECRETS = [
    ("upstream call with Bearer zq1.bearersecret", "zq1.bearersecret"),
    ('retry: curl -H "X-Auth: Bearer zq2.xauthsecret" http://api', "zq2.xauthsecret"),
    ("request Cookie: sid=zq3cookiesecret; theme=dark", "zq3cookiesecret"),
    ("response Set-Cookie: sid=zq4setcookiesecret; Path=/", "zq4setcookiesecret"),
    ("ps: app --token zq5flagtoken --password=zq6flagpassword --client-secret zq7clientsecret",
     "zq5flagtoken zq6flagpassword zq7clientsecret"),
    ("ran mysql -u root -pzq8mysqlpassword app", "zq8mysqlpassword"),
    ("slow query: SET app.token = 'zq9sqltoken'; SELECT 1 FROM k WHERE api_key = 'zq10sqlapikey'",
     "zq9sqltoken zq10sqlapikey"),
    ("ALTER ROLE app PASSWORD 'zq11sqlpassword'", "zq11sqlpassword"),
    ("s3 with AKIAZQ12AWSKEYID0000 Zq13AwsSecretAccessKeyZq13AwsSecretAcce0", "AKIAZQ12AWSKEYID0000 Zq13AwsSecret"),
    ("push ghp_zq14githubtokenAAAAAAAAAAAAAAAAAAAAAAA", "zq14githubtoken"),
    ("notify xoxb-zq15-slacktoken-0000", "zq15-slacktoken"),
    ("key -----BEGIN RSA PRIVATE KEY-----\nzq16pemBODY\n-----END RSA PRIVATE KEY-----", "zq16pemBODY"),
    ("dial postgresql://app:zq17uripassword@db/auth", "zq17uripassword"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ6cTE4In0.zq18jwtsignature", "zq18jwtsignature"),
    ("env DB_CREDS=zq19creds SESSION_SECRET=zq20session BASIC_AUTH=zq21auth JWT_SIGNING_KEY=zq22signing",
     "zq19creds zq20session zq21auth zq22signing"),
]
# The same kinds in a pod: env names, args, a shell command, a MySQL argv.
KUBE_ENV = {"DB_CREDS": "zk1creds", "DATABASE_CREDENTIALS": "zk2credentials", "BASIC_AUTH": "zk3auth",
            "SESSION_COOKIE": "zk4cookie", "JWT_SIGNING_KEY": "zk5signing", "USER_SESSION": "zk6session",
            "API_TOKEN": "zk7token", "APP_SECRET": "zk8secret", "SSH_PRIVATE_KEY": "zk9key"}
KUBE_ARGS = ["--token", "zk10argtoken", "--password=zk11argpassword", "--client-secret", "zk12argclient",
             "--dsn=postgresql://app:zk13argdsn@db/auth"]
KUBE_COMMAND = ["sh", "-c", "mysql -u root -pzk14mysql && curl -H 'Authorization: Bearer zk15.curl' http://x"]
KUBE_MYSQL_ARGV = ["mysql", "-u", "root", "-p", "zk16mysqlargv"]
# A server's 403 whose message a proxy filled with what it was sent: it reaches the report as a reason.
STATUS_MESSAGE = "proxy denied upstream call with Bearer zs1.statustoken cookie: sid=zs2statuscookie"
DSN_PASSWORD = "zq30dsnpassword"


def _secrets() -> list[str]:
    out = [w for _, s in LOG_SECRETS for w in s.split()]
    out += list(KUBE_ENV.values()) + ["zk10argtoken", "zk11argpassword", "zk12argclient", "zk13argdsn", "zk14mysql",
                                      "zk15.curl", "zk16mysqlargv", "zs1.statustoken", "zs2statuscookie", DSN_PASSWORD]
    return out


def _log(path: Path) -> Path:
    lines = []
    for i in range(40):
        ts = sc.ONSET + timedelta(seconds=15 * i)
        extra, _ = LOG_SECRETS[i % len(LOG_SECRETS)]
        lines.append(json.dumps({"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "level": "ERROR",
                                 "message": f"request failed: upstream response timeout; {extra}",
                                 "service": sc.CALLER, "upstream_service": sc.UPSTREAM, "duration_ms": 15000,
                                 "timeout_ms": 10000, "authorization": "Bearer zq40fieldtoken"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _cluster() -> dict:
    docs = copy.deepcopy(fk.cluster("overload"))
    pods = docs[f"/api/v1/namespaces/{sc.NAMESPACE}/pods"]["items"]
    for pod in pods:
        ctr = pod["spec"]["containers"][0]
        ctr["env"] += [{"name": k, "value": v} for k, v in KUBE_ENV.items()]
        ctr["args"] = list(KUBE_ARGS)
        ctr["command"] = list(KUBE_COMMAND)
        pod["spec"].setdefault("initContainers", []).append({"name": "migrate", "image": "mysql:8",
                                                              "command": list(KUBE_MYSQL_ARGV)})
    return docs


def _status() -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": STATUS_MESSAGE}


def _args(api: KubeAPI, tmp_path: Path) -> list[str]:
    return ["--log", str(_log(tmp_path / "app.log")), "--kubeconfig", str(api.kubeconfig(tmp_path)),
            "--namespace", sc.NAMESPACE, "--timeout", "30",
            "--pg-dsn", f"postgresql://app:{DSN_PASSWORD}@127.0.0.1:1/auth"]


def _leaks(blob: str | bytes) -> list[str]:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    return [s for s in _secrets() if s in text or s in text.replace("\\n", "\n")]


def test_a_collected_bundle_holds_no_secret_bytes_in_any_file(tmp_path: Path) -> None:
    with KubeAPI(_cluster(), statuses={"/api/v1/nodes": _status()}) as api:
        done = diagnose("collect", *_args(api, tmp_path), "--out", str(tmp_path / "bundle"), env=NO_SOURCES)
    assert done.returncode == 0, done.stderr
    files = [p for p in (tmp_path / "bundle").rglob("*") if p.is_file()]
    assert any(p.name == "pods.json" for p in files)
    leaks = {str(p.relative_to(tmp_path)): _leaks(p.read_bytes()) for p in files}
    assert not any(leaks.values()), leaks
    assert not _leaks(done.stdout + done.stderr)
    for p in files:
        if p.suffix == ".json":
            json.loads(p.read_bytes())                                   # still valid JSON


@pytest.mark.parametrize("fmt", ["json", "markdown", "text"])
def test_run_output_in_every_format_holds_no_secret(tmp_path: Path, fmt: str) -> None:
    with KubeAPI(_cluster(), statuses={"/api/v1/nodes": _status()}) as api:
        done = diagnose("run", *_args(api, tmp_path), "--format", fmt, env=NO_SOURCES)
    assert done.returncode == 0, done.stderr
    if fmt != "markdown":                 # (the Markdown section has no notes, where the message goes)
        assert "proxy denied upstream call" in done.stdout                   # the message did reach it
    assert not _leaks(done.stdout + done.stderr), _leaks(done.stdout + done.stderr)


def test_the_error_line_of_a_failing_run_holds_no_secret(tmp_path: Path) -> None:
    done = diagnose("run", "--log", str(tmp_path / "token=zq50pathtoken" / "app.log"),
                    "--pg-dsn", f"postgresql://app:{DSN_PASSWORD}@127.0.0.1:1/auth", env=NO_SOURCES)
    assert done.returncode == 2
    assert "no such log file" in done.stderr
    assert "zq50pathtoken" not in done.stderr and DSN_PASSWORD not in done.stderr


def test_a_debug_traceback_holds_no_secret(tmp_path: Path) -> None:
    done = diagnose("--debug", "run", "--log", str(tmp_path / "password=zq51pathpassword.log"), env=NO_SOURCES)
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "no such log file" in done.stderr
    assert "zq51pathpassword" not in done.stderr



def test_a_source_error_quoting_a_secret_is_redacted_in_the_manifest_and_checksums_stay_exact(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from diagnose.bundle.store import read, write
    from diagnose.model.evidence import SourceStatus
    from diagnose.model.incident import Incident, Percentiles, Window

    t0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)
    inc = Incident("frontend-api", "user-auth-service", 3, t0, t0, 10000.0, Percentiles(15000, 15000, 15000))
    write(tmp_path / "b", incident=inc, window=Window(start=t0, end=t0, onset=t0), namespace=None,
          sources={"prometheus": SourceStatus("prometheus", "error", "401 from proxy: Authorization: Bearer zq60.t")},
          files={"prometheus": {"tokens.json": b'{"token_count": 5}'}}, log_lines=b"")
    assert b"zq60.t" not in (tmp_path / "b" / "manifest.json").read_bytes()
    assert read(tmp_path / "b").files["prometheus"]["tokens.json"] == b'{"token_count": 5}'
