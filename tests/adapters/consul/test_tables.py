"""One neutral fragment, the output of each target side by side: Istio (the existing tables'
expectations) and Consul's config entries (and, where the CRDs matter, consul-k8s).

Consul takes the first route that matches and falls through to the service, so the routes
come in the spec's precedence order with a segment prefix as an exact path plus a `/x/` string
prefix; weighted backends go through a splitter of a virtual service; intentions list, per
caller, DENY rules, ALLOW rules and the default.
"""

from __future__ import annotations

import pytest

from tests.adapters import test_authz as authz_table
from tests.adapters import test_retries_timeouts as retries_table
from tests.adapters import test_routes as routes_table
from tests.adapters import test_splits as splits_table
from tests.adapters.validator import Unsupported, assert_compiles

ENTRY = "apiVersion: consul/config-entry"

CONSUL_ORDERED = f"""
{ENTRY}
kind: service-router
Name: web
Routes:
  - Match: {{HTTP: {{PathExact: /api/health}}}}
    Destination: {{Service: web, ServiceSubset: v2}}
  - Match: {{HTTP: {{PathExact: /api, Methods: [POST]}}}}
    Destination: {{Service: web, ServiceSubset: v2}}
  - Match: {{HTTP: {{PathPrefix: /api/, Methods: [POST]}}}}
    Destination: {{Service: web, ServiceSubset: v2, PrefixRewrite: /api/}}
  - Destination: {{Service: web, ServiceSubset: v1}}
---
{ENTRY}
kind: service-resolver
Name: web
Subsets:
  v1: {{Filter: 'Service.Meta.version == "v1"'}}
  v2: {{Filter: 'Service.Meta.version == "v2"'}}
"""

CONSUL_K8S_ORDERED = """
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceRouter
metadata: {name: web, namespace: default}
spec:
  routes:
    - match: {http: {pathExact: /api/health}}
      destination: {service: web, serviceSubset: v2}
    - match: {http: {pathExact: /api, methods: [POST]}}
      destination: {service: web, serviceSubset: v2}
    - match: {http: {pathPrefix: /api/, methods: [POST]}}
      destination: {service: web, serviceSubset: v2, prefixRewrite: /api/}
    - destination: {service: web, serviceSubset: v1}
"""

CONSUL_HEADERS_QUERY = f"""
{ENTRY}
kind: service-router
Name: web
Routes:
  - Match:
      HTTP:
        Header:
          - {{Name: x-user, Exact: jason}}
          - {{Name: x-debug, Present: true}}
          - {{Name: x-tier, Prefix: gold}}
          - {{Name: x-id, Regex: "[a-f0-9]+"}}
        QueryParam:
          - {{Name: beta, Present: true}}
          - {{Name: lang, Exact: en}}
          - {{Name: page, Regex: "[0-9]+"}}
    Destination: {{Service: web, ServiceSubset: v2}}
"""

CONSUL_HEADER_EDITS = f"""
{ENTRY}
kind: service-router
Name: web
Routes:
  - Destination:
      Service: web
      ServiceSubset: v1
      RequestHeaders: {{Set: {{x-env: prod}}, Add: {{x-trace: "on"}}, Remove: [x-internal]}}
"""

#: A service without routes has no router: Consul sends everything to the service.
CONSUL_NO_ROUTES = f"""
{ENTRY}
kind: service-defaults
Name: plain
Protocol: http
UpstreamConfig: {{Defaults: {{PassiveHealthCheck: {{EnforcingConsecutive5xx: 0}}}}}}
"""


