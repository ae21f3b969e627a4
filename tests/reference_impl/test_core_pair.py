"""A client core and the server cores wired together with no network, checked against the oracle.

For any request, what the two sidecars do together (answer locally, or pick a
backend whose sidecar then forwards or refuses) must be what `decide` says.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshspec.semantics import Decision, Outcome, Request, Transport, decide
from reference_impl.core import (
    ForwardToApp,
    InboundCore,
    InboundRequest,
    OpenConnection,
    OutboundCore,
    RequestReceived,
    Respond,
    SendRequest,
    UpstreamConnected,
)
from reference_impl.snapshot import Endpoint
from tests.reference_impl.conftest import build_snapshot

SPEC = """
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: m}
spec: {trustDomain: test.local}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: front}
spec: {}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: batch, namespace: jobs}
spec: {}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: legacy, namespace: back}
spec:
  mtls: {mode: DISABLE}
  authorization:
    default: deny
    rules:
      - {name: anyone-public, action: ALLOW, from: [{unauthenticated: true}],
         to: {paths: [{prefix: /public}]}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: back}
spec:
  versions: [{name: v1}, {name: v2}]
  routes:
    - name: exact-admin
      matches: [{path: {exact: /admin}}]
      backends: [{version: v1}]
    - name: items
      matches: [{path: {prefix: /items}, method: GET}, {path: {regex: "/v[0-9]+/items.*"}}]
      backends: [{version: v1, weight: 3}, {version: v2, weight: 1}]
    - name: beta
      matches: [{headers: [{name: x-beta, present: true}]}]
      backends: [{version: v2}, {service: legacy}]
    - name: public
      matches: [{path: {prefix: /public}}]
      backends: [{service: legacy}]
  authorization:
    default: allow
    rules:
      - {name: no-admin-for-batch, action: DENY, from: [{namespaces: [jobs]}],
         to: {paths: [{prefix: /admin}]}}
      - {name: v2-only-web, action: DENY, from: [{services: [jobs/batch]}], to: {methods: [DELETE]}}
"""

ENDPOINTS = (
    Endpoint("back/api", "v1", "api-v1-0", "127.0.0.1", 1001),
    Endpoint("back/api", "v2", "api-v2-0", "127.0.0.1", 1002),
    Endpoint("back/legacy", None, "legacy-0", "127.0.0.1", 1003),
)
SNAPSHOT = build_snapshot(SPEC, ENDPOINTS)
SPEC_MODEL = SNAPSHOT.spec
INBOUND: dict[str, InboundCore] = {}
for key in ("back/api", "back/legacy"):
    INBOUND[key] = InboundCore(key)
    INBOUND[key].apply_snapshot(SNAPSHOT)

SEGMENTS = st.sampled_from(
    ["admin", "items", "public", "v2", "x", "..", ".", "%2e%2e", "%2F", "", "#f", "Items"]
)


def pair_status(
    source: str, method: str, target: str, headers: dict[str, str], r: float
) -> tuple[int, str | None]:
    """(status, chosen service) when the source's sidecar and the backend's sidecar both act."""
    client = OutboundCore(source)
    client.apply_snapshot(SNAPSHOT)
    hdrs = (("host", "api.back"), *headers.items())
    actions = client.handle(RequestReceived(1, method, target, hdrs, now=0.0, random=r))
    responds = [a for a in actions if isinstance(a, Respond)]
    if responds:
        return responds[0].status, None
    (open_,) = [a for a in actions if isinstance(a, OpenConnection)]
    service = open_.endpoint.service
    peer = None if open_.tls_identity is None else SPEC_MODEL.identity(source)
    (send,) = client.handle(UpstreamConnected(open_.conn_id, 0.0))
    assert isinstance(send, SendRequest)
    verdict = INBOUND[service].decide(
        InboundRequest(method, send.target, send.headers, tls=peer is not None, peer=peer)
    )
    if isinstance(verdict, ForwardToApp):
        return 200, service
    assert verdict.status is not None
    return verdict.status, service


def oracle_status(decision: Decision, service: str | None) -> int:
    if decision.outcome in (Outcome.BAD_REQUEST, Outcome.NO_ROUTE):
        assert decision.status is not None
        return decision.status
    share = next(b for b in decision.weighted_backends if b.service == service)
    assert share.transport is not Transport.REFUSED
    assert share.authz is not None
    return 200 if share.authz.allowed else 403


@settings(max_examples=400, deadline=None)
@given(
    source=st.sampled_from(["front/web", "jobs/batch"]),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    parts=st.lists(SEGMENTS, min_size=0, max_size=4),
    beta=st.booleans(),
    r=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_two_sidecars_agree_with_the_oracle(
    source: str, method: str, parts: list[str], beta: bool, r: float
) -> None:
    target = "/" + "/".join(parts)
    headers = {"x-beta": "1"} if beta else {}
    status, service = pair_status(source, method, target, headers, r)
    decision = decide(SPEC_MODEL, Request("api.back", target, method, headers, source=source))
    assert status == oracle_status(decision, service), (decision.outcome, decision.reason)
