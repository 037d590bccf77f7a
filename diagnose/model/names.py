"""What a Kubernetes name may look like. Values read from logs and clusters are data: before one
names an object in a URL or in a printed command it must have the syntax of what it names.

The rules are the API server's own (k8s.io/apimachinery/pkg/util/validation):
- DNS-1123 label: at most 63 characters, lower-case alphanumerics and '-', starting and ending with an
  alphanumeric. Namespaces, Services and most workload names.
- DNS-1123 subdomain: at most 253 characters, DNS-1123 labels joined by '.'. Deployments, ConfigMaps,
  Pods, and every other name the API calls a "DNS subdomain".
- Label value: at most 63 characters, empty or alphanumerics with '-', '_', '.' inside.
- Label key: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters
  (alphanumerics with '-', '_', '.' inside).
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\Z")
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?\Z")
_KEY_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")


def is_dns_label(value: object) -> bool:
    """A DNS-1123 label (namespace, Service, container name)."""
    return isinstance(value, str) and len(value) <= 63 and _LABEL.match(value) is not None


def is_dns_subdomain(value: object) -> bool:
    """A DNS-1123 subdomain (Deployment, Pod, HPA, ConfigMap ... names)."""
    return (isinstance(value, str) and 0 < len(value) <= 253
            and all(_LABEL.match(part) is not None for part in value.split(".")))


def is_label_value(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _LABEL_VALUE.match(value) is not None


def is_label_key(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    prefix, _, name = value.rpartition("/")
    if "/" in value and not is_dns_subdomain(prefix):
        return False
    return len(name) <= 63 and _KEY_NAME.match(name) is not None
