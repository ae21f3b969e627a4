"""Header conditions against a client that repeats or lists the header.

The spec's DENY holds on any comma-separated element, its ALLOW on the joined
value (docs/spec.md, `meshspec/semantics/headers.py`). Envoy's RBAC tests each
line of a repeated header on its own. Istio compiles a DENY to the element
alone, first or last in a line; every row below goes to the Istio model and,
over a real socket, to a real Envoy whose RBAC filter holds the header matchers
Istio generates from the compiled values (istio/istio
`pilot/pkg/security/authz/matcher/header.go`). What differs from the spec is
exactly what MS1013 (DENY) and MS1014 (ALLOW) say.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from adapters.istio.codes import AUTHZ_DENY_HEADER_ELEMENT
from adapters.istio.model import IstioModel
from meshspec import api
from meshspec.adapter import Topology
from meshspec.diagnostics import Severity
from meshspec.semantics import Request, decide
from meshspec.spec import Spec
from tests.fixtures.realservers import EchoServer, EnvoyProcess, free_port
from tests.realservers.test_envoy import _static_proxy

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: vault}
spec:
  authorization:
    default: allow
    rules:
      - name: no-debug
        action: DENY
        to: {headers: [{name: x-debug, exact: "1"}]}
"""

Lines = str | Sequence[str]

#: (header lines as sent, Istio denies) for a DENY on x-debug exact "1"; the spec denies
#: every row but the last three.
ROWS: list[tuple[Lines, bool]] = [
    ("1", True),
    ("  1\t", True),
    (["1", "1"], True),
    (["1", "0"], True),
    (["0", "1"], True),
    (["0", " 1 ", "2"], True),
    ("1,0", True),
    ("0,1", True),
    ("0, 1", True),
    (["2", "0,1"], True),
    # what Istio cannot catch (MS1013): an element in the middle of a line, wider whitespace
    ("0,1,2", False),
    ("0, 1, 2", False),
    (["2", "0,1,2"], False),
    ("0,  1", False),
    ("1 ,0", False),
    # the spec allows these too
    ("0", False),
    ("10,01", False),
    (["11", "0"], False),
]
SPEC_ALLOWS = {"0", "10,01", "11,0"}


def _spec() -> Spec:
    return api.load_text(SPEC)


def _compiled(allow_lossy: Sequence[str] = ("authz",)) -> api.CompileResult:
    return api.compile(_spec(), "istio", allow_lossy)


def _request(lines: Lines) -> Request:
    return Request(destination="vault", source="client", headers={"x-debug": lines})


def _joined(lines: Lines) -> str:
    return ",".join(line.strip(" \t") for line in ([lines] if isinstance(lines, str) else lines))


def test_the_header_deny_compiles_to_the_element_alone_first_and_last() -> None:
    (deny,) = [r for r in _compiled().resources if (r.get("spec") or {}).get("action") == "DENY"]
    (when,) = deny["spec"]["rules"][0]["when"]
    assert when == {"key": "request.headers[x-debug]", "values": ["1", "1,*", "*,1", "*, 1"]}


def test_what_istio_cannot_catch_is_an_error_naming_a_request_that_gets_through() -> None:
    strict = [d for d in _compiled(()).diagnostics if d.code == AUTHZ_DENY_HEADER_ELEMENT.code]
    assert [d.severity for d in strict] == [Severity.ERROR]
    assert "'x-debug: a,1,b' gets through" in strict[0].message
    assert strict[0].hint and "--allow-lossy authz" in strict[0].hint
    lossy = [d for d in _compiled().diagnostics if d.code == AUTHZ_DENY_HEADER_ELEMENT.code]
    assert [d.severity for d in lossy] == [Severity.WARNING]


@pytest.mark.parametrize(
    ("fragment", "code"),
    [
        pytest.param("{name: x-track, prefix: beta}", "prefix", id="prefix"),
        pytest.param("{name: x-track, exact: beta}", "exact", id="exact"),
    ],
)
def test_header_values_are_a_loss_for_deny_and_allow_alike(fragment: str, code: str) -> None:
    """DENY misses a middle element; ALLOW holds on one line of several (MS1014)."""
    for action, expected in (("DENY", "MS1013"), ("ALLOW", "MS1014")):
        text = SPEC.replace("action: DENY", f"action: {action}").replace(
            '{name: x-debug, exact: "1"}', fragment
        )
        result = api.compile(api.load_text(text), "istio")
        lost = [d for d in result.diagnostics if d.code in {"MS1013", "MS1014"}]
        assert [(d.code, d.severity, d.path) for d in lost] == [
            (expected, Severity.ERROR, f"spec.authorization.rules[0].to.headers[0].{code}")
        ]


