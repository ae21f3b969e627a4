"""Ferry's importer, built on the kit: first-match order kept, unknown fields named."""

from __future__ import annotations

import pytest

from meshspec.adapter import NativeDocument
from meshspec.semantics import Request, decide
from meshspec.spec import Origin
from tests.adapters.skeleton import adapter as ferry

ROUTE = {
    "apiVersion": "ferry.example/v1",
    "kind": "FerryRoute",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "rules": [
            {"name": "api/0", "prefix": "/api", "to": [{"service": "shop/web", "version": "v1"}]},
            {"name": "pin/0", "exact": "/api/x", "to": [{"service": "shop/web", "version": "v2"}]},
            {"name": "rest/0", "prefix": "/", "to": [{"service": "shop/web"}], "color": "red"},
        ]
    },
}


@pytest.mark.parametrize(
    ("target", "route"),
    [("/api/x", "api"), ("/api", "api"), ("/api/y", "api"), ("/apix", "rest"), ("/", "rest")],
)
def test_the_imported_spec_routes_as_ferry_does(target: str, route: str) -> None:
    """Ferry takes the first rule: `/api/x` stays on `api` though `pin` is more specific."""
    result = ferry.import_resources([NativeDocument(ROUTE, Origin("web.yaml"))])
    assert result.spec is not None
    decision = decide(
        result.spec, Request(destination="shop/web", source="shop/web", target=target)
    )
    assert decision.route == route


def test_an_unknown_ferry_field_is_named() -> None:
    result = ferry.import_resources([NativeDocument(ROUTE, Origin("web.yaml"))])
    (unknown,) = [d for d in result.diagnostics if d.code == "MS9502"]
    assert (unknown.path, unknown.target) == ("spec.rules.2.color", "ferry")
    assert unknown.location is not None and unknown.location.file == "web.yaml"
