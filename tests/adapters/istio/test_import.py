"""Importing Istio resources: exact translations, kept order, explicit defaults."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.istio.importer import import_istio
from adapters.istio.model import IstioModel
from meshspec.adapter import NativeDocument, Topology, Verdict
from meshspec.diagnostics import Severity
from meshspec.native import read_native
from meshspec.semantics import Request, decide
from meshspec.spec import Origin, Spec

GOLDEN = Path(__file__).with_name("test_import_codes.golden.json")


def docs(*resources: dict[str, Any]) -> list[NativeDocument]:
    return [NativeDocument(r, Origin("<test>", i)) for i, r in enumerate(resources)]


def vs(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hosts": ["web"], "http": list(rules)},
    }


DR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "host": "web",
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "v2", "labels": {"version": "v2"}},
        ],
    },
}
CLIENT = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "client", "namespace": "default"},
    "spec": {"host": "client"},
}


def deployment(
    app: str, account: str, version: str | None = None, namespace: str = "default"
) -> dict[str, Any]:
    """A Deployment running `app` (one version) as service account `account`."""
    labels = {"app": app, **({"version": version} if version else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "-".join(filter(None, [app, version])), "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"serviceAccountName": account, "containers": [{"name": app}]},
            },
        },
    }


WORKLOADS = [
    deployment("web", "web", "v1"),
    deployment("web", "web", "v2"),
    deployment("client", "client"),
]


def to(subset: str, name: str, *matches: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": name,
        "route": [{"destination": {"host": "web", "subset": subset}}],
    }
    if matches:
        rule["match"] = list(matches)
    return rule


def prefix(p: str) -> dict[str, Any]:
    return {"uri": {"prefix": p}}


def imported(*resources: dict[str, Any]) -> tuple[Spec, list[Any]]:
    result = import_istio(docs(*resources, CLIENT, *WORKLOADS))
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    assert not errors, [d.render() for d in errors]
    assert result.spec is not None
    return result.spec, result.diagnostics


FIELDS = [
    "outcome",
    "status",
    "route",
    "backends",
    "authz",
    "mtls",
    "transport",
    "timeout",
    "retries",
]


def agree(
    resources: list[dict[str, Any]], spec: Spec, request: Request, fields: list[str] = FIELDS
) -> dict[str, Any]:
    """Differences between Istio over the originals and the oracle over the import."""
    istio = IstioModel(resources, Topology.of(spec)).decide(request)
    neutral = Verdict.of(decide(spec, request))
    return istio.differences(neutral, fields)


ORDER_CASES = [
    # Istio rules (first match) and requests whose route must survive the import.
    [to("v1", "root", prefix("/")), to("v2", "api", prefix("/api"))],
    [to("v1", "a", prefix("/usrv")), to("v2", "b", prefix("/usrv-expand"))],
    [to("v1", "p", prefix("/foo")), to("v2", "e", {"uri": {"exact": "/foo"}})],
    [
        to("v1", "h", {"headers": {"x-a": {"exact": "1"}}}),
        to("v2", "m", {"method": {"exact": "GET"}}),
    ],
    [
        to("v1", "get", {"method": {"exact": "GET"}, "uri": {"prefix": "/a"}}),
        to("v2", "a", prefix("/a/b")),
    ],
    [to("v2", "api", prefix("/api")), to("v1", "all")],
]
TARGETS = [
    "/",
    "/api",
    "/api/",
    "/api/x",
    "/apix",
    "/usrv",
    "/usrv-expand/1",
    "/foo",
    "/foo/",
    "/a",
    "/a/b",
    "/a/bc",
    "/x",
]


@pytest.mark.parametrize("rules", ORDER_CASES)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("headers", [{}, {"x-a": "1"}])
def test_first_match_order_is_kept(
    rules: list[dict[str, Any]], method: str, headers: dict[str, str]
) -> None:
    resources = [vs(*rules), DR]
    spec, diagnostics = imported(*resources)
    conflicts = [d for d in diagnostics if d.code == "MS1506"]
    for target in TARGETS:
        request = Request("web", target, method=method, headers=headers, source="client")
        diff = agree(resources, spec, request)
        assert not diff or conflicts, (target, diff)


@pytest.mark.parametrize("rules", ORDER_CASES[:4])
def test_precedence_examples_import_exactly(rules: list[dict[str, Any]]) -> None:
    _, diagnostics = imported(vs(*rules), DR)
    assert not [d.render() for d in diagnostics if d.code == "MS1506"]


@pytest.mark.parametrize(
    "rules",
    [
        # The most common Istio shape: string prefixes, then a default route.
        [to("v2", "api", prefix("/api")), to("v1", "rest")],
        [to("v1", "slash", prefix("/api/")), to("v2", "rest", prefix("/"))],
        [to("v2", "ci", {"uri": {"prefix": "/API"}, "ignoreUriCase": True}), to("v1", "rest")],
        [
            to("v2", "rx", {"uri": {"regex": "/a[0-9]+"}}),
            to("v1", "h", {"method": {"exact": "GET"}}),
        ],
    ],
)
def test_prefixes_before_a_default_route_keep_istio_order(rules: list[dict[str, Any]]) -> None:
    # `/apix` is `/api[^/].*` in neutral terms, a regex; the default route is written as
    # the regex `.*`, which ranks below it, so `/apix` stays with the earlier rule.
    resources = [vs(*rules), DR]
    spec, diagnostics = imported(*resources)
    assert not [d.render() for d in diagnostics if d.code == "MS1506"]
    for target in ["/api/x", "/apix", "/api", "/API/x", "/a12", "/x", "/"]:
        for method in ("GET", "POST"):
            request = Request("web", target, method=method, source="client")
            assert agree(resources, spec, request) == {}, (target, method)


def test_string_prefix_becomes_segment_prefix_plus_continuation_regex() -> None:
    spec, _ = imported(vs(to("v1", "api", prefix("/api"))), DR)
    route = spec.service("default/web").spec.routes[0]
    paths = [m.path.value for m in route.matches if m.path is not None]
    assert paths == ["/api", r"/api[^/].*"]


def test_istio_defaults_are_written_out() -> None:
    spec, diagnostics = imported(vs(to("v1", "r")), DR)
    route = spec.service("default/web").spec.routes[0]
    assert route.timeout == 0
    assert route.retries is not None and route.retries.attempts == 2
    assert str(spec.mesh.mtls.mode) == "PERMISSIVE"
    assert {"MS1504", "MS1508"} <= {d.code for d in diagnostics}


def test_unfixable_order_conflict_names_a_request() -> None:
    rules = [
        to("v1", "ab", {"uri": {"prefix": "/a/b"}}),
        to("v2", "a-h", {"uri": {"prefix": "/a"}, "headers": {"x-a": {"exact": "1"}}}),
    ]
    _, diagnostics = imported(vs(*rules), DR)
    conflicts = [d for d in diagnostics if d.code == "MS1506"]
    assert conflicts and "for example GET /a/bx with x-a: 1" in conflicts[0].message
    assert conflicts[0].location is not None


def test_security_translation_fails_closed() -> None:
    policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "rules": [
                {
                    "from": [{"source": {"principals": ["cluster.local/ns/default/sa/client"]}}],
                    "to": [{"operation": {"methods": ["GET"], "paths": ["/api*"]}}],
                },
                {"from": [{"source": {"ipBlocks": ["1.2.3.4"]}}]},
            ],
        },
    }
    resources = [vs(to("v1", "all")), DR, policy]
    spec, diagnostics = imported(*resources)
    assert any(d.code == "MS1512" for d in diagnostics)
    authz = spec.service("default/web").spec.authorization
    assert authz is not None and len(authz.rules) == 1
    for target, method in [("/api/x", "GET"), ("/apix", "GET"), ("/x", "GET"), ("/api", "POST")]:
        request = Request("web", target, method=method, source="client")
        assert agree(resources, spec, request) == {}


@given(
    target=st.sampled_from(TARGETS),
    method=st.sampled_from(["GET", "POST"]),
    header=st.sampled_from([{}, {"x-a": "1"}, {"x-a": "2"}]),
    rules=st.lists(
        st.sampled_from(
            [
                to(s, f"r{i}", m)
                for i, (s, m) in enumerate(
                    [
                        ("v1", prefix("/api")),
                        ("v2", prefix("/a")),
                        ("v1", {"uri": {"exact": "/api"}}),
                        ("v2", {"method": {"exact": "POST"}}),
                        ("v1", {"headers": {"x-a": {"exact": "1"}}}),
                        ("v2", {"uri": {"prefix": "/api/"}, "method": {"exact": "GET"}}),
                        ("v1", prefix("/")),
                    ]
                )
            ]
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda r: r["name"],
    ),
)
@settings(max_examples=150, deadline=None)
def test_import_agrees_with_istio_or_says_why(
    target: str, method: str, header: dict[str, str], rules: list[dict[str, Any]]
) -> None:
    resources = [vs(*rules), DR]
    spec, diagnostics = imported(*resources)
    request = Request("web", target, method=method, headers=header, source="client")
    diff = agree(resources, spec, request)
    if diff:
        assert any(d.code == "MS1506" for d in diagnostics), diff


def _example_files(upstream: Path) -> list[Path]:
    return sorted((upstream / "examples/istio").rglob("*.yaml"))


def test_upstream_examples_import_with_findings_never_a_crash(upstream: Path) -> None:
    """Every upstream Istio example, one file at a time: findings per code, as reviewed."""
    found: dict[str, dict[str, int]] = {}
    for path in _example_files(upstream):
        # A file YAML readers disagree on (libyaml refuses `[001:db8::]` in a flow
        # sequence; PyYAML's pure reader makes it a mapping) is a finding, not a crash.
        documents, problems = read_native([str(path)])
        assert all(p.location is not None for p in problems), path
        result = import_istio(documents)
        for d in result.diagnostics:
            if d.severity is Severity.ERROR:
                assert d.location is not None or d.code == "MS1518", d.render()
        counts = Counter(f"{d.code} {d.severity}" for d in [*problems, *result.diagnostics])
        found[str(path.relative_to(upstream / "examples/istio"))] = dict(sorted(counts.items()))
    assert len(found) >= 100
    if os.environ.get("MESHSPEC_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    assert found == json.loads(GOLDEN.read_text())


def test_every_finding_names_object_and_place(upstream: Path) -> None:
    documents, _ = read_native(
        [str(upstream / "examples/istio/security/authz-builder-allow-full-rule-in.yaml")]
    )
    result = import_istio(documents)
    located = [d for d in result.diagnostics if d.code == "MS1512"]
    assert located
    for d in located:
        assert "AuthorizationPolicy foo/httpbin-1" in d.message
        assert d.location is not None and d.location.line > 0


def test_exact_plus_slash_prefix_pair_becomes_one_segment_prefix() -> None:
    rule = to("v1", "seg", {"uri": {"exact": "/a"}}, {"uri": {"prefix": "/a/"}})
    spec, diagnostics = imported(vs(rule, to("v2", "rest")), DR)
    route = spec.service("default/web").spec.routes[0]
    assert [(m.path.prefix if m.path else None) for m in route.matches] == ["/a"]
    assert not [d for d in diagnostics if d.code == "MS1506"]


@pytest.mark.parametrize(
    ("server", "client", "warned"),
    [
        ("DISABLE", "DISABLE", False),
        ("STRICT", "ISTIO_MUTUAL", False),
        ("PERMISSIVE", "DISABLE", True),
        ("STRICT", "DISABLE", True),
        ("DISABLE", "ISTIO_MUTUAL", True),
    ],
)
def test_client_tls_is_reported_only_when_it_disagrees_with_the_server(
    server: str, client: str, warned: bool
) -> None:
    peer = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": server}},
    }
    rule = {**DR, "spec": {**DR["spec"], "trafficPolicy": {"tls": {"mode": client}}}}
    resources = [vs(to("v1", "r")), rule, peer]
    spec, diagnostics = imported(*resources)
    assert any(d.code == "MS1514" for d in diagnostics) == warned
    diff = agree(resources, spec, Request("web", "/", source="client"))
    assert bool(diff) == warned or not diff


BOOKINFO_ROUTES = [
    "virtual-service-all-v1.yaml",
    "virtual-service-reviews-50-v3.yaml",
    "virtual-service-reviews-80-20.yaml",
    "virtual-service-reviews-jason-v2-v3.yaml",
    "virtual-service-reviews-test-v2.yaml",
    "virtual-service-ratings-test-abort.yaml",
]


@pytest.mark.parametrize("name", BOOKINFO_ROUTES)
def test_bookinfo_import_means_what_istio_does(upstream: Path, name: str) -> None:
    folder = upstream / "examples/istio/bookinfo"
    documents, _ = read_native([str(folder / "destination-rule-all.yaml"), str(folder / name)])
    result = import_istio(documents)
    assert result.spec is not None
    assert not [d.render() for d in result.diagnostics if d.severity is Severity.ERROR]
    explained = {d.code for d in result.diagnostics} & {"MS1505", "MS1506"}
    resources = [dict(d.data) for d in documents]
    differing = []
    for destination in ("reviews", "ratings", "details", "productpage"):
        for headers in ({}, {"end-user": "jason"}):
            for target in ("/", "/reviews/0", "/ratings/0"):
                request = Request(destination, target, headers=headers, source="productpage")
                # Unnamed Istio rules get names on import: compare everything else.
                diff = agree(resources, result.spec, request, FIELDS[:2] + FIELDS[3:])
                if diff:
                    differing.append((destination, headers, target, diff))
    # Only fault injection (dropped with a finding) may change an answer, and the
    # model ignores faults too, so every request must agree.
    assert not differing, (explained, differing)


def test_import_command_writes_the_neutral_spec(upstream: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from meshspec.cli import cli

    folder = upstream / "examples/istio/bookinfo"
    args = [
        "import",
        "--from",
        "istio",
        str(folder / "destination-rule-all.yaml"),
        str(folder / "virtual-service-reviews-80-20.yaml"),
        "--output-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from meshspec import api

    spec = api.load(str(tmp_path))
    weights = {b.version: b.weight for b in spec.service("default/reviews").spec.routes[0].backends}
    assert weights == {"v1": 80, "v2": 20}


def test_kubernetes_service_gives_ports_and_maps_container_ports() -> None:
    k8s_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "ports": [
                {"name": "http-web", "port": 8000, "targetPort": 80},
                {"name": "grpc", "port": 9000},
                {"name": "mongo", "port": 27017},
            ]
        },
    }
    peer = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "mtls": {"mode": "STRICT"},
            "portLevelMtls": {"80": {"mode": "DISABLE"}},
        },
    }
    spec, diagnostics = imported(k8s_service, peer, vs(to("v1", "r")), DR)
    web = spec.service("default/web").spec
    assert [(p.port, str(p.protocol)) for p in web.ports] == [
        (8000, "http"),
        (9000, "grpc"),
        (27017, "tcp"),
    ]
    assert web.mtls is not None and {k: str(v) for k, v in web.mtls.ports.items()} == {
        8000: "DISABLE"
    }
    assert not [d for d in diagnostics if d.code == "MS1502"]


@pytest.mark.parametrize("uri", [{"exact": "//admin"}, {"prefix": "/a%2Fb"}, {"exact": "/a/../b"}])
def test_paths_the_spec_never_sees_drop_the_match_not_the_meaning(uri: dict[str, str]) -> None:
    rules = [to("v1", "odd", {"uri": uri}), to("v2", "rest")]
    spec, diagnostics = imported(vs(*rules), DR)
    assert any(d.code == "MS1505" and "dropped" in d.message for d in diagnostics)
    assert [r.name for r in spec.service("default/web").spec.routes] == ["rest"]
