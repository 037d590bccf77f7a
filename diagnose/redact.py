"""The last line of defence before anything leaves the process: secrets in text and JSON are replaced.

Sources already leave secrets out (no Secrets listed, DSN passwords never stored, secret-looking env
values dropped); this catches what slips through in free text: log lines, queries, dump text, container
args, error messages. It is applied to every bundle file (bundle.store), every report string (render.escape
and render.report.to_json) and every message the tool writes to stderr (cli._fail, --debug tracebacks).

Two parts, each a tested table:

- **Names** (`is_secret_name`): is `DB_PASSWORD`, `X-Auth-Token`, `--client-secret`, `app.token` the name of
  a secret? One answer for the JSON walk, the text rules, env lists and argument lists (and anything else
  that asks). Names are split into words (`_ - . /`, camelCase) and judged by word, so `tokenizer` is not a
  token and `token_count` or `password_expired` (a word about a secret, not the secret) are not secrets.
- **Text rules** (`RULES`): each a name, a linear regex, and examples that must be redacted and examples
  that must stay; tests/test_redact.py runs every example.

JSON documents are redacted by structure and stay valid JSON; JSON log lines likewise, one line each.
Every regex sees hostile text: each is linear (bounded repetition, no nested quantifiers over overlapping
classes, a run of name characters has one place a match may start), tested on a 1 MB adversarial line.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

MASK = "<redacted>"
_MASK_B = MASK.encode()

# ---- names ------------------------------------------------------------------------------------------------

# A word that names a secret wherever it stands in a name (DB_PASSWORD, keyStorePassword, PGPASSWORD,
# X-Amz-Security-Token, AUTHTOKEN, client_secret), also as the tail of a glued word.
_STRONG = re.compile(r"[a-z0-9]*(?:password|passwd|passphrase|secret|token|credential|creds|apikey|accesskey"
                     r"|secretkey|privatekey|signingkey|masterkey|sshkey)s?|authorization|signature|cred")
# A word that names a secret only as the last word: `BASIC_AUTH`, `X-Auth`, `SESSION`, `DB_PASS`, `sig`
# (SAS URLs), but not `AUTH_URL`, `user-auth-service`, `SESSION_AFFINITY`, `COOKIE_DOMAIN`.
_WEAK_LAST = re.compile(r"[a-z0-9]*(?:auth|cookie|sessionid|sessid|bearer)s?|session|pass|pwd|sig|signing|jwt"
                        r"|id_rsa|rsa|dsa|ecdsa|ed25519")
# `key` alone is a map key, a toleration key, a sort key; it is a secret after one of these (API_KEY,
# tls.key, secretKeyRef's neighbour `SIGNING_KEY`, AWS_ACCESS_KEY_ID).
_KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "signing", "sign", "client", "encryption", "enc", "decryption",
    "master", "ssh", "gpg", "pgp", "license", "account", "storage", "shared", "hmac", "session", "app",
    "consumer", "webhook", "auth", "crypto", "jwt", "admin", "root", "tls", "ssl", "subscription", "cookie",
})
# A last word that says the name is *about* a secret, not the secret: token_count, password_expired,
# secretName, AUTH_URL, PASSWORD_FILE, sessionAffinity, TokenStore.java (a source file in a stack frame).
_ABOUT = frozenset({
    "count", "counts", "length", "len", "size", "ttl", "timeout", "expiry", "expires", "expired",
    "expiration", "age", "lifetime", "enabled", "disabled", "enable", "disable", "required", "mode", "type",
    "kind", "name", "names", "file", "files", "path", "paths", "dir", "url", "uri", "endpoint", "host",
    "port", "policy", "version", "affinity", "prefix", "suffix", "format", "algorithm", "alg", "limit", "max",
    "min", "interval", "duration", "seconds", "secs", "ms", "ref", "refs", "provider", "issuer", "audience",
    "scope", "scopes", "location", "rotation", "rotated", "changed", "updated", "created", "at", "service",
    "services", "server", "svc", "proxy", "store", "manager", "handler", "injected", "present", "exists",
    # source file extensions: `(TokenStore.java:42)` in a thread dump is a file and a line, not a setting
    "java", "kt", "scala", "groovy", "py", "go", "rb", "js", "ts", "cs", "rs", "c", "h", "cc", "cpp", "php",
    "class", "jar",
    # settings about how a secret is handled: PostgreSQL's password_encryption, pg_hba's auth_method
    "encryption", "method", "scheme",
})
# A first word that makes the name a number about secrets: MAX_TOKENS, num_tokens.
_ABOUT_FIRST = frozenset({"max", "min", "num", "total", "count"})
_WHOLE_NOT_SECRET = frozenset({"pwd", "oldpwd"})         # the shell's working directory, not a password
_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
MAX_NAME = 256                                           # longer is prose, not a name


def words(name: str) -> list[str]:
    """`X-Amz-Security-Token` -> [x, amz, security, token]; `keyStorePassword` -> [key, store, password]."""
    return [w.lower() for w in _SPLIT.split(name[:MAX_NAME]) if w]


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Does this key, env variable, header, flag or setting name a secret? The one answer for every caller."""
    ws = words(name)
    if not ws or "".join(ws) in _WHOLE_NOT_SECRET or ws[-1] in _ABOUT or (len(ws) > 1 and ws[0] in _ABOUT_FIRST):
        return False
    if len(ws) > 1 and ws[-1] in ("id", "ids") and ws[-2] in ("key", "keys", "session"):
        ws = ws[:-1]                                     # AWS_ACCESS_KEY_ID, SESSION_ID
    if _WEAK_LAST.fullmatch(ws[-1]):
        return True
    for i, w in enumerate(ws):
        if _STRONG.fullmatch(w):
            return True
        if w in ("key", "keys") and i > 0 and ws[i - 1] in _KEY_QUALIFIERS:
            return True
    return False


