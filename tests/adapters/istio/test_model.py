"""The Istio model against Istio's documented behaviour, one table per area."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.istio.model import IstioModel
from meshspec.adapter import Topology, Workload
from meshspec.semantics import Request, RetryPolicy, Transport
from meshspec.spec import MtlsMode, RetryOn

TOPOLOGY = Topology(
    "cluster.local",
    {
        "default/reviews": Workload(
            "default/reviews",
            "default",
            "reviews",
            "reviews",
            ((9080, "http"),),
            {"v1": {"version": "v1"}, "v2": {"version": "v2"}},
        ),
        "default/ratings": Workload(
            "default/ratings", "default", "ratings", "ratings", ((9080, "http"), (3306, "tcp")), {}
        ),
        "default/sleep": Workload(
            "default/sleep", "default", "sleep", "sleep", ((80, "http"),), {}
        ),
        "other/curl": Workload("other/curl", "other", "curl", "curl-sa", ((80, "http"),), {}),
    },
)


def vs(*rules: dict[str, Any], host: str = "reviews") -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "vs", "namespace": "default"},
        "spec": {"hosts": [host], "http": list(rules)},
    }


def rule(name: str, subset: str, *matches: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "route": [{"destination": {"host": "reviews", "subset": subset}}],
    }
    if matches:
        out["match"] = list(matches)
    out.update(extra)
    return out


DR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "reviews", "namespace": "default"},
    "spec": {
        "host": "reviews",
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "v2", "labels": {"version": "v2"}},
        ],
    },
}


def ask(resources: list[dict[str, Any]], target: str = "/", **kw: Any) -> Any:
    kw.setdefault("source", "sleep")
    return IstioModel(resources, TOPOLOGY).decide(Request("reviews", target, **kw))


ROUTING = [
    # (rules, target, method, headers, expected route or None for 404)
    (
        [
            rule("root", "v1", {"uri": {"prefix": "/"}}),
            rule("api", "v2", {"uri": {"prefix": "/api"}}),
        ],
        "/api/x",
        "GET",
        {},
        "root",
    ),
    (
        [
            rule("a", "v1", {"uri": {"prefix": "/usrv"}}),
            rule("b", "v2", {"uri": {"prefix": "/usrv-expand"}}),
        ],
        "/usrv-expand/1",
        "GET",
        {},
        "a",
    ),
    ([rule("api", "v1", {"uri": {"prefix": "/api"}})], "/apix", "GET", {}, "api"),
    ([rule("api", "v1", {"uri": {"prefix": "/api"}})], "/other", "GET", {}, None),
    ([rule("e", "v1", {"uri": {"exact": "/foo"}})], "/foo/", "GET", {}, None),
    ([rule("r", "v1", {"uri": {"regex": "/[a-z]+"}})], "/abc/d", "GET", {}, None),
    ([rule("r", "v1", {"uri": {"regex": "/[a-z]+"}})], "/abc", "GET", {}, "r"),
    (
        [
            rule("h", "v1", {"headers": {"x-a": {"exact": "1"}}}),
            rule("m", "v2", {"method": {"exact": "GET"}}),
        ],
        "/",
        "GET",
        {"X-A": "1"},
        "h",
    ),
    ([rule("p", "v1", {"headers": {"x-a": {}}})], "/", "GET", {"x-a": ""}, "p"),
    ([rule("p", "v1", {"headers": {"x-a": {}}})], "/", "GET", {}, None),
    ([rule("w", "v1", {"withoutHeaders": {"x-a": {}}})], "/", "GET", {"x-a": "1"}, None),
    ([rule("q", "v1", {"queryParams": {"a": {"exact": "1"}}})], "/?a=1&a=2", "GET", {}, "q"),
    ([rule("q", "v1", {"queryParams": {"a": {"exact": "2"}}})], "/?a=1&a=2", "GET", {}, None),
    ([rule("i", "v1", {"uri": {"prefix": "/API"}, "ignoreUriCase": True})], "/api", "GET", {}, "i"),
    (
        [rule("and", "v1", {"uri": {"prefix": "/a"}, "method": {"exact": "POST"}})],
        "/a",
        "GET",
        {},
        None,
    ),
    (
        [rule("or", "v1", {"uri": {"prefix": "/b"}}, {"method": {"exact": "GET"}})],
        "/a",
        "GET",
        {},
        "or",
    ),
    ([rule("all", "v1"), rule("never", "v2", {"uri": {"prefix": "/"}})], "/x", "GET", {}, "all"),
]


@pytest.mark.parametrize(("rules", "target", "method", "headers", "expected"), ROUTING)
def test_first_matching_rule_wins(
    rules: list[dict[str, Any]],
    target: str,
    method: str,
    headers: dict[str, str],
    expected: str | None,
) -> None:
    verdict = ask([vs(*rules), DR], target, method=method, headers=headers)
    if expected is None:
        assert (verdict.outcome, verdict.status) == ("no_route", 404)
    else:
        assert verdict.outcome == "forwarded"
        assert verdict.route == expected


def test_no_virtual_service_means_all_endpoints_with_default_retries_and_no_timeout() -> None:
    verdict = ask([])
    assert verdict.backends == {("default/reviews", None): 1.0}
    assert verdict.timeout is None
    assert verdict.retries == RetryPolicy(
        2, None, (RetryOn.CONNECT_FAILURE, RetryOn.REFUSED_STREAM)
    )
    assert (verdict.mtls, verdict.transport) == (MtlsMode.PERMISSIVE, Transport.MTLS)


def test_weights_are_relative_and_zero_gets_nothing() -> None:
    split = {
        "name": "split",
        "route": [
            {"destination": {"host": "reviews", "subset": "v1"}, "weight": 1},
            {"destination": {"host": "reviews", "subset": "v2"}, "weight": 3},
            {"destination": {"host": "ratings"}, "weight": 0},
        ],
    }
    verdict = ask([vs(split), DR])
    assert verdict.backends == {("default/reviews", "v1"): 0.25, ("default/reviews", "v2"): 0.75}


def test_undefined_subset_is_503() -> None:
    assert ask([vs(rule("r", "v3"))]).status == 503


def test_subset_selecting_no_pod_is_503_and_labels_pick_the_version() -> None:
    odd = {
        **DR,
        "spec": {
            "host": "reviews",
            "subsets": [
                {"name": "none", "labels": {"version": "v9"}},
                {"name": "blue", "labels": {"version": "v2"}},
            ],
        },
    }
    assert ask([vs(rule("r", "none")), odd]).status == 503
    strict_v2 = peer_auth("default", "STRICT", {"app": "reviews", "version": "v2"})
    verdict = ask([vs(rule("r", "blue")), odd, strict_v2])
    assert (verdict.mtls, verdict.backends) == (MtlsMode.STRICT, {("default/reviews", "blue"): 1.0})
    assert ask([vs(rule("r", "v1")), DR, strict_v2]).mtls is MtlsMode.PERMISSIVE


RETRIES = [
    (None, RetryPolicy(2, None, (RetryOn.CONNECT_FAILURE, RetryOn.REFUSED_STREAM))),
    ({"attempts": 0}, RetryPolicy()),
    (
        {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,reset,503"},
        RetryPolicy(3, 2.0, (RetryOn.SERVER_ERROR, RetryOn.RESET), (503,)),
    ),
    ({"attempts": 1}, RetryPolicy(1, None, (RetryOn.CONNECT_FAILURE, RetryOn.REFUSED_STREAM))),
]


@pytest.mark.parametrize(("retries", "expected"), RETRIES)
def test_retries(retries: dict[str, Any] | None, expected: RetryPolicy) -> None:
    extra = {} if retries is None else {"retries": retries}
    verdict = ask([vs(rule("r", "v1", **extra)), DR])
    assert verdict.retries == expected


@pytest.mark.parametrize(("timeout", "expected"), [(None, None), ("0s", None), ("1.5s", 1.5)])
def test_timeout_defaults_to_none(timeout: str | None, expected: float | None) -> None:
    extra = {} if timeout is None else {"timeout": timeout}
    assert ask([vs(rule("r", "v1", **extra)), DR]).timeout == expected


PATHS = [
    # target, mode, path the rule sees (None = 400)
    ("/a/../admin", "BASE", "/admin"),
    ("/a//admin", "BASE", "/a//admin"),
    ("/a//admin", "MERGE_SLASHES", "/a/admin"),
    ("/a%2Fadmin", "BASE", "/a%2Fadmin"),
    ("/a%2Fadmin", "DECODE_AND_MERGE_SLASHES", "/a/admin"),
    ("/a\\admin", "BASE", "/a/admin"),
    ("/%61dmin", "BASE", "/admin"),
    ("/admin#frag", "BASE", "/admin"),
    ("/a/%2e%2e/admin", "BASE", "/admin"),
    ("/a/%2e%2e/admin", "NONE", "/a/%2e%2e/admin"),
    ("/a%00", "BASE", None),
    ("/a//../b", "MERGE_SLASHES", "/a/b"),
]


@pytest.mark.parametrize(("target", "mode", "seen"), PATHS)
def test_path_normalization(target: str, mode: str, seen: str | None) -> None:
    resources = [vs(rule("r", "v1", {"uri": {"exact": seen or "/"}})), DR]
    verdict = IstioModel(resources, TOPOLOGY, path_normalization=mode).decide(
        Request("reviews", target, source="sleep")
    )
    if seen is None:
        assert verdict.status == 400
    else:
        assert verdict.route == "r"


def peer_auth(
    ns: str,
    mode: str | None,
    selector: dict[str, str] | None = None,
    ports: dict[int, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in ports.items()}
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": f"pa-{ns}", "namespace": ns},
        "spec": spec,
    }


MTLS = [
    ([], None, "sleep", MtlsMode.PERMISSIVE, Transport.MTLS),
    ([], None, None, MtlsMode.PERMISSIVE, Transport.PLAINTEXT),
    ([peer_auth("istio-system", "STRICT")], None, None, MtlsMode.STRICT, Transport.REFUSED),
    (
        [peer_auth("istio-system", "STRICT"), peer_auth("default", "DISABLE")],
        None,
        "sleep",
        MtlsMode.DISABLE,
        Transport.PLAINTEXT,
    ),
    (
        [
            peer_auth("istio-system", "STRICT"),
            peer_auth("default", "PERMISSIVE", {"app": "reviews"}),
        ],
        None,
        None,
        MtlsMode.PERMISSIVE,
        Transport.PLAINTEXT,
    ),
    (
        [
            peer_auth("default", "STRICT"),
            peer_auth("default", None, {"app": "reviews"}, {9080: "DISABLE"}),
        ],
        None,
        "sleep",
        MtlsMode.DISABLE,
        Transport.PLAINTEXT,
    ),
    (
        [peer_auth("default", "STRICT"), peer_auth("istio-system", "DISABLE", {"app": "reviews"})],
        None,
        "sleep",
        MtlsMode.STRICT,
        Transport.MTLS,
    ),
    ([peer_auth("default", "STRICT")], "DISABLE", "sleep", MtlsMode.STRICT, Transport.REFUSED),
    (
        [peer_auth("default", "PERMISSIVE")],
        "DISABLE",
        "sleep",
        MtlsMode.PERMISSIVE,
        Transport.PLAINTEXT,
    ),
]


@pytest.mark.parametrize(("policies", "dr_tls", "source", "mode", "transport"), MTLS)
def test_mtls(
    policies: list[dict[str, Any]],
    dr_tls: str | None,
    source: str | None,
    mode: MtlsMode,
    transport: Transport,
) -> None:
    resources = list(policies)
    if dr_tls:
        resources.append(
            {**DR, "spec": {"host": "reviews", "trafficPolicy": {"tls": {"mode": dr_tls}}}}
        )
    verdict = ask(resources, source=source)
    assert (verdict.mtls, verdict.transport) == (mode, transport)
    assert verdict.outcome == ("mtls_refused" if transport is Transport.REFUSED else "forwarded")


def test_out_of_mesh_client_skips_routing() -> None:
    verdict = ask([vs(rule("r", "v1", {"uri": {"exact": "/x"}})), DR], "/other", source=None)
    assert verdict.outcome == "forwarded"
    assert verdict.backends == {("default/reviews", None): 1.0}
    assert (verdict.route, verdict.timeout, verdict.retries) == (None, None, RetryPolicy())


def authz(
    name: str,
    action: str | None,
    rules: list[dict[str, Any]] | None,
    ns: str = "default",
    selector: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if action:
        spec["action"] = action
    if rules is not None:
        spec["rules"] = rules
    if selector:
        spec["selector"] = {"matchLabels": selector}
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


SLEEP = "cluster.local/ns/default/sa/sleep"
AUTHZ = [
    ([], {}, "allow"),
    ([authz("none", "ALLOW", None)], {}, "deny"),
    ([authz("all", "ALLOW", [{}])], {}, "allow"),
    ([authz("all", "ALLOW", [{}]), authz("d", "DENY", [{}])], {}, "deny"),
    ([authz("p", "ALLOW", [{"from": [{"source": {"principals": [SLEEP]}}]}])], {}, "allow"),
    (
        [authz("p", "ALLOW", [{"from": [{"source": {"principals": [SLEEP]}}]}])],
        {"source": "curl"},
        "deny",
    ),
    (
        [authz("p", "ALLOW", [{"from": [{"source": {"principals": ["*"]}}]}])],
        {"source": None},
        "deny",
    ),
    (
        [authz("n", "ALLOW", [{"from": [{"source": {"namespaces": ["other"]}}]}])],
        {"source": "curl"},
        "allow",
    ),
    (
        [authz("nn", "DENY", [{"from": [{"source": {"notNamespaces": ["default"]}}]}])],
        {"source": "curl"},
        "deny",
    ),
    (
        [authz("sa", "ALLOW", [{"from": [{"source": {"serviceAccounts": ["other/curl-sa"]}}]}])],
        {"source": "curl"},
        "allow",
    ),
    (
        [authz("m", "ALLOW", [{"to": [{"operation": {"methods": ["GET"], "paths": ["/api*"]}}]}])],
        {"target": "/apix"},
        "allow",
    ),
    (
        [authz("m", "ALLOW", [{"to": [{"operation": {"methods": ["GET"], "paths": ["/api*"]}}]}])],
        {"target": "/x", "method": "GET"},
        "deny",
    ),
    (
        [authz("s", "DENY", [{"to": [{"operation": {"paths": ["*.php"]}}]}])],
        {"target": "/a.php"},
        "deny",
    ),
    (
        [authz("t", "ALLOW", [{"to": [{"operation": {"paths": ["/u/{*}/x"]}}]}])],
        {"target": "/u/1/x"},
        "allow",
    ),
    (
        [authz("t", "ALLOW", [{"to": [{"operation": {"paths": ["/u/{*}/x"]}}]}])],
        {"target": "/u/1/2/x"},
        "deny",
    ),
    (
        [authz("np", "DENY", [{"to": [{"operation": {"notPaths": ["/public*"]}}]}])],
        {"target": "/public/a"},
        "allow",
    ),
    (
        [authz("w", "ALLOW", [{"when": [{"key": "request.headers[X-Token]", "values": ["a*"]}]}])],
        {"headers": {"x-token": "abc"}},
        "allow",
    ),
    (
        [authz("w", "ALLOW", [{"when": [{"key": "request.headers[X-Token]", "values": ["a*"]}]}])],
        {},
        "deny",
    ),
    ([authz("root", "DENY", [{}], ns="istio-system")], {}, "deny"),
    ([authz("other-ns", "DENY", [{}], ns="other")], {}, "allow"),
    ([authz("sel", "DENY", [{}], selector={"app": "ratings"})], {}, "allow"),
    ([authz("c", "CUSTOM", [{}])], {}, "allow"),
    ([authz("a", "AUDIT", [{}])], {}, "allow"),
    (
        [authz("double", "DENY", [{"to": [{"operation": {"paths": ["/admin"]}}]}])],
        {"target": "//admin"},
        "allow",
    ),
]


@pytest.mark.parametrize(("policies", "request_fields", "decision"), AUTHZ)
def test_authorization(
    policies: list[dict[str, Any]], request_fields: dict[str, Any], decision: str
) -> None:
    verdict = ask(policies, **request_fields)
    assert verdict.authz == decision
    assert verdict.outcome == ("forwarded" if decision == "allow" else "denied")


def test_deny_names_the_deciding_policy() -> None:
    verdict = ask([authz("all", "ALLOW", [{}]), authz("d", "DENY", [{}])])
    assert verdict.authz_rule == "default/d"


def test_unknown_port_and_tcp() -> None:
    model = IstioModel([], TOPOLOGY)
    assert model.decide(Request("ratings", port=1, source="sleep")).outcome == "unknown_port"
    assert model.decide(Request("ratings", port=3306, source="sleep")).outcome == "not_http"
