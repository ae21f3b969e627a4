"""Target names: the oracle, the live reference implementation, one model per
installed adapter, real Istio on loopback (`istio-live`, beside the Istio
model), and the opt-in Kubernetes target."""

from __future__ import annotations

from typing import Any

from conformance.targets.base import Target
from meshspec.errors import UnknownTarget
from meshspec.registry import available_targets

BUILTIN = ("oracle", "reference")
OPT_IN = ("kubernetes",)
#: live targets of real meshes, each shown beside the model of its adapter
LIVE = {"istio": "istio-live"}


def default_target_names() -> list[str]:
    """What `meshspec conformance` runs without --target: everything that runs locally."""
    names: list[str] = [*BUILTIN]
    for adapter in available_targets():
        names.append(adapter)
        if adapter in LIVE:
            names.append(LIVE[adapter])
    return names


def target_names() -> list[str]:
    return [*default_target_names(), *OPT_IN]


def get_target(name: str, **options: Any) -> Target:
    if name == "oracle":
        from conformance.targets.oracle import OracleTarget

        return OracleTarget()
    if name == "reference":
        from conformance.targets.reference import ReferenceTarget

        return ReferenceTarget()
    if name == "istio-live" and "istio" in available_targets():
        from conformance.targets.istio_live import IstioLiveTarget

        return IstioLiveTarget()
    if name == "kubernetes":
        from conformance.targets.kubernetes import KubernetesTarget

        kube: Target = KubernetesTarget(**options)
        return kube
    if name in available_targets():
        from conformance.targets.model import ModelTarget

        return ModelTarget(name)
    raise UnknownTarget(f"unknown target '{name}'. Targets: {', '.join(target_names())}")