# The decisions, as examples (tests/test_redact.py holds `is_secret_name` to them).
SECRET_NAMES = (
    "DB_PASSWORD", "PGPASSWORD", "keyStorePassword", "API_TOKEN", "X-Auth-Token", "client_secret", "app.token",
    "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "api_key", "apiKey", "tls.key", "id_rsa", "DB_CREDS",
    "GOOGLE_APPLICATION_CREDENTIALS", "BASIC_AUTH", "X-Auth", "oauth", "authorization", "SESSION_COOKIE",
    "cookie", "JWT_SIGNING_KEY", "USER_SESSION", "SESSION_ID", "DB_PASS", "MYSQL_PWD", "sig", "X-Amz-Signature",
)
NOT_SECRET_NAMES = (
    "tokenizer", "token_count", "MAX_TOKENS", "password_expired", "secretName", "PASSWORD_FILE", "AUTH_URL",
    "user-auth-service", "sessionAffinity", "COOKIE_DOMAIN", "PWD", "key", "sort_key", "monkey", "author",
    "TokenStore.java", "password_encryption", "idle_in_transaction_session_timeout", "session_replication_role",
    "LOG_LEVEL", "keycloak_url", "automountServiceAccountToken_enabled", "",
)

# Substrings one of which every secret-like name holds: a cheap filter before `is_secret_name` is asked,
# so ordinary `status=504` pairs cost one failed lookahead, not a Python call.
_STEM_WORDS = (b"pass", b"pwd", b"secret", b"token", b"cred", b"auth", b"cookie", b"sess", b"key", b"sig", b"bearer",
               b"jwt", b"rsa", b"dsa", b"ed25519")
_STEMS = b"(?i:" + b"|".join(_STEM_WORDS) + b")"

# ---- text rules -------------------------------------------------------------------------------------------

Replace = bytes | Callable[["re.Match[bytes]"], bytes]


@dataclass(frozen=True)
class Rule:
    """One kind of secret in text. `trigger`: a cheap necessary condition for `pattern`; `redacts`: (text,
    secret) pairs where the secret must not survive; `keeps`: texts that must come out unchanged, by this
    rule and by the whole table."""

    name: str
    trigger: tuple[bytes, ...]          # lower-case literals one of which every match contains: a rule
                                        # whose trigger is not in a text is not run over it (a substring
                                        # search is far cheaper than a regex pass)
    pattern: re.Pattern[bytes]
    replace: Replace
    redacts: tuple[tuple[str, str], ...]
    keeps: tuple[str, ...]

    def apply(self, data: bytes) -> bytes:
        return self.pattern.sub(self.replace, data)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


