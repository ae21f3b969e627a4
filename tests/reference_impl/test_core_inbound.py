"""The inbound core: mTLS mode, path normalisation and authorization before the app."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshspec.semantics import Outcome, Request, decide
from meshspec.semantics.headers import field_lines_values
from reference_impl.core import ForwardToApp, InboundCore, InboundRequest, Reject
from tests.reference_impl.conftest import build_snapshot, spiffe

SPEC = """
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: m}
spec: {trustDomain: test.local}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: ns}
spec: {}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: batch, namespace: ns}
spec: {}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: ns}
spec:
  ports: [{port: 80}, {port: 8080}, {port: 9090}]
  mtls: {mode: STRICT, ports: {8080: PERMISSIVE, 9090: DISABLE}}
  authorization:
    default: deny
    rules:
      - name: no-admin
        action: DENY
        to: {paths: [{prefix: /admin}]}
      - name: web-reads
        action: ALLOW
        from: [{services: [web]}]
        to: {methods: [GET]}
      - name: public
        action: ALLOW
        from: [{unauthenticated: true}]
        to: {paths: [{prefix: /public}]}
"""

WEB = spiffe("ns", "web")
BATCH = spiffe("ns", "batch")


@pytest.fixture
def core() -> InboundCore:
    c = InboundCore("ns/api")
    c.apply_snapshot(build_snapshot(SPEC))
    return c


def ask(
    core: InboundCore,
    target: str,
    *,
    peer: str | None = WEB,
    port: int = 80,
    method: str = "GET",
) -> ForwardToApp | Reject:
    headers = (("host", f"api.ns:{port}"),)
    request = InboundRequest(method, target, headers, tls=peer is not None, peer=peer, port=port)
    return core.decide(request)


def test_allowed_request_reaches_the_app_with_the_normalised_path(core: InboundCore) -> None:
    verdict = ask(core, "/x/./y//z?a=1")
    assert verdict == ForwardToApp("/x/y/z?a=1", "web-reads")


@pytest.mark.parametrize(
    ("port", "peer", "expected"),
    [
        (80, None, None),  # STRICT: plaintext refused, no answer at all
        (8080, None, 403),  # PERMISSIVE: plaintext accepted, then default deny
        (9090, WEB, 403),  # DISABLE: no identity travels, so the web rule cannot match
    ],
)
def test_mtls_modes(core: InboundCore, port: int, peer: str | None, expected: int | None) -> None:
    verdict = ask(core, "/data", peer=peer, port=port)
    assert isinstance(verdict, Reject) and verdict.status == expected


def test_permissive_plaintext_reaches_the_app_where_allowed(core: InboundCore) -> None:
    assert isinstance(ask(core, "/public/x", peer=None, port=8080), ForwardToApp)


def test_accepts_plaintext_only_on_a_port_that_is_not_strict(core: InboundCore) -> None:
    assert not core.accepts_plaintext(80)
    assert not core.accepts_plaintext()  # the default listener serves port 80
    assert core.accepts_plaintext(8080)
    assert core.accepts_plaintext(9090)
    assert not core.accepts_plaintext(1234)  # no such port: nothing is accepted
    strict = InboundCore("ns/web")
    strict.apply_snapshot(build_snapshot(SPEC))
    assert not strict.accepts_plaintext()


@pytest.mark.parametrize("host", ["api.ns:8080", "api.ns:9090", "anything:8080", ""])
def test_the_host_header_never_chooses_the_port(core: InboundCore, host: str) -> None:
    """A plaintext request on the STRICT port's listener is refused whatever Host says."""
    for port in (80, None):
        request = InboundRequest("GET", "/public/x", (("host", host),), False, None, port)
        verdict = core.decide(request)
        assert isinstance(verdict, Reject) and verdict.status is None, (host, port)


@pytest.mark.parametrize(
    ("peer", "method", "target", "status", "rule"),
    [
        (WEB, "GET", "/data", None, "web-reads"),
        (WEB, "POST", "/data", 403, None),
        (BATCH, "GET", "/data", 403, None),
        (WEB, "GET", "/admin", 403, "no-admin"),
    ],
)
def test_authorization_by_identity_and_path(
    core: InboundCore, peer: str, method: str, target: str, status: int | None, rule: str | None
) -> None:
    verdict = ask(core, target, peer=peer, method=method)
    if status is None:
        assert isinstance(verdict, ForwardToApp) and verdict.rule == rule
    else:
        assert isinstance(verdict, Reject) and (verdict.status, verdict.rule) == (status, rule)


ATTACKS = [
    "//admin",
    "/admin%2F",
    "/admin%2f",
    "/public/../admin",
    "/public/%2e%2e/admin",
    "/%2e%2e/admin",
    "/admin#x",
    "/public/..%2Fadmin",
    "/public\\..\\admin",
    "/./admin",
    "/ADMIN/../admin",
    "/public/%252e%252e/admin",
]


@pytest.mark.parametrize("target", ATTACKS)
def test_path_attacks_never_reach_admin(core: InboundCore, target: str) -> None:
    verdict = ask(core, target)
    if isinstance(verdict, ForwardToApp):
        assert not verdict.target.lower().startswith("/admin"), verdict
    else:
        assert verdict.status in (400, 403)


