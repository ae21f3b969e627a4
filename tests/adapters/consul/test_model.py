"""The Consul model over hand-written config entries: each behaviour as Consul's docs and
source describe it (cited in adapters/consul/_model_*.py), independent of the compiler."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.consul.model import ConsulModel, as_entries
from meshspec.adapter import Topology, Workload
from meshspec.semantics import Outcome, Request, RetryPolicy, Transport
from meshspec.spec import MtlsMode, OutlierDetection, RetryOn


def _topology() -> Topology:
    def w(name: str, versions: dict[str, dict[str, str]] | None = None) -> Workload:
        return Workload(
            key=f"default/{name}",
            namespace="default",
            name=name,
            service_account=name,
            ports=((80, "http"),),
            versions=versions or {},
        )

    v12 = {"v1": {"version": "v1"}, "v2": {"version": "v2"}}
    return Topology(
        "cluster.local",
        {
            "default/web": w("web"),
            "default/api": w("api", v12),
            "default/other": w("other"),
            "default/db": w("db"),
        },
    )


HTTP = [
    {"Kind": "service-defaults", "Name": n, "Protocol": "http"} for n in ("web", "api", "other")
]
RESOLVER = {
    "Kind": "service-resolver",
    "Name": "api",
    "Subsets": {
        "v1": {"Filter": 'Service.Meta.version == "v1"'},
        "v2": {"Filter": "Service.Meta.version == v2"},
    },
}


def _model(*entries: dict[str, Any], **options: bool) -> ConsulModel:
    return ConsulModel(as_entries([*HTTP, RESOLVER, *entries]), _topology(), **options)


def _ask(model: ConsulModel, target: str = "/", **kw: Any) -> Any:
    kw.setdefault("source", "web")
    return model.decide(Request(destination="api", target=target, **kw))


def _router(*routes: dict[str, Any]) -> dict[str, Any]:
    return {"Kind": "service-router", "Name": "api", "Routes": list(routes)}


def test_router_takes_the_first_match_and_prefixes_are_plain_strings() -> None:
    # semantics.md section 7, case B: `/usrv` is tried first and matches `/usrv-expand/1`
    model = _model(
        _router(
            {"Match": {"HTTP": {"PathPrefix": "/usrv"}}, "Destination": {"ServiceSubset": "v1"}},
            {
                "Match": {"HTTP": {"PathPrefix": "/usrv-expand"}},
                "Destination": {"ServiceSubset": "v2"},
            },
        )
    )
    got = _ask(model, "/usrv-expand/1")
    assert got.route == "api#0"
    assert dict(got.backends) == {("default/api", "v1"): 1.0}


def test_a_request_no_route_matches_falls_through_to_the_service() -> None:
    model = _model(
        _router({"Match": {"HTTP": {"PathExact": "/v2"}}, "Destination": {"ServiceSubset": "v2"}})
    )
    got = _ask(model, "/other")
    assert got.outcome is Outcome.FORWARDED and got.route is None
    assert dict(got.backends) == {("default/api", None): 1.0}
    assert got.timeout == 15.0 and got.retries == RetryPolicy()


@pytest.mark.parametrize(
    ("destination", "timeout", "retries"),
    [
        ({}, 15.0, RetryPolicy()),
        ({"RequestTimeout": "0s"}, 15.0, RetryPolicy()),
        ({"RequestTimeout": "-1s"}, None, RetryPolicy()),
        ({"RequestTimeout": "2500ms"}, 2.5, RetryPolicy()),
        ({"RetryOn": ["5xx"]}, 15.0, RetryPolicy(1, None, (RetryOn.SERVER_ERROR,))),
        (
            {"RetryOnConnectFailure": True, "NumRetries": 3, "RetryOn": ["reset"]},
            15.0,
            RetryPolicy(3, None, (RetryOn.CONNECT_FAILURE, RetryOn.RESET)),
        ),
        ({"RetryOnStatusCodes": [503]}, 15.0, RetryPolicy(1, None, (), (503,))),
    ],
)
def test_timeouts_and_retries(
    destination: dict[str, Any], timeout: float | None, retries: RetryPolicy
) -> None:
    model = _model(_router({"Destination": destination}))
    got = _ask(model)
    assert (got.timeout, got.retries) == (timeout, retries)


def test_a_splitter_shares_the_traffic_and_a_resolver_default_subset_applies() -> None:
    resolver = {**RESOLVER, "DefaultSubset": "v2"}
    splitter = {
        "Kind": "service-splitter",
        "Name": "api",
        "Splits": [{"Weight": 75, "ServiceSubset": "v1"}, {"Weight": 25}],
    }
    model = ConsulModel(as_entries([*HTTP, resolver, splitter]), _topology())
    got = _ask(model)
    assert dict(got.backends) == {("default/api", "v1"): 0.75, ("default/api", "v2"): 0.25}
    assert got.route is None and got.timeout == 15.0


def test_a_resolver_timeout_applies_only_as_the_first_node() -> None:
    resolver = {**RESOLVER, "RequestTimeout": "3s"}
    assert _ask(ConsulModel(as_entries([*HTTP, resolver]), _topology())).timeout == 3.0
    routed = ConsulModel(as_entries([*HTTP, resolver, _router()]), _topology())
    assert _ask(routed).timeout == 15.0


def test_a_redirect_sends_the_traffic_to_another_service() -> None:
    redirect = {"Kind": "service-resolver", "Name": "api", "Redirect": {"Service": "other"}}
    model = ConsulModel(as_entries([*HTTP, redirect]), _topology())
    assert dict(_ask(model).backends) == {("default/other", None): 1.0}


def test_an_unknown_subset_is_unavailable() -> None:
    model = _model(_router({"Destination": {"ServiceSubset": "v9"}}))
    assert _ask(model).outcome is Outcome.UNAVAILABLE


def _intentions(*sources: dict[str, Any], name: str = "api") -> dict[str, Any]:
    return {"Kind": "service-intentions", "Name": name, "Sources": list(sources)}


def test_the_exact_source_decides_before_the_wildcard() -> None:
    model = _model(_intentions({"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}))
    assert _ask(model).outcome is Outcome.FORWARDED
    assert _ask(model).authz_rule == "api/web"
    denied = _ask(model, source="other")
    assert (denied.outcome, denied.status, denied.authz_rule) == (Outcome.DENIED, 403, "api/*")


def test_permissions_take_the_first_match_and_then_the_acl_default() -> None:
    allow_then_deny = [
        {"Action": "allow", "HTTP": {"PathPrefix": "/public"}},
        {"Action": "deny", "HTTP": {"PathPrefix": "/"}},
    ]
    model = _model(
        _intentions(
            {"Name": "web", "Permissions": allow_then_deny[:1]},
            {"Name": "*", "Action": "deny"},
        )
    )
    assert _ask(model, "/public/x").authz_rule == "api/web#0"
    # no permission of web's matches: acl.default_policy (allow), not the `*` source
    fell = _ask(model, "/private")
    assert (fell.authz, fell.authz_rule) == ("allow", None)
    strict = _model(
        _intentions({"Name": "web", "Permissions": allow_then_deny[:1]}), default_allow=False
    )
    assert _ask(strict, "/private").outcome is Outcome.DENIED


def test_a_wildcard_destination_decides_when_the_service_has_no_intentions() -> None:
    model = _model(_intentions({"Name": "web", "Action": "deny"}, name="*"))
    assert _ask(model).authz_rule == "*/web"
    assert _ask(model).outcome is Outcome.DENIED


def test_a_header_condition_holds_when_any_line_of_a_repeated_header_matches() -> None:
    perms = [
        {"Action": "allow", "HTTP": {"Header": [{"Name": "x-role", "Exact": "admin"}]}},
        {"Action": "deny", "HTTP": {"PathPrefix": "/"}},
    ]
    model = _model(_intentions({"Name": "web", "Permissions": perms}))
    assert _ask(model, headers={"x-role": ["guest", " admin "]}).authz == "allow"
    assert _ask(model, headers={"x-role": "guest,admin"}).authz == "deny"


def test_the_caller_routes_on_the_path_as_sent() -> None:
    # no normalisation on outbound listeners: `//a/b` and `/x/../a/b` are not `/a/b` there
    route = {"Match": {"HTTP": {"PathExact": "/a/b"}}, "Destination": {"ServiceSubset": "v2"}}
    model = _model(_router(route), MESH)
    assert _ask(model, "/a/b").route == "api#0"
    assert _ask(model, "//a/b").route is None
    assert _ask(model, "/x/../a/b").route is None
    assert _ask(model, "/a/b#frag").status == 400


MESH = {
    "Kind": "mesh",
    "HTTP": {
        "Incoming": {
            "RequestNormalization": {
                "MergeSlashes": True,
                "PathWithEscapedSlashesAction": "REJECT_REQUEST",
            }
        }
    },
}
DENY_ADMIN = _intentions(
    {
        "Name": "web",
        "Permissions": [{"Action": "deny", "HTTP": {"PathExact": "/admin"}}],
    }
)


@pytest.mark.parametrize(
    ("target", "with_mesh", "without_mesh"),
    [
        ("/admin", "denied", "denied"),
        ("//admin", "denied", "forwarded"),
        ("/public/../admin", "denied", "denied"),
        ("/%61dmin", "denied", "denied"),
        ("/public\\..\\admin", "denied", "denied"),
        ("/admin%2F", "bad_request", "forwarded"),
        ("/admin%zz", "forwarded", "forwarded"),
    ],
)
def test_intentions_see_the_path_the_destination_normalised(
    target: str, with_mesh: str, without_mesh: str
) -> None:
    assert str(_ask(_model(DENY_ADMIN, MESH), target).outcome) == with_mesh
    assert str(_ask(_model(DENY_ADMIN), target).outcome) == without_mesh


def test_passive_health_checks_are_keyed_by_the_caller_and_on_by_default() -> None:
    envoy_default = _ask(_model()).breakers[("default/api", None)]
    assert envoy_default.outlier_detection == OutlierDetection()
    off = {
        "Kind": "service-defaults",
        "Name": "web",
        "Protocol": "http",
        "UpstreamConfig": {
            "Defaults": {"PassiveHealthCheck": {"EnforcingConsecutive5xx": 0}},
            "Overrides": [
                {
                    "Name": "api",
                    "PassiveHealthCheck": {"MaxFailures": 2, "Interval": "1s"},
                    "Limits": {"MaxConnections": 7},
                }
            ],
        },
    }
    model = ConsulModel(as_entries([off, *HTTP[1:], RESOLVER]), _topology())
    got = _ask(model).breakers[("default/api", None)]
    assert got.outlier_detection is not None
    assert (got.outlier_detection.consecutive_5xx_errors, got.outlier_detection.interval) == (
        2,
        1.0,
    )
    assert got.connection_limits is not None and got.connection_limits.max_connections == 7
    # another caller keeps Envoy's defaults; web's Defaults turn it off for other upstreams
    assert _ask(model, source="other").breakers[("default/api", None)].outlier_detection
    to_other = model.decide(Request(destination="other", source="web"))
    assert to_other.breakers[("default/other", None)].outlier_detection is None


def test_clients_outside_the_mesh() -> None:
    strict = _model()
    got = _ask(strict, source=None)
    assert (got.outcome, got.transport) == (Outcome.MTLS_REFUSED, Transport.REFUSED)
    permissive = [
        {"Kind": "mesh", "AllowEnablingPermissiveMutualTLS": True},
        {
            "Kind": "service-defaults",
            "Name": "api",
            "Protocol": "http",
            "MutualTLSMode": "permissive",
        },
        _intentions({"Name": "*", "Action": "deny"}),
    ]
    # without transparent proxy Consul stays strict
    assert _ask(_model(*permissive), source=None).outcome is Outcome.MTLS_REFUSED
    tproxy = _ask(_model(*permissive, transparent_proxy=True), source=None)
    assert (tproxy.outcome, tproxy.mtls, tproxy.transport) == (
        Outcome.FORWARDED,
        MtlsMode.PERMISSIVE,
        Transport.PLAINTEXT,
    )


def test_a_tcp_service_is_not_routed() -> None:
    assert _ask(_model(), source="web").outcome is Outcome.FORWARDED
    db = ConsulModel(as_entries(HTTP), _topology()).decide(Request(destination="db", source="web"))
    assert db.outcome is Outcome.NOT_HTTP
