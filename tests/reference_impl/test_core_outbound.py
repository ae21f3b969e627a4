"""The outbound core, driven with events and a fake clock (no sockets)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshspec.semantics import Outcome, Request, UnknownService, decide
from meshspec.semantics.headers import field_lines_values
from reference_impl.core import (
    CloseConnection,
    Ejected,
    FailureKind,
    OpenConnection,
    OutboundAction,
    OutboundCore,
    Overflowed,
    RequestReceived,
    Respond,
    Retried,
    Returned,
    SendRequest,
    Tick,
    UpstreamConnected,
    UpstreamConnectFailed,
    UpstreamFailed,
    UpstreamResponse,
    weighted_choice,
)
from reference_impl.snapshot import Endpoint, SnapshotError
from tests.reference_impl.conftest import build_snapshot

MESH = """
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: m}
spec: {trustDomain: test.local}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client, namespace: ns}
spec: {}
"""


def server(spec_body: str) -> str:
    return (
        MESH
        + """---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: ns}
spec:
"""
        + spec_body
    )


def ep(instance: str, version: str | None = None, service: str = "ns/api") -> Endpoint:
    return Endpoint(service, version, instance, "127.0.0.1", 10000 + sum(map(ord, instance)))


TWO_VERSIONS = """
  versions: [{name: v1}, {name: v2}]
"""


class Harness:
    """Plays the shell: feeds events to the core and keeps every action it returns."""

    def __init__(self, spec: str, endpoints: Sequence[Endpoint], version: int = 1) -> None:
        self.core = OutboundCore("ns/client")
        self.core.apply_snapshot(build_snapshot(spec, tuple(endpoints), version))
        self.actions: list[OutboundAction] = []
        self.now = 0.0
        self._next = 1

    def feed(self, event: object) -> list[OutboundAction]:
        out = self.core.handle(event)  # type: ignore[arg-type]
        self.actions.extend(out)
        return out

    def request(
        self, target: str = "/", headers: dict[str, str] | None = None, random: float = 0.0
    ) -> tuple[int, list[OutboundAction]]:
        rid = self._next
        self._next += 1
        hdrs = (("host", "api.ns"), *(headers or {}).items())
        return rid, self.feed(
            RequestReceived(rid, "GET", target, tuple(hdrs), now=self.now, random=random)
        )

    def connect_all(self, actions: list[OutboundAction]) -> list[OutboundAction]:
        """Complete every OpenConnection; return everything that followed."""
        out: list[OutboundAction] = []
        for a in actions:
            if isinstance(a, OpenConnection):
                out.extend(self.feed(UpstreamConnected(a.conn_id, self.now)))
            else:
                out.append(a)
        return out

    def sent(self, actions: Sequence[OutboundAction]) -> SendRequest:
        sends = [a for a in self.connect_all(list(actions)) if isinstance(a, SendRequest)]
        assert len(sends) == 1, actions
        return sends[0]

    def answer(self, send: SendRequest, status: int) -> list[OutboundAction]:
        return self.feed(UpstreamResponse(send.request_id, send.attempt, status, self.now))

    def endpoint_of(self, send: SendRequest) -> str:
        return self.core.pool.connections[send.conn_id].endpoint.instance


def only(actions: Sequence[OutboundAction], kind: type) -> list[object]:
    return [a for a in actions if isinstance(a, kind)]


def respond(actions: Sequence[OutboundAction]) -> Respond:
    found = [a for a in actions if isinstance(a, Respond)]
    assert len(found) == 1, actions
    return found[0]


# -- routing answers come from the oracle -----------------------------------------------


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/a%2Fb", 400),
        ("/admin#x", 400),
        ("/%00", 400),
        ("/nothing", 404),
    ],
)
def test_rejections_never_open_a_connection(target: str, status: int) -> None:
    h = Harness(server("  routes: [{name: r, matches: [{path: {prefix: /api}}]}]\n"), [ep("a")])
    _, actions = h.request(target)
    assert respond(actions).status == status
    assert not only(actions, OpenConnection)
    oracle = decide(
        h.core.config.spec,  # type: ignore[union-attr]
        Request("api.ns", target, source="ns/client"),
    )
    assert oracle.status == status


def test_unknown_host_is_404_and_host_is_case_insensitive() -> None:
    h = Harness(server("  ports: [{port: 80}]\n"), [ep("a")])
    rid = 1
    out = h.feed(RequestReceived(rid, "GET", "/", (("Host", "nope.ns"),), 0.0))
    assert respond(out).status == 404
    out = h.feed(RequestReceived(2, "GET", "/", (("HOST", "API.NS.svc.cluster.local."),), 0.0))
    assert only(out, OpenConnection)


def test_header_edits_and_normalised_path_are_sent() -> None:
    body = """
  routes:
    - name: r
      requestHeaders: {set: {x-set: "1"}, remove: [x-drop]}
