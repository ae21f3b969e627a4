"""GAMMA HTTPRoutes (and the Services they name) -> neutral services and routes, shared by
the importers of targets that route with HTTPRoutes. Every field is read through an
allow-list (`KNOWN`): what is not understood is reported with its file:line, never
dropped silently. The neutral spec's precedence is Gateway API's, so rules keep their
order: routes of one Service in `namespace/name` order (ties between routes created at
the same time), rules in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters import _gamma as G
from adapters._k8s import WORKLOAD_LABEL, duration
from adapters.kit.platform import service_accounts
from meshspec.adapter import NativeDocument
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec import API_VERSION
from meshspec.spec.bundle import PathKey

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
ROUTE_API_VERSIONS = (G.API_VERSION, f"{G.GROUP}/v1beta1")

KNOWN: Mapping[PathKey, frozenset[str]] = {
    (): frozenset({"apiVersion", "kind", "metadata", "spec", "status"}),
    ("metadata",): frozenset(
        {
            "name",
            "namespace",
            "annotations",
            "labels",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
        }
    ),
    ("spec",): frozenset({"parentRefs", "rules", "hostnames"}),
    ("spec", "parentRefs"): frozenset({"group", "kind", "name", "namespace", "port"}),
    ("spec", "rules"): frozenset({"matches", "backendRefs", "timeouts", "filters"}),
    ("spec", "rules", "matches"): frozenset({"path", "headers", "queryParams", "method"}),
    ("spec", "rules", "backendRefs"): frozenset(
        {"group", "kind", "name", "namespace", "port", "weight"}
    ),
    ("spec", "rules", "timeouts"): frozenset({"request", "backendRequest"}),
}


@dataclass(frozen=True)
class Codes:
    """The importing target's own codes for the findings of this module."""

    field_dropped: Code
    parent_skipped: Code
    unknown_backend: Code
    consumer_route: Code
    filter_dropped: Code
    timeout_unset: Code
    #: the neutral timeout a rule without one reads as (None: the spec's default)
    unset_timeout: str | None = None


