"""Target names: the oracle, the live reference implementation, one model per
installed adapter, real Istio and real Consul on loopback (`istio-live` and
`consul-live`, each beside its adapter's model), and the opt-in Kubernetes
target."""

from __future__ import annotations

from typing import Any

from conformance.targets.base import Target
from meshspec.errors import UnknownTarget
from meshspec.registry import available_targets

BUILTIN = ("oracle", "reference")
OPT_IN = ("kubernetes",)
#: live targets of real meshes, each shown beside the model of its adapter
LIVE = {"istio": "istio-live", "consul": "consul-live"}


def live_installed(name: str) -> bool:
    """Whether the real programs a live target runs are installed here."""
    from conformance.targets.consul_live_programs import find_consul_programs
    from conformance.targets.istio_live_programs import ProgramsMissing, find_programs

    finders = {"istio-live": find_programs, "consul-live": find_consul_programs}
    if name not in finders:
        return False
    try:
        finders[name]()
    except ProgramsMissing:
        return False
    return True


def default_target_names() -> list[str]:
    """What `meshspec conformance` runs without --target: everything that runs locally
    (a live target when its real programs are installed)."""
    names: list[str] = [*BUILTIN]
    for adapter in available_targets():
        names.append(adapter)
        if adapter in LIVE and live_installed(LIVE[adapter]):
            names.append(LIVE[adapter])
    return names


def target_names() -> list[str]:
    live = [LIVE[a] for a in available_targets() if a in LIVE]
    return [*dict.fromkeys([*default_target_names(), *live, *OPT_IN])]


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
    if name == "consul-live" and "consul" in available_targets():
        from conformance.targets.consul_live import ConsulLiveTarget

        return ConsulLiveTarget()
    if name == "kubernetes":
        from conformance.targets.kubernetes import KubernetesTarget

        kube: Target = KubernetesTarget(**options)
        return kube
    if name in available_targets():
        from conformance.targets.model import ModelTarget

        return ModelTarget(name)
    raise UnknownTarget(f"unknown target '{name}'. Targets: {', '.join(target_names())}")
