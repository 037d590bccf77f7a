"""Secret material inside Kubernetes API documents, masked by structure before a document is stored.

The source never lists Secrets or ConfigMaps, but their contents can still arrive inside what it does
list: a Secret manifest in a last-applied-configuration annotation (of an object or of its pod template),
a Secret or ConfigMap from a server that answers something else than was asked, key files handed to a
CSI volume's attributes, a credential in an env value or in a config file kept in an annotation. Masking
follows the structure, so a document stays the document it was and everything the checks read is kept:

- Secret and ConfigMap objects (and their Lists), at any depth: every value of data/stringData/binaryData.
- Any entry named like key material (`tls.key`, `id_rsa`, `*.pem`, `*.key`, `.dockerconfigjson`, ...).
- env lists: the value of a variable whose name is secret-like (PASSWORD, TOKEN, SECRET, KEY, ...).
- Free-form string maps (volumeAttributes, flexVolume options, parameters, data): secret-like keys.
- Annotations: last-applied-configuration whole (it repeats the spec, env values included); one with a
  secret-like name whole; one holding a JSON document is masked as a document; any other keeps its text
  less the values of credential lines (`password = x`, `token: x`).
- Strings under config-file keys (`*.conf`, `*.ini`, `*.properties`, ...): credential lines, as above.
- Any string holding a PEM private key, whole.

Free text (log lines, event messages) is redact.py's; this module knows only the shape of API objects.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .. import redact

MASK = "<redacted>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Deeper than any real object; a hostile document nested further is masked below this depth, not walked.
MAX_DEPTH = 64
# The longest name part of a `name = value` line that is looked at: longer is prose, not a setting.
MAX_SETTING_NAME = 200

# In a free-form map, `secretName`, `secretProviderClass`, `keyRef` name where a secret is, not what it holds.
_REFERENCE = re.compile(r"(?:name|class|ref)\Z", re.I)
_KEY_FILES = frozenset({"tls.key", "ssh-privatekey", ".dockerconfigjson", ".dockercfg", ".htpasswd", ".netrc",
                        ".pgpass", ".git-credentials", "credentials", "service-account.json", "key.json"})
_KEY_FILE_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
_KEY_FILE_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".kdbx", ".ppk")
_CONFIG_SUFFIXES = (".conf", ".cnf", ".ini", ".properties", ".cfg", ".env", ".toml", ".yaml", ".yml")
_DATA_FIELDS = ("data", "stringData", "binaryData")
_FREE_FORM_MAPS = frozenset({"volumeAttributes", "options", "parameters", *_DATA_FIELDS})
_WHOLE_KINDS = frozenset({"Secret", "ConfigMap"})
_WHOLE_LISTS = frozenset({"SecretList", "ConfigMapList"})


# An env variable, annotation or map key that names a credential: one answer for the whole tool (redact's
# table of names: DB_CREDS, X-Auth, SESSION_COOKIE are; token_count, AUTH_URL, sessionAffinity are not).
is_secret_name = redact.is_secret_name


def is_key_file(name: str) -> bool:
    """A data key or file name that holds key material (what Secrets of type tls, ssh-auth and
    dockerconfigjson carry, and what people mount as files)."""
    base = name.rsplit("/", 1)[-1].lower()
    return base in _KEY_FILES or base.startswith(_KEY_FILE_PREFIXES) or base.endswith(_KEY_FILE_SUFFIXES)


def mask(doc: Any) -> Any:
    """`doc` (a decoded API document) with its secret material masked; changed in place and returned."""
    return _walk(doc, "", 0)


def mask_lines(text: str) -> str:
    """The values of `name = value` / `name: value` lines whose name is secret-like, masked (config
    files: .properties, .ini, .conf, YAML). Linear: one split and two finds per line."""
    if "=" not in text and ":" not in text:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        cuts = [c for c in (line.find("="), line.find(":")) if c > 0]
        if not cuts:
            continue
        cut = min(cuts)
        value = line[cut + 1:]
        if cut <= MAX_SETTING_NAME and value.strip() and is_secret_name(line[:cut]):
            lines[i] = line[:cut + 1] + (" " if value.startswith(" ") else "") + MASK
    return "\n".join(lines)


def _walk(node: Any, key: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return MASK
    if isinstance(node, dict):
        if node.get("kind") in _WHOLE_KINDS:
            _mask_data(node)
        if node.get("kind") in _WHOLE_LISTS:
            for item in node.get("items") or ():
                if isinstance(item, dict):
                    _mask_data(item)
        for k in list(node):
            node[k] = _entry(str(k), node[k], depth + 1)
        return node
    if isinstance(node, list):
        for i, v in enumerate(node):
            node[i] = _walk(v, key, depth + 1)
        return node
    if isinstance(node, str):
        return _string(key, node)
    return node


def _entry(key: str, value: Any, depth: int) -> Any:
    if is_key_file(key) and value not in (None, "", {}, []):
        return MASK
    if key == "env" and isinstance(value, list):
        for e in value:
            if isinstance(e, dict) and e.get("value") and is_secret_name(str(e.get("name", ""))):
                e["value"] = MASK
    elif key == "annotations" and isinstance(value, dict):
        return _annotations(value, depth)
    elif key in _FREE_FORM_MAPS and isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and v and is_secret_name(str(k)) and not _REFERENCE.search(str(k)):
                value[k] = MASK
    return _walk(value, key, depth)


def _mask_data(obj: dict[str, Any]) -> None:
    for field in _DATA_FIELDS:
        data = obj.get(field)
        if isinstance(data, dict):
            for k in data:
                data[k] = MASK
        elif data is not None:
            obj[field] = MASK


def _string(key: str, text: str) -> str:
    if "PRIVATE KEY-----" in text:
        return MASK
    if key.lower().endswith(_CONFIG_SUFFIXES):
        return mask_lines(text)
    return text


def _annotations(ann: dict[str, Any], depth: int) -> dict[str, Any]:
    for name in list(ann):
        value = ann[name]
        if not isinstance(value, str):
            ann[name] = _walk(value, str(name), depth + 1)
        elif not value:
            continue
        elif name == LAST_APPLIED or is_secret_name(str(name).rsplit("/", 1)[-1]) or is_key_file(str(name)):
            ann[name] = MASK
        elif value.lstrip()[:1] in ("{", "["):
            ann[name] = _json_text(value, depth)
        else:
            ann[name] = mask_lines(_string(str(name), value))
    return ann


def _json_text(text: str, depth: int) -> str:
    """An annotation holding a JSON document (a manifest, a sidecar's status): masked as a document, and
    re-encoded only when something was masked, so an untouched annotation stays byte for byte."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return mask_lines(_string("", text))
    before = json.dumps(doc, sort_keys=True)
    masked = _walk(doc, "", depth + 1)
    if json.dumps(masked, sort_keys=True) == before:
        return text
    return json.dumps(masked, separators=(",", ":"))
