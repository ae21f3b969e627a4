"""The Linkerd model over compiled output agrees with the oracle on random specs, for the
proxy as released and with linkerd2-proxy PR #4604's ranking: the compiled rules are
ordered and completed so that either ranking picks the spec's route. A seeded bug (the
compiler's intersections dropped) is caught."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.linkerd import LinkerdAdapter
from conformance.fuzz import Disagreement, find_disagreement
from conformance.targets.model import ModelTarget
from meshspec.adapter import MeshModel, Topology

SEED = 20261202
EXAMPLES = 300


class _Proxy(LinkerdAdapter):
    """Linkerd with another proxy ranking, or with its routes read through a bug."""

    def __init__(self, name: str, proxy: str = "main", bug: Any = None) -> None:
        self.name = name
        self.proxy = proxy
        self.bug = bug

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        from adapters.linkerd.model import LinkerdModel

        read = self.bug(resources) if self.bug is not None else resources
        return LinkerdModel(read, topology, proxy=self.proxy)


def _first_rule_per_route(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Keep one rule per neutral route: the meets the compiler adds for Linkerd's ranking
    are lost, as a compiler that only sorted would write."""
    out = copy.deepcopy([dict(r) for r in resources])
    for res in out:
        if (
            res.get("kind") != "HTTPRoute"
            or res.get("apiVersion") != "gateway.networking.k8s.io/v1"
        ):
            continue
        names = res["metadata"]["annotations"]["meshspec.io/routes"].split(",")
        keep, seen = [], set()
        for name, rule in zip(names, res["spec"]["rules"], strict=True):
            if name in seen and len(rule["matches"][0]) > 1:
                continue
            seen.add(name)
            keep.append((name, rule))
        res["spec"]["rules"] = [r for _, r in keep]
        res["metadata"]["annotations"]["meshspec.io/routes"] = ",".join(n for n, _ in keep)
    return out


def test_the_released_proxy_agrees_with_the_oracle() -> None:
    found = find_disagreement(ModelTarget("linkerd", adapter=_Proxy("linkerd")), EXAMPLES, SEED)
    assert found is None, found.render()


def test_the_pr_4604_ranking_agrees_with_the_oracle() -> None:
    target = ModelTarget("linkerd-pr-4604", adapter=_Proxy("linkerd-pr-4604", proxy="pr-4604"))
    found = find_disagreement(target, EXAMPLES, SEED)
    assert found is None, found.render()


def test_without_the_meets_the_released_proxy_takes_other_routes() -> None:
    target = ModelTarget("linkerd-sorted-only", adapter=_Proxy("x", bug=_first_rule_per_route))
    found = find_disagreement(target, 600, SEED)
    assert isinstance(found, Disagreement), "dropping the meets went unnoticed"
    assert "route" in found.differences or "backends" in found.differences, found.render()
