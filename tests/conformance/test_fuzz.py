"""Differential fuzzing: models agree with the oracle on random specs, and a model with
a seeded bug (a copy of the Istio model with broken prefix matching, or one that
ignores DENY policies) is caught, with a small spec and request that show it."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from adapters.istio import IstioAdapter
from conformance.fuzz import Disagreement, find_disagreement
from conformance.targets.model import ModelTarget
from meshspec.adapter import Topology
from meshspec.registry import available_targets
from meshspec.semantics import Request

SEED = 20261126
EXAMPLES = 100


def _string_prefix(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The classic bug: `/a/` (segment prefix) written as `/a`, so `/ab` matches too."""
    out = copy.deepcopy([dict(r) for r in resources])
    for res in out:
        if res.get("kind") != "VirtualService":
            continue
        for rule in res["spec"].get("http", []):
            for match in rule.get("match") or []:
                uri = match.get("uri") or {}
                if "prefix" in uri and uri["prefix"] != "/":
                    uri["prefix"] = uri["prefix"].rstrip("/")
    return out


def _no_deny(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Another classic: DENY policies dropped, as if ALLOW were checked first and won."""
    return [
        dict(r)
        for r in resources
        if not (
            r.get("kind") == "AuthorizationPolicy" and (r.get("spec") or {}).get("action") == "DENY"
        )
    ]


class _BrokenIstio(IstioAdapter):
    """The Istio adapter, but its model reads resources through a seeded bug."""

    name = "istio-broken"
    description = "Istio with a seeded bug"

    def __init__(self, bug: Any) -> None:
        self.bug = bug

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> Any:
        from adapters.istio.model import IstioModel

        class BrokenModel(IstioModel):
            def __init__(self, res: Sequence[Mapping[str, Any]], topo: Topology, bug: Any) -> None:
                super().__init__(bug(res), topo)

        return BrokenModel(resources, topology, self.bug)


@pytest.mark.parametrize("name", available_targets())
def test_models_agree_with_the_oracle(name: str) -> None:
    found = find_disagreement(ModelTarget(name), EXAMPLES, SEED)
    assert found is None, found.render()


@pytest.mark.parametrize(
    ("bug", "differs"), [(_string_prefix, {"backends"}), (_no_deny, {"authz"})]
)
def test_a_seeded_bug_is_caught_and_shrunk(bug: Any, differs: set[str]) -> None:
    target = ModelTarget("istio-broken", adapter=_BrokenIstio(bug))
    found = find_disagreement(target, 300, SEED)
    assert isinstance(found, Disagreement), "the seeded bug went unnoticed"
    assert differs & set(found.differences), found.render()
    text = found.render()
    assert "kind: Service" in text and "request: from=" in text
    # shrunk: the minimal example keeps at most one route and one rule
    assert text.count("- name: r") <= 1 and text.count("- name: rule") <= 1, text


def test_disagreement_renders_spec_request_and_both_answers() -> None:
    d = Disagreement(
        "m", "---\nkind: Service\n", Request("echo", "/a", source="client"), {"status": (200, 404)}
    )
    assert d.render().splitlines()[-1] == "  status: oracle 200, m 404"
