"""The opt-in Kubernetes target: the objects it would create, and (with a real API
server) that the server accepts them next to the compiled Istio resources."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.case import LoadedCase, Probe
from conformance.targets.base import TargetUnavailable
from conformance.targets.kubernetes import (
    OUTSIDE_NAMESPACE,
    KubernetesTarget,
    curl_command,
    parse_curl,
    version_of_pod,
    workload_manifests,
)
from meshspec.adapter import CompileOptions
from meshspec.loader import load_texts
from meshspec.registry import get_adapter
from meshspec.spec import Spec

ISTIO = get_adapter("istio")


def _spec(cases: list[LoadedCase], name: str) -> Spec:
    case = next(c for c in cases if c.name == name)
    spec = load_texts([("case", case.spec_text)]).spec
    assert spec is not None
    return spec


def _kinds(docs: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs]


def test_workloads_for_a_spec(cases: list[LoadedCase]) -> None:
    docs = workload_manifests(_spec(cases, "authz-namespace-source"), ISTIO.injection, "r1")
    kinds = _kinds(docs)
    assert ("Namespace", "", "ops") in kinds
    assert ("Namespace", "", OUTSIDE_NAMESPACE) in kinds
    assert ("ServiceAccount", "ops", "admin-sa") in kinds
    assert ("Deployment", "ops", "admin-client") in kinds
    ns_default = next(
        d for d in docs if d["kind"] == "Namespace" and d["metadata"]["name"] == "default"
    )
    assert ns_default["metadata"]["labels"]["istio-injection"] == "enabled"
    outside = next(
        d for d in docs if d["kind"] == "Namespace" and d["metadata"]["name"] == OUTSIDE_NAMESPACE
    )
    assert outside["metadata"]["labels"]["istio-injection"] == "disabled"
    admin = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "admin")
    assert admin["spec"]["template"]["spec"]["serviceAccountName"] == "admin-sa"


TARGET_PORTS = """
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: m}
spec: {}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  ports:
    - {port: 80, targetPort: 8080, name: http}
    - {port: 9090, name: admin}
    - {port: 3001, targetPort: 40000, name: odd}
"""


def test_each_service_port_lands_on_its_target_port() -> None:
    """The Service sends each port to the spec's targetPort (the port itself by default),
    and an echo server listens on each of those; the image's h2c listeners take ports
    no workload port uses, one per container."""
    spec = load_texts([("ports.yaml", TARGET_PORTS)]).spec
    assert spec is not None
    docs = workload_manifests(spec, ISTIO.injection, "r1")
    service = next(d for d in docs if d["kind"] == "Service")
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        (80, 8080),
        (9090, 9090),
        (3001, 40000),
    ]
    (deployment,) = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "api"
    ]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    env = [{e["name"]: e.get("value") for e in c["env"]} for c in containers]
    assert sorted(int(e["HTTP_PORT"]) for e in env) == [8080, 9090, 40000]
    assert [c["ports"][0]["containerPort"] for c in containers] == [8080, 9090, 40000]
    listening = [int(e[key]) for e in env for key in ("HTTP_PORT", "H2C_PORT")]
    assert len(set(listening)) == len(listening)
    assert len({c["name"] for c in containers}) == len(containers)


def test_one_deployment_per_version_selected_by_its_labels(cases: list[LoadedCase]) -> None:
    docs = workload_manifests(_spec(cases, "split-version-custom-labels"), ISTIO.injection, "r1")
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert {"echo-v1", "echo-v2", "echo-v3", "echo-client"} <= set(deployments)
    labels = deployments["echo-v3"]["spec"]["template"]["metadata"]["labels"]
    assert labels["track"] == "canary" and labels["app"] == "echo"


def test_curl_keeps_adversarial_paths_as_written() -> None:
    probe = Probe.model_validate(
        {
            "from": "client",
            "to": "guarded",
            "path": "/public/../admin",
            "port": 8080,
            "headers": {"x-a": "1"},
            "expect": {"status": 403},
        }
    )
    cmd = curl_command(probe, "guarded")
    assert "--path-as-is" in cmd
    assert cmd[-1] == "http://guarded:8080/public/../admin"
    assert cmd[cmd.index("-H") + 1] == "x-a: 1"


@pytest.mark.parametrize(
    ("output", "status", "pod"),
    [
        ('{"pod": "echo-v2-abc-1", "namespace": "default"}\n200', 200, "echo-v2-abc-1"),
        ("RBAC: access denied\n403", 403, None),
        ("\n000", None, None),
    ],
)
def test_curl_output_parsing(output: str, status: int | None, pod: str | None) -> None:
    got_status, data = parse_curl(output)
    assert got_status == status
    assert (data or {}).get("pod") == pod


def test_version_from_pod_name() -> None:
    assert version_of_pod("echo-v2-7d9f-x1", "echo", ["v1", "v2"]) == "v2"
    assert version_of_pod("echo-v10-7d9f-x1", "echo", ["v1", "v10"]) == "v10"
    assert version_of_pod("echo-7d9f-x1", "echo", []) is None


def test_without_kubeconfig_it_is_unavailable() -> None:
    with pytest.raises(TargetUnavailable, match="--kubeconfig"):
        KubernetesTarget(mesh="istio").check_available()


def test_without_a_mesh_it_is_unavailable() -> None:
    """No mesh is assumed: the cluster's mesh is named, and its adapter says the rest."""
    target = KubernetesTarget(kubeconfig="kubeconfig")
    with pytest.raises(TargetUnavailable, match="--mesh"):
        target.check_available()
    assert target.features == frozenset()


def test_the_mesh_adapter_gives_features_and_gaps() -> None:
    target = KubernetesTarget(kubeconfig="kubeconfig", mesh="istio")
    assert target.features == ISTIO.features
    assert set(target.feature_gaps) == set(ISTIO.unsupported_features)


@pytest.mark.realservers
def test_api_server_accepts_what_the_target_would_apply(
    kube_apiserver: Any, cases: list[LoadedCase]
) -> None:
    from tests.fixtures.realservers import apply_documents, install_crds, upstream_dir

    install_crds(kube_apiserver, [upstream_dir() / "crds" / "istio" / "crd-all.gen.yaml"])
    specs = {c.spec_text: c.name for c in cases}
    rejected: list[str] = []
    for name in specs.values():
        spec = _spec(cases, name)
        docs = workload_manifests(spec, ISTIO.injection, "r1")
        compiled = get_adapter("istio").compile(spec, CompileOptions())
        namespaces = [d for d in docs if d["kind"] == "Namespace"]
        # the mesh's own namespace (Istio's root, istio-system) exists wherever the mesh runs
        mesh_namespaces = {r["metadata"].get("namespace") for r in compiled.resources} - {None}
        namespaces += [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            for ns in sorted(mesh_namespaces)
        ]
        for result in apply_documents(kube_apiserver, namespaces, dry_run=False):
            assert result.ok, str(result)
        rest = [d for d in docs if d["kind"] != "Namespace"] + compiled.resources
        rejected += [
            f"{name}: {r}" for r in apply_documents(kube_apiserver, rest, dry_run=True) if not r.ok
        ]
    assert not rejected, "\n".join(rejected)
