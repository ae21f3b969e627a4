"""An ordered rollout that keeps traffic working while services move between meshes.

1. Install the target beside the source with every mTLS mode relaxed to
   PERMISSIVE and no service's policy yet: while some workloads still hold the
   source mesh's certificates, the two meshes' identities cannot verify each
   other, so each side must also accept plaintext.
2. Move services in waves, servers before their callers: a moved server
   accepts both plaintext and mTLS, so callers still on the source reach it;
   a caller moves once everything it calls has. Callers are read from the
   authorization rules (who may call whom) and from route backends on other
   services.
3. Re-tighten: the full compiled resources, with the modes the source had
   (STRICT where it was) and default-deny where it was.
4. Remove the source mesh's resources.

Each step's resources are cumulative (apply the whole directory; applying is
idempotent), and each step carries checks: requests with the answers the
target's model gives over that step's resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meshspec.adapter import NativeDocument, Verdict
from meshspec.diff import Decider
from meshspec.registry import get_adapter
from meshspec.semantics import Request
from meshspec.spec import MtlsMode, ServiceDocument, Spec

#: checks written per moved service (the first boundary probes to it)
CHECKS_PER_SERVICE = 6
#: more waves than this are merged, neighbours together (order kept): people run the steps
MAX_WAVES = 8


@dataclass
class Check:
    request: Request
    expect: Verdict


@dataclass
class Step:
    name: str
    title: str
    why: str
    resources: list[dict[str, Any]]
    services: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def waves(spec: Spec, limit: int = MAX_WAVES) -> list[list[str]]:
    """Services grouped so that each one's callees are in earlier groups or its own."""
    levels = dependency_levels(spec)
    size = -(-len(levels) // limit) if levels else 1
    return [
        [k for level in levels[i : i + size] for k in level] for i in range(0, len(levels), size)
    ]


def dependency_levels(spec: Spec) -> list[list[str]]:
    """Services grouped so that each one's callees are in earlier groups (cycles: together)."""
    calls = callees(spec)
    placed: set[str] = set()
    remaining = list(spec.services)
    out: list[list[str]] = []
    while remaining:
        wave = [k for k in remaining if calls.get(k, set()) - {k} <= placed]
        if not wave:
            wave = list(remaining)
        out.append(wave)
        placed.update(wave)
        remaining = [k for k in remaining if k not in placed]
    return out


def callees(spec: Spec) -> dict[str, set[str]]:
    """caller -> the services it calls, as far as the policy says."""
    out: dict[str, set[str]] = {k: set() for k in spec.services}
    for key, doc in spec.services.items():
        ns = doc.metadata.namespace
        auth = doc.spec.authorization
        for rule in auth.rules if auth else ():
            for src in rule.from_:
                for name in src.services:
                    caller = spec.resolve(name, ns)
                    if caller is not None:
                        out[caller].add(key)
        for route in doc.spec.routes:
            for b in route.backends:
                other = None if b.service is None else spec.resolve(b.service, ns)
                if other is not None and other != key:
                    out.setdefault(key, set()).add(other)
    return out


def relaxed(spec: Spec, moved: set[str] | None = None) -> Spec:
    """STRICT becomes PERMISSIVE everywhere; services not in `moved` carry no policy yet."""
    mesh = spec.mesh.model_copy(
        update={"mtls": spec.mesh.mtls.model_copy(update={"mode": _relax(spec.mesh.mtls.mode)})}
    )
    services: dict[str, ServiceDocument] = {}
    for key, doc in spec.services.items():
        svc = doc.spec
        if moved is not None and key not in moved:
            svc = svc.model_copy(
                update={"routes": (), "authorization": None, "resilience": None, "mtls": None}
            )
        elif svc.mtls is not None:
            mtls = svc.mtls.model_copy(
                update={
                    "mode": None if svc.mtls.mode is None else _relax(svc.mtls.mode),
                    "ports": {p: _relax(m) for p, m in svc.mtls.ports.items()},
                }
            )
            svc = svc.model_copy(update={"mtls": mtls})
        services[key] = doc.model_copy(update={"spec": svc})
    return Spec(mesh, spec.mesh_metadata, services, spec.origins)


def _relax(mode: MtlsMode) -> MtlsMode:
    return MtlsMode.PERMISSIVE if mode is MtlsMode.STRICT else mode


def checks_for(
    requests: Sequence[Request], services: Sequence[str], decider: Decider, per_service: int
) -> list[Check]:
    wanted = set(services)
    counts: dict[str, int] = {}
    out: list[Check] = []
    for r in requests:
        if r.destination not in wanted or counts.get(r.destination, 0) >= per_service:
            continue
        counts[r.destination] = counts.get(r.destination, 0) + 1
        out.append(Check(r, decider(r)))
    return out


def removal(source: str, documents: Sequence[NativeDocument]) -> list[dict[str, Any]]:
    """What to delete from the source mesh: each of its resources (any kind of the API
    groups its adapter compiles to, so also those the import left out, such as Istio's
    Gateways) by kind, namespace and name: those its adapter does not apply first, then
    the reverse of its apply order, whatever order they were read in. The platform
    objects read with them (Services, Deployments, accounts, ConfigMaps: the workloads
    keep running on the target) are never on the list."""
    kinds = [(_group(k.api_version), k.kind) for k in get_adapter(source).kinds]
    groups = {group for group, _ in kinds}
    order = {kind: i for i, kind in enumerate(reversed(kinds))}
    found = []
    for d in documents:
        api = str(d.data.get("apiVersion") or "")
        if _group(api) in groups and d.kind:
            rank = order.get((_group(api), d.kind), -1)
            found.append((rank, d.kind, d.namespace, d.name, api))
    return [
        {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}}
        for _, kind, ns, name, api in sorted(found)
    ]


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]
