"""Real Consul on loopback: a dev agent configures real Envoy sidecars, over real sockets.

These check the bring-up itself with hand-written config entries (routing,
splits, intentions at L7 and L4, mTLS on the public listener, and the
`PathPrefix` bug of Consul 1.22.5), which the ``consul-live`` conformance
target relies on.
"""

from __future__ import annotations

import http.client
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.targets.consul_live_mesh import ConsulLoopback, Instance
from conformance.targets.fault_app import FaultApp

pytestmark = pytest.mark.realservers

SUBSETS = {
    "v1": {"Filter": "Service.Meta.version == v1"},
    "v2": {"Filter": "Service.Meta.version == v2"},
}


@pytest.fixture
def running(consul_loopback: ConsulLoopback) -> Iterator[ConsulLoopback]:
    """web calling api (v1 and v2), each behind its own sidecar."""
    apps = {
        "web": FaultApp("default/web", None).start(),
        "api-v1": FaultApp("default/api", "v1").start(),
        "api-v2": FaultApp("default/api", "v2").start(),
    }
    try:
        consul_loopback.set_instances(
            [
                Instance("web", "web", None, apps["web"].port, ("api",)),
                Instance("api-v1", "api", "v1", apps["api-v1"].port, ("web",)),
                Instance("api-v2", "api", "v2", apps["api-v2"].port, ("web",)),
            ]
        )
        yield consul_loopback
    finally:
        for app in apps.values():
            app.stop()


def _send(
    port: int,
    path: str = "/",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int | None, dict[str, Any] | str]:
    """Status and echo (or body text); None when the connection is closed or refused."""
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return None, ""
    finally:
        conn.close()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, body.decode(errors="replace")


def _upstream(mesh: ConsulLoopback) -> int:
    return mesh.sidecars["web"].upstream_ports["api"]


def _http_defaults() -> list[dict[str, Any]]:
    return [
        {"Kind": "service-defaults", "Name": "api", "Protocol": "http"},
        {"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
        {"Kind": "service-resolver", "Name": "api", "DefaultSubset": "v1", "Subsets": SUBSETS},
    ]


def test_the_first_request_after_settling_is_served(running: ConsulLoopback) -> None:
    running.set_config([])
    running.settle([_upstream(running)])
    status, echo = _send(_upstream(running))
    assert status == 200, echo
    assert isinstance(echo, dict) and echo["service"] == "default/api"


def test_routes_and_splits_reach_the_versions_they_name(running: ConsulLoopback) -> None:
    running.set_config(
        [
            *_http_defaults(),
            {
                "Kind": "service-splitter",
                "Name": "api",
                "Splits": [
                    {"Weight": 80, "ServiceSubset": "v1"},
                    {"Weight": 20, "ServiceSubset": "v2"},
                ],
            },
            {
                "Kind": "service-router",
                "Name": "api",
                "Routes": [
                    {
                        "Match": {"HTTP": {"Header": [{"Name": "x-canary", "Exact": "yes"}]}},
                        "Destination": {"ServiceSubset": "v2"},
                    }
                ],
            },
        ]
    )
    port = _upstream(running)
    for _ in range(5):
        status, echo = _send(port, "/a", headers={"x-canary": "yes"})
        assert status == 200 and isinstance(echo, dict) and echo["version"] == "v2", echo
    versions: Counter[str] = Counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(300):
        conn.request("GET", "/a")
        response = conn.getresponse()
        versions[json.loads(response.read())["version"]] += 1
    conn.close()
    assert abs(versions["v1"] / 300 - 0.8) < 0.08, versions


def test_a_path_prefix_route_strips_its_prefix_in_consul_1_22_5(running: ConsulLoopback) -> None:
    """hashicorp/consul#23339: a PathPrefix route without PrefixRewrite reaches the
    application without its prefix (fixed by #23390, backported as #23395); a
    PrefixRewrite equal to the prefix keeps the path as sent."""
    running.set_config(
        [
            *_http_defaults(),
            {
                "Kind": "service-router",
                "Name": "api",
                "Routes": [
                    {
                        "Match": {"HTTP": {"PathPrefix": "/v2"}},
                        "Destination": {"ServiceSubset": "v2"},
                    },
                    {
                        "Match": {"HTTP": {"PathPrefix": "/kept/"}},
                        "Destination": {"ServiceSubset": "v2", "PrefixRewrite": "/kept/"},
                    },
                ],
            },
        ]
    )
    if running.programs.consul_version != "1.22.5":
        pytest.skip("the bug is pinned for Consul 1.22.5")
    status, echo = _send(_upstream(running), "/v2/abc")
    assert status == 200 and isinstance(echo, dict), echo
    assert echo["version"] == "v2"
    assert echo["request"]["path"] == "/abc"
    status, echo = _send(_upstream(running), "/kept/abc")
    assert status == 200 and isinstance(echo, dict), echo
    assert echo["request"]["path"] == "/kept/abc"


def test_l7_intentions_deny_with_403_whoever_asks(running: ConsulLoopback) -> None:
    running.set_config(
        [
            *_http_defaults(),
            {
                "Kind": "service-intentions",
                "Name": "api",
                "Sources": [
                    {
                        "Name": "web",
                        "Permissions": [
                            {
                                "Action": "allow",
                                "HTTP": {"PathPrefix": "/public/", "Methods": ["GET"]},
                            },
                            {"Action": "deny", "HTTP": {"PathPrefix": "/"}},
                        ],
                    },
                    {"Name": "*", "Action": "deny"},
                ],
            },
        ]
    )
    port = _upstream(running)
    # Several in a row on new connections: no pooled connection keeps the old policy.
    for _ in range(10):
        assert _send(port, "/public/a")[0] == 200
        assert _send(port, "/public/a", method="POST") == (403, "RBAC: access denied")
        assert _send(port, "/private") == (403, "RBAC: access denied")
    # An attacker holding a valid leaf of another service goes straight to api's sidecar.
    public = running.sidecars["api-v1"].port
    intruder = running.leaf("intruder").client_context()
    conn = http.client.HTTPSConnection("127.0.0.1", public, timeout=10, context=intruder)
    assert _send(public, "/public/a", conn=conn) == (403, "RBAC: access denied")
    # The same with web's leaf is web, and allowed.
    as_web = running.leaf("web").client_context()
    conn = http.client.HTTPSConnection("127.0.0.1", public, timeout=10, context=as_web)
    assert _send(public, "/public/a", conn=conn)[0] == 200


def test_l4_intentions_close_the_connection(running: ConsulLoopback) -> None:
    running.set_config(
        [
            {
                "Kind": "service-intentions",
                "Name": "api",
                "Sources": [{"Name": "web", "Action": "deny"}],
            }
        ]
    )
    for _ in range(5):
        assert _send(_upstream(running), "/a") == (None, "")


def test_a_plaintext_client_is_refused_by_the_public_listener(running: ConsulLoopback) -> None:
    running.set_config(_http_defaults())
    for sid in ("api-v1", "api-v2", "web"):
        assert _send(running.sidecars[sid].port, "/a") == (None, "")
