"""`meshspec diff` over two versions of each example: exactly the expected differences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshspec.adapter import Verdict
from meshspec.diff import Category, diff_specs
from meshspec.loader import load_texts
from meshspec.semantics import decide
from meshspec.spec import Spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _docs(example: str) -> list[dict[str, Any]]:
    text = (EXAMPLES / example / "mesh.yaml").read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


def _spec(docs: list[dict[str, Any]], name: str = "mesh.yaml") -> Spec:
    result = load_texts([(name, yaml.safe_dump_all(docs, sort_keys=False))])
    assert result.ok and result.spec is not None, result.diagnostics
    return result.spec


def _service(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == name)


def _real(old: Spec, new: Spec) -> None:
    """Each reported request really gets those two answers."""
    for d in diff_specs(old, new).differences:
        assert Verdict.of(decide(old, d.request)) == d.old
        assert Verdict.of(decide(new, d.request)) == d.new


@pytest.mark.parametrize("example", ["bookinfo", "canary", "zero-trust"])
def test_a_reformatted_spec_has_no_differences(example: str, tmp_path: Path) -> None:
    docs = _docs(example)
    flow = yaml.safe_dump_all(list(reversed(docs)), default_flow_style=True, sort_keys=True)
    reformatted = load_texts([("flow.yaml", flow)])
    assert reformatted.ok and reformatted.spec is not None
    comparison = diff_specs(_spec(docs), reformatted.spec, skip_unchanged=False)
    assert comparison.equal
    assert comparison.checked > comparison.boundary > 20
    skipping = diff_specs(_spec(docs), reformatted.spec)
    assert skipping.equal and skipping.checked == 0
    assert skipping.unchanged_services == len(reformatted.spec.services)


def test_a_weight_change_is_one_traffic_difference_per_route() -> None:
    docs = _docs("canary")
    new = json.loads(json.dumps(docs))
    checkout = _service(new, "checkout")
    default = next(r for r in checkout["spec"]["routes"] if r["name"] == "default")
    default["backends"][0]["weight"], default["backends"][1]["weight"] = 70, 30
    old_spec, new_spec = _spec(docs), _spec(new)
    found = diff_specs(old_spec, new_spec).differences
    assert [(d.category, d.request.destination, d.old.route, set(d.fields)) for d in found] == [
        (Category.TRAFFIC, "shop/checkout", "default", {"backends"})
    ]
    assert found[0].fields["backends"][1] == {
        ("shop/checkout", "v1"): 0.7,
        ("shop/checkout", "v2"): 0.3,
    }
    _real(old_spec, new_spec)


def test_a_new_deny_rule_changes_exactly_the_requests_it_names() -> None:
    docs = _docs("bookinfo")
    new = json.loads(json.dumps(docs))
    rules = _service(new, "reviews")["spec"]["authorization"]["rules"]
    rules.append(
        {
            "name": "no-admin",
            "action": "DENY",
            "from": [{"services": ["productpage"]}],
            "to": {"paths": [{"prefix": "/admin"}]},
        }
    )
    old_spec, new_spec = _spec(docs), _spec(new)
    found = diff_specs(old_spec, new_spec).differences
    assert found
    for d in found:
        assert d.request.destination == "default/reviews"
        assert d.request.source == "default/productpage"
        assert d.request.target.split("?")[0] in ("/admin", "/admin/", "/admin/sub") or (
            d.request.target.startswith("/admin/")
        )
        assert d.new.authz_rule == "no-admin"
        assert set(d.fields) <= {"outcome", "status", "authz", "authz_rule"}
        assert d.category is Category.TRAFFIC
    newly_denied = [d for d in found if d.old.outcome == "forwarded"]
    assert newly_denied and all(d.new.status == 403 for d in newly_denied)
    _real(old_spec, new_spec)


def test_a_relaxed_mtls_mode_is_a_security_difference() -> None:
    docs = _docs("zero-trust")
    new = json.loads(json.dumps(docs))
    mesh = next(d for d in new if d["kind"] == "Mesh")
    mesh["spec"].setdefault("mtls", {})["mode"] = "PERMISSIVE"
    old_spec, new_spec = _spec(docs), _spec(new)
    found = diff_specs(old_spec, new_spec).differences
    assert found
    assert all(d.category is Category.SECURITY for d in found)
    assert any(d.fields.get("mtls") == ("STRICT", "PERMISSIVE") for d in found)
    plaintext = [d for d in found if d.request.source is None]
    assert plaintext and all(d.old.outcome == "mtls_refused" for d in plaintext)
    _real(old_spec, new_spec)


def test_reordering_routes_of_different_specificity_changes_nothing() -> None:
    docs = _docs("canary")
    new = json.loads(json.dumps(docs))
    routes = _service(new, "checkout")["spec"]["routes"]
    routes.reverse()
    assert diff_specs(_spec(docs), _spec(new)).equal


def test_reordering_tied_routes_changes_the_route_of_requests_both_match() -> None:
    docs = _docs("canary")
    routes = _service(docs, "checkout")["spec"]["routes"]
    routes.insert(
        1,
        {
            "name": "beta",
            "matches": [{"headers": [{"name": "x-beta", "exact": "yes"}]}],
            "backends": [{"version": "v1"}],
        },
    )
    new = json.loads(json.dumps(docs))
    new_routes = _service(new, "checkout")["spec"]["routes"]
    new_routes[0], new_routes[1] = new_routes[1], new_routes[0]
    old_spec, new_spec = _spec(docs), _spec(new)
    found = diff_specs(old_spec, new_spec).differences
    assert found
    for d in found:
        assert (d.old.route, d.new.route) == ("testers", "beta")
        assert d.request.headers.get("x-canary") == "always"
        assert d.request.headers.get("x-beta") == "yes"
        assert d.category is Category.TRAFFIC
    _real(old_spec, new_spec)
