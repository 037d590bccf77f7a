"""Randomised casts: who times out waiting for whom, where, under which labels and on which cloud.

The fixture writers (fixtures/build/) write one canonical cast (fixtures/build/scenario.py). A generated
scenario keeps their output and renames it: `renames(cast)` maps every canonical name to the cast's, so the
same documents, series and dumps describe another service in another namespace on another cloud.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from fixtures.build import scenario as canon

CALLER_RS = canon.CALLER_PODS[0].rsplit("-", 1)[0]      # the caller's ReplicaSet, named in its pods' names

LABEL_KEYS = ("app", "app.kubernetes.io/name", "k8s-app", "name")
CLOUDS = ("eks", "gke", "aks")
_CALLERS = ("frontend-api", "web-gateway", "checkout", "storefront", "bff-mobile", "graphql-edge", "orders-api")
_UPSTREAMS = ("user-auth-service", "payments", "inventory-svc", "pricing-engine", "session-store",
              "catalog-service", "ledger", "recommendations", "notification-svc", "profile-api")
_NAMESPACES = ("production", "prod", "shop", "payments-prod", "core", "checkout-live", "default", "team-a")
_REGIONS = {"eks": ("eu-west-1", "us-east-2", "ap-southeast-2"), "gke": ("europe-west1", "us-central1"),
            "aks": ("westeurope", "eastus")}


@dataclass(frozen=True)
class Cast:
    namespace: str
    caller: str
    upstream: str
    replicaset: str                      # the upstream's current ReplicaSet
    caller_replicaset: str
    pods: tuple[str, str, str]
    caller_pods: tuple[str, str]
    cloud: str
    region: str
    zones: tuple[str, str, str]
    nodes: tuple[str, str, str]
    label_key: str                       # the naming label the workloads carry (and select on)
    timeout_ms: int                      # the caller's own deadline


def _hash(rng: random.Random, n: int, alphabet: str = "bcdfghjklmnpqrstvwxz2456789") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _nodes(rng: random.Random, cloud: str, region: str) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """Three nodes in three zones, named as each managed Kubernetes names them."""
    if cloud == "eks":
        zones = tuple(f"{region}{z}" for z in "abc")
        internal = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
        nodes = tuple(f"ip-10-{rng.randint(0, 9)}-{i + 1}-{rng.randint(2, 250)}.{internal}" for i in range(3))
    elif cloud == "gke":
        zones = tuple(f"{region}-{z}" for z in "bcd")
        pool = rng.choice(("default-pool", "pool-1", "apps"))
        nodes = tuple(f"gke-prod-{pool}-{_hash(rng, 8, string.hexdigits[:16])}-{_hash(rng, 4)}" for _ in range(3))
    else:
        zones = tuple(f"{region}-{z}" for z in "123")
        vmss = rng.randint(10000000, 99999999)
        nodes = tuple(f"aks-nodepool1-{vmss}-vmss{i:06d}" for i in range(3))
    return zones, nodes  # type: ignore[return-value]


def random_cast(rng: random.Random) -> Cast:
    caller = rng.choice(_CALLERS)
    upstream = rng.choice([u for u in _UPSTREAMS if u != caller])
    cloud = rng.choice(CLOUDS)
    region = rng.choice(_REGIONS[cloud])
    zones, nodes = _nodes(rng, cloud, region)
    rs = f"{upstream}-{_hash(rng, rng.choice((9, 10)))}"
    cr = f"{caller}-{_hash(rng, 9)}"
    return Cast(namespace=rng.choice(_NAMESPACES), caller=caller, upstream=upstream, replicaset=rs,
                caller_replicaset=cr,
                pods=tuple(f"{rs}-{_hash(rng, 5)}" for _ in range(3)),  # type: ignore[arg-type]
                caller_pods=(f"{cr}-{_hash(rng, 5)}", f"{cr}-{_hash(rng, 5)}"), cloud=cloud, region=region,
                zones=zones, nodes=nodes, label_key=rng.choice(LABEL_KEYS),
                timeout_ms=rng.choice((2000, 3000, 5000, 10000, 10000, 30000)))


def renames(c: Cast) -> list[tuple[str, str]]:
    """(canonical, this cast's) pairs, longest first, so that a pod name is renamed before its deployment's
    name inside it, and a zone before the region inside it."""
    pairs = [*zip(canon.PODS, c.pods, strict=True), *zip(canon.CALLER_PODS, c.caller_pods, strict=True),
             (canon.REPLICASET, c.replicaset), *zip(canon.NODES, c.nodes, strict=True),
             (CALLER_RS, c.caller_replicaset),
             # the pod-template-hash labels, which repeat the ReplicaSets' last name part
             (canon.REPLICASET.rsplit("-", 1)[1], c.replicaset.rsplit("-", 1)[1]),
             (CALLER_RS.rsplit("-", 1)[1], c.caller_replicaset.rsplit("-", 1)[1]),
             *zip(canon.ZONES, c.zones, strict=True), (canon.REGION, c.region),
             (canon.UPSTREAM, c.upstream), (canon.CALLER, c.caller)]
    # "production" is also the Spring profile in the pods' env; renaming it there too is harmless
    pairs.append((canon.NAMESPACE, c.namespace))
    return sorted(pairs, key=lambda p: -len(p[0]))


def rename_text(text: str, pairs: list[tuple[str, str]]) -> str:
    """Every canonical name replaced in one pass (a renamed name is never renamed again)."""
    import re

    table = dict(pairs)
    pattern = re.compile("|".join(re.escape(k) for k, _ in pairs))
    return pattern.sub(lambda m: table[m.group(0)], text)
