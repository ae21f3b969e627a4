"""Authorization order, mTLS overrides and path-normalisation attacks."""

from __future__ import annotations

from typing import Any

import pytest

from meshspec.semantics import Outcome, Request, Transport, decide
from meshspec.spec import MtlsMode
from tests.semantics._specs import build, mesh, service

ADMIN_DENY = {
    "default": "allow",
    "rules": [{"name": "no-admin", "action": "DENY", "to": {"paths": [{"prefix": "/admin"}]}}],
}


def _authz(
    authorization: dict[str, Any] | None,
    source: str | None = "client",
    target: str = "/",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    routes: list[dict[str, Any]] | None = None,
) -> tuple[str, str | None]:
    extra: dict[str, Any] = {"mtls": {"mode": "PERMISSIVE"}}
    if authorization is not None:
        extra["authorization"] = authorization
    if routes is not None:
        extra["routes"] = routes
    spec = build(service("client"), service("other", "ops"), service("svc", **extra))
    d = decide(spec, Request("svc", target, method, headers or {}, source=source))
    if d.status == 400:
        return "400", None
    if d.outcome is Outcome.NO_ROUTE:
        return "404", None
    assert d.authz is not None
    return str(d.authz.decision), d.authz.rule


ORDER = [
    ("no authorization block allows", None, "client", ("allow", None)),
    ("default deny", {"default": "deny"}, "client", ("deny", None)),
    ("default allow", {"default": "allow", "rules": []}, "client", ("allow", None)),
    (
        "deny beats an earlier allow",
        {
            "rules": [
                {"name": "a", "action": "ALLOW", "from": [{"services": ["client"]}]},
                {"name": "d", "action": "DENY", "from": [{"services": ["client"]}]},
            ]
        },
        "client",
        ("deny", "d"),
    ),
    (
        "first matching allow names the rule",
        {
            "default": "deny",
            "rules": [
                {"name": "a1", "action": "ALLOW", "from": [{"namespaces": ["default"]}]},
                {"name": "a2", "action": "ALLOW", "from": [{"authenticated": True}]},
            ],
        },
        "client",
        ("allow", "a1"),
    ),
    (
        "allow not matching falls to default",
        {
            "default": "deny",
            "rules": [{"name": "a", "action": "ALLOW", "from": [{"services": ["ops/other"]}]}],
        },
        "client",
        ("deny", None),
    ),
    (
        "identity source",
        {
            "default": "deny",
            "rules": [
                {
                    "name": "a",
                    "action": "ALLOW",
                    "from": [{"identities": ["spiffe://cluster.local/ns/default/sa/client"]}],
                }
            ],
        },
        "client",
        ("allow", "a"),
    ),
    (
        "plaintext peer is unauthenticated",
        {
            "default": "deny",
            "rules": [
                {"name": "a", "action": "ALLOW", "from": [{"authenticated": True}]},
                {"name": "u", "action": "ALLOW", "from": [{"unauthenticated": True}]},
            ],
        },
        None,
        ("allow", "u"),
    ),
    (
        "identity rules never match plaintext",
        {
            "default": "deny",
            "rules": [{"name": "a", "action": "ALLOW", "from": [{"namespaces": ["default"]}]}],
        },
        None,
        ("deny", None),
    ),
]


@pytest.mark.parametrize(
    ("name", "authorization", "source", "expected"), ORDER, ids=[o[0] for o in ORDER]
)
def test_authorization_order(
    name: str,
    authorization: dict[str, Any] | None,
    source: str | None,
    expected: tuple[str, str | None],
) -> None:
    assert _authz(authorization, source) == expected


def test_methods_paths_and_headers_of_a_rule() -> None:
    rules = {
        "default": "deny",
        "rules": [
            {
                "name": "r",
                "action": "ALLOW",
                "to": {
                    "methods": ["GET", "HEAD"],
                    "paths": [{"exact": "/a"}, {"prefix": "/b"}],
                    "headers": [{"name": "X-Team", "exact": "core"}],
                },
            }
        ],
    }
    ok = {"x-team": "core"}
    assert _authz(rules, target="/a", headers=ok) == ("allow", "r")
    assert _authz(rules, target="/b/c", method="HEAD", headers=ok) == ("allow", "r")
    assert _authz(rules, target="/a", method="POST", headers=ok) == ("deny", None)
    assert _authz(rules, target="/c", headers=ok) == ("deny", None)
    assert _authz(rules, target="/a", headers={"x-team": "edge"}) == ("deny", None)