def test_presence_loses_nothing() -> None:
    for action in ("DENY", "ALLOW"):
        text = SPEC.replace("action: DENY", f"action: {action}").replace(
            '{name: x-debug, exact: "1"}', "{name: x-debug, present: true}"
        )
        result = api.compile(api.load_text(text), "istio")
        assert not [d for d in result.diagnostics if d.severity is Severity.ERROR], action


@pytest.mark.parametrize(("lines", "istio_denies"), ROWS, ids=[repr(r[0]) for r in ROWS])
def test_the_model_catches_every_element_istio_can(lines: Lines, istio_denies: bool) -> None:
    spec = _spec()
    request = _request(lines)
    spec_denies = decide(spec, request).status == 403
    assert spec_denies is (_joined(lines) not in SPEC_ALLOWS)
    model = IstioModel(_compiled().resources, Topology.of(spec))
    assert (model.decide(request).status == 403) is istio_denies
    if spec_denies is not istio_denies:
        assert spec_denies and not istio_denies, "Istio denies more than the spec"


def _istio_header_matcher(name: str, value: str) -> dict[str, Any]:
    """What istiod generates for one condition value (matcher/header.go `HeaderMatcher`)."""
    if value == "*":
        return {"name": name, "present_match": True}
    if value.startswith("*"):
        return {"name": name, "string_match": {"suffix": value[1:]}}
    if value.endswith("*"):
        return {"name": name, "string_match": {"prefix": value[:-1]}}
    return {"name": name, "string_match": {"exact": value}}


def _rbac_proxy(
    listen: int, upstream: int, when: dict[str, Any], action: str = "DENY"
) -> dict[str, Any]:
    name = when["key"].removeprefix("request.headers[").removesuffix("]")
    rbac = {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {
                "action": action,
                "policies": {
                    "rule": {
                        "permissions": [
                            {
                                "or_rules": {
                                    "rules": [
                                        {"header": _istio_header_matcher(name, v)}
                                        for v in when["values"]
                                    ]
                                }
                            }
                        ],
                        "principals": [{"any": True}],
                    }
                },
            },
        },
    }
    config = _static_proxy(listen, upstream)
    listener = config["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["http_filters"].insert(0, rbac)
    return config


def _status(port: int, lines: Lines) -> int:
    """Send the header lines exactly as written, one field line per value."""
    fields = "".join(
        f"x-debug: {line}\r\n" for line in ([lines] if isinstance(lines, str) else lines)
    )
    raw = f"GET / HTTP/1.1\r\nhost: vault\r\n{fields}connection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        head = sock.recv(64)
    return int(head.split(b" ", 2)[1])


@pytest.mark.realservers
def test_a_real_envoy_lets_through_exactly_what_the_model_says(
    run_envoy: Callable[..., EnvoyProcess], echo_server: EchoServer
) -> None:
    (deny,) = [r for r in _compiled().resources if (r.get("spec") or {}).get("action") == "DENY"]
    (when,) = deny["spec"]["rules"][0]["when"]
    port = free_port()
    run_envoy(_rbac_proxy(port, echo_server.port, when))
    model = IstioModel(_compiled().resources, Topology.of(_spec()))
    seen = {repr(lines): _status(port, lines) for lines, _ in ROWS}
    expected = {repr(lines): model.decide(_request(lines)).status or 200 for lines, _ in ROWS}
    assert seen == expected


ALLOW_ROWS: list[Lines] = [
    "admin",
    " admin ",
    ["admin", "guest"],
    ["guest", "admin"],
    "admin,guest",
]


@pytest.mark.realservers
def test_a_real_envoy_allows_one_matching_line_of_several_as_the_model_says(
    run_envoy: Callable[..., EnvoyProcess], echo_server: EchoServer
) -> None:
    """The widening MS1014 reports: the spec denies 'admin,guest', Envoy's RBAC allows it."""
    text = (
        SPEC.replace("action: DENY", "action: ALLOW")
        .replace("default: allow", "default: deny")
        .replace('{name: x-debug, exact: "1"}', "{name: x-debug, exact: admin}")
    )
    spec = api.load_text(text)
    resources = api.compile(spec, "istio", ("authz",)).resources
    (allow,) = [r for r in resources if (r.get("spec") or {}).get("action") == "ALLOW"]
    (when,) = allow["spec"]["rules"][0]["when"]
    port = free_port()
    run_envoy(_rbac_proxy(port, echo_server.port, when, action="ALLOW"))
    model = IstioModel(resources, Topology.of(spec))
    seen = {repr(lines): _status(port, lines) for lines in ALLOW_ROWS}
    expected = {repr(lines): model.decide(_request(lines)).status or 200 for lines in ALLOW_ROWS}
    assert seen == expected
    assert seen[repr(["admin", "guest"])] == 200
    assert decide(spec, _request(["admin", "guest"])).status == 403