_PLACEHOLDER = re.compile(rb"(?:\$\d{1,4}|\?|%s|%\(\w{1,64}\)s|:[A-Za-z_]\w{0,63}|true|false|null)",
                          re.I)


def _masked_value(value: bytes) -> bytes:
    """The value with its content masked and its quotes kept: `'x'` -> `'<redacted>'`."""
    if value[:1] in (b'"', b"'") and len(value) > 1 and value[-1:] == value[:1]:
        return value[:1] + _MASK_B + value[:1]
    if value[:1] in (b'"', b"'"):
        return value[:1] + _MASK_B
    return _MASK_B


def _keep_value(value: bytes) -> bool:
    """Values no secret is: already masked, empty, a bind placeholder ($1, ?, :name), true/false/null."""
    inner = value.strip(b"\"'")
    return not inner or _MASK_B in inner or bool(_PLACEHOLDER.fullmatch(inner))


# A value after `name=` / `name: `: a double-quoted string (with escapes), a single-quoted SQL string
# (with '' escapes), or a bare run (an unterminated quote falls through to the bare run).
_VALUE = (rb"\"(?:[^\"\\\n]|\\.){0,4096}\"|'(?:[^'\n]|''){0,4096}'"
          rb"|[\"']?[^\s\"',;&{}\[\]]{1,4096}")
_AUTH_SCHEMES = rb"(?i:bearer|basic|token|digest|negotiate|ntlm|hoba|mutual|dpop|mac|apikey|sharedkey|sharedkeylite" \
                rb"|aws4-hmac-sha256|gsstoken|oauth|key)"


def _pair(m: re.Match[bytes]) -> bytes:
    """`name<sep>[scheme ]value`: the value masked when the name is secret-like."""
    name, sep, scheme, value = m.group("name"), m.group("sep"), m.group("scheme") or b"", m.group("value")
    if name.lower().lstrip(b"\"'") in (b"authorization", b"proxy-authorization") or _keep_value(value):
        return m.group(0)
    if not is_secret_name(_text(name)):
        return m.group(0)
    return name + sep + scheme + _masked_value(value)


def _flag(m: re.Match[bytes]) -> bytes:
    if not is_secret_name(_text(m.group("name"))) or _keep_value(m.group("value")):
        return m.group(0)
    return m.group("dash") + m.group("name") + m.group("sep") + _masked_value(m.group("value"))


def _authorization(m: re.Match[bytes]) -> bytes:
    if m.group("scheme"):
        return m.group("head") + m.group("scheme") + m.group("gap") + _MASK_B
    return m.group("head") + _MASK_B


_AUTH_PARAM = re.compile(rb"[A-Za-z_]{1,32}=")


def _bearer(m: re.Match[bytes]) -> bytes:
    """Only a token-shaped word: `Bearer abc.def` is a credential, `missing bearer token` is prose."""
    token = m.group("token")
    if _AUTH_PARAM.fullmatch(token):                     # a challenge: `Bearer realm="api"`
        return m.group(0)
    if re.search(rb"[0-9._~+/=-]", token) or len(token) >= 20:
        return m.group("word") + m.group("gap") + _MASK_B
    return m.group(0)


def _basic(m: re.Match[bytes]) -> bytes:
    """`Basic <base64 of user:password>`; `Basic authentication failed` is prose (not base64 of a pair)."""
    try:
        decoded = base64.b64decode(m.group("token"), validate=True)
    except (binascii.Error, ValueError):
        return m.group(0)
    return m.group("word") + m.group("gap") + _MASK_B if b":" in decoded else m.group(0)


def _name_value(m: re.Match[bytes]) -> bytes:
    if not is_secret_name(_text(m.group("name"))) or _keep_value(m.group("value")):
        return m.group(0)
    return m.group("head") + m.group("name") + m.group("mid") + _masked_value(m.group("value"))


_MYSQL = rb"(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlsh|mariadb|mariadb-dump|mariadb-admin)"
_MYSQL_P = re.compile(rb"(?<!\S)(-p)(\s?)(?!-)([^\s\"']{1,4096})")