# Attacks on a DENY of /admin (CVE-2021-31920, CVE-2021-39156 and friends): each is
# either normalised onto /admin (and denied) or rejected (400); none gets through.
ATTACKS = [
    ("//admin", "deny"),
    ("/admin%2F", "400"),
    ("/admin%2fx", "400"),
    ("/public/../admin", "deny"),
    ("/admin#x", "400"),
    ("/public/%2e%2e/admin", "deny"),
    ("/%2e%2e/admin", "deny"),
    ("/admin%00", "400"),
    ("\\admin", "400"),
    ("/public\\..\\admin", "deny"),
    ("/./admin/./x", "deny"),
    ("/adm%69n", "deny"),
    ("/admin%5C", "400"),
    ("/%zz", "400"),
    ("/administrator", "allow"),
    ("/public/admin", "allow"),
]


@pytest.mark.parametrize(("target", "expected"), ATTACKS)
def test_path_attacks_on_authorization(target: str, expected: str) -> None:
    assert _authz(ADMIN_DENY, target=target)[0] == expected


@pytest.mark.parametrize(("target", "expected"), ATTACKS)
def test_path_attacks_on_routing(target: str, expected: str) -> None:
    routes = [{"name": "admin", "matches": [{"path": {"prefix": "/admin"}}]}]
    got = _authz(None, target=target, routes=routes)[0]
    assert got == {"deny": "allow", "allow": "404", "400": "400"}[expected]


@pytest.mark.parametrize(
    "host",
    [
        "Svc",
        "SVC.default",
        "svc.Default.svc.cluster.local.",
        "svc.default.svc.cluster.local:80",
        "svc.default.svc.",
    ],
)
def test_hosts_compare_case_insensitively_without_trailing_dot(host: str) -> None:
    spec = build(service("client"), service("svc"))
    assert decide(spec, Request(host, "/", source="client")).destination == "default/svc"


MTLS = [
    # mesh mode, service mode, port override, in-mesh client?, (mode, transport)
    ("STRICT", None, None, True, ("STRICT", "mtls")),
    ("STRICT", None, None, False, ("STRICT", "refused")),
    ("PERMISSIVE", None, None, True, ("PERMISSIVE", "mtls")),
    ("PERMISSIVE", None, None, False, ("PERMISSIVE", "plaintext")),
    ("STRICT", "DISABLE", None, True, ("DISABLE", "plaintext")),
    ("STRICT", "PERMISSIVE", None, False, ("PERMISSIVE", "plaintext")),
    ("PERMISSIVE", "STRICT", None, False, ("STRICT", "refused")),
    ("PERMISSIVE", "PERMISSIVE", "STRICT", False, ("STRICT", "refused")),
    ("STRICT", "STRICT", "PERMISSIVE", False, ("PERMISSIVE", "plaintext")),
    ("STRICT", None, "DISABLE", True, ("DISABLE", "plaintext")),
    (None, None, None, False, ("STRICT", "refused")),
]


@pytest.mark.parametrize(("mesh_mode", "svc_mode", "port_mode", "in_mesh", "expected"), MTLS)
def test_mtls_effective_mode(
    mesh_mode: str | None,
    svc_mode: str | None,
    port_mode: str | None,
    in_mesh: bool,
    expected: tuple[str, str],
) -> None:
    mtls: dict[str, Any] = {}
    if svc_mode:
        mtls["mode"] = svc_mode
    if port_mode:
        mtls["ports"] = {8080: port_mode}
    svc = service("svc", ports=[{"port": 8080}, {"port": 9090}], mtls=mtls)
    spec = build(service("client"), svc, mesh_doc=mesh(mesh_mode) if mesh_mode else None)
    d = decide(spec, Request("svc", "/", port=8080, source="client" if in_mesh else None))
    (b,) = d.backends
    assert (str(b.mtls), str(b.transport)) == expected
    assert (d.outcome is Outcome.MTLS_REFUSED) == (expected[1] == "refused")
    other = decide(spec, Request("svc", "/", port=9090, source="client" if in_mesh else None))
    assert other.backends[0].mtls == MtlsMode(svc_mode or mesh_mode or "STRICT")


def test_out_of_mesh_client_bypasses_client_side_routing() -> None:
    routes = [
        {
            "name": "only-api",
            "matches": [{"path": {"prefix": "/api"}}],
            "timeout": "2s",
            "retries": {"attempts": 3},
            "backends": [{"version": "v2"}],
        }
    ]
    svc = service("svc", versions=[{"name": "v2"}], routes=routes, mtls={"mode": "PERMISSIVE"})
    spec = build(service("client"), svc)
    outside = decide(spec, Request("svc", "/elsewhere", source=None))
    assert outside.outcome is Outcome.FORWARDED
    assert outside.route is None and outside.timeout is None and outside.retries.attempts == 0
    assert outside.backends[0].transport is Transport.PLAINTEXT
    inside = decide(spec, Request("svc", "/elsewhere", source="client"))
    assert inside.status == 404
