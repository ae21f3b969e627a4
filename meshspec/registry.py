"""Finds target adapters by name through entry points, loading them lazily.

`meshspec` never imports an adapter package directly: adapters register in
the `meshspec.adapters` entry-point group, so the core stays target-blind.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.metadata import entry_points

from meshspec.adapter import Adapter
from meshspec.errors import UnknownTarget

GROUP = "meshspec.adapters"

#: Meshes an adapter is planned for but none ships yet: named so that asking for
#: one reads as "not installed", not as a typo.
PLANNED: dict[str, str] = {
    "linkerd": "Linkerd (HTTPRoute, Server, AuthorizationPolicy)",
    "appmesh": "AWS App Mesh (import first: it reached end of support on 2026-09-30)",
    "gateway-api": "Kubernetes Gateway API (HTTPRoute, GAMMA)",
    "vpc-lattice": "Amazon VPC Lattice (through the AWS Gateway API controller)",
}


@cache
def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_targets() -> list[str]:
    return sorted(_entry_points())


def planned_targets() -> list[str]:
    """Planned meshes that no installed adapter provides."""
    return sorted(set(PLANNED) - set(_entry_points()))


def get_adapter(name: str) -> Adapter:
    eps = _entry_points()
    ep = eps.get(name.lower())
    if ep is None:
        known = available_targets()
        if name.lower() in PLANNED:
            raise UnknownTarget(
                f"target '{name}' is planned, not installed: no meshspec adapter for "
                f"{PLANNED[name.lower()]} exists yet. "
                f"Installed targets: {', '.join(known) or 'none'}"
            )
        close = difflib.get_close_matches(name.lower(), known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise UnknownTarget(
            f"unknown target '{name}'. {hint}Installed targets: {', '.join(known) or 'none'}"
        )
    return _load(name.lower())


@cache
def _load(name: str) -> Adapter:
    try:
        adapter = _entry_points()[name].load()  # type: ignore[attr-defined]
    except (ImportError, AttributeError) as exc:
        raise UnknownTarget(f"target '{name}' is registered but cannot be loaded: {exc}") from None
    if not isinstance(adapter, Adapter):
        raise UnknownTarget(f"target '{name}' is installed but is not a meshspec adapter")
    return adapter