@dataclass
class Draft:
    """A neutral Service document being assembled (plain data)."""

    namespace: str
    name: str
    ports: dict[int, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    routes: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    routed_ports: set[int | None] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def document(self) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        if self.ports:
            spec["ports"] = [self.ports[p] for p in sorted(self.ports)]
        if self.versions:
            spec["versions"] = [
                {"name": v, **({"labels": labels} if labels != {"version": v} else {})}
                for v, labels in sorted(self.versions.items())
            ]
        if self.routes:
            spec["routes"] = self.routes
        spec.update(self.extra)
        return {
            "apiVersion": API_VERSION,
            "kind": "Service",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }


class Drafts(dict[str, Draft]):
    def get_or_add(self, namespace: str, name: str) -> Draft:
        key = f"{namespace}/{name}"
        if key not in self:
            self[key] = Draft(namespace, name)
        return self[key]


def unknown_fields(
    doc: NativeDocument, known: Mapping[PathKey, frozenset[str]], code: Code
) -> list[Diagnostic]:
    out: list[Diagnostic] = []

    def walk(value: Any, where: PathKey, shape: PathKey) -> None:
        allowed = known.get(shape)
        if isinstance(value, Mapping) and allowed is not None:
            for name, inner in value.items():
                if name not in allowed:
                    out.append(
                        code(f"field '{name}' dropped", location=doc.origin.locate((*where, name)))
                    )
                else:
                    walk(inner, (*where, name), (*shape, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*where, i), shape)

    walk(doc.data, (), ())
    return out


PLATFORM_KINDS = frozenset(
    {
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
    }
)


def read_accounts(documents: Sequence[NativeDocument], drafts: Drafts) -> None:
    """The service account each service's workloads run as (from its Deployments): the
    identity authorization names, never guessed."""
    found = service_accounts([d.data for d in documents])
    for (namespace, app), account in sorted(found.items()):
        draft = drafts.get(f"{namespace}/{app}")
        if draft is not None and account != app:
            draft.extra["serviceAccount"] = account


def read_services(
    documents: Sequence[NativeDocument], drafts: Drafts
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """Kubernetes Services -> service ports and versions. A Service `<svc>-<v>` whose
    selector is `app: <svc>` plus more labels is version `v` of `<svc>`. Returns
    (namespace, Service name) -> (service key, version)."""
    names: dict[tuple[str, str], tuple[str, str | None]] = {}
    services = [d for d in documents if (d.data.get("apiVersion"), d.kind) == ("v1", "Service")]
    selectors = {
        (d.namespace, d.name): G._str_map(G._map(d.data.get("spec")).get("selector"))
        for d in services
    }
    for doc in services:
        selector = selectors[(doc.namespace, doc.name)]
        app = selector.get(WORKLOAD_LABEL)
        labels = {k: v for k, v in selector.items() if k != WORKLOAD_LABEL}
        prefix = f"{app}-"
        if app and labels and doc.name.startswith(prefix) and _NAME.match(doc.name[len(prefix) :]):
            version = doc.name[len(prefix) :]
            draft = drafts.get_or_add(doc.namespace, app)
            draft.versions[version] = labels
            names[(doc.namespace, doc.name)] = (draft.key, version)
        else:
            draft = drafts.get_or_add(doc.namespace, doc.name)
            names[(doc.namespace, doc.name)] = (draft.key, None)
            for p in map(G._map, G._seq(G._map(doc.data.get("spec")).get("ports"))):
                if not isinstance(p.get("port"), int):
                    continue
                port: dict[str, Any] = {"port": p["port"]}
                if isinstance(p.get("name"), str) and _NAME.match(p["name"]):
                    port["name"] = p["name"]
                proto = str(p.get("appProtocol", "http")).lower()
                port["protocol"] = proto if proto in ("http", "grpc", "tcp") else "http"
                if isinstance(p.get("targetPort"), int) and p["targetPort"] != p["port"]:
                    port["targetPort"] = p["targetPort"]
                draft.ports[int(p["port"])] = port
    return names


def import_route(
    doc: NativeDocument,
    drafts: Drafts,
    names: dict[tuple[str, str], tuple[str, str | None]],
    codes: Codes,
    target: str,
    on_rule: Callable[[Draft, dict[str, Any], G.Rule, int], None] | None = None,
) -> list[Diagnostic]:
    """One HTTPRoute's rules appended to the routes of each Service parent."""
    diagnostics = unknown_fields(doc, KNOWN, codes.field_dropped)
    route = G.parse_route(doc.data)
    for i, parent in enumerate(route.parents):
        where = doc.origin.locate(("spec", "parentRefs", i))
        if not G.is_service_parent(parent):
            diagnostics.append(
                codes.parent_skipped(f"parent {parent.kind} {parent.name} skipped", location=where)
            )
            continue
        if parent.namespace != route.namespace:
            diagnostics.append(
                codes.consumer_route(
                    f"{route.key} routes {parent.namespace}/{parent.name} for clients in "
                    f"{route.namespace} only; imported as applying to every client",
                    location=where,
                    target=target,
                )
            )
        draft = drafts.get_or_add(parent.namespace, parent.name)
        if parent.port is not None:
            draft.ports.setdefault(parent.port, {"port": parent.port})
        if draft.routed_ports and parent.port not in draft.routed_ports and parent.port is not None:
            continue  # the same rules again for another port (one HTTPRoute per port)
        draft.routed_ports.add(parent.port)
        for r, rule in enumerate(route.rules):
            neutral = route.neutral_route(r)
            if neutral == "" and len(route.rules) == 1 and not draft.routes:
                continue  # the catch-all a service without routes compiles to
            out = _route(doc, route, r, rule, draft, drafts, names, codes, diagnostics, target)
            if on_rule is not None:
                on_rule(draft, out, rule, r)
            if "timeout" not in out:
                diagnostics.append(
                    codes.timeout_unset(
                        f"rule {r} of {route.key} sets no request timeout",
                        location=doc.origin.locate(("spec", "rules", r)),
                        target=target,
                    )
                )
                if codes.unset_timeout is not None:
                    out["timeout"] = codes.unset_timeout
            draft.routes.append(out)
    return diagnostics


def _route(
    doc: NativeDocument,
    route: G.HttpRoute,
    index: int,
    rule: G.Rule,
    draft: Draft,
    drafts: Drafts,
    names: dict[tuple[str, str], tuple[str, str | None]],
    codes: Codes,
    diagnostics: list[Diagnostic],
    target: str,
) -> dict[str, Any]:
    base: PathKey = ("spec", "rules", index)
    taken = {r["name"] for r in draft.routes}
    neutral = route.neutral_route(index)
    single = len(route.rules) == 1
    name = neutral or (route.name if single else f"{route.name}-{index}")
    if not _NAME.match(name) or name in taken:
        name = f"rule-{len(draft.routes)}"
    out: dict[str, Any] = {"name": name}
    matches = [_match(m) for m in rule.matches]
    if matches != [{}]:
        out["matches"] = matches
    backends = []
    for b, ref in enumerate(rule.backends):
        found = names.get((ref.namespace, ref.name))
        if found is None:
            diagnostics.append(
                codes.unknown_backend(
                    f"backend {ref.namespace}/{ref.name} is not among the imported Services; "
                    "read as a service of that name",
                    location=doc.origin.locate((*base, "backendRefs", b)),
                    target=target,
                )
            )
            found = (drafts.get_or_add(ref.namespace, ref.name).key, None)
        key, version = found
        if ref.port is not None and key in drafts and not drafts[key].ports:
            drafts[key].ports.setdefault(ref.port, {"port": ref.port})
        entry: dict[str, Any] = {}
        if key != draft.key:
            entry["service"] = key
        if version is not None:
            entry["version"] = version
        entry["weight"] = ref.weight
        backends.append(entry)
    if backends and backends != [{"weight": 1}]:
        out["backends"] = backends
    if rule.request_timeout is not None:
        out["timeout"] = duration(rule.request_timeout)
    mod = rule.header_modifier
    if mod is not None:
        edits: dict[str, Any] = {}
        if mod.set:
            edits["set"] = dict(mod.set)
        if mod.add:
            edits["add"] = dict(mod.add)
        if mod.remove:
            edits["remove"] = list(mod.remove)
        out["requestHeaders"] = edits
    for f in rule.other_filters:
        diagnostics.append(
            codes.filter_dropped(
                f"filter {f} dropped", location=doc.origin.locate((*base, "filters")), target=target
            )
        )
    return out


def _match(m: G.NativeMatch) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m.path_type == "Exact":
        out["path"] = {"exact": m.path_value}
    elif m.path_type == "RegularExpression":
        out["path"] = {"regex": m.path_value}
    elif m.path_value.rstrip("/"):
        out["path"] = {"prefix": m.path_value.rstrip("/")}
    if m.method is not None:
        out["method"] = m.method
    headers: list[dict[str, Any]] = []
    seen: set[str] = set()
    for kind, name, value in m.headers:
        if name in seen:
            continue  # only a header's first entry in a match counts
        seen.add(name)
        if kind == "Exact":
            headers.append({"name": name, "exact": value})
        elif value == ".*":
            headers.append({"name": name, "present": True})
        else:
            headers.append({"name": name, "regex": value})
    if headers:
        out["headers"] = headers
    query: list[dict[str, Any]] = []
    seen = set()
    for kind, name, value in m.query:
        if name in seen:
            continue
        seen.add(name)
        if kind == "Exact":
            query.append({"name": name, "exact": value})
        elif value == ".*":
            query.append({"name": name, "present": True})
        else:
            query.append({"name": name, "regex": value})
    if query:
        out["queryParams"] = query
    return out
