"""The policies looked up for a workload give the Istio model the answers that reading
every policy of the namespace gives: the same AuthorizationPolicies in the same order,
the same mTLS mode on every port. Policies and pod labels are drawn at random, with
selectors that name `app`, other labels, nothing, or are not label maps at all."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.istio._model_authz import applicable
from adapters.istio._model_mtls import server_mode
from adapters.istio._model_selectors import SelectorIndex, selector_of
from adapters.istio.resources import ROOT_NAMESPACE

NAMESPACES = ["shop", "team", ROOT_NAMESPACE]
KEYS = ["app", "version", "tier"]
VALUES = ["a", "b", "c"]

label_maps = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)
selectors = st.one_of(
    st.none(),
    st.just({}),
    st.builds(lambda labels: {"matchLabels": labels}, label_maps),
    st.just({"matchLabels": None}),
    st.just("not a map"),
)
modes = st.sampled_from(["STRICT", "PERMISSIVE", "DISABLE", "UNSET"])


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["AuthorizationPolicy", "PeerAuthentication"]))
    spec: dict[str, Any] = {}
    selector = draw(selectors)
    if selector is not None:
        spec["selector"] = selector
    if kind == "PeerAuthentication":
        spec["mtls"] = {"mode": draw(modes)}
        if draw(st.booleans()):
            spec["portLevelMtls"] = {8080: {"mode": draw(modes)}}
    else:
        spec["action"] = draw(st.sampled_from(["ALLOW", "DENY"]))
    return {
        "kind": kind,
        "metadata": {
            "name": f"p{draw(st.integers(0, 9))}",
            "namespace": draw(st.sampled_from(NAMESPACES)),
        },
        "spec": spec,
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(policies(), max_size=12),
    st.sampled_from(NAMESPACES),
    label_maps,
)
def test_looked_up_policies_answer_as_all_of_them(
    resources: list[dict[str, Any]], namespace: str, labels: dict[str, str]
) -> None:
    scope = list(dict.fromkeys([namespace, ROOT_NAMESPACE]))
    # What the import check read before: the namespace's policies, then the root's.
    every = [r for ns in scope for r in resources if r["metadata"]["namespace"] == ns]
    index = SelectorIndex((r["metadata"]["namespace"], selector_of(r), r) for r in resources)
    found = index.selecting(scope, labels)
    assert [id(p) for p in applicable(found, namespace, labels)] == [
        id(p) for p in applicable(every, namespace, labels)
    ]
    for port in (8080, 9090):
        assert server_mode(found, namespace, labels, port) == server_mode(
            every, namespace, labels, port
        )


@settings(max_examples=200, deadline=None)
@given(st.lists(policies(), max_size=12), st.sampled_from(NAMESPACES), st.sampled_from(VALUES))
def test_policies_not_naming_another_app(
    resources: list[dict[str, Any]], namespace: str, app: str
) -> None:
    """Every policy whose selector could pick a pod of `app` is among those returned."""
    scope = list(dict.fromkeys([namespace, ROOT_NAMESPACE]))
    index = SelectorIndex((r["metadata"]["namespace"], selector_of(r), r) for r in resources)
    found = [id(p) for p in index.not_other_app(scope, app)]
    for ns in scope:
        for r in resources:
            if r["metadata"]["namespace"] != ns:
                continue
            selector = r["spec"].get("selector")
            wanted = selector.get("matchLabels") if isinstance(selector, dict) else None
            if isinstance(wanted, dict) and wanted.get("app", app) != app:
                assert id(r) not in found
            else:
                assert id(r) in found
    assert found == [
        id(r)
        for ns in scope
        for r in resources
        if r["metadata"]["namespace"] == ns and id(r) in found
    ]
