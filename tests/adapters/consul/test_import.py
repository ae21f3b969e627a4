"""Importing Consul's config entries: every published example, the same entry in HCL, JSON
and consul-k8s YAML, allow-lists, first-match order, and access that must not widen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.consul.files import read_files
from adapters.consul.importer import import_consul
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Severity
from meshspec.semantics import Request, decide
from meshspec.spec import Origin
from tests.adapters.validator import upstream_root

EXAMPLES = upstream_root() / "examples" / "consul"
FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".hcl", ".json", ".yaml"))


def _import(*entries: dict[str, Any]) -> Any:
    docs = [NativeDocument(e, Origin("entries.json", i)) for i, e in enumerate(entries)]
    return import_consul(docs)


def _codes(result: Any) -> list[str]:
    return sorted(d.code for d in result.diagnostics)


def test_the_published_examples_are_all_here() -> None:
    assert len(FILES) > 100
    assert {p.suffix for p in FILES} == {".hcl", ".json", ".yaml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_published_example_imports_without_a_crash(path: Path) -> None:
    docs, problems = read_files([str(path)])
    assert problems == [] and docs, path
    result = import_consul(docs)
    own = [d.code for d in result.diagnostics if not d.code.startswith("MS4")]
    # besides its own codes, only meshspec's validation of the spec it produced
    assert all(int(code[2:]) < 300 for code in own), own


def _stems() -> list[Path]:
    return sorted(
        p.with_suffix("")
        for p in (EXAMPLES / "consul-docs").rglob("*.hcl")
        if p.with_suffix(".json").exists() and p.with_suffix(".yaml").exists()
    )


#: forms of one documentation example that hold different entries upstream (another source
#: name, other services); the other differences (a namespace written out, header names in
#: lower case) make no difference once imported
UPSTREAM_DIFFERS = {"grpc": {".yaml"}, "retry-logic": {".hcl", ".yaml"}}


@pytest.mark.parametrize("stem", _stems(), ids=lambda p: p.name)
def test_hcl_json_and_consul_k8s_forms_import_alike(stem: Path) -> None:
    got = {}
    for suffix in (".hcl", ".json", ".yaml"):
        docs, problems = read_files([str(stem.with_suffix(suffix))])
        assert problems == []
        got[suffix] = import_consul(docs).documents
    differs = {s for s in (".hcl", ".yaml") if got[s] != got[".json"]}
    assert differs == UPSTREAM_DIFFERS.get(stem.name, set())


def test_an_unknown_field_is_reported_where_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "web.json"
    path.write_text(
        json.dumps(
            {"Kind": "service-defaults", "Name": "web", "Protocol": "http", "Foo": 1}, indent=2
        )
    )
    docs, _ = read_files([str(path)])
    result = import_consul(docs)
    [found] = [d for d in result.diagnostics if d.code == "MS4502"]
    assert "Foo" in found.message and found.location is not None
    assert (found.location.file, found.location.line) == (str(path), 5)


def test_hcl_blocks_nested_in_lists_and_snake_case_keys(tmp_path: Path) -> None:
    path = tmp_path / "router.hcl"
    path.write_text(
        """
