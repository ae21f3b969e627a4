"""Host names, workloads and Istio's string matchers, as the Istio model reads them.

Short host names resolve in the namespace of the resource that writes them
(istio/api `networking/v1alpha3/virtual_service.proto`, `VirtualService.hosts`);
`name.ns`, `name.ns.svc` and `name.ns.svc.<domain>` name `ns/name`. Workloads carry
the pod labels `app: <service name>` plus the labels of their version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshspec.adapter import Topology, Workload
from meshspec.regex import full_match
from meshspec.semantics import host_parts


def host_key(host: str, namespace: str, topology: Topology) -> str | None:
    """The workload key a host means, or None when it names none of the topology."""
    h = host.strip().lower().rstrip(".")
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    if "/" in h:
        return h if h in topology.workloads else None
    parts = host_parts(h, _any_cluster_domain)
    if parts is None:
        return None
    name, host_namespace = parts
    key = f"{host_namespace or namespace}/{name}"
    return key if key in topology.workloads else None


def _any_cluster_domain(rest: tuple[str, ...]) -> bool:
    """`name.ns.svc.<any cluster domain>`: the model does not fix the cluster's domain."""
    return rest[0] == "svc"


def host_covers(pattern: str, namespace: str, key: str, topology: Topology) -> bool:
    """Whether a `hosts` entry (possibly `*` or `*.suffix`) covers the workload `key`."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        workload = topology.workloads[key]
        fqdn = f"{workload.name}.{workload.namespace}.svc.cluster.local"
        return fqdn.endswith(pattern[1:].lower())
    return host_key(pattern, namespace, topology) == key


def resolve(ref: str, topology: Topology, namespace: str | None = None) -> str | None:
    """A request's `name`, `ns/name` or host name as a workload key."""
    if "/" in ref:
        return ref if ref in topology.workloads else None
    if namespace is not None:
        key = host_key(ref, namespace, topology)
        if key is not None:
            return key
    if "." in ref.strip("."):
        return host_key(ref, "default", topology)
    found = [k for k, w in topology.workloads.items() if w.name == ref.lower()]
    return found[0] if len(found) == 1 else None


def pod_labels(workload: Workload, version: str | None) -> dict[str, str]:
    """Labels every pod of the (workload, version) pair carries."""
    labels = {"app": workload.name}
    if version is not None and version in workload.versions:
        labels.update(workload.versions[version])
    elif workload.versions:
        sets = [dict(v) for v in workload.versions.values()]
        common = {k: v for k, v in sets[0].items() if all(s.get(k) == v for s in sets[1:])}
        labels.update(common)
    return labels


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """`selector.matchLabels` (istio/api `type/v1beta1/selector.proto`); absent = all."""
    if not isinstance(selector, Mapping):
        return True
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(str(k)) == str(v) for k, v in wanted.items())


def string_match(match: Any, value: str, ignore_case: bool = False) -> bool:
    """networking `StringMatch`: exact | prefix (plain string) | regex (RE2 full match)."""
    if not isinstance(match, Mapping):
        return False
    if "exact" in match:
        expected = str(match["exact"])
        return value.lower() == expected.lower() if ignore_case else value == expected
    if "prefix" in match:
        expected = str(match["prefix"])
        if ignore_case:
            return value.lower().startswith(expected.lower())
        return value.startswith(expected)
    if "regex" in match:
        return full_match(str(match["regex"]), value)
    return False


def security_string_match(pattern: str, value: str | None) -> bool:
    """AuthorizationPolicy strings: exact, prefix `abc*`, suffix `*abc`, presence `*`.

    istio/api `security/v1beta1/authorization_policy.proto` ("all strings support
    exact, prefix, suffix and presence match"); a missing value matches nothing.
    """
    if value is None:
        return False
    if pattern == "*":
        return value != ""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern
