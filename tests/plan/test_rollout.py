"""The rollout's order and its relaxed steps."""

from __future__ import annotations

from meshspec.adapter import NativeDocument
from meshspec.diff import diff_specs
from meshspec.plan.rollout import relaxed, removal, waves
from meshspec.semantics import Request, decide
from meshspec.spec import MtlsMode, Origin, Spec
from tests.semantics._specs import build, mesh, service


def _allow_from(caller: str) -> dict[str, object]:
    return {
        "default": "deny",
        "rules": [{"name": "caller", "action": "ALLOW", "from": [{"services": [caller]}]}],
    }


def _chain() -> Spec:
    """front calls api (api's rule), api calls db (db's rule); db calls nobody."""
    return build(
        service("front"),
        service("api", authorization=_allow_from("front")),
        service("db", authorization=_allow_from("api"), mtls={"ports": {80: "STRICT"}}),
        mesh_doc=mesh("STRICT"),
    )


def test_servers_move_before_their_callers() -> None:
    assert waves(_chain()) == [["default/db"], ["default/api"], ["default/front"]]


def test_many_levels_merge_into_fewer_waves_in_order() -> None:
    assert waves(_chain(), limit=2) == [["default/db", "default/api"], ["default/front"]]


def test_a_cycle_moves_together() -> None:
    spec = build(
        service("a", authorization=_allow_from("b")),
        service("b", authorization=_allow_from("a")),
    )
    assert waves(spec) == [["default/a", "default/b"]]


def test_relaxed_accepts_plaintext_everywhere_and_keeps_moved_policy() -> None:
    spec = _chain()
    step = relaxed(spec, moved={"default/db"})
    assert step.mesh.mtls.mode is MtlsMode.PERMISSIVE
    outside = Request("db", "/", source=None)
    assert decide(spec, outside).outcome == "mtls_refused"
    assert decide(step, outside).outcome == "denied"  # reaches db; db's own rule still holds
    assert step.services["default/api"].spec.authorization is None  # not moved yet
    assert {d.category for d in diff_specs(spec, step).differences} >= {"security"}


def _doc(api_version: str, kind: str, name: str, namespace: str = "shop") -> NativeDocument:
    meta = {"name": name, "namespace": namespace}
    return NativeDocument({"apiVersion": api_version, "kind": kind, "metadata": meta}, Origin("x"))


def test_removal_deletes_the_source_meshs_resources_never_the_workloads() -> None:
    """Read from a cluster or from files compiled with workloads, the source holds
    Services, Deployments and accounts too: the workloads stay, only Istio's go."""
    docs = [
        _doc("networking.istio.io/v1", "VirtualService", "b"),
        _doc("v1", "Service", "b"),
        _doc("v1", "Service", "kubernetes", "default"),
        _doc("apps/v1", "Deployment", "b"),
        _doc("v1", "ServiceAccount", "b"),
        _doc("v1", "ConfigMap", "istio", "istio-system"),
        _doc("security.istio.io/v1", "PeerAuthentication", "default", "istio-system"),
        _doc("networking.istio.io/v1beta1", "DestinationRule", "b"),
        _doc("networking.istio.io/v1", "VirtualService", "a"),
        _doc("security.istio.io/v1", "AuthorizationPolicy", "b"),
        _doc("networking.istio.io/v1", "Gateway", "ingress"),
    ]
    removed = [(d["kind"], d["metadata"]["name"]) for d in removal("istio", docs)]
    # what the adapter does not apply, then the reverse of its apply order
    assert removed == [
        ("Gateway", "ingress"),
        ("AuthorizationPolicy", "b"),
        ("VirtualService", "a"),
        ("VirtualService", "b"),
        ("DestinationRule", "b"),
        ("PeerAuthentication", "default"),
    ]
    assert removal("istio", list(reversed(docs))) == removal("istio", docs)
