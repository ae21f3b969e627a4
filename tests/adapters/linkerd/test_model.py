"""Linkerd's model over hand-written Linkerd resources (not compiler output): the
precedence its proxy implements (and PR #4604's), segment prefixes, 404 on no route,
ServiceProfiles first, timeout and retry annotations, and the inbound policy."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from adapters.linkerd.model import LinkerdModel
from meshspec.adapter import Topology, Workload
from meshspec.semantics import Outcome, Request, RetryPolicy
from meshspec.spec import RetryOn

TOPOLOGY = Topology(
    "cluster.local",
    {
        "default/client": Workload(
            "default/client", "default", "client", "client", ((80, "http"),), {}
        ),
        "default/web": Workload(
            "default/web",
            "default",
            "web",
            "web",
            ((80, "http"),),
            {"a": {"version": "a"}, "b": {"version": "b"}},
        ),
    },
)


def _route(rules: str, annotations: str = "{}") -> list[dict[str, Any]]:
    return list(
        yaml.safe_load_all(
            f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: default, annotations: {annotations}}}
spec:
  parentRefs: [{{group: "", kind: Service, name: web}}]
  rules:
{rules}
"""
        )
    )


def _rule(match: str, version: str) -> str:
    return f"""    - matches: [{match}]
      backendRefs: [{{name: web-{version}, port: 80}}]
"""


def _version(model: LinkerdModel, **request: Any) -> str | None:
    verdict = model.decide(Request(destination="web", source="client", **request))
    if verdict.outcome is Outcome.NO_ROUTE:
        return "404"
    ((_, version),) = verdict.backends
    return version


# The worked precedence examples (research notes §7): rules in authoring order.
EXAMPLES = [
    # A: prefix / then prefix /api; /api/x -> the longer prefix, everywhere
    (
        _rule("{path: {type: PathPrefix, value: /}}", "a")
        + _rule("{path: {type: PathPrefix, value: /api}}", "b"),
        {"target": "/api/x"},
        "b",
        "b",
    ),
    # B: /usrv does not match /usrv-expand/1: segment prefixes
    (
        _rule("{path: {type: PathPrefix, value: /usrv}}", "a")
        + _rule("{path: {type: PathPrefix, value: /usrv-expand}}", "b"),
        {"target": "/usrv-expand/1"},
        "b",
        "b",
    ),
    # C: prefix /foo then exact /foo: same length, the first wins; PR #4604: exact wins
    (
        _rule("{path: {type: PathPrefix, value: /foo}}", "a")
        + _rule("{path: {type: Exact, value: /foo}}", "b"),
        {"target": "/foo"},
        "a",
        "b",
    ),
    # D: a header match beats a method match; PR #4604: the method first
    (
        _rule("{headers: [{name: x-a, value: '1'}]}", "a") + _rule("{method: GET}", "b"),
        {"target": "/", "headers": {"x-a": "1"}},
        "a",
        "b",
    ),
    # E: routes but none matches: 404
    (_rule("{path: {type: PathPrefix, value: /api}}", "b"), {"target": "/other"}, "404", "404"),
    # a regex counts the whole path's length: it beats a shorter prefix
    (
        _rule("{path: {type: PathPrefix, value: /docs}}", "a")
        + _rule("{path: {type: RegularExpression, value: '/docs/[a-z]+'}}", "b"),
        {"target": "/docs/abc"},
        "b",
        "b",
    ),
    # a trailing slash of the request is ignored by a prefix, not by an exact path
    (
        _rule("{path: {type: Exact, value: /x}}", "a")
        + _rule("{path: {type: PathPrefix, value: /x}}", "b"),
        {"target": "/x/"},
        "b",
        "b",
    ),
]


@pytest.mark.parametrize(("rules", "request_", "main", "pr_4604"), EXAMPLES)
def test_precedence_as_the_proxy_ranks_it(
    rules: str, request_: dict[str, Any], main: str, pr_4604: str
) -> None:
    assert _version(LinkerdModel(_route(rules), TOPOLOGY), **request_) == main
    assert _version(LinkerdModel(_route(rules), TOPOLOGY, proxy="pr-4604"), **request_) == pr_4604


def test_header_lines_are_matched_one_by_one() -> None:
    """`x-a: 1` sent twice matches an exact `1` (any line does); the spec's joined `1,1`
    would not."""
    model = LinkerdModel(_route(_rule("{headers: [{name: x-a, value: '1'}]}", "a")), TOPOLOGY)
    assert _version(model, target="/", headers={"x-a": ["1", "1"]}) == "a"
    assert _version(model, target="/", headers={"x-a": ["2", "1"]}) == "a"
    assert _version(model, target="/", headers={"x-a": "2,1"}) == "404"


def test_no_route_means_every_endpoint_and_no_timeout() -> None:
    verdict = LinkerdModel([], TOPOLOGY).decide(Request("web", "/", source="client"))
    assert verdict.outcome is Outcome.FORWARDED
    assert verdict.backends == {("default/web", None): 1.0}
    assert verdict.timeout is None and verdict.retries == RetryPolicy()


def test_timeout_annotation_wins_over_the_rule_field() -> None:
    rules = _rule("{path: {type: PathPrefix, value: /}}", "a") + "      timeouts: {request: 5s}\n"
    plain = LinkerdModel(_route(rules), TOPOLOGY)
    assert plain.decide(Request("web", "/", source="client")).timeout == 5.0
    annotated = LinkerdModel(_route(rules, "{timeout.linkerd.io/request: 2s}"), TOPOLOGY)
    assert annotated.decide(Request("web", "/", source="client")).timeout == 2.0


