"""Importing Istio never widens access silently, and keeps what Istio means.

Each test starts from the upstream file (or meshspec's own output) that showed the
problem: identities read from the platform, version-scoped policies, subsets with no
DestinationRule, invalid objects, `values` lists, gateway bindings, mesh HTTPRoutes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.istio._import_check import check_import
from adapters.istio._import_context import ImportContext, ServiceDraft
from adapters.istio.importer import import_istio
from meshspec import api
from meshspec.adapter import NativeDocument, Verdict
from meshspec.cli import cli
from meshspec.diagnostics import Severity
from meshspec.native import read_native
from meshspec.semantics import Request, decide
from meshspec.spec import Origin
from tests.adapters.istio.test_differential import comparable, load, request, spec_text
from tests.adapters.istio.test_import import deployment

REPO = Path(__file__).resolve().parents[3]


def docs(*resources: dict[str, Any]) -> list[NativeDocument]:
    return [NativeDocument(r, Origin("<test>", i)) for i, r in enumerate(resources)]


def upstream_docs(upstream: Path, *names: str) -> list[NativeDocument]:
    found, problems = read_native([str(upstream / "examples/istio" / n) for n in names])
    assert not problems
    return found


def codes(result: Any, severity: Severity | None = None) -> list[str]:
    return [d.code for d in result.diagnostics if severity is None or d.severity is severity]


def k8s_service(name: str, namespace: str, port: int, target: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "http", "port": port}
    if target is not None:
        entry["targetPort"] = target
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [entry]},
    }


# --- identities -----------------------------------------------------------------------


def test_bookinfo_without_workloads_says_which_identity_is_assumed() -> None:
    spec = api.load(str(REPO / "examples/bookinfo/mesh.yaml"))
    compiled = api.compile(spec, "istio")
    result = import_istio(docs(*compiled.resources))
    assumed = [d for d in result.diagnostics if d.code == "MS1518"]
    productpage = [d for d in assumed if "default/productpage" in d.message]
    assert productpage and productpage[0].severity is Severity.ERROR
    # The message names the rules that depend on the guess.
    assert "default/reviews: productpage-reads" in productpage[0].message
    # --allow-lossy authz turns it into a warning (it is an authorization loss).
    relaxed = api.apply_lossy_policy(result.diagnostics, ["authz"])
    assert not [d for d in relaxed if d.severity is Severity.ERROR]


def _example(name: str) -> Any:
    """An example spec; `name+ports` moves every port to another workload port."""
    base, _, variant = name.partition("+")
    text = (REPO / "examples" / base / "mesh.yaml").read_text()
    if variant:
        import re

        text = re.sub(r"(\n(\s*)- port: (\d+)\n)", r"\1\2  targetPort: 1\3\n", text)
    return api.load_text(text)


@pytest.mark.parametrize("example", ["bookinfo", "canary", "zero-trust", "zero-trust+ports"])
def test_round_trip_with_workloads_keeps_every_decision(example: str) -> None:
    spec = _example(example)
    compiled = api.compile(spec, "istio", workloads=True)
    result = import_istio(docs(*compiled.resources))
    assert not [d.render() for d in result.diagnostics if d.severity is not Severity.INFO]
    assert result.spec is not None
    fields = ["route", "outcome", "status", "backends", "authz", "mtls", "transport"]
    fields += ["timeout", "retries", "headers"]
    differing = []
    for dst in spec.services:
        for src in [None, *spec.services]:
            for target in _targets(spec):
                for method in ("GET", "POST", "DELETE"):
                    for headers in ({}, {"end-user": "jason"}):
                        req = Request(dst, target, method, headers, source=src)
                        a = Verdict.of(decide(spec, req))
                        b = Verdict.of(decide(result.spec, req))
                        if a.differences(b, fields):
                            differing.append((req, a.differences(b, fields)))
    assert not differing, differing[:3]


def _targets(spec: Any) -> list[str]:
    """Every path a route or an authorization rule names, and next to it."""
    out = {"/", "/x"}
    for svc in spec.services.values():
        for route in svc.spec.routes:
            for m in route.matches:
                if m.path is not None and m.path.regex is None:
                    out |= {m.path.value, m.path.value.rstrip("/") + "/x", m.path.value + "x"}
        authz = svc.spec.authorization
        for rule in authz.rules if authz else ():
            for p in rule.to.paths if rule.to else ():
                if p.regex is None:
                    out |= {p.value, p.value.rstrip("/") + "/x"}
    return sorted(out)


def test_bookinfo_productpage_still_reaches_reviews_after_the_round_trip() -> None:
    spec = api.load(str(REPO / "examples/bookinfo/mesh.yaml"))
    compiled = api.compile(spec, "istio", workloads=True)
    result = import_istio(docs(*compiled.resources))
    assert result.spec is not None
    assert result.spec.service("default/productpage").spec.service_account == "bookinfo-productpage"
    req = Request("reviews", "/reviews/0", source="productpage")
    assert decide(spec, req).outcome == "forwarded"
    assert decide(result.spec, req).outcome == "forwarded"


def test_service_accounts_come_from_the_pods_a_service_selects() -> None:
    policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/fe"]}}]}],
        },
    }
    front = deployment("frontend", "fe", namespace="shop")
    result = import_istio(
        docs(
            policy,
            k8s_service("web", "shop", 80, "http-web"),
            k8s_service("frontend", "shop", 80),
            {**deployment("web", "web-sa", namespace="shop")},
            front,
        )
    )
    assert not codes(result, Severity.ERROR), [d.render() for d in result.diagnostics]
    assert result.spec is not None
    assert result.spec.service("shop/frontend").spec.service_account == "fe"
    assert decide(result.spec, Request("shop/web", "/", source="shop/frontend")).outcome == (
        "forwarded"
    )
    # Two versions running as two accounts: the neutral spec has one, so it is a guess.
    other = deployment("frontend", "fe-canary", "v2", namespace="shop")
    split = import_istio(docs(policy, k8s_service("frontend", "shop", 80), front, other))
    assumed = [d for d in split.diagnostics if d.code == "MS1518" and "frontend" in d.message]
    assert assumed and "fe, fe-canary" in assumed[0].message


def test_named_target_ports_resolve_through_the_containers() -> None:
    pod = deployment("web", "web")
    pod["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"name": "http-web", "containerPort": 8081}
    ]
    result = import_istio(docs(k8s_service("web", "default", 80, "http-web"), pod))
    assert result.spec is not None
    port = result.spec.service("default/web").spec.ports[0]
    assert (port.port, port.target_port) == (80, 8081)


def test_trust_domain_comes_from_istio_mesh_config() -> None:
    spec = api.load(str(REPO / "examples/zero-trust/mesh.yaml"))
    compiled = api.compile(spec, "istio", workloads=True)
    result = import_istio(docs(*compiled.resources))
    assert result.spec is not None and result.spec.mesh.trust_domain == "bank.internal"
    without = [r for r in compiled.resources if r["kind"] != "ConfigMap"]
    guessed = import_istio(docs(*without))
    assert any(
        d.code == "MS1518" and "bank.internal" in d.message and d.severity is Severity.ERROR
        for d in guessed.diagnostics
    )


# --- widening -------------------------------------------------------------------------


def test_version_scoped_allow_is_not_widened_to_the_whole_service(upstream: Path) -> None:
    found = upstream_docs(upstream, "security/authz-builder-multiple-policies-in.yaml")
    platform = [
        k8s_service("httpbin", "foo", 8000),
        deployment("httpbin", "httpbin", "v1", namespace="foo"),
        deployment("httpbin", "httpbin", "v2", namespace="foo"),
        deployment("sleep", "sleep", namespace="foo"),
        k8s_service("sleep", "foo", 80),
    ]
    result = import_istio([*found, *docs(*platform)])
    assert "MS1513" not in codes(result)
    assert result.spec is not None
    # Istio denies POST /x on v2 (httpbin-1 selects v1 only): so must the import.
    req = Request("foo/httpbin", "/x", "POST", source="foo/sleep")
    assert decide(result.spec, req).outcome == "denied"
    narrowed = [d for d in result.diagnostics if d.code == "MS1512" and "Istio allows" in d.message]
    assert narrowed and "version=v1" in narrowed[0].message


def test_the_check_reports_a_widened_import_with_the_request() -> None:
    """The check compares Istio over the input with the oracle over any spec: one that
    applies a v1-only ALLOW to every version is caught, with the request."""
    policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "v1-only", "namespace": "foo"},
        "spec": {
            "selector": {"matchLabels": {"app": "httpbin", "version": "v1"}},
            "rules": [{"to": [{"operation": {"methods": ["POST"]}}]}],
        },
    }
    reads = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "reads", "namespace": "foo"},
        "spec": {
            "selector": {"matchLabels": {"app": "httpbin"}},
            "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}],
        },
    }
    widened = api.load_text(
        """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: httpbin, namespace: foo}
