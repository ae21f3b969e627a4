"""Target names: the oracle, the live reference implementation, one model per
installed adapter, and the opt-in Kubernetes target."""

from __future__ import annotations

from typing import Any

from conformance.targets.base import Target
from meshspec.errors import UnknownTarget
from meshspec.registry import available_targets

BUILTIN = ("oracle", "reference")
OPT_IN = ("kubernetes",)


def default_target_names() -> list[str]:
    """What `meshspec conformance` runs without --target: everything that runs locally."""
    return [*BUILTIN, *available_targets()]


def target_names() -> list[str]:
    return [*default_target_names(), *OPT_IN]


def get_target(name: str, **options: Any) -> Target:
    if name == "oracle":
        from conformance.targets.oracle import OracleTarget

        return OracleTarget()
    if name == "reference":
        from conformance.targets.reference import ReferenceTarget

        return ReferenceTarget()
    if name == "kubernetes":
        from conformance.targets.kubernetes import KubernetesTarget

        kube: Target = KubernetesTarget(**options)
        return kube
    if name in available_targets():
        from conformance.targets.model import ModelTarget

        return ModelTarget(name)
    raise UnknownTarget(f"unknown target '{name}'. Targets: {', '.join(target_names())}")