@pytest.mark.parametrize(
    ("fragment", "istio", "consul", "codes"),
    [
        pytest.param(
            routes_table.ORDERED,
            routes_table.ISTIO_ORDERED,
            CONSUL_ORDERED,
            ["MS4004", "MS4015", "MS4018", "MS4035"],
            id="precedence-and-segment-prefix",
        ),
        pytest.param(
            routes_table.HEADERS_QUERY,
            routes_table.ISTIO_HEADERS_QUERY,
            CONSUL_HEADERS_QUERY,
            ["MS4004", "MS4010", "MS4011", "MS4035"],
            id="headers-and-query-fall-through",
        ),
        pytest.param(
            routes_table.HEADER_EDITS,
            routes_table.ISTIO_HEADER_EDITS,
            CONSUL_HEADER_EDITS,
            ["MS4004", "MS4035"],
            id="request-header-edits",
        ),
        pytest.param(
            routes_table.NO_ROUTES,
            routes_table.ISTIO_NO_ROUTES,
            CONSUL_NO_ROUTES,
            ["MS4001", "MS4004", "MS4035"],
            id="no-routes",
        ),
    ],
)
def test_routes(fragment: str, istio: str, consul: str, codes: list[str]) -> None:
    assert_compiles(
        fragment, write={"istio": istio, "consul": consul}, diagnostics={"consul": codes}
    )


def test_consul_k8s_carries_the_same_routes_in_its_crd() -> None:
    assert_compiles(routes_table.ORDERED, write={"consul-k8s": CONSUL_K8S_ORDERED})


CONSUL_SPLIT = f"""
{ENTRY}
kind: service-router
Name: cart
Routes:
  - Destination: {{Service: cart--canary}}
---
{ENTRY}
kind: service-splitter
Name: cart--canary
Splits:
  - {{Weight: 90, Service: cart, ServiceSubset: v1}}
  - {{Weight: 10, Service: cart, ServiceSubset: v2}}
---
{ENTRY}
kind: service-resolver
Name: cart
Subsets:
  v1: {{Filter: 'Service.Meta.version == "v1"'}}
  v2: {{Filter: 'Service.Meta.track == "canary"'}}
"""

#: 4:2 is two thirds: 66.67 and 33.33 per cent, reported.
CONSUL_DUPLICATE_BACKENDS = f"""
{ENTRY}
kind: service-splitter
Name: cart--split
Splits:
  - {{Weight: 66.67, Service: cart, ServiceSubset: v1}}
  - {{Weight: 33.33, Service: cart, ServiceSubset: v2}}
"""

CONSUL_SINGLE = f"""
{ENTRY}
kind: service-router
Name: cart
Routes:
  - Destination: {{Service: cart, ServiceSubset: v1}}
"""


@pytest.mark.parametrize(
    ("fragment", "istio", "consul", "codes"),
    [
        pytest.param(
            splits_table.SPLIT,
            splits_table.ISTIO_SPLIT,
            CONSUL_SPLIT,
            ["MS4001", "MS4004", "MS4035"],
            id="versions-and-zero-weight",
        ),
        pytest.param(
            splits_table.DUPLICATE_BACKENDS,
            splits_table.ISTIO_DUPLICATE_BACKENDS,
            CONSUL_DUPLICATE_BACKENDS,
            ["MS4004", "MS4014", "MS4035"],
            id="same-subset-merged-and-rounded",
        ),
        pytest.param(
            splits_table.SINGLE,
            splits_table.ISTIO_SINGLE,
            CONSUL_SINGLE,
            ["MS4004", "MS4035"],
            id="single-destination",
        ),
    ],
)
def test_splits(fragment: str, istio: str, consul: str, codes: list[str]) -> None:
    assert_compiles(
        fragment, write={"istio": istio, "consul": consul}, diagnostics={"consul": codes}
    )


def _consul_route(destination: str) -> str:
    return f"""
{ENTRY}
kind: service-router
Name: pay
Routes:
  - Destination: {{Service: pay{destination}}}
"""


CONSUL_RETRIES = [
    _consul_route(""),
    _consul_route(", RequestTimeout: -1s"),
    _consul_route(", RequestTimeout: 1500ms"),
    _consul_route(
        ", RequestTimeout: 6s, NumRetries: 2,"
        " RetryOn: [connect-failure, refused-stream, reset, gateway-error]"
    ),
    _consul_route(", NumRetries: 3, RetryOn: ['5xx', reset], RetryOnStatusCodes: [409, 429]"),
]
CONSUL_RETRY_CODES = [[], [], [], ["MS4013"], []]