"""
    h = Harness(server(body), [ep("a")])
    _, actions = h.request("/x/../y//z?q=1", {"x-drop": "gone", "X-Keep": "k"})
    send = h.sent(actions)
    assert send.target == "/y/z?q=1"
    headers = dict(send.headers)
    assert headers["x-set"] == "1" and headers["x-keep"] == "k" and "x-drop" not in headers


def test_no_snapshot_answers_503() -> None:
    core = OutboundCore("ns/client")
    out = core.handle(RequestReceived(1, "GET", "/", (("host", "api"),), 0.0))
    assert respond(out).status == 503


def test_bad_snapshot_keeps_the_last_good_one() -> None:
    h = Harness(server("  ports: [{port: 80}]\n"), [ep("a")])
    with pytest.raises(SnapshotError):
        h.core.apply_snapshot(build_snapshot("kind: Service\nspec: {bogus: 1}\n", (), 2))
    with pytest.raises(SnapshotError):
        h.core.apply_snapshot(build_snapshot(MESH.replace("client", "other"), (), 3))
    assert h.core.config is not None and h.core.config.version == 1


# -- weighted choice and load balancing --------------------------------------------------


def test_weighted_split_is_exact_over_evenly_spaced_random_inputs() -> None:
    body = (
        TWO_VERSIONS
        + "  routes: [{name: r, backends: [{version: v1, weight: 90}, "
        + ("{version: v2, weight: 10}]}]\n")
    )
    h = Harness(server(body), [ep("a1", "v1"), ep("b1", "v2")])
    seen: Counter[str] = Counter()
    for i in range(1000):
        _, actions = h.request(random=i / 1000)
        send = h.sent(actions)
        seen[h.endpoint_of(send)] += 1
        h.answer(send, 200)
    assert seen == {"a1": 900, "b1": 100}


@given(
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6).filter(
        lambda w: sum(w) > 0
    ),
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_weighted_choice_lands_in_the_random_numbers_interval(
    weights: list[int], random: float
) -> None:
    index = weighted_choice(weights, random)
    assert weights[index] > 0
    total = sum(weights)
    low = sum(weights[:index]) / total
    high = sum(weights[: index + 1]) / total
    last = max(i for i, w in enumerate(weights) if w)
    assert low <= random < high or (index == last and random >= low)


def test_round_robin_over_a_versions_endpoints() -> None:
    h = Harness(server(TWO_VERSIONS), [ep("a"), ep("b"), ep("c")])
    order = []
    for _ in range(6):
        _, actions = h.request()
        send = h.sent(actions)
        order.append(h.endpoint_of(send))
        h.answer(send, 200)
    assert order == ["a", "b", "c", "a", "b", "c"]


def test_pooled_connections_are_reused() -> None:
    h = Harness(server("  ports: [{port: 80}]\n"), [ep("a")])
    opened = 0
    for _ in range(5):
        _, actions = h.request()
        opened += len(only(actions, OpenConnection))
        h.answer(h.sent(actions), 200)
    assert opened == 1


# -- retries ------------------------------------------------------------------------------


def retry_route(retries: str, extra: str = "") -> str:
    return server(f"  routes: [{{name: r, retries: {retries}{extra}}}]\n")


def test_retry_count_is_attempts_after_the_first_try() -> None:
    h = Harness(retry_route("{attempts: 2, retryOn: [5xx]}"), [ep("a"), ep("b")])
    _, actions = h.request()
    statuses: list[int] = []
    for _ in range(5):
        send = h.sent(actions)
        actions = h.answer(send, 500)
        if only(actions, Respond):
            statuses.append(respond(actions).status)
            break
    assert len(only(h.actions, Retried)) == 2
    assert len(only(h.actions, SendRequest)) == 3
    final = respond(h.actions)
    assert final.status == 500 and final.upstream_attempt == 2


@pytest.mark.parametrize(
    ("on", "status_codes", "result", "retried"),
    [
        ("[5xx]", "[]", 500, True),
        ("[5xx]", "[]", 404, False),
        ("[gateway-error]", "[]", 503, True),
        ("[gateway-error]", "[]", 500, False),
        ("[connect-failure]", "[]", 503, False),
        ("[connect-failure]", "[429]", 429, True),
        ("[connect-failure]", "[]", FailureKind.CONNECT_FAILURE, True),
        ("[reset]", "[]", FailureKind.CONNECT_FAILURE, False),
        ("[reset]", "[]", FailureKind.RESET, True),
        ("[connect-failure]", "[]", FailureKind.RESET, False),
        ("[refused-stream]", "[]", FailureKind.REFUSED_STREAM, True),
        ("[5xx]", "[]", FailureKind.RESET, True),
        ("[gateway-error]", "[]", FailureKind.CONNECT_FAILURE, True),
    ],
)
def test_retry_conditions(on: str, status_codes: str, result: object, retried: bool) -> None:
    h = Harness(
        retry_route(f"{{attempts: 1, retryOn: {on}, statusCodes: {status_codes}}}"),
        [ep("a"), ep("b")],
    )
    rid, actions = h.request()
    if result is FailureKind.CONNECT_FAILURE:
        opened = only(actions, OpenConnection)[0]
        assert isinstance(opened, OpenConnection)
        out = h.feed(UpstreamConnectFailed(opened.conn_id, 0.0))
    elif isinstance(result, FailureKind):
        send = h.sent(actions)
        out = h.feed(UpstreamFailed(rid, send.attempt, result, 0.0))
    else:
        assert isinstance(result, int)
        out = h.answer(h.sent(actions), result)
    assert bool(only(out, Retried)) is retried
    if not retried:
        expected = result if isinstance(result, int) else 503
        assert respond(out).status == expected


def test_retry_goes_to_another_endpoint() -> None:
    h = Harness(retry_route("{attempts: 1, retryOn: [5xx]}"), [ep("a"), ep("b")])
    _, actions = h.request()
    first = h.sent(actions)
    second = h.sent(h.answer(first, 500))
    assert h.endpoint_of(first) != h.endpoint_of(second)
    assert respond(h.answer(second, 200)).status == 200


def test_per_try_timeout_retries_then_answers_504() -> None:
    h = Harness(
        retry_route("{attempts: 1, perTryTimeout: 1s, retryOn: [reset]}"), [ep("a"), ep("b")]
    )
    _, actions = h.request()
    h.sent(actions)
    h.now = 0.999
    assert not h.feed(Tick(h.now))
    h.now = 1.0
    out = h.feed(Tick(h.now))
    assert only(out, CloseConnection) and only(out, Retried)
    h.sent(out)
    h.now = 2.0
    final = respond(h.feed(Tick(h.now)))
    assert final.status == 504 and "per-try" in final.reason


def test_overall_timeout_cuts_retries_short() -> None:
    body = "  routes: [{name: r, timeout: 2.5s, retries: {attempts: 10, perTryTimeout: 1s}}]\n"
    h = Harness(server(body), [ep("a"), ep("b")])
    _, actions = h.request()
    h.sent(actions)
    for step in range(1, 3):
        h.now = float(step)
        h.sent(h.feed(Tick(h.now)))
    h.now = 2.5
    final = respond(h.feed(Tick(h.now)))
    assert (final.status, final.reason) == (504, "upstream request timeout")
    assert len(only(h.actions, Retried)) == 2
    assert h.core.in_flight == 0


def test_late_response_of_an_abandoned_attempt_is_ignored() -> None:
    h = Harness(
        retry_route("{attempts: 1, perTryTimeout: 1s, retryOn: [reset]}"), [ep("a"), ep("b")]
    )
    rid, actions = h.request()
    first = h.sent(actions)
    h.now = 1.0
    second = h.sent(h.feed(Tick(h.now)))
    assert h.feed(UpstreamResponse(rid, first.attempt, 200, h.now)) == []
    assert respond(h.answer(second, 201)).status == 201


# -- outlier detection --------------------------------------------------------------------


def outlier_spec(max_percent: int, extra: str = "") -> str:
    return server(
        "  resilience:\n    outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 10s, "
        f"maxEjectionPercent: {max_percent}{extra}}}\n"
    )


def run_one(h: Harness, status_of: dict[str, int]) -> str:
    _, actions = h.request()
    send = h.sent(actions)
    instance = h.endpoint_of(send)
    h.answer(send, status_of.get(instance, 200))
    return instance


def test_ejection_and_return_after_base_ejection_time_times_ejections() -> None:
    h = Harness(outlier_spec(50), [ep("a"), ep("b")])
    failing = {"a": 500}
    for _ in range(4):
        run_one(h, failing)
    ejections = only(h.actions, Ejected)
    assert len(ejections) == 1
    first = ejections[0]
    assert isinstance(first, Ejected)
    assert first.endpoint.instance == "a" and first.until == pytest.approx(h.now + 10)
    assert {run_one(h, failing) for _ in range(6)} == {"b"}
    h.now = 9.9
    assert not only(h.feed(Tick(h.now)), Returned)
    h.now = 10.0
    assert only(h.feed(Tick(h.now)), Returned)
    for _ in range(4):
        run_one(h, failing)
    second = [e for e in only(h.actions, Ejected) if isinstance(e, Ejected)][-1]
    assert second.ejections == 2 and second.until == pytest.approx(h.now + 20)


def test_gateway_errors_detector() -> None:
    spec = server(
        "  resilience:\n    outlierDetection: {consecutive5xxErrors: 0, "
        "consecutiveGatewayErrors: 2, maxEjectionPercent: 100}\n"
    )
    h = Harness(spec, [ep("a"), ep("b")])
    for _ in range(6):
        run_one(h, {"a": 500})
    assert not only(h.actions, Ejected)
    for _ in range(4):
        run_one(h, {"a": 503})
    assert [e.endpoint.instance for e in only(h.actions, Ejected)] == ["a"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("max_percent", "expected"), [(10, 1), (34, 1), (67, 2), (100, 3)])
def test_max_ejection_percent(max_percent: int, expected: int) -> None:
    h = Harness(outlier_spec(max_percent), [ep("a"), ep("b"), ep("c")])
    for _ in range(30):
        run_one(h, {"a": 500, "b": 500, "c": 500})
    assert len(only(h.actions, Ejected)) == expected


def test_without_outlier_detection_nothing_is_ejected() -> None:
    h = Harness(server("  ports: [{port: 80}]\n"), [ep("a"), ep("b")])
    for _ in range(20):
        run_one(h, {"a": 500})
    assert not only(h.actions, Ejected)


# -- connection limits --------------------------------------------------------------------


LIMITS = "  resilience:\n    connectionLimits: {{{}}}\n"


def test_overflow_at_max_connections_and_pending() -> None:
    h = Harness(server(LIMITS.format("maxConnections: 1, maxPendingRequests: 1")), [ep("a")])
    _, first_actions = h.request()
    first = h.sent(first_actions)
    waiting_id, waiting = h.request()
    assert waiting == []
    _, third = h.request()
    assert only(third, Overflowed) and respond(third).status == 503
    handed = h.answer(first, 200)
    send = [a for a in handed if isinstance(a, SendRequest)]
    assert len(send) == 1 and send[0].request_id == waiting_id and send[0].conn_id == first.conn_id
    assert respond(h.answer(send[0], 200)).status == 200


def test_pending_request_times_out() -> None:
    body = "  routes: [{name: r, timeout: 1s}]\n" + LIMITS.format("maxConnections: 1")
    h = Harness(server(body), [ep("a")])
    _, actions = h.request()
    h.sent(actions)
    h.now = 0.5
    waiting_id, waiting = h.request()
    assert waiting == []
    h.now = 1.0
    out = h.feed(Tick(h.now))
    assert [(r.request_id, r.status) for r in only(out, Respond)] == [(1, 504)]  # type: ignore[attr-defined]
    assert only(out, OpenConnection), "the freed slot goes to the waiting request"
    h.now = 1.5
    assert respond(h.feed(Tick(h.now))) == Respond(
        waiting_id, 504, "upstream request timeout", route="r", backend="ns/api", endpoint="a"
    )


def test_max_requests_per_connection_closes_the_connection() -> None:
    h = Harness(server(LIMITS.format("maxRequestsPerConnection: 2")), [ep("a")])
    closes = 0
    opens = 0
    for _ in range(4):
        _, actions = h.request()
        opens += len(only(actions, OpenConnection))
        closes += len(only(h.answer(h.sent(actions), 200), CloseConnection))
    assert (opens, closes) == (2, 2)


# -- snapshot swap ------------------------------------------------------------------------


def test_snapshot_swap_mid_flight() -> None:
    v1 = server(
        TWO_VERSIONS
        + "  routes: [{name: old, backends: [{version: v1}],"
        + " retries: {attempts: 1, retryOn: [5xx]}}]\n"
    )
    v2 = server(TWO_VERSIONS + "  routes: [{name: new, backends: [{version: v2}]}]\n")
    endpoints = (ep("a1", "v1"), ep("a2", "v1"), ep("b1", "v2"))
    h = Harness(v1, endpoints)
    _, actions = h.request()
    first = h.sent(actions)
    h.core.apply_snapshot(build_snapshot(v2, endpoints, version=2))
    retry = h.sent(h.answer(first, 500))
    assert h.endpoint_of(retry) in {"a1", "a2"}
    old = respond(h.answer(retry, 200))
    assert old.route == "old"
    _, actions = h.request()
    send = h.sent(actions)
    assert h.endpoint_of(send) == "b1"
    assert respond(h.answer(send, 200)).route == "new"


def test_no_endpoints_is_503() -> None:
    h = Harness(server("  ports: [{port: 80}]\n"), [])
    _, actions = h.request()
    assert respond(actions).status == 503


def test_each_snapshot_brings_its_own_identity_transport_and_endpoints() -> None:
    """Answers remembered per snapshot never leak into the next one."""
    snapshots = [
        ("  serviceAccount: first\n", (ep("a1"),), "spiffe://test.local/ns/ns/sa/first", "a1"),
        ("  serviceAccount: second\n", (ep("a2"),), "spiffe://test.local/ns/ns/sa/second", "a2"),
        ("  mtls: {mode: DISABLE}\n", (ep("a3"),), None, "a3"),
        ("  serviceAccount: first\n", (ep("a1"),), "spiffe://test.local/ns/ns/sa/first", "a1"),
    ]
    h = Harness(server(snapshots[0][0]), snapshots[0][1])
    for version, (body, endpoints, identity, instance) in enumerate(snapshots, start=1):
        h.core.apply_snapshot(build_snapshot(server(body), endpoints, version))
        _, actions = h.request()
        opened = only(actions, OpenConnection)
        assert [(o.tls_identity, o.endpoint.instance) for o in opened] == [(identity, instance)]
        respond(h.answer(h.sent(actions), 200))


# -- the per-snapshot table of the oracle's answers -------------------------------------

ROUTED = """
  ports: [{port: 80}]
  versions: [{name: v1}, {name: v2}]
  routes:
    - name: canary
      matches: [{headers: [{name: x-canary, exact: "yes"}]}]
      backends: [{version: v2}]
      requestHeaders: {set: {x-routed: canary}, add: {X-Trail: canary}, remove: [x-strip]}
    - name: api
      matches: [{path: {prefix: /api}, method: GET}]
      backends: [{version: v1}]
