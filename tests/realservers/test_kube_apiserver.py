"""The mesh CRDs and real Istio objects against a real Kubernetes API server."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.fixtures.realservers import (
    REPO_ROOT,
    KubeAPIServer,
    apply_documents,
    crd_files,
    install_crds,
    load_yaml_documents,
)

pytestmark = pytest.mark.realservers

# The groups whose CRDs must end up served.
MESH_GROUPS = {
    "networking.istio.io",
    "security.istio.io",
    "telemetry.istio.io",
    "extensions.istio.io",
    "policy.linkerd.io",
    "linkerd.io",
    "gateway.networking.k8s.io",
    "appmesh.k8s.aws",
}

# A real negative case of Istio's CRD tests that the structural OpenAPI schema
# accepts and only a CEL rule (x-kubernetes-validations) of the CRD rejects.
CEL_CASE = ("authz-invalid.yaml", 0)


def _bookinfo_names() -> list[str]:
    # Collected before any fixture runs; a missing directory is reported by
    # the `upstream` fixture inside the test.
    root = Path(os.environ.get("MESHSPEC_UPSTREAM") or REPO_ROOT.parent / "shared" / "upstream")
    names = sorted(p.name for p in (root / "examples" / "istio" / "bookinfo").glob("*.yaml"))
    return names or ["<no bookinfo examples>"]


@pytest.fixture(scope="module")
def mesh_crds(kube_apiserver: KubeAPIServer, upstream: Path) -> list[str]:
    return install_crds(kube_apiserver, crd_files(upstream))


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _ensure_namespaces(server: KubeAPIServer, names: set[str]) -> None:
    results = apply_documents(server, [_namespace(n) for n in sorted(names)], dry_run=False)
    assert all(r.ok for r in results), [str(r) for r in results]


def _get(server: KubeAPIServer, doc: dict[str, Any], namespace: str) -> Any:
    from kubernetes.dynamic.exceptions import NotFoundError

    dyn = server.dynamic_client()
    resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    try:
        return resource.get(name=doc["metadata"]["name"], namespace=namespace)
    except NotFoundError:
        return None


def test_mesh_crds_are_established(kube_apiserver: KubeAPIServer, mesh_crds: list[str]) -> None:
    groups = {name.split(".", 1)[1] for name in mesh_crds}
    assert groups >= MESH_GROUPS, f"missing CRD groups: {sorted(MESH_GROUPS - groups)}"
    # The served versions are in discovery.
    status, body = kube_apiserver.get("/apis/networking.istio.io/v1")
    assert status == 200
    kinds = {r["kind"] for r in json.loads(body)["resources"]}
    assert {"VirtualService", "DestinationRule", "Gateway", "ServiceEntry"} <= kinds
    for path in ("/apis/gateway.networking.k8s.io/v1", "/apis/appmesh.k8s.aws/v1beta2"):
        status, _ = kube_apiserver.get(path)
        assert status == 200, path


@pytest.mark.parametrize("filename", _bookinfo_names())
def test_bookinfo_server_side_apply(
    kube_apiserver: KubeAPIServer, mesh_crds: list[str], upstream: Path, filename: str
) -> None:
    path = upstream / "examples" / "istio" / "bookinfo" / filename
    docs = load_yaml_documents(path)
    assert docs, f"{path} holds no objects"
    namespace = "bookinfo-" + path.stem.lower()[:50]
    _ensure_namespaces(
        kube_apiserver,
        {namespace} | {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")},
    )

    def ns_of(doc: dict[str, Any]) -> str:
        return str(doc["metadata"].get("namespace") or namespace)

    dry = apply_documents(kube_apiserver, docs, dry_run=True, namespace=namespace)
    assert [r for r in dry if not r.ok] == [], "\n".join(str(r) for r in dry)
    for doc in docs:
        assert _get(kube_apiserver, doc, ns_of(doc)) is None, f"dry run stored {doc['kind']}"

    real = apply_documents(kube_apiserver, docs, dry_run=False, namespace=namespace)
    assert [r for r in real if not r.ok] == [], "\n".join(str(r) for r in real)
    for doc, result in zip(docs, real, strict=True):
        assert result.object is not None
        managers = {
            (m["manager"], m["operation"])
            for m in result.object["metadata"].get("managedFields") or []
        }
        assert ("meshspec", "Apply") in managers
        stored = _get(kube_apiserver, doc, ns_of(doc))
        assert stored is not None
        # What was applied is what is stored: the server accepted every field.
        assert stored.to_dict()["spec"] == result.object["spec"]


def _structural_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return dict(v["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{crd['metadata']['name']} has no version {version}")


def _cel_messages(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        for rule in schema.get("x-kubernetes-validations") or []:
            found.append(" ".join(str(rule.get("message", rule.get("rule", ""))).split()))
        for value in schema.values():
            found += _cel_messages(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _cel_messages(value)
    return found


def test_cel_rule_violation_is_rejected(
    kube_apiserver: KubeAPIServer, mesh_crds: list[str], upstream: Path
) -> None:
    filename, index = CEL_CASE
    case = load_yaml_documents(upstream / "examples" / "istio" / "crd-validation" / filename)[index]
    expected = " ".join(str(case["_err"]).split())
    doc = copy.deepcopy({k: v for k, v in case.items() if k != "_err"})
    group, version = doc["apiVersion"].split("/")
    crd = next(
        d
        for d in load_yaml_documents(upstream / "crds" / "istio" / "crd-all.gen.yaml")
        if d.get("kind") == "CustomResourceDefinition"
        and d["spec"]["group"] == group
        and d["spec"]["names"]["kind"] == doc["kind"]
    )
    schema = _structural_schema(crd, version)
    # Only CEL rejects it: the structural schema accepts the object ...
    jsonschema.validate(doc, schema)
    # ... and the expected message is one of the CRD's CEL rules.
    assert any(expected in message for message in _cel_messages(schema)), expected

    _ensure_namespaces(kube_apiserver, {"cel"})
    for dry_run in (True, False):
        [result] = apply_documents(kube_apiserver, [doc], dry_run=dry_run, namespace="cel")
        assert not result.ok, f"the API server accepted an object that breaks a CEL rule: {doc}"
        assert result.status == 422, str(result)
        assert result.reason == "Invalid", str(result)
        assert expected in " ".join(result.message.split()), str(result)
    assert _get(kube_apiserver, doc, "cel") is None

    # The same object without the offending field is accepted.
    fixed = copy.deepcopy(doc)
    for rule in fixed["spec"]["rules"]:
        for source in rule.get("from") or []:
            source["source"].pop("namespaces", None)
            source["source"].pop("principals", None)
    [result] = apply_documents(kube_apiserver, [fixed], dry_run=True, namespace="cel")
    assert result.ok, str(result)