PATH_CHARS = st.sampled_from(
    ["/", "a", "admin", "public", ".", "..", "%2e", "%2F", "%41", "\\", "#", "?"]
)
SHARED = InboundCore("ns/api")
SHARED.apply_snapshot(build_snapshot(SPEC))


@settings(max_examples=300, deadline=None)
@given(st.lists(PATH_CHARS, min_size=1, max_size=8), st.sampled_from([WEB, BATCH, None]))
def test_inbound_agrees_with_the_oracle(parts: list[str], peer: str | None) -> None:
    """Forwarded exactly when the oracle says so, for the caller the peer identity names."""
    core = SHARED
    target = "/" + "".join(parts)
    assert core.config is not None
    source = {WEB: "ns/web", BATCH: "ns/batch", None: None}[peer]
    port = 80 if peer is not None else 8080
    oracle = decide(core.config.spec, Request("api.ns", target, port=port, source=source))
    verdict = ask(core, target, peer=peer, port=port)
    if oracle.outcome is Outcome.FORWARDED:
        assert isinstance(verdict, ForwardToApp)
        assert verdict.target.partition("?")[0] == oracle.path
    else:
        assert isinstance(verdict, Reject)
        assert verdict.status == oracle.status


def test_remembered_verdicts_follow_every_part_of_the_request() -> None:
    """The same target from another peer, with another method, on another port, in
    plaintext or with a header more: each gets its own verdict, also the second time."""
    asks = [
        (peer, method, port, tls, target, headers)
        for peer in (WEB, BATCH)
        for method in ("GET", "POST")
        for port in (80, 8080, 9090)
        for tls in (True, False)
        for target in ("/x", "/admin", "/public/a")
        for headers in ((), (("x-a", "1"),))
    ]
    shared = InboundCore("ns/api")
    shared.apply_snapshot(build_snapshot(SPEC))
    for ask_ in asks * 2:
        peer, method, port, tls, target, headers = ask_
        request = InboundRequest(method, target, (("host", "api"), *headers), tls, peer, port)
        fresh = InboundCore("ns/api")
        fresh.apply_snapshot(build_snapshot(SPEC))
        assert shared.decide(request) == fresh.decide(request), ask_


GUARDED = SPEC.replace(
    """      - name: no-admin
        action: DENY
        to: {paths: [{prefix: /admin}]}
""",
    """      - name: no-admin
        action: DENY
        to: {paths: [{prefix: /admin}]}
      - name: no-debug
        action: DENY
        to: {headers: [{name: x-debug, exact: "1"}]}
      - name: tenant-a
        action: ALLOW
        from: [{services: [batch]}]
        to: {headers: [{name: x-tenant, prefix: a}]}
""",
)
#: header lines the rules name, in any case, padded, combined, repeated
_NAMED = st.tuples(
    st.sampled_from(["x-debug", "X-Debug", "X-DEBUG", "x-tenant", "X-Tenant"]),
    st.sampled_from(["1", "1 ", " 1", "0", "0,1", "2, 1", "a", "ab", "b,a", ""]),
)
#: header lines no rule names, with a fresh value every time
_OTHER = st.tuples(
    st.sampled_from(["x-request-id", "traceparent", "x-debug-id", "X-Tenants"]),
    st.text(alphabet="abcdef0123456789 ,-", max_size=12),
)
_INBOUND = st.tuples(
    st.sampled_from(["/x", "/admin", "/public/a", "/public/../admin"]),
    st.sampled_from(["GET", "POST"]),
    st.sampled_from([WEB, BATCH, None]),
    st.lists(st.one_of(_NAMED, _OTHER), max_size=6),
)


@settings(deadline=None)
@given(st.lists(_INBOUND, min_size=1, max_size=30))
def test_remembered_verdicts_are_the_oracles_whatever_else_a_request_carries(
    asks: list[tuple[str, str, str | None, list[tuple[str, str]]]],
) -> None:
    """One core answers requests that repeat, differ in a named header (value, padding,
    case, repetition) and carry unnamed headers with fresh values: every verdict is the
    oracle's for that whole request, so a remembered ALLOW never lets a DENY through."""
    core = InboundCore("ns/api")
    core.apply_snapshot(build_snapshot(GUARDED))
    assert core.config is not None
    spec = core.config.spec
    for target, method, peer, lines in asks * 2:
        port = 80 if peer is not None else 8080
        headers = (("host", f"api.ns:{port}"), *lines)
        source = {WEB: "ns/web", BATCH: "ns/batch", None: None}[peer]
        oracle = decide(
            spec,
            Request("api.ns", target, method, field_lines_values(headers), port, source),
        )
        verdict = core.decide(InboundRequest(method, target, headers, peer is not None, peer, port))
        if oracle.outcome is Outcome.FORWARDED:
            assert isinstance(verdict, ForwardToApp), (headers, oracle.reason)
            assert verdict.rule == oracle.authz.rule  # type: ignore[union-attr]
        else:
            assert isinstance(verdict, Reject), (headers, oracle.reason)
            assert verdict.status == oracle.status