"""

_HOSTS = st.sampled_from(["api.ns", "API.NS", "api.ns:80", "api.ns:81", "nowhere.ns"])
_TARGETS = st.sampled_from(["/api/x", "/api/../api/y?q=1", "/other", "/a%2Fb", "/api//z"])
_METHODS = st.sampled_from(["GET", "POST"])
#: header lines the rules name (matched, set, added, removed), in any case, with values
#: padded, combined, repeated: every way a request can differ in what the rules read
_NAMED = st.tuples(
    st.sampled_from(["x-canary", "X-Canary", "X-CANARY", "x-routed", "x-trail", "x-strip"]),
    st.sampled_from(["yes", "yes ", " yes", "no", "YES", "yes,no", "no, yes", ""]),
)
#: header lines no rule names, with values that change with every request
_OTHER = st.tuples(
    st.sampled_from(["x-request-id", "traceparent", "X-B3-TraceId", "x-other", "X-Canary-Id"]),
    st.text(alphabet="abcdef0123456789 ,-", max_size=12),
)
_REQUEST = st.tuples(
    _HOSTS, _TARGETS, _METHODS, st.lists(st.one_of(_NAMED, _OTHER), max_size=6), st.randoms()
)


@given(st.lists(_REQUEST, min_size=1, max_size=30))
def test_remembered_answers_are_what_the_oracle_says_for_each_request(
    requests: list[tuple[str, str, str, list[tuple[str, str]], object]],
) -> None:
    """Requests repeat, differ in what the rules read (one named header's lines, value,
    case or repetition, the method, the Host) and carry headers no rule names with fresh
    values each time: each answer (local or sent, headers included) is `decide`'s for
    that whole request, however the table filed the ones before it."""
    h = Harness(server(ROUTED), [ep("a1", "v1"), ep("b1", "v2")])
    spec = h.core.config.spec  # type: ignore[union-attr]
    for rid, (host, target, method, lines, rng) in enumerate(requests * 2, start=1):
        shuffled = list(lines)
        rng.shuffle(shuffled)  # type: ignore[attr-defined]
        headers = (("host", host), *shuffled)
        actions = h.feed(RequestReceived(rid, method, target, headers, now=h.now))
        request = Request(
            host, target, method, field_lines_values(headers), port=_port(host), source="ns/client"
        )
        try:
            oracle = decide(spec, request)
        except UnknownService:
            assert respond(actions).status == 404
            continue
        local = _LOCAL.get(oracle.outcome)
        if local is not None or not oracle.weighted_backends:
            answer = respond(actions)
            assert (answer.status, answer.route) == (local or 503, oracle.route)
            continue
        send = h.sent(actions)
        query = target.partition("?")[2]
        assert send.target == (oracle.path or "/") + (f"?{query}" if query else "")
        assert len(send.headers) == len(oracle.headers)
        assert dict(send.headers) == oracle.headers
        expected = {b.version for b in oracle.weighted_backends}
        assert h.core.pool.connections[send.conn_id].endpoint.version in expected
        done = respond(h.answer(send, 200))
        assert done.route == oracle.route


def test_requests_differing_only_in_unnamed_headers_share_one_answer() -> None:
    """A unique request ID per request costs one `decide`, not one per request."""
    h = Harness(server(ROUTED), [ep("a1", "v1"), ep("b1", "v2")])
    plans = h.core.config.plans  # type: ignore[union-attr]
    for i in range(50):
        _, actions = h.request("/api/x", {"x-request-id": f"id-{i}", "traceparent": str(i)})
        send = h.sent(actions)
        assert ("x-request-id", f"id-{i}") in send.headers
        respond(h.answer(send, 200))
    assert len(plans) == 1


def test_the_key_names_every_header_the_rules_read() -> None:
    from reference_impl.core.keys import read_header_names

    spec = build_snapshot(
        server(ROUTED)
        + """  authorization:
    rules:
      - {name: r, action: DENY, to: {headers: [{name: X-Debug, present: true}]}}
"""
    ).spec
    assert read_header_names(spec) == {
        "host", "x-canary", "x-routed", "x-trail", "x-strip", "x-debug"
    }  # fmt: skip


#: the outcomes the client's sidecar answers itself (README: the outbound listener)
_LOCAL = {Outcome.BAD_REQUEST: 400, Outcome.NO_ROUTE: 404, Outcome.UNKNOWN_PORT: 404}


def _port(host: str) -> int | None:
    _, _, port = host.partition(":")
    return int(port) if port else None


def test_the_table_is_bounded_and_skips_large_requests() -> None:
    from reference_impl.core.config import MAX_PLAN_KEY, MAX_PLANS

    h = Harness(server("  ports: [{port: 80}]\n"), [ep("a")])
    plans = h.core.config.plans  # type: ignore[union-attr]
    for i in range(MAX_PLANS + 10):
        h.feed(RequestReceived(i + 1, "GET", f"/{i}", (("host", "nowhere.ns"),), 0.0))
    assert 0 < len(plans) <= MAX_PLANS
    plans.clear()
    big = "/" + "a" * MAX_PLAN_KEY
    h.feed(RequestReceived(99999, "GET", big, (("host", "nowhere.ns"),), 0.0))
    assert not plans