kind = "service-router"
name = "web"
routes = [
  {
    match { http { path_exact = "/v2" } }
    destination { service_subset = "v2", num_retries = 2, retry_on = ["5xx"] }
  },
]
"""
    )
    docs, problems = read_files([str(path)])
    assert problems == []
    result = import_consul(docs)
    [web] = [d for d in result.documents if d["metadata"]["name"] == "web"]
    route = web["spec"]["routes"][0]
    assert route["matches"] == [{"path": {"exact": "/v2"}}]
    assert route["backends"] == [{"version": "v2"}]
    assert route["retries"] == {"attempts": 2, "retryOn": ["5xx"]}


def test_a_string_prefix_and_the_fall_through_keep_their_meaning() -> None:
    result = _import(
        {"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
        {
            "Kind": "service-resolver",
            "Name": "web",
            "Subsets": {
                "v1": {"Filter": "Service.Meta.version == v1"},
                "v2": {"Filter": 'Service.Meta.version == "v2"'},
            },
        },
        {
            "Kind": "service-router",
            "Name": "web",
            "Routes": [
                {
                    "Match": {"HTTP": {"PathPrefix": "/usrv"}},
                    "Destination": {"ServiceSubset": "v1"},
                },
                {
                    "Match": {"HTTP": {"PathPrefix": "/usrv-expand"}},
                    "Destination": {"ServiceSubset": "v2"},
                },
            ],
        },
    )
    assert result.spec is not None
    assert "MS4510" in _codes(result)  # the fall-through became a route

    def version(path: str) -> Any:
        decision = decide(result.spec, Request(destination="web", target=path, source="web"))
        return decision.route, [b.version for b in decision.backends]

    # Consul's string prefix: `/usrv` takes `/usrv-expand/1` first, and `/usrvx` too
    assert version("/usrv-expand/1") == ("route-0", ["v1"])
    assert version("/usrvx") == ("route-0", ["v1"])
    assert version("/other") == ("default", [None])


def test_order_that_cannot_be_kept_is_reported_with_a_request() -> None:
    result = _import(
        {"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
        {
            "Kind": "service-router",
            "Name": "web",
            "Routes": [
                {"Match": {"HTTP": {"PathRegex": "/a.*"}}, "Destination": {"Service": "x"}},
                {"Match": {"HTTP": {"PathRegex": "/.*bb"}}, "Destination": {"Service": "y"}},
            ],
        },
    )
    [found] = [d for d in result.diagnostics if d.code == "MS4503"]
    assert found.extra["request"]["target"]


def _intentions(*sources: dict[str, Any]) -> dict[str, Any]:
    return {"Kind": "service-intentions", "Name": "api", "Sources": list(sources)}


HTTP = [{"Kind": "service-defaults", "Name": n, "Protocol": "http"} for n in ("api", "web", "ops")]


def _authz(result: Any, source: str, path: str) -> str:
    decision = decide(result.spec, Request(destination="api", target=path, source=source))
    assert decision.authz is not None
    return str(decision.authz.decision)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        pytest.param(
            [{"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}],
            {("web", "/"): "allow", ("ops", "/"): "deny"},
            id="default-deny-one-caller",
        ),
        pytest.param(
            [
                {
                    "Name": "web",
                    "Permissions": [
                        {"Action": "allow", "HTTP": {"PathPrefix": "/public/", "Methods": ["GET"]}},
                        {"Action": "deny", "HTTP": {"PathPrefix": "/"}},
                    ],
                },
                {"Name": "*", "Action": "deny"},
            ],
            {
                ("web", "/public/x"): "allow",
                ("web", "/publicx"): "deny",
                ("ops", "/public/x"): "deny",
            },
            id="allow-then-deny-everything",
        ),
        pytest.param(
            [
                {
                    "Name": "web",
                    "Permissions": [{"Action": "deny", "HTTP": {"PathPrefix": "/admin"}}],
                }
            ],
            {("web", "/admin/x"): "deny", ("web", "/adminx"): "deny", ("web", "/x"): "allow"},
            id="deny-then-acl-default",
        ),
    ],
)
def test_intentions_become_the_same_decisions(
    sources: list[dict[str, Any]], expected: dict[tuple[str, str], str]
) -> None:
    result = _import(*HTTP, _intentions(*sources))
    assert not [c for c in _codes(result) if c in ("MS4504", "MS4505")], result.diagnostics
    for (source, path), answer in expected.items():
        assert _authz(result, source, path) == answer, (source, path)


def test_an_import_that_would_allow_what_consul_denies_is_an_error() -> None:
    # the header condition has no neutral form; dropped, the ALLOW would hold for every request
    result = _import(
        *HTTP,
        _intentions(
            {
                "Name": "web",
                "Permissions": [
                    {
                        "Action": "allow",
                        "HTTP": {"PathExact": "/x", "Header": [{"Name": "x-a", "Suffix": "z"}]},
                    },
                    {"Action": "deny", "HTTP": {"PathPrefix": "/"}},
                ],
            },
            {"Name": "*", "Action": "deny"},
        ),
    )
    [widened] = [d for d in result.diagnostics if d.code == "MS4504"]
    assert widened.severity is Severity.ERROR and widened.area == "authz"
    assert widened.extra["request"] == {
        "method": "GET",
        "target": "/x",
        "destination": "api",
        "source": "web",
    }


def test_an_allow_that_needs_a_token_is_an_error() -> None:
    result = _import(
        *HTTP,
        _intentions({"Name": "web", "Action": "allow", "JWT": {"Providers": [{"Name": "okta"}]}}),
    )
    assert any(d.code == "MS4504" and d.severity is Severity.ERROR for d in result.diagnostics)


def test_a_source_of_another_cluster_is_left_out() -> None:
    result = _import(*HTTP, _intentions({"Name": "web", "Peer": "east", "Action": "allow"}))
    assert "MS4502" in _codes(result)
    assert _authz(result, "web", "/") == "allow"  # the acl default, not the peer's intention
