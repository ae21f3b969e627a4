"""Does the imported spec let in a request App Mesh keeps out? Asked, not assumed.

The import maps resource by resource; this looks at the result as a whole. For every
pair of services (and a client outside the mesh), on each port, with a request per
route match (the kit's sample of each neutral match) and one plain request, two
independent readings answer: the App Mesh model over the input resources and the
oracle over the imported spec. A request App Mesh refuses (the caller's Envoy has no
route to the service under DROP_ALL, or TLS refuses it) that the neutral spec lets
through is an error naming it (decisions.md §9: import never widens), in the area
that lets it through. The model is not made to agree with anything here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from adapters.appmesh import codes as C
from adapters.appmesh.resources import TARGET, Settings
from adapters.kit.first_match import sample_of
from meshspec.adapter import NativeDocument, Topology
from meshspec.diagnostics import Diagnostic
from meshspec.semantics import Outcome, Request, decide
from meshspec.spec import Spec

MAX_FINDINGS = 5


def check_import(
    documents: Sequence[NativeDocument], spec: Spec, settings: Settings
) -> list[Diagnostic]:
    from adapters.appmesh.model import AppMeshModel

    model = AppMeshModel([d.data for d in documents], Topology.of(spec), settings)
    found: list[Diagnostic] = []
    for request in _probes(spec):
        source = model.decide(request)
        if source.outcome not in (Outcome.DENIED, Outcome.MTLS_REFUSED):
            continue
        neutral = decide(spec, request)
        if neutral.outcome is not Outcome.FORWARDED:
            continue
        area = "mtls" if source.outcome is Outcome.MTLS_REFUSED else "authz"
        code = C.WIDENED_MTLS if area == "mtls" else C.WIDENED_AUTHZ
        sender = request.source or "a client outside the mesh"
        found.append(
            code(
                f"the neutral spec lets {sender} send {request.method} {request.target} to "
                f"{request.destination} (port {request.port}), which App Mesh refuses "
                f"({source.outcome})",
                location=spec.locate(request.destination, ()),
                target=TARGET,
                hint="narrow the imported spec, or allow the loss with --allow-lossy " + area,
            )
        )
        if len(found) >= MAX_FINDINGS:
            break
    return found


def _probes(spec: Spec) -> Iterator[Request]:
    keys = list(spec.services)
    for destination in keys:
        svc = spec.service(destination).spec
        samples: list[dict[str, Any]] = [{"method": "GET", "target": "/", "headers": {}}]
        for route in svc.routes:
            for match in route.matches:
                samples.append(sample_of(match.model_dump(by_alias=True, exclude_none=True)))
        for source in [None, *keys]:
            if source == destination:
                continue
            for port in svc.ports:
                if str(port.protocol) == "tcp":
                    continue
                for sample in samples:
                    yield Request(
                        destination,
                        str(sample["target"]),
                        method=str(sample["method"]),
                        headers=dict(sample["headers"]),
                        port=port.port,
                        source=source,
                    )
