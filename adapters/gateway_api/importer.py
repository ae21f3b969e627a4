"""GAMMA HTTPRoutes and the Services they name -> neutral spec (`--from gateway-api`).

Gateway API's precedence is the spec's, so routes keep their order; what the
neutral spec reads differently (consumer routes, filters outside the subset,
unset timeouts) is reported."""

from __future__ import annotations

from collections.abc import Sequence

from adapters import _gamma_import as GI
from adapters.gateway_api import codes as C
from adapters.kit import to_spec
from meshspec.adapter import ImportResult, NativeDocument
from meshspec.diagnostics import Diagnostic

TARGET = "gateway-api"
CODES = GI.Codes(
    field_dropped=C.FIELD_DROPPED,
    parent_skipped=C.PARENT_SKIPPED,
    unknown_backend=C.UNKNOWN_BACKEND,
    consumer_route=C.CONSUMER_ROUTE,
    filter_dropped=C.FILTER_DROPPED,
    timeout_unset=C.TIMEOUT_UNSET,
)


def import_gateway_api(documents: Sequence[NativeDocument]) -> ImportResult:
    diagnostics: list[Diagnostic] = []
    drafts = GI.Drafts()
    names = GI.read_services(documents, drafts)
    GI.read_accounts(documents, drafts)
    routes = []
    for doc in documents:
        api = str(doc.data.get("apiVersion", ""))
        if doc.kind == "HTTPRoute" and api in GI.ROUTE_API_VERSIONS:
            routes.append(doc)
        elif (api, doc.kind) not in GI.PLATFORM_KINDS:
            diagnostics.append(
                C.KIND_SKIPPED(f"{api} {doc.kind} skipped", location=doc.origin.locate(()))
            )
    for doc in sorted(routes, key=lambda d: (d.namespace, d.name)):
        diagnostics += GI.import_route(doc, drafts, names, CODES, TARGET)
    return finish(drafts, diagnostics)


def finish(drafts: GI.Drafts, diagnostics: list[Diagnostic]) -> ImportResult:
    documents = [drafts[k].document() for k in sorted(drafts)]
    spec, findings = to_spec(documents, "<imported from gateway-api>")
    diagnostics += findings
    if spec is None and documents:
        diagnostics.append(C.INVALID_IMPORT("the imported services are not valid", target=TARGET))
    return ImportResult(spec, diagnostics, documents)
