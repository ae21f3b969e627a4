"""The platform behind the Istio resources: Kubernetes Services and workloads.

Ports, target ports and protocols come from Services; who runs each service (its
service account, hence its Istio identity) from the pods its Service selects;
the trust domain from Istio's mesh config. What has to be assumed instead is said,
and is an error where an authorization rule depends on it (decisions.md §9).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.istio import import_codes as C
from adapters.istio._import_context import ImportContext
from adapters.istio._import_validate import port_number
from adapters.istio.resources import TARGET
from adapters.kit.kube_workloads import PodTemplate, pod_template, selects
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Severity


def _protocol(port: Mapping[str, Any]) -> str:
    """Istio's protocol selection: `appProtocol`, else the port name's prefix
    (istio.io docs/ops/configuration/traffic-management/protocol-selection)."""
    name = str(port.get("appProtocol") or port.get("name") or "").lower()
    head = name.split("-", 1)[0]
    if head == "grpc":
        return "grpc"
    if head in ("http", "http2", ""):  # unnamed: Istio sniffs; HTTP is what routes need
        return "http"
    return "tcp"


def read_kubernetes_service(ctx: ImportContext, doc: NativeDocument) -> None:
    spec = doc.data.get("spec") or {}
    svc = ctx.service(doc.namespace, doc.name)
    svc.declared = True
    svc.source_doc = doc
    selector = spec.get("selector") if isinstance(spec, Mapping) else None
    if isinstance(selector, Mapping) and selector:
        svc.selector = {str(k): str(v) for k, v in selector.items()}
    for i, port in enumerate(spec.get("ports") or [] if isinstance(spec, Mapping) else []):
        number = port_number(port.get("port")) if isinstance(port, Mapping) else None
        if number is None:
            ctx.report(C.BAD_VALUE, doc, ("spec", "ports", i), "a port needs `port` (1-65535)")
            continue
        svc.ports[number] = _protocol(port)
        target = port.get("targetPort")
        if target is None:
            svc.target_ports[number] = number
        elif port_number(target) is not None:
            svc.target_ports[number] = int(str(target))
        else:
            svc.named_target_ports[number] = str(target)


def assign_workloads(ctx: ImportContext, docs: list[NativeDocument]) -> None:
    """Pods behind each service (its Service's selector, else `app: <name>`), and the
    container ports its named target ports mean."""
    pods = [t for t in (pod_template(d) for d in docs) if t is not None]
    # Candidates by (namespace, label, value), in input order: a selector's pods carry
    # each of its labels, so one of its pairs narrows the search without scanning every
    # pod of the mesh for every service.
    by_label: dict[tuple[str, str, str], list[PodTemplate]] = {}
    for pod in pods:
        for label, value in pod.labels.items():
            by_label.setdefault((pod.namespace, label, value), []).append(pod)
    for svc in ctx.services.values():
        selector = svc.selector or {"app": svc.name}
        candidates = min(
            (by_label.get((svc.namespace, k, v), []) for k, v in selector.items()), key=len
        )
        svc.pods = [p for p in candidates if selects(selector, p.labels)]
        for service_port, name in svc.named_target_ports.items():
            for pod in svc.pods:
                if name in pod.port_names:
                    svc.target_ports[service_port] = pod.port_names[name]
                    break
            else:
                ctx.report(
                    C.PORT_INFERRED,
                    svc.source_doc,
                    ("spec", "ports"),
                    f"target port {name!r} of {svc.key} port {service_port} is named by no "
                    "container of its workloads in the input: assumed to be the port itself",
                    severity=Severity.WARNING,
                )


def _identity_rules(ctx: ImportContext) -> dict[str, list[tuple[str, Any]]]:
    """Namespace -> (service key: rule name, origin) of each rule naming identities there,
    each once (looked up by name: a namespace can have a rule per service)."""
    out: dict[str, list[tuple[str, Any]]] = {}
    origins: dict[tuple[str, str], list[Any]] = {}
    for svc in ctx.services.values():
        for rule in svc.authz_rules:
            for src in rule.get("from") or []:
                for ident in src.get("identities") or []:
                    parts = str(ident)[len("spiffe://") :].split("/")
                    if len(parts) == 5:
                        name, origin = f"{svc.key}: {rule['name']}", rule.get("_origin")
                        seen = origins.setdefault((parts[2], name), [])
                        if origin not in seen:
                            seen.append(origin)
                            out.setdefault(parts[2], []).append((name, origin))
    return out


def check_trust_domains(ctx: ImportContext, docs: list[NativeDocument]) -> None:
    """Principals name a trust domain; without Istio's mesh config the import takes
    `cluster.local`, and a rule naming another one depends on that guess."""
    for doc in docs:
        if doc.kind != "AuthorizationPolicy":
            continue
        for ri, rule in enumerate((doc.data.get("spec") or {}).get("rules") or []):
            for si, entry in enumerate((rule or {}).get("from") or []):
                src = (entry or {}).get("source") or {}
                for name in ("principals", "notPrincipals"):
                    for value in src.get(name) or []:
                        domain = str(value).split("/", 1)[0]
                        if "/" in str(value) and "*" not in domain and domain != "cluster.local":
                            ctx.report(
                                C.IDENTITY_ASSUMED,
                                doc,
                                ("spec", "rules", ri, "from", si, "source", name),
                                f"principal {value!r} names trust domain {domain!r}; the "
                                "mesh's trust domain is not in the input and is assumed to "
                                "be 'cluster.local', which this rule depends on",
                                hint="add Istio's mesh config (ConfigMap istio-system/istio, "
                                "key `mesh`, field trustDomain) to the input",
                            )
                            return


def read_identities(ctx: ImportContext, accounts: set[tuple[str, str]]) -> None:
    """Each service's account from its pods; a guess is said, and is an error when an
    authorization rule can tell the guessed identity from the real one."""
    dependents = _identity_rules(ctx)
    for key in sorted(ctx.services):
        svc = ctx.services[key]
        found = sorted({p.service_account for p in svc.pods})
        if len(found) == 1:
            svc.service_account = found[0]
            missing = accounts and (svc.namespace, found[0]) not in accounts
            if missing and any(ns == svc.namespace for ns, _ in accounts):
                ctx.report(
                    C.HOST_NOT_SERVICE,
                    svc.pods[0].doc,
                    ("spec",),
                    f"service account {found[0]!r} of {key} is not among the ServiceAccounts "
                    "of the input",
                )
            continue
        if found:
            svc.service_account = found[0]
            what = (
                f"the pods of {key} run as several service accounts ({', '.join(found)}); "
                f"the neutral spec has one per service: {found[0]!r} assumed"
            )
        else:
            what = (
                f"no Deployment, StatefulSet, DaemonSet or Pod of {key} is in the input: its "
                f"service account is assumed to be {svc.name!r}"
            )
        affected = dependents.get(svc.namespace, [])
        if affected:
            what += "; authorization rules naming identities in namespace " + (
                f"{svc.namespace} depend on it: " + ", ".join(name for name, _ in affected[:5])
            )
            if len(affected) > 5:
                what += f" and {len(affected) - 5} more"
        origin = next((o for _, o in affected if o is not None), None)
        diagnostic = C.IDENTITY_ASSUMED(
            what,
            location=None if origin is None else origin[0].origin.locate(origin[1]),
            target=TARGET,
            hint="import the Deployments (or Pods) and ServiceAccounts together with the "
            "Istio resources, or read them with --live",
            severity=Severity.ERROR if affected else Severity.INFO,
        )
        ctx.diagnostics.append(diagnostic)