spec:
  authorization:
    default: deny
    rules:
      - {name: post, action: ALLOW, to: {methods: [POST]}}
      - {name: get, action: ALLOW, to: {methods: [GET]}}
"""
    )
    ctx = ImportContext()
    draft = ctx.services.setdefault("foo/httpbin", ServiceDraft("foo", "httpbin"))
    draft.ports[80] = "http"
    draft.versions = {"v1": {"version": "v1"}, "v2": {"version": "v2"}}
    found = check_import(ctx, docs(policy, reads), widened)
    errors = [d for d in found if d.code == "MS1513"]
    assert errors and errors[0].severity is Severity.ERROR
    assert "POST / to foo/httpbin" in errors[0].message and "version=v2" in errors[0].message
    assert errors[0].message.startswith("AuthorizationPolicy foo/reads:")


def test_mtls_weakened_by_the_spec_is_an_error() -> None:
    strict_v1 = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "v1", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web", "version": "v1"}},
            "mtls": {"mode": "STRICT"},
        },
    }
    weak = api.load_text(
        "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {mtls: {mode: PERMISSIVE}}\n"
    )
    ctx = ImportContext()
    draft = ctx.services.setdefault("default/web", ServiceDraft("default", "web"))
    draft.ports[80] = "http"
    draft.versions = {"v1": {"version": "v1"}}
    found = check_import(ctx, docs(strict_v1), weak)
    assert [d.code for d in found] == ["MS1521"]
    assert found[0].area == "mtls" and "STRICT" in found[0].message


def test_version_scoped_peer_authentication_fails_closed() -> None:
    permissive_v1 = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "v1", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web", "version": "v1"}},
            "mtls": {"mode": "DISABLE"},
        },
    }
    mesh = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": "STRICT"}},
    }
    result = import_istio(
        docs(
            permissive_v1,
            mesh,
            k8s_service("web", "default", 80),
            deployment("web", "web", "v1"),
            deployment("web", "web", "v2"),
        )
    )
    assert "MS1521" not in codes(result)
    assert "MS1511" in codes(result)


# --- invalid input --------------------------------------------------------------------


def test_invalid_peer_authentication_is_reported_not_a_crash(upstream: Path) -> None:
    found = upstream_docs(upstream, "crd-validation/peerauth-invalid.yaml")
    result = import_istio(found)
    invalid = [d for d in result.diagnostics if d.code == "MS1520"]
    messages = " ".join(d.message for d in invalid)
    assert len(invalid) == 6
    assert "'BLAH'" in messages and "'acd'" in messages and "requires selector" in messages
    assert all(d.location is not None and d.location.line > 0 for d in invalid)


@pytest.mark.parametrize(
    "name", ["authz-valid.yaml", "peerauth-valid.yaml", "destinationrule-valid.yaml"]
)
def test_objects_istio_accepts_are_not_refused(upstream: Path, name: str) -> None:
    result = import_istio(upstream_docs(upstream, f"crd-validation/{name}"))
    assert "MS1520" not in codes(result), [d.render() for d in result.diagnostics]


def test_authz_invalid_is_refused_as_the_webhook_does(upstream: Path) -> None:
    result = import_istio(upstream_docs(upstream, "crd-validation/authz-invalid.yaml"))
    refused = [d for d in result.diagnostics if d.code == "MS1520"]
    assert len(refused) == 2
    assert all("serviceAccounts with namespaces or principals" in d.message for d in refused)


def test_importing_every_upstream_example_exits_with_findings(upstream: Path) -> None:
    run = CliRunner().invoke(cli, ["import", "--from", "istio", str(upstream / "examples/istio")])
    assert run.exit_code == 1, run.output
    assert "internal error" not in run.output and "Traceback" not in run.output
    assert "peerauth-invalid.yaml" in run.output and "MS1520" in run.output


# --- meaning kept -----------------------------------------------------------------------


def test_subsets_without_destination_rule_keep_the_split_and_fail(upstream: Path) -> None:
    result = import_istio(upstream_docs(upstream, "networking/virtual-service-all.yaml"))
    undefined = [d for d in result.diagnostics if d.code == "MS1519"]
    assert len(undefined) == 2 and all(d.severity is Severity.ERROR for d in undefined)
    assert "503" in undefined[0].message and "GET /reviews/" in undefined[0].message
    assert result.spec is not None
    routes = result.spec.service("default/service3").spec.routes
    weights = {b.version: b.weight for r in routes for b in r.backends if b.version}
    assert weights == {"v1": 80, "v2": 20}
    # The gateway binding (my-gateway besides mesh) is reported, not dropped silently.
    assert "MS1524" in codes(result)


def test_values_lists_become_rules_the_compiler_accepts(upstream: Path) -> None:
    found = upstream_docs(upstream, "security/authz-builder-multiple-policies-in.yaml")
    result = import_istio([*found, *docs(k8s_service("httpbin", "foo", 80))])
    assert result.spec is not None
    authz = result.spec.service("foo/httpbin").spec.authorization
    assert authz is not None
    values = sorted(
        h.exact or ""
        for r in authz.rules
        for h in (r.to.headers if r.to else ())
        if h.name == "x-abc"
    )
    assert values == ["abc1", "abc2"]
    compiled = api.compile(result.spec, "istio")
    assert "MS1011" not in [d.code for d in compiled.diagnostics]


def test_unknown_and_unkept_virtual_service_fields_are_reported() -> None:
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "hosts": ["web"],
            "exportTo": ["."],
            "http": [{"route": [{"destination": {"host": "web"}}], "surprise": 1}],
        },
    }
    result = import_istio(docs(vs, k8s_service("web", "default", 80)))
    by_code = {d.code: d for d in result.diagnostics}
    assert "exportTo" in by_code["MS1505"].message
    assert "surprise" in by_code["MS1522"].message


def test_default_retries_are_noted() -> None:
    result = import_istio(docs(k8s_service("web", "default", 80)))
    note = [d for d in result.diagnostics if d.code == "MS1523"]
    assert note and "unavailable" in note[0].message and "cancelled" in note[0].message


GAMMA = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "reviews", "namespace": "default"},
    "spec": {
        "parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
        "rules": [
            {
                "matches": [{"headers": [{"name": "end-user", "value": "jason"}]}],
                "backendRefs": [{"name": "reviews-v2", "port": 9080}],
            },
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                "backendRefs": [
                    {"name": "reviews-v1", "port": 9080, "weight": 90},
                    {"name": "reviews-v2", "port": 9080, "weight": 10},
                ],
                "timeouts": {"request": "3s"},
            },
        ],
    },
}


def test_gateway_api_mesh_routes_import() -> None:
    result = import_istio(docs(GAMMA))
    assert result.spec is not None
    spec = result.spec
    jason = decide(
        spec, Request("reviews", "/api/x", headers={"end-user": "jason"}, source="reviews-v1")
    )
    # Gateway API precedence: the path match outranks the header match.
    assert jason.weights() == {("default/reviews-v1", None): 90, ("default/reviews-v2", None): 10}
    assert jason.timeout == 3.0
    plain = decide(spec, Request("reviews", "/apix", source="reviews-v1"))
    assert plain.outcome == "no_route"  # PathPrefix is segment-aware
    assert {p.port for p in spec.service("default/reviews").spec.ports} == {9080}


# --- the round-trip property ----------------------------------------------------------

ROUND_TRIP_FIELDS = ["outcome", "status", "backends", "authz", "mtls", "transport"]
ROUND_TRIP_FIELDS += ["timeout", "retries", "headers"]


@given(text=spec_text(), requests=st.lists(request(), min_size=1, max_size=10))
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_compile_then_import_keeps_every_decision(text: str, requests: list[Request]) -> None:
    """Random specs: `compile --with-workloads` then import gives the original spec's
    decision for every request, authorization and mTLS included."""
    spec = load(text)
    compiled = api.compile(spec, "istio", workloads=True)
    assume(not any(d.severity is Severity.ERROR for d in compiled.diagnostics))
    result = import_istio(docs(*compiled.resources))
    assert not [d.render() for d in result.diagnostics if d.severity is Severity.ERROR]
    assert result.spec is not None
    for req in requests:
        before = comparable(Verdict.of(decide(spec, req)))
        after = comparable(Verdict.of(decide(result.spec, req)))
        assert before.differences(after, ROUND_TRIP_FIELDS) == {}, (req, result.documents)


@pytest.mark.parametrize("example", ["bookinfo", "canary", "zero-trust"])
def test_round_trip_recovers_route_and_rule_names(example: str) -> None:
    spec = api.load(str(REPO / "examples" / example / "mesh.yaml"))
    compiled = api.compile(spec, "istio", workloads=True)
    result = import_istio(docs(*compiled.resources))
    assert result.spec is not None
    for key, svc in spec.services.items():
        back = result.spec.service(key).spec
        # Istio's rules come in precedence order, so the routes may too: names compare.
        assert sorted(r.name for r in back.routes) == sorted(r.name for r in svc.spec.routes)
        if svc.spec.authorization is not None:
            assert back.authorization is not None
            names = sorted(r.name for r in back.authorization.rules)
            assert names == sorted(r.name for r in svc.spec.authorization.rules), key
            assert back.authorization.default == svc.spec.authorization.default, key


SCHEMA_KINDS = ("VirtualService", "DestinationRule", "PeerAuthentication", "AuthorizationPolicy")


def test_what_istio_crd_schemas_refuse_the_import_refuses(upstream: Path) -> None:
    """Every upstream object of an imported kind that Istio's real CRD schema rejects
    (enums, types, minProperties; CEL rules are the validator's own table) is refused
    by the import with an error at its file:line."""
    import jsonschema

    from tests.adapters.validator import crd_schemas

    schemas = crd_schemas("istio")
    checked = 0
    missed = []
    for path in sorted((upstream / "examples/istio").rglob("*.yaml")):
        for doc in read_native([str(path)])[0]:
            key = (str(doc.data.get("apiVersion")), doc.kind)
            if doc.kind not in SCHEMA_KINDS or key not in schemas:
                continue
            body = {k: v for k, v in doc.data.items() if k != "_err"}
            errors = list(jsonschema.Draft7Validator(schemas[key]).iter_errors(body))
            if not errors:
                continue
            checked += 1
            result = import_istio([NativeDocument(body, doc.origin)])
            refused = [d for d in result.diagnostics if d.code in ("MS1520", "MS1501")]
            if not refused:
                missed.append((path.name, doc.name, [e.message for e in errors]))
    assert not missed
    assert checked >= 3


def test_dropping_jwt_validation_is_an_authorization_loss(upstream: Path) -> None:
    result = import_istio(upstream_docs(upstream, "crd-validation/reqauth-valid.yaml"))
    lost = [d for d in result.diagnostics if d.code == "MS1513"]
    assert lost and lost[0].area == "authz" and "401" in lost[0].message
    assert "Bearer" in lost[0].message and lost[0].location is not None


def test_compile_with_workloads_then_import_on_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    example = str(REPO / "examples/bookinfo/mesh.yaml")
    plain = runner.invoke(cli, ["compile", "--target", "istio", example])
    assert plain.exit_code == 0 and "kind: Deployment" not in plain.stdout
    compiled = runner.invoke(cli, ["compile", "--target", "istio", "--with-workloads", example])
    assert compiled.exit_code == 0, compiled.output
    assert "serviceAccountName: bookinfo-productpage" in compiled.stdout
    (tmp_path / "istio.yaml").write_text(compiled.stdout)
    (tmp_path / "bare.yaml").write_text(plain.stdout)
    imported = runner.invoke(cli, ["import", "--from", "istio", str(tmp_path / "istio.yaml")])
    assert imported.exit_code == 0, imported.output
    assert "serviceAccount: bookinfo-reviews" in imported.stdout
    guessed = runner.invoke(cli, ["import", "--from", "istio", str(tmp_path / "bare.yaml")])
    assert guessed.exit_code == 1 and "MS1518" in guessed.output
