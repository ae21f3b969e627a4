"""Pods read from the objects that run them: labels, service account, port names."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.kit import pod_template, selects
from meshspec.adapter import NativeDocument
from meshspec.spec import Origin

POD_SPEC = {
    "serviceAccountName": "web-sa",
    "containers": [
        {"name": "app", "ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 9}]},
        {
            "name": "side",
            "ports": [{"name": "http", "containerPort": 1}, {"name": "m", "containerPort": "x"}],
        },
    ],
}


def doc(kind: str, api: str, spec: Any, labels: dict[str, str] | None = None) -> NativeDocument:
    meta = {"name": "web", "namespace": "shop", "labels": labels or {}}
    return NativeDocument(
        {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}, Origin("w.yaml")
    )


@pytest.mark.parametrize(
    ("kind", "api"),
    [
        ("Deployment", "apps/v1"),
        ("StatefulSet", "apps/v1"),
        ("DaemonSet", "apps/v1"),
        ("Job", "batch/v1"),
    ],
)
def test_a_workload_runs_its_templates_pod(kind: str, api: str) -> None:
    template = {"metadata": {"labels": {"app": "web", "version": "v1"}}, "spec": POD_SPEC}
    pod = pod_template(doc(kind, api, {"template": template}, labels={"ignored": "1"}))
    assert pod is not None
    assert (pod.namespace, dict(pod.labels), pod.service_account) == (
        "shop",
        {"app": "web", "version": "v1"},
        "web-sa",
    )
    assert dict(pod.port_names) == {"http": 8080}  # the first container naming it wins


def test_a_pod_is_its_own_template_and_runs_as_default_without_an_account() -> None:
    pod = pod_template(doc("Pod", "v1", {"containers": []}, labels={"app": "web"}))
    assert pod is not None
    assert (dict(pod.labels), pod.service_account) == ({"app": "web"}, "default")


@pytest.mark.parametrize("data", [{"kind": "Service"}, {"kind": "Deployment", "spec": {}}])
def test_objects_without_a_pod_have_none(data: dict[str, Any]) -> None:
    assert pod_template(doc(data["kind"], "v1", data.get("spec"))) is None


def test_a_selector_selects_pods_with_all_its_labels_and_an_empty_one_selects_none() -> None:
    assert selects({"app": "web"}, {"app": "web", "version": "v1"})
    assert not selects({"app": "web", "version": "v2"}, {"app": "web", "version": "v1"})
    assert not selects({}, {"app": "web"})
