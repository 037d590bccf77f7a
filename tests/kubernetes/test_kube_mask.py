"""Secret material that arrives inside the documents the source does list is masked before it is stored
(issue 9, item 2): the live source, through the real client, against the local API server."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

from diagnose.sources import kubernetes as source
from diagnose.sources.base import SourceOptions
from diagnose.sources.kube_mask import LAST_APPLIED, MASK, mask, mask_lines
from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.kubernetes.kube_helpers import evidence, target
from tests.servers.kube_api import KubeAPI, secret_list

NS = sc.NAMESPACE
PODS = f"/api/v1/namespaces/{NS}/pods"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAzq8hunter2keymaterial\n-----END RSA PRIVATE KEY-----\n"
SECRET_MANIFEST = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth-tls", "namespace": NS},
                   "type": "kubernetes.io/tls",
                   "data": {"tls.crt": "Y2VydA==", "tls.key": base64.b64encode(KEY.encode()).decode()},
                   "stringData": {"db-password": "hunter2-db"}}


def _collect(docs: dict[str, Any], tmp_path: Path) -> dict[str, bytes]:
    with KubeAPI(docs) as api:
        opts = SourceOptions(kubeconfig=str(api.kubeconfig(tmp_path)), timeout=20)
        return source.collect(opts, target(NS), time.monotonic() + 20)


def _blob(files: dict[str, bytes]) -> bytes:
    return b"".join(files.values())


def _secret_bytes_in(blob: bytes) -> list[bytes]:
    needles = [b"hunter2", base64.b64encode(KEY.encode())[:40], b"MIIEowIBAAKCAQEA"]
    return [n for n in needles if n in blob]


def test_a_secret_manifest_in_a_pod_template_annotation_is_masked(tmp_path: Path) -> None:
    docs = fk.cluster("overload")
    dep = next(d for d in docs[DEPLOYMENTS]["items"] if d["metadata"]["name"] == sc.UPSTREAM)
    dep["spec"]["template"].setdefault("metadata", {})["annotations"] = {
        LAST_APPLIED: json.dumps(SECRET_MANIFEST), "example.com/bootstrap": json.dumps(SECRET_MANIFEST)}
    files = _collect(docs, tmp_path)
    assert _secret_bytes_in(_blob(files)) == []
    stored = json.loads(files["deployments.json"])
    ann = next(d for d in stored["items"] if d["metadata"]["name"] == sc.UPSTREAM)["spec"]["template"]["metadata"][
        "annotations"]
    assert ann[LAST_APPLIED] == MASK
    kept = json.loads(ann["example.com/bootstrap"])          # still a manifest, its data masked key by key
    assert kept["data"] == {"tls.crt": MASK, "tls.key": MASK} and kept["stringData"] == {"db-password": MASK}
    kube, _ = evidence(files)
    assert kube.deployment is not None and kube.deployment.name == sc.UPSTREAM


def test_a_secret_list_answered_for_pods_is_masked(tmp_path: Path) -> None:
    docs = fk.cluster("overload")
    hostile = secret_list(NS)
    hostile["items"][0]["data"]["id_rsa"] = base64.b64encode(KEY.encode()).decode()
    hostile["items"][0]["metadata"]["labels"] = {"app": sc.UPSTREAM}      # so the pods selector keeps it
    docs[PODS] = hostile                     # a server (or a proxy) that answers the wrong thing
    files = _collect(docs, tmp_path)
    assert _secret_bytes_in(_blob(files)) == [] and b"TUlJRXZRSUJBREFOQmdrcWhraUc5dzBC" not in _blob(files)
    assert json.loads(files["pods.json"])["items"][0]["data"] == {"tls.crt": MASK, "tls.key": MASK, "id_rsa": MASK}


def test_key_files_and_credentials_in_a_pod_spec_are_masked_and_the_rest_kept(tmp_path: Path) -> None:
    docs = fk.cluster("overload")
    pod = docs[PODS]["items"][0]
    pod["spec"]["volumes"] = [
        {"name": "certs", "csi": {"driver": "secrets-store.csi.k8s.io",
                                  "volumeAttributes": {"tls.key": KEY, "clientSecret": "hunter2-csi",
                                                       "secretProviderClass": "vault-tls"}}},
        {"name": "cfg", "projected": {"sources": [{"configMap": {"name": "auth-config",
                                                                 "items": [{"key": "app.ini", "path": "app.ini"}]}}]}}]
    pod["metadata"]["annotations"] = {
        "example.com/app.properties": "db.url=jdbc:postgresql://db:5432/auth\ndb.password=hunter2-props\n",
        "example.com/settings": json.dumps({"kind": "ConfigMap", "data": {"app.ini": "[db]\npassword = hunter2-ini"}}),
        "example.com/api-token": "hunter2-token",
    }
    pod["spec"]["containers"][0]["env"].append({"name": "BOOT_MATERIAL", "value": KEY})
    files = _collect(docs, tmp_path)
    assert _secret_bytes_in(_blob(files)) == []
    stored = json.loads(files["pods.json"])["items"][0]
    attrs = stored["spec"]["volumes"][0]["csi"]["volumeAttributes"]
    assert attrs == {"tls.key": MASK, "clientSecret": MASK, "secretProviderClass": "vault-tls"}
    assert stored["spec"]["volumes"][1] == pod["spec"]["volumes"][1]         # names of keys, not their content
    assert stored["metadata"]["annotations"]["example.com/app.properties"] == (
        f"db.url=jdbc:postgresql://db:5432/auth\ndb.password={MASK}\n")
    kube, _ = evidence(files)
    assert len(kube.pods) == 3


def test_ordinary_documents_are_stored_unchanged() -> None:
    docs = fk.cluster("mesh-timeout")
    for path, doc in docs.items():
        assert mask(copy.deepcopy(doc)) == doc, path


def test_credential_lines_are_masked_line_by_line() -> None:
    text = "user: app\npassword: hunter2\nurl=http://x:80/\n  apiKey = abc\nnote: the token is elsewhere\n"
    assert mask_lines(text) == f"user: app\npassword: {MASK}\nurl=http://x:80/\n  apiKey = {MASK}\n" \
                               "note: the token is elsewhere\n"


def test_a_deeply_nested_document_is_masked_below_a_bound_not_walked_forever() -> None:
    doc: dict[str, Any] = {"items": []}
    node = doc
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    masked = mask(doc)
    depth = 0
    while isinstance(masked, dict) and "x" in masked:
        masked, depth = masked["x"], depth + 1
    assert masked == MASK and depth < 100