def test_retry_limit_defaults_to_one() -> None:
    rules = _rule("{path: {type: PathPrefix, value: /}}", "a")
    model = LinkerdModel(_route(rules, "{retry.linkerd.io/http: 5xx}"), TOPOLOGY)
    retries = model.decide(Request("web", "/", source="client")).retries
    assert retries.attempts == 1
    assert retries.retry_on == (RetryOn.REFUSED_STREAM, RetryOn.SERVER_ERROR)


def test_route_retry_annotations_replace_the_services() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "annotations": {"retry.linkerd.io/http": "503", "retry.linkerd.io/limit": "4"},
        },
        "spec": {},
    }
    rules = _rule("{path: {type: PathPrefix, value: /}}", "a")
    inherited = LinkerdModel([service, *_route(rules)], TOPOLOGY)
    assert inherited.decide(Request("web", "/", source="client")).retries.attempts == 4
    own = LinkerdModel([service, *_route(rules, "{retry.linkerd.io/timeout: 1s}")], TOPOLOGY)
    retries = own.decide(Request("web", "/", source="client")).retries
    assert (retries.attempts, retries.per_try_timeout, retries.status_codes) == (1, 1.0, ())


def test_a_service_profile_wins_and_takes_the_first_match() -> None:
    profile = yaml.safe_load(
        """
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.default.svc.cluster.local, namespace: default}
spec:
  routes:
    - {name: any-books, condition: {pathRegex: '/books/.*'}, timeout: 3s}
    - {name: one-book, condition: {pathRegex: '/books/[0-9]+', method: GET}}
"""
    )
    rules = _rule("{path: {type: PathPrefix, value: /}}", "a")
    model = LinkerdModel([profile, *_route(rules)], TOPOLOGY)
    first = model.decide(Request("web", "/books/12", source="client"))
    assert (first.route, first.timeout) == ("profile:web.default.svc.cluster.local#any-books", 3.0)
    other = model.decide(Request("web", "/authors", source="client"))
    assert (other.route, other.timeout, other.outcome) == (None, 10.0, Outcome.FORWARDED)


POLICY = """
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web-80, namespace: default}
spec: {podSelector: {matchLabels: {app: web}}, port: 80, accessPolicy: deny}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: client, namespace: default}
spec: {identities: [client.default.serviceaccount.identity.linkerd.cluster.local]}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: elsewhere, namespace: default}
spec: {networks: [{cidr: 192.168.0.0/16}]}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: pods, namespace: default}
spec: {networks: [{cidr: 10.0.0.0/8}]}
"""


def _policy(name: str, *authns: tuple[str, str], target: str = "Server, name: web-80") -> str:
    refs = ", ".join(f"{{kind: {kind}, name: {n}}}" for kind, n in authns)
    return f"""
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {{name: {name}, namespace: default}}
spec:
  targetRef: {{group: policy.linkerd.io, kind: {target}}}
  requiredAuthenticationRefs: [{refs}]
"""


def _answer(resources: str, source: str | None = "client", **kw: Any) -> tuple[Outcome, str | None]:
    model = LinkerdModel([d for d in yaml.safe_load_all(resources) if d], TOPOLOGY, **kw)
    verdict = model.decide(Request("web", "/", source=source))
    return verdict.outcome, verdict.authz_rule


def test_a_server_makes_its_port_default_deny() -> None:
    assert _answer(POLICY) == (Outcome.DENIED, None)
    assert _answer("") == (Outcome.FORWARDED, None)  # cluster default: all-unauthenticated
    assert _answer("", default_inbound_policy="deny") == (Outcome.DENIED, None)
    assert _answer("", source=None, default_inbound_policy="all-authenticated")[0] is (
        Outcome.DENIED
    )


def test_authentications_are_anded_within_a_policy_and_ored_across() -> None:
    both = POLICY + _policy(
        "p", ("MeshTLSAuthentication", "client"), ("NetworkAuthentication", "elsewhere")
    )
    assert _answer(both) == (Outcome.DENIED, None)  # the client is not in 192.168/16
    either = both + _policy("q", ("NetworkAuthentication", "pods"))
    assert _answer(either) == (Outcome.FORWARDED, "default/q")
    assert _answer(either, source=None) == (Outcome.FORWARDED, "default/q")
    mesh_only = POLICY + _policy("r", ("MeshTLSAuthentication", "client"))
    assert _answer(mesh_only) == (Outcome.FORWARDED, "default/r")
    # a plaintext client is denied with 403: the request is HTTP
    model = LinkerdModel([d for d in yaml.safe_load_all(mesh_only) if d], TOPOLOGY)
    assert model.decide(Request("web", "/", source=None)).status == 403


def test_a_policy_naming_a_missing_authentication_admits_nobody() -> None:
    assert _answer(POLICY + _policy("p", ("MeshTLSAuthentication", "nope"))) == (
        Outcome.DENIED,
        None,
    )


def test_inbound_routes_answer_404_outside_them_and_carry_their_policies() -> None:
    inbound = """
---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: health, namespace: default}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: web-80}]
  rules: [{matches: [{path: {type: Exact, value: /}}]}]
"""
    resources = (
        POLICY
        + inbound
        + _policy("h", ("NetworkAuthentication", "pods"), target="HTTPRoute, name: health")
    )
    model = LinkerdModel([d for d in yaml.safe_load_all(resources) if d], TOPOLOGY)
    assert model.decide(Request("web", "/", source=None)).authz_rule == "default/h"
    assert model.decide(Request("web", "/other", source="client")).status == 404