def _mysql(m: re.Match[bytes]) -> bytes:
    """`mysql ... -pSECRET` / `-p SECRET`: the MySQL clients' password option (attached, or as people
    write it, after a space)."""
    return _MYSQL_P.sub(rb"\1\2<redacted>", m.group(0), count=1)


_AWS_PREFIXES = (b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AIDA", b"AROA", b"AIPA", b"ANPA", b"ANVA", b"AGPA", b"APKA")
_AWS_PREFIX = b"|".join(_AWS_PREFIXES)
_AWS_TRIGGER = tuple(p.lower() for p in _AWS_PREFIXES)
_MYSQL_NAMES = frozenset({"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mysqlshow", "mysqlsh",
                          "mariadb", "mariadb-dump", "mariadb-admin"})

RULES: tuple[Rule, ...] = (
    Rule("pem_private_key", (b"private key",),
         re.compile(rb"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)(?:(?!-----END)[\s\S]){1,65536}"),
         rb"\1<redacted>",
         (("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7q\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA7q"),
          ("key=-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXk\\n-----END OPENSSH PRIVATE KEY-----",
           "b3BlbnNzaC1rZXk"),
          ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqh (truncated)", "MIIEvQIBADANBgkqh")),
         ("-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
          "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQ\n-----END PUBLIC KEY-----")),
    Rule("uri_credentials", (b"://",),
         re.compile(rb"(?<![A-Za-z0-9+.-])([a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^/\s:@\"'<>]{0,256}:)"
                    rb"([^\s/\"'<>]{1,1024})(@)"),
         rb"\1<redacted>\3",
         (("dial postgresql://auth:hunter2@db:5432/auth failed", "hunter2"),
          ("redis://:s3cr3t@cache:6379/0", "s3cr3t"),
          ("amqp://user:p@ss@rabbit/vhost", "p@ss")),
         ("GET http://example.com:8080/a@b", "see https://docs.example.com/x?y=1", "mailto:ops@example.com")),
    Rule("authorization_header", (b"authorization",),
         re.compile(rb"(?<![\w-])(?P<head>(?i:proxy-)?(?i:authorization)[\"']?\s{0,8}[:=]\s{0,8}[\"']?)"
                    rb"(?:(?P<scheme>" + _AUTH_SCHEMES + rb")(?P<gap>\s{1,4})[^\s\"',;]{1,4096}"
                    rb"|[^\r\n\"',;]{1,4096})"),
         _authorization,
         (("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
          ("authorization=SharedKeyX acct:c2lnbmF0dXJl", "c2lnbmF0dXJl"),
          ('{"Authorization": "token gho_notreallyatoken"}', "gho_notreallyatoken"),
          ("Proxy-Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz")),
         ("authorization failed for user bob", "authorization_mode: rbac")),
    Rule("bearer_token", (b"bearer",),
         re.compile(rb"(?<![\w-])(?P<word>(?i:bearer))(?P<gap>\s{1,4})(?P<token>[A-Za-z0-9._~+/=-]{1,4096})"),
         _bearer,
         (("upstream call with Bearer abc.def", "abc.def"),
          ('curl -H "X-Auth: Bearer eyJhbGciOi.e30.sig" http://api', "eyJhbGciOi.e30.sig"),
          ("bearer AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOpQrStUvWx")),
         ("missing bearer token", "WWW-Authenticate: Bearer realm=\"api\"", '"token_type": "Bearer"')),
    Rule("basic_credentials", (b"basic",),
         re.compile(rb"(?<![\w-])(?P<word>(?i:basic))(?P<gap>\s{1,4})(?P<token>[A-Za-z0-9+/]{4,4096}={0,2})"
                    rb"(?![A-Za-z0-9+/=])"),
         _basic,
         (("retry with Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),),
         ("Basic authentication failed", "basic auth disabled")),
    Rule("cookie_header", (b"cookie",),
         re.compile(rb"(?<![\w-])((?i:set-cookie|cookie)[\"']?\s{0,8}:\s{0,8})([^\r\n\"']{1,8192})"),
         rb"\1<redacted>",
         (("Cookie: session=abc123; theme=dark", "abc123"),
          ("< Set-Cookie: sid=s3cr3t; Path=/; HttpOnly", "s3cr3t"),
          ('-H "cookie: JSESSIONID=0F3A9"', "0F3A9")),
         ("cookie consent banner shown", "cookie_domain: example.com")),
    Rule("mysql_password_flag", (b"mysql", b"mariadb"),
         # The command line is taken whole (it always matches, so nothing is scanned twice), then its `-p`.
         re.compile(rb"(?<![\w-])" + _MYSQL + rb"\b[^\r\n|;&]{0,512}"),
         _mysql,
         (("mysql -u root -phunter2 -h db", "hunter2"),
          ("mysqldump -h db -u app -p hunter2 app", "hunter2")),
         ("mysql -P 3306 -h db app", "grep -p hunter2 file")),
    Rule("secret_flag", _STEM_WORDS,
         re.compile(rb"(?<![\w.-])(?P<dash>--?)(?=[\w.-]{0,64}?" + _STEMS + rb")(?P<name>[A-Za-z][\w.-]{0,63})"
                    rb"(?P<sep>=|\s{1,4}(?!-))(?P<value>" + _VALUE + rb")"),
         _flag,
         (("app --token abc123 --port 80", "abc123"), ("app --token=abc123", "abc123"),
          ("--password='hunter 2'", "hunter 2"), ("--client-secret s3cr3t", "s3cr3t"),
          ("java -Dspring.datasource.password=hunter2 -jar app.jar", "hunter2")),
         ("--token-file /run/secrets/t", "--max-tokens 5", "--tokenizer bert", "--auth-mode rbac",
          "--password-expired false")),
    Rule("secret_pair", _STEM_WORDS,
         re.compile(rb"(?<![\w.-])(?=[\w.-]{0,64}?" + _STEMS + rb")(?P<name>[A-Za-z_][\w.-]{0,63}[\"']?)"
                    rb"(?P<sep>\s{0,8}[:=]\s{0,8}|\s{1,8}(?i:to)\s{1,8})"
                    rb"(?:(?P<scheme>" + _AUTH_SCHEMES + rb"\s{1,4}))?(?P<value>" + _VALUE + rb")"),
         _pair,
         (("login failed password=hunter2 user=bob", "hunter2"),
          ('{"db_password": "hunter2", "x": 1}', "hunter2"),
          ("PGPASSWORD=hunter2 psql -h db", "hunter2"),
          ("X-Api-Key: k-123456", "k-123456"),
          ("GET /cb?code=1&access_token=abc123&state=x", "abc123"),
          ("SET app.token = 'abc123'", "abc123"),
          ("SET app.token TO 'abc123'", "abc123"),
          ("SELECT * FROM users WHERE api_key = 'k-123456'", "k-123456"),
          ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCY", "wJalrXUtnFEMIK7MDENGbPxRfiCY"),
          ("DATABASE_CREDS: u1:pw1", "u1:pw1"), ("BASIC_AUTH=admin:pw1", "admin:pw1"),
          ("COOKIE_SECRET=c00k1e", "c00k1e"), ("JWT_SIGNING_KEY=sk-1", "sk-1"),
          ("SESSION_ID=ses-42", "ses-42"), ("X-Auth: Bearer tok.en", "tok.en"),
          ("https://acct.blob.core.windows.net/c?sv=2020&sig=AbC%2Bd", "AbC%2Bd")),
         ("token_count=5", "tokenizer=bert", "password_expired: false", "secretName: db-creds",
          "upstream: user-auth-service", "user-auth-service: 504", "AUTH_URL=https://auth.example.com",
          "sessionAffinity: None", "at com.example.TokenStore.refresh(TokenStore.java:42)",
          "SELECT * FROM sessions WHERE session_id = $1", "key: app.yaml", "monkey=banana",
          "PWD=/app", "auth: true")),
    Rule("name_value_entry", (b"value",),
         re.compile(rb"(?P<head>[\"']?(?:name|key)[\"']?\s{0,8}[:=]\s{0,8}[\"']?)(?P<name>[A-Za-z_][\w.-]{0,127})"
                    rb"(?P<mid>[\"']?\s{0,8}[,\n]\s{0,32}-?\s{0,8}[\"']?value[\"']?\s{0,8}[:=]\s{0,8})"
                    rb"(?P<value>" + _VALUE + rb")"),
         _name_value,
         (('ts=1 env={"name":"DB_PASSWORD","value":"hunter2"}', "hunter2"),
          ("- name: API_TOKEN\n  value: tok-123", "tok-123")),
         ('{"name": "LOG_LEVEL", "value": "info"}',)),
    Rule("aws_key_pair", _AWS_TRIGGER,
         re.compile(rb"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})([^A-Za-z0-9/+=\r\n]{1,32})"
                    rb"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
         rb"<redacted>\2<redacted>",
         (("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
          ("creds AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAIOSFODNN7EXAMPLE")),
         ("commit 3f9c2a7d1e8b4c6a9f0e2d4b6a8c0e1f3a5b7c9d",)),
    Rule("aws_access_key_id", _AWS_TRIGGER,
         re.compile(rb"(?<![A-Z0-9])(?:" + _AWS_PREFIX + rb")[A-Z0-9]{16}"
                    rb"(?![A-Z0-9])"),
         _MASK_B,
         (("using key AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE"),),
         ("AKIA is a prefix", "AKIAIOSFODNN7EXAMPLEXX1")),
    Rule("github_token", (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"),
         re.compile(rb"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})"),
         _MASK_B,
         (("git clone https://ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789@github.com/o/r", "ghp_aBcDeFgHiJ"),
          ("GH gho_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "gho_aBcDeFgHiJ"),
          ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABCDEFG")),
         ("ghp_short", "the github_pat_ prefix")),
    Rule("slack_token", (b"xox",),
         re.compile(rb"(?<![A-Za-z0-9])xox[baprse]-[A-Za-z0-9-]{10,255}"),
         _MASK_B,
         (("slack xoxb-123456789012-abcdefABCDEF", "123456789012-abcdef"),
          ("xoxp-1234-5678-abcdefgh", "1234-5678-abcdefgh")),
         ("xoxo-hugs", "xoxb-short")),
    Rule("jwt", (b"eyj",),
         re.compile(rb"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,8192}\.[A-Za-z0-9_-]{5,8192}\.[A-Za-z0-9_-]{0,8192}"),
         _MASK_B,
         (("id_token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
           "dBjftJeZ4CVP"),),
         ("eyJ is how base64 JSON starts", "eyJabc.def")),
    Rule("sql_password_literal", (b"password", b"identified"),
         re.compile(rb"(?<![\w])((?i:password|identified\s{1,8}by(?:\s{1,8}password)?)\s{1,8})'(?:[^']|''){0,4096}'"),
         rb"\1'<redacted>'",
         (("ALTER ROLE app WITH PASSWORD 'hunter2'", "hunter2"),
          ("CREATE ROLE x ENCRYPTED PASSWORD 'it''s s3cret' LOGIN", "s3cret"),
          ("CREATE USER 'app'@'%' IDENTIFIED BY 'hunter2'", "hunter2")),
         ("ALTER ROLE app WITH PASSWORD NULL", "password_encryption = scram-sha-256")),
)


_ALL_TRIGGERS = tuple(sorted({t for r in RULES for t in r.trigger}))


_TRIGGER_RE = re.compile(b"|".join(re.escape(t) for t in _ALL_TRIGGERS))


def _triggered(data: bytes) -> bool:
    low = data.lower()
    if len(low) < 4096:                     # one regex call beats forty substring searches on short text
        return _TRIGGER_RE.search(low) is not None
    return any(t in low for t in _ALL_TRIGGERS)   # and forty fast searches beat a regex scan on long text


def scrub_bytes(data: bytes) -> bytes:
    """Every text rule, in order, over `data` (none when no rule's trigger is in it: most strings of a
    Kubernetes document are names and numbers, and a pass of every rule over each would cost)."""
    low = data.lower()
    for rule in RULES:
        if any(t in low for t in rule.trigger):
            data = rule.apply(data)
    return data


def scrub_text(text: str) -> str:
    # Documents repeat their short strings (namespaces, phases, names) thousands of times: remember them.
    return _scrub_short(text) if len(text) <= 256 else _scrub_str(text)


@functools.lru_cache(maxsize=16384)
def _scrub_short(text: str) -> str:
    return _scrub_str(text)


def _scrub_str(text: str) -> str:
    if not _triggered(text.encode("utf-8", "surrogateescape")):
        return text
    return scrub_bytes(text.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


# ---- JSON, by structure -----------------------------------------------------------------------------------


def scrub(data: bytes) -> bytes:
    """A file's bytes, redacted: a JSON document by structure (it stays valid JSON), JSON log lines one by
    one (each stays one line of JSON), anything else by the text rules."""
    if not _triggered(data):                # every secret-like name holds a stem, so the walk would keep it too
        return data
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            doc = json.loads(data)
            clean = scrub_json(doc)
        except (ValueError, RecursionError):             # not JSON, or nested past what a walk may follow
            pass
        else:
            return data if clean == doc else (json.dumps(clean, indent=1) + "\n").encode()
    if b"\n{" in data or data[:1] == b"{":
        return _scrub_lines(data)
    return scrub_bytes(data)


def _scrub_lines(data: bytes) -> bytes:
    """JSON lines by structure, each kept on its line; the text between them through the rules in one
    pass (not line by line: a million short lines must not cost a million passes)."""
    out: list[bytes] = []
    text: list[bytes] = []
    for line in data.splitlines(keepends=True):
        body = line.rstrip(b"\r\n")
        clean = _json_line(body) if body[:1] == b"{" and body[-1:] == b"}" else None
        if clean is None:
            text.append(line)
            continue
        if text:
            out.append(scrub_bytes(b"".join(text)))
            text = []
        out.append(clean + line[len(body):])
    if text:
        out.append(scrub_bytes(b"".join(text)))
    return b"".join(out)


def _json_line(body: bytes) -> bytes | None:
    try:
        doc = json.loads(body)
        clean = scrub_json(doc)
    except (ValueError, RecursionError):
        return None
    return body if clean == doc else json.dumps(clean).encode()


def scrub_json(node: Any) -> Any:
    """A decoded JSON document with secrets masked: values of secret-like keys, `{"name": "DB_PASSWORD",
    "value": ...}` entries, the value after a secret-like flag in an argument list, JSON held in a string,
    and every other string through the text rules. Numbers and booleans under secret-like keys stay
    (`"tokens": 5` counts tokens)."""
    if isinstance(node, dict):
        ref = node.get("name", node.get("key"))
        secret_entry = isinstance(ref, str) and is_secret_name(ref)
        out = {}
        for k, v in node.items():
            if isinstance(v, str) and v and (is_secret_name(str(k)) or (secret_entry and k == "value")):
                out[k] = MASK
            else:
                out[k] = scrub_json(v)
        return out
    if isinstance(node, list):
        if node and all(isinstance(v, str) for v in node):
            return scrub_args([scrub_json(v) for v in node])
        return [scrub_json(v) for v in node]
    if isinstance(node, str):
        return _scrub_string(node)
    return node


def _scrub_string(s: str) -> str:
    stripped = s.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            doc = json.loads(stripped)
            clean = scrub_json(doc)
        except (ValueError, RecursionError):
            return scrub_text(s)
        return s if clean == doc else json.dumps(clean)
    return scrub_text(s)


_FLAG = re.compile(r"--?([A-Za-z][\w.-]{0,63})")


def scrub_args(args: list[str]) -> list[str]:
    """An argument vector (a container's command/args, a process's argv): the word after a secret-like
    flag (`--token X`, `-password X`) is masked, and a MySQL client's `-p X` / `-pX`."""
    out = list(args)
    mysql = False
    for i, a in enumerate(args):
        if a.rsplit("/", 1)[-1] in _MYSQL_NAMES:
            mysql = True
            continue
        if mysql and a.startswith("-p") and len(a) > 2:
            out[i] = "-p" + MASK
            continue
        nxt = args[i + 1] if i + 1 < len(args) else ""
        m = _FLAG.fullmatch(a)
        if nxt and not nxt.startswith("-") and ((m and is_secret_name(m.group(1))) or (mysql and a == "-p")):
            out[i + 1] = MASK
    return out
