"""The kit's compile and import contexts, drafts -> Spec, and the cluster reader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.kit import (
    CompileContext,
    ImportContext,
    ServiceDraft,
    documents,
    mesh_document,
    to_spec,
)
from adapters.kit.kube_cluster import clean, read_cluster
from meshspec.adapter import NativeDocument
from meshspec.api import load_text
from meshspec.diagnostics import Severity
from meshspec.spec import Origin
from tests.adapters.skeleton import codes

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, protocol: http}]
  routes:
    - name: main
      timeout: 3s
"""


def test_a_compile_finding_names_the_target_and_the_spec_line() -> None:
    ctx = CompileContext(load_text(SPEC, "web.yaml"), "ferry")
    ctx.report(codes.NOT_EXPRESSIBLE, "shop/web", ("spec", "routes", 0, "timeout"), "no", "h")
    (found,) = ctx.diagnostics
    assert (found.target, found.path, found.hint) == ("ferry", "spec.routes[0].timeout", "h")
    assert found.location is not None
    assert (found.location.file, found.location.line) == ("web.yaml", 8)


ADMIN = {"paths": [{"prefix": "/admin"}]}


@dataclass
class FerryDraft(ServiceDraft):
    lane: str = "slow"


def test_an_import_context_makes_the_adapters_own_drafts_once() -> None:
    ctx = ImportContext("ferry", draft=FerryDraft)
    first = ctx.service("shop", "web")
    first.lane = "fast"
    assert ctx.service("shop", "web") is first
    assert isinstance(first, FerryDraft) and first.key == "shop/web"


def test_an_import_finding_shows_its_counterexample_request_and_file_line() -> None:
    doc = NativeDocument(
        {"kind": "FerryRoute", "metadata": {"name": "r", "namespace": "shop"}},
        Origin("routes.yaml", 0, {("spec", "rules", 1): (7, 3)}),
    )
    ctx: ImportContext[ServiceDraft] = ImportContext("ferry")
    request = {"method": "POST", "target": "/a/b", "headers": {"x": "1"}, "port": 80}
    ctx.report(
        codes.ORDER_CHANGED,
        doc,
        ("spec", "rules", 1),
        "rule 1 is shadowed",
        example=request,
        severity=Severity.ERROR,
    )
    (found,) = ctx.diagnostics
    assert found.message == (
        "FerryRoute shop/r: rule 1 is shadowed (for example POST /a/b with x: 1 port 80)"
    )
    assert found.extra == {"request": request}
    assert (found.target, found.path, found.severity) == ("ferry", "spec.rules.1", Severity.ERROR)
    assert found.location is not None
    assert (found.location.file, found.location.line, found.location.column) == (
        "routes.yaml",
        7,
        3,
    )


def test_drafts_become_a_typed_spec_without_private_keys() -> None:
    web = ServiceDraft("shop", "web", ports={8080: "http", 80: "http"}, target_ports={80: 8080})
    web.versions = {"v1": {"version": "v1"}, "v2": {"track": "canary"}}
    web.routes = [
        {"name": "main", "backends": [{"version": "v2", "weight": 1, "_origin": object()}]}
    ]
    web.mtls_mode = "STRICT"
    web.has_authz = True
    web.authz_default_deny = True
    web.authz_rules = [
        {"name": "no-admin", "action": "DENY", "to": ADMIN, "_origin": object()},
        {"name": "rest", "action": "ALLOW"},
    ]
    api = ServiceDraft("shop", "api", ports={9090: "grpc"}, service_account="api-sa")
    docs = documents(mesh_document("PERMISSIVE", "example.org"), [web, api])
    assert [d["kind"] for d in docs] == ["Mesh", "Service", "Service"]
    assert docs[0]["spec"] == {"trustDomain": "example.org", "mtls": {"mode": "PERMISSIVE"}}
    assert docs[1]["metadata"]["name"] == "api"  # key order
    web_doc = docs[2]["spec"]
    assert web_doc["ports"] == [
        {"port": 80, "protocol": "http", "targetPort": 8080},
        {"port": 8080, "protocol": "http"},
    ]
    assert web_doc["versions"] == [{"name": "v1"}, {"name": "v2", "labels": {"track": "canary"}}]
    assert web_doc["authorization"] == {
        "default": "allow",  # the trailing allow-everything rule, said plainly
        "rules": [{"name": "no-admin", "action": "DENY", "to": ADMIN}],
    }
    assert "_origin" not in str(docs)
    spec, found = to_spec(docs, "<imported from ferry>")
    assert [d for d in found if d.severity is Severity.ERROR] == []
    assert spec is not None
    assert spec.identity("shop/api") == "spiffe://example.org/ns/shop/sa/api-sa"
    assert spec.version("shop/web", "v2") is not None
    assert spec.service("shop/web").spec.ports[0].workload_port == 8080
    assert to_spec([], "nothing") == (None, [])


def test_a_cluster_object_loses_what_the_server_wrote() -> None:
    item = {
        "kind": "X",
        "metadata": {"name": "a", "uid": "1", "managedFields": [], "labels": {"app": "a"}},
        "spec": {"k": 1},
        "status": {"ready": True},
    }
    assert clean(item) == {
        "kind": "X",
        "metadata": {"name": "a", "labels": {"app": "a"}},
        "spec": {"k": 1},
    }


def test_an_unreadable_cluster_is_one_finding_of_the_adapters_code(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-kubeconfig")
    docs, found = read_cluster(
        missing, None, [("v1", "Service")], target="ferry", unreachable=codes.KIND_SKIPPED
    )
    assert docs == []
    assert [(d.code, d.target) for d in found] == [(codes.KIND_SKIPPED.code, "ferry")]
