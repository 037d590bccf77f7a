"""What a pasted fix command would do to the cluster, done in the test to the stored API objects.

Small appliers, tests only: RFC 6902 JSON patch, RFC 7386 merge patch, and the `kubectl` verbs the runbooks
print (patch, set env, set resources, scale, rollout restart, delete pod, exec, debug), each refusing what
kubectl or the API server would refuse: a path that does not exist, an object or container not there.
"""

from __future__ import annotations

import copy
import json
import shlex
from pathlib import Path
from typing import Any

from diagnose.parsers.kubernetes import parse_quantity

Key = tuple[str, str, str]        # (kind, namespace, name); namespace "" for cluster-scoped kinds
Objects = dict[Key, dict[str, Any]]

# kubectl's resource names -> the API kind
KINDS = {"deployment": "Deployment", "deploy": "Deployment", "statefulset": "StatefulSet",
         "daemonset": "DaemonSet", "hpa": "HorizontalPodAutoscaler",
         "virtualservice": "VirtualService", "serviceprofile": "ServiceProfile", "ingress": "Ingress",
         "pod": "Pod", "node": "Node", "destinationrule": "DestinationRule"}


class Rejected(Exception):
    """What kubectl or the API server would answer with an error."""


def load_objects(kube_dir: Path) -> Objects:
    out: Objects = {}
    for f in sorted(kube_dir.glob("*.json")):
        doc = json.loads(f.read_text())
        kind = str(doc.get("kind", "")).removesuffix("List")
        for item in doc.get("items") or ():
            meta = item.get("metadata") or {}
            out[(str(item.get("kind") or kind), str(meta.get("namespace", "")), str(meta["name"]))] = item
    return out


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise Rejected(f"JSON pointer {path!r} does not start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for p in parts[:-1]:
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                raise Rejected(f"no index {p} in a list of {len(node)}")
            node = node[int(p)]
        elif isinstance(node, dict):
            if p not in node:
                raise Rejected(f"no member {p!r} on the path")
            node = node[p]
        else:
            raise Rejected(f"{p!r} is below a scalar")
    return node


def json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 add, replace, remove, test. `add` needs the parent to exist (section 4.1)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(op["path"])
        parent, last = _parent(doc, parts), parts[-1]
        kind = op["op"]
        if isinstance(parent, list):
            idx = len(parent) if last == "-" else int(last) if last.isdigit() else -1
            if kind == "add" and 0 <= idx <= len(parent):
                parent.insert(idx, op["value"])
            elif kind in ("replace", "remove", "test") and 0 <= idx < len(parent):
                if kind == "replace":
                    parent[idx] = op["value"]
                elif kind == "remove":
                    del parent[idx]
                elif parent[idx] != op["value"]:
                    raise Rejected(f"test failed at {op['path']}")
            else:
                raise Rejected(f"{kind} at {op['path']}: index out of range")
        elif isinstance(parent, dict):
            if kind == "add":
                parent[last] = op["value"]
            elif last not in parent:
                raise Rejected(f"{kind} at {op['path']}: no such member")
            elif kind == "replace":
                parent[last] = op["value"]
            elif kind == "remove":
                del parent[last]
            elif kind == "test" and parent[last] != op["value"]:
                raise Rejected(f"test failed at {op['path']}")
        else:
            raise Rejected(f"{op['path']}: parent is a scalar")
    return doc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge member by member, null removes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _opts(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Positional words and flags (-n x, --flag=x, --flag x, -it) of a kubectl command before `--`."""
    pos: list[str] = []
    flags: dict[str, str] = {}
    it = iter(args)
    for a in it:
        if a == "--":
            break
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            flags[k] = v
        elif a in ("-n", "-c", "-p", "--type", "--namespace", "--container", "--patch", "--replicas", "--image",
                   "--target"):
            flags[a.lstrip("-")] = next(it)
        elif a.startswith("-"):
            flags[a.lstrip("-")] = ""
        else:
            pos.append(a)
    return pos, flags


def _ns(flags: dict[str, str]) -> str:
    return flags.get("n") or flags.get("namespace") or "default"


def _get(objects: Objects, kind: str, ns: str, name: str) -> dict[str, Any]:
    key = (kind, "" if kind == "Node" else ns, name)
    if key not in objects:
        raise Rejected(f"{kind} {ns}/{name} not found")
    return objects[key]


def _ref(word: str) -> tuple[str, str]:
    res, _, name = word.partition("/")
    if res not in KINDS:
        raise Rejected(f"unknown resource {res!r}")
    return KINDS[res], name


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    # the workloads' pod template, or a pod's own spec
    spec = doc["spec"]["template"]["spec"] if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet") \
        else doc["spec"]
    return spec["containers"]


def _pick(doc: dict[str, Any], name: str | None) -> list[dict[str, Any]]:
    cs = _containers(doc)
    if name is None:
        return cs
    chosen = [c for c in cs if c["name"] == name]
    if not chosen:
        raise Rejected(f"no container {name!r} in {doc['metadata']['name']}")
    return chosen


def apply(command: str, objects: Objects) -> Objects:
    """The objects after `command`, or Rejected. Commands other than kubectl's are left alone."""
    words = shlex.split(command)
    if not words or words[0] != "kubectl":
        return objects
    objects = dict(objects)
    verb = words[1]
    if verb == "set":
        what, rest = words[2], words[3:]
        pos, flags = _opts(rest)
        kind, name = _ref(pos[0])
        doc = copy.deepcopy(_get(objects, kind, _ns(flags), name))
        targets = _pick(doc, flags.get("c") or flags.get("container"))
        if what == "env":
            for assignment in pos[1:]:
                var, sep, value = assignment.partition("=")
                if not sep:
                    raise Rejected(f"not NAME=value: {assignment!r}")
                for c in targets:
                    env = c.setdefault("env", [])
                    entry = next((e for e in env if e["name"] == var), None)
                    if entry is None:
                        env.append({"name": var, "value": value})
                    else:
                        entry.pop("valueFrom", None)
                        entry["value"] = value
        elif what == "resources":
            for field in ("limits", "requests"):
                for pair in filter(None, flags.get(field, "").split(",")):
                    res, _, q = pair.partition("=")
                    parse_quantity(q)        # refused like the API server would, by raising
                    for c in targets:
                        c.setdefault("resources", {}).setdefault(field, {})[res] = q
        else:
            raise Rejected(f"kubectl set {what} is not modelled")
        objects[(kind, _ns(flags), name)] = doc
    elif verb == "patch":
        pos, flags = _opts(words[2:])
        kind, name = _ref(pos[0])
        doc = _get(objects, kind, _ns(flags), name)
        body = json.loads(flags.get("p") or flags["patch"])
        kind_of_patch = flags.get("type", "strategic")
        if kind_of_patch == "json":
            new = json_patch(doc, body)
        elif kind_of_patch == "merge":
            new = merge_patch(doc, body)
        else:
            raise Rejected(f"--type {kind_of_patch} is not modelled")
        objects[(kind, _ns(flags), name)] = new
    elif verb == "scale":
        pos, flags = _opts(words[2:])
        kind, name = _ref(pos[0])
        doc = copy.deepcopy(_get(objects, kind, _ns(flags), name))
        doc["spec"]["replicas"] = int(flags["replicas"])
        objects[(kind, _ns(flags), name)] = doc
    elif verb == "rollout" and words[2] == "restart":
        pos, flags = _opts(words[3:])
        _get(objects, *(_ref(pos[0])[0], _ns(flags), _ref(pos[0])[1]))
    elif verb == "delete":
        pos, flags = _opts(words[2:])
        if pos[0] != "pod":
            raise Rejected(f"kubectl delete {pos[0]} is not modelled")
        for name in pos[1:]:
            _get(objects, "Pod", _ns(flags), name)
            del objects[("Pod", _ns(flags), name)]
    elif verb in ("exec", "debug"):
        pos, flags = _opts(words[2:])
        ref = pos[0]
        if "/" in ref:
            kind, name = _ref(ref)
        else:
            kind, name = "Pod", ref
        if kind == "Deployment" and verb == "exec":
            return objects           # kubectl picks a pod of it
        doc = _get(objects, kind, _ns(flags), name)
        container = flags.get("c") or flags.get("target")
        if kind == "Pod" and container is not None:
            _pick(doc, container)
    return objects
