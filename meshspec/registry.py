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


@cache
def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_targets() -> list[str]:
    return sorted(_entry_points())


def get_adapter(name: str) -> Adapter:
    eps = _entry_points()
    ep = eps.get(name.lower())
    if ep is None:
        known = available_targets()
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
