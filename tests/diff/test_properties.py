"""Random specs, random single edits: reported differences are real, real changes are found."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meshspec.adapter import Verdict
from meshspec.diff import FIELDS, diff_specs, unchanged_services
from meshspec.diff.compare import field_differences
from meshspec.semantics import Request, decide
from meshspec.spec import Spec
from tests.semantics._specs import build, mesh, service

PREFIXES = ["/a", "/b", "/api", "/api/v1"]
MATCH = st.fixed_dictionaries(
    {},
    optional={
        "path": st.one_of(
            st.sampled_from(PREFIXES).map(lambda p: {"prefix": p}),
            st.sampled_from(PREFIXES).map(lambda p: {"exact": p}),
        ),
        "method": st.sampled_from(["GET", "POST"]),
        "headers": st.lists(
            st.fixed_dictionaries({"name": st.sampled_from(["x", "y"]), "exact": st.just("1")}),
            max_size=2,
            unique_by=lambda h: h["name"],
        ),
    },
)
ROUTES = st.lists(
    st.fixed_dictionaries(
        {
            "matches": st.lists(MATCH, max_size=2),
            "backends": st.lists(
                st.fixed_dictionaries(
                    {"version": st.sampled_from(["v1", "v2"]), "weight": st.integers(1, 9)}
                ),
                min_size=1,
                max_size=2,
            ),
            "timeout": st.sampled_from(["1s", "5s"]),
        }
    ),
    max_size=3,
).map(lambda rs: [{"name": f"r{i}", **r} for i, r in enumerate(rs)])
RULES = st.lists(
    st.fixed_dictionaries(
        {
            "action": st.sampled_from(["ALLOW", "DENY"]),
            "from": st.sampled_from([[], [{"services": ["client"]}], [{"services": ["other"]}]]),
            "to": st.fixed_dictionaries(
                {},
                optional={
                    "methods": st.sampled_from([["GET"], ["POST"]]),
                    "paths": st.sampled_from(PREFIXES).map(lambda p: [{"prefix": p}]),
                },
            ),
        }
    ),
    max_size=3,
).map(lambda rs: [{"name": f"z{i}", **r} for i, r in enumerate(rs)])
SVC = st.fixed_dictionaries(
    {
        "routes": ROUTES,
        "authorization": st.fixed_dictionaries(
            {"default": st.sampled_from(["allow", "deny"]), "rules": RULES}
        ),
        "mtls": st.sampled_from([{"mode": "STRICT"}, {"mode": "PERMISSIVE"}, {"mode": "DISABLE"}]),
    }
)


def _spec(svc: dict[str, Any]) -> Spec:
    versions = [{"name": "v1"}, {"name": "v2"}]
    return build(
        service("client"),
        service("other", namespace="elsewhere"),
        service("svc", versions=versions, **svc),
        mesh_doc=mesh("STRICT"),
    )


def _edit(svc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """One small change a reviewer would see in a pull request."""
    out = copy.deepcopy(svc)
    routes, rules = out["routes"], out["authorization"]["rules"]
    kinds = ["mtls", "default", "add-deny"]
    if routes:
        kinds += ["weight", "timeout", "path", "drop-route"]
    if rules:
        kinds += ["flip-rule", "drop-rule"]
    kind = data.draw(st.sampled_from(kinds))
    if kind == "mtls":
        out["mtls"] = {"mode": data.draw(st.sampled_from(["STRICT", "PERMISSIVE", "DISABLE"]))}
    elif kind == "default":
        auth = out["authorization"]
        auth["default"] = "deny" if auth["default"] == "allow" else "allow"
    elif kind == "add-deny":
        path = data.draw(st.sampled_from(PREFIXES))
        rules.append({"name": "new", "action": "DENY", "to": {"paths": [{"prefix": path}]}})
    else:
        route = data.draw(st.sampled_from(routes)) if routes else None
        rule = data.draw(st.sampled_from(rules)) if rules else None
        if kind == "weight" and route is not None:
            route["backends"][0]["weight"] = data.draw(st.integers(1, 9))
        elif kind == "timeout" and route is not None:
            route["timeout"] = "7s"
        elif kind == "path" and route is not None:
            route["matches"] = [{"path": {"prefix": data.draw(st.sampled_from(PREFIXES))}}]
        elif kind == "drop-route" and route is not None:
            routes.remove(route)
        elif kind == "flip-rule" and rule is not None:
            rule["action"] = "ALLOW" if rule["action"] == "DENY" else "DENY"
        elif kind == "drop-rule" and rule is not None:
            rules.remove(rule)
    return out


REQUEST = st.builds(
    Request,
    destination=st.just("svc"),
    target=st.sampled_from(["/", "/a", "/a/", "/a/q", "/ab", "/b", "/api", "/api/v1", "/api/v1/z"]),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    headers=st.dictionaries(st.sampled_from(["x", "y"]), st.sampled_from(["1", "2"]), max_size=2),
    source=st.sampled_from(["client", "elsewhere/other", None]),
)


@settings(max_examples=80, deadline=None)
@given(SVC, st.data())
def test_every_reported_difference_is_real(svc: dict[str, Any], data: st.DataObject) -> None:
    old, new = _spec(svc), _spec(_edit(svc, data))
    for d in diff_specs(old, new, random_count=32).differences:
        a, b = Verdict.of(decide(old, d.request)), Verdict.of(decide(new, d.request))
        assert field_differences(a, b, FIELDS) == dict(d.fields)


@settings(max_examples=120, deadline=None)
@given(SVC, st.data(), REQUEST)
def test_an_edit_that_changes_a_decision_is_found(
    svc: dict[str, Any], data: st.DataObject, request: Request
) -> None:
    old, new = _spec(svc), _spec(_edit(svc, data))
    changed = field_differences(Verdict.of(decide(old, request)), Verdict.of(decide(new, request)))
    if not changed:
        return
    found = diff_specs(old, new, random_count=0).differences
    assert found, f"{request} changes {changed} but diff found nothing"
    assert {f for d in found for f in d.fields} >= set(changed) or any(
        set(d.fields) >= set(changed) for d in found
    )


@settings(max_examples=80, deadline=None)
@given(SVC, SVC, st.data())
def test_a_service_left_out_as_unchanged_never_differs(
    svc: dict[str, Any], peer: dict[str, Any], data: st.DataObject
) -> None:
    """Edit one of two services that route to each other; the skip must be sound."""
    peer = {**peer, "routes": [{"name": "to-svc", "backends": [{"service": "svc"}]}]}
    edited = svc if data.draw(st.booleans()) else _edit(svc, data)
    old, new = _two(svc, peer), _two(edited, peer)
    skipped = unchanged_services(old, new)
    for d in diff_specs(old, new, random_count=64, skip_unchanged=False).differences:
        assert d.request.destination not in skipped


def _two(svc: dict[str, Any], peer: dict[str, Any]) -> Spec:
    versions = [{"name": "v1"}, {"name": "v2"}]
    return build(
        service("client"),
        service("other", namespace="elsewhere"),
        service("svc", versions=versions, **svc),
        service("front", **peer),
        mesh_doc=mesh("STRICT"),
    )
