"""A request proxied by a real Envoy to an echo server on loopback."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.realservers import EchoServer, EnvoyProcess, free_port

pytestmark = pytest.mark.realservers


def _static_proxy(listen_port: int, upstream_port: int) -> dict[str, Any]:
    return {
        "static_resources": {
            "listeners": [
                {
                    "name": "ingress",
                    "address": {
                        "socket_address": {"address": "127.0.0.1", "port_value": listen_port}
                    },
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/envoy.extensions.filters"
                                        ".network.http_connection_manager.v3"
                                        ".HttpConnectionManager",
                                        "stat_prefix": "ingress",
                                        "route_config": {
                                            "virtual_hosts": [
                                                {
                                                    "name": "all",
                                                    "domains": ["*"],
                                                    "routes": [
                                                        {
                                                            "match": {"prefix": "/"},
                                                            "route": {"cluster": "echo"},
                                                            "request_headers_to_add": [
                                                                {
                                                                    "header": {
                                                                        "key": "x-via",
                                                                        "value": "envoy",
                                                                    }
                                                                }
                                                            ],
                                                        }
                                                    ],
                                                }
                                            ]
                                        },
                                        "http_filters": [
                                            {
                                                "name": "envoy.filters.http.router",
                                                "typed_config": {
                                                    "@type": "type.googleapis.com/envoy"
                                                    ".extensions.filters.http.router.v3.Router"
                                                },
                                            }
                                        ],
                                    },
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                {
                    "name": "echo",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": "echo",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {
                                                    "address": "127.0.0.1",
                                                    "port_value": upstream_port,
                                                }
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ],
        }
    }


def test_envoy_proxies_to_echo_server(
    run_envoy: Callable[..., EnvoyProcess], echo_server: EchoServer
) -> None:
    port = free_port()
    envoy = run_envoy(_static_proxy(port, echo_server.port))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hello/world?x=1", headers={"x-test": "meshspec"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["x-echo-server"] == echo_server.name
        assert response.headers["server"] == "envoy"
        echoed = json.loads(response.read())
    assert echoed["path"] == "/hello/world?x=1"
    assert echoed["headers"]["x-test"] == "meshspec"
    assert echoed["headers"]["x-via"] == "envoy"
    assert "x-request-id" in echoed["headers"]

    stats_url = f"{envoy.admin_url}/stats?filter=^cluster.echo.upstream_rq_200$"
    with urllib.request.urlopen(stats_url, timeout=10) as r:
        stats = r.read().decode()
    assert "cluster.echo.upstream_rq_200: 1" in stats