@pytest.mark.parametrize(
    ("case", "consul", "codes"),
    list(zip(retries_table.CASES, CONSUL_RETRIES, CONSUL_RETRY_CODES, strict=True)),
    ids=[c.id for c in retries_table.CASES],
)
def test_retries_and_timeouts(case: object, consul: str, codes: list[str]) -> None:
    route_extra, rule_extra = case.values  # type: ignore[attr-defined]
    assert_compiles(
        retries_table._service(route_extra),
        write={"istio": retries_table._istio(rule_extra), "consul": consul},
        diagnostics={"consul": ["MS4004", "MS4035", *codes]},
    )


def _intentions(sources: str) -> str:
    return f"""
{ENTRY}
kind: service-intentions
Name: ledger
Sources:
{sources}
"""


CONSUL_DEFAULT_DENY = _intentions("  - {Name: '*', Action: deny}")
CONSUL_ALLOW_DEFAULT_ALLOW = _intentions(
    "  - {Name: web, Action: allow}\n  - {Name: '*', Action: allow}"
)
#: no plaintext source; the namespaces hold no service of the spec; the identity names none;
#: `authenticated` is every Connect caller
CONSUL_SOURCES = _intentions("  - {Name: '*', Action: allow}")

DENY_HEADER = authz_table._authz(
    """    rules:
      - name: no-debug
        action: DENY
        from: [{services: [front/web]}]
        to:
          paths: [{prefix: /admin}]
          headers: [{name: x-debug, exact: "1"}]
      - name: reads
        action: ALLOW
        to: {methods: [GET]}
    default: deny"""
)
CONSUL_DENY_HEADER = _intentions(
    """  - Name: web
    Permissions:
      - Action: deny
        HTTP:
          PathExact: /admin
          Header: [{Name: x-debug, Regex: '(.*,)?[ \\t]*1[ \\t]*(,.*)?'}]
      - Action: deny
        HTTP:
          PathPrefix: /admin/
          Header: [{Name: x-debug, Regex: '(.*,)?[ \\t]*1[ \\t]*(,.*)?'}]
      - {Action: allow, HTTP: {Methods: [GET]}}
      - {Action: deny, HTTP: {PathPrefix: /}}
  - Name: '*'
    Permissions:
      - {Action: allow, HTTP: {Methods: [GET]}}
      - {Action: deny, HTTP: {PathPrefix: /}}"""
)


@pytest.mark.parametrize(
    ("fragment", "istio", "consul", "codes"),
    [
        pytest.param(
            authz_table.DEFAULT_DENY,
            authz_table.ISTIO_DEFAULT_DENY,
            CONSUL_DEFAULT_DENY,
            ["MS4001", "MS4004", "MS4035"],
            id="default-deny",
        ),
        pytest.param(
            authz_table.ALLOW_DEFAULT_ALLOW,
            authz_table.ISTIO_ALLOW_DEFAULT_ALLOW,
            CONSUL_ALLOW_DEFAULT_ALLOW,
            ["MS4001", "MS4004", "MS4035"],
            id="allow-one-caller",
        ),
        pytest.param(
            authz_table.SOURCES,
            authz_table.ISTIO_SOURCES,
            CONSUL_SOURCES,
            ["MS4001", "MS4004", "MS4032", "MS4034", "MS4034", "MS4035", "MS4037"],
            id="sources",
        ),
        pytest.param(
            DENY_HEADER,
            Unsupported,
            CONSUL_DENY_HEADER,
            ["MS4001", "MS4004", "MS4035"],
            id="deny-header-element",
        ),
    ],
)
def test_authorization(fragment: str, istio: object, consul: str, codes: list[str]) -> None:
    assert_compiles(
        fragment, write={"istio": istio, "consul": consul}, diagnostics={"consul": codes}
    )


def test_an_allow_on_a_header_value_is_a_security_loss() -> None:
    assert_compiles(authz_table.L7, write={"consul": Unsupported})
