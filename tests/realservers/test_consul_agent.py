"""Config entries written to and read back from a real Consul agent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.realservers import ConsulAgent

pytestmark = pytest.mark.realservers

SERVICE = "web"

ENTRIES: list[tuple[str, dict[str, Any]]] = [
    # A splitter and a router need an L7 protocol on every service they touch.
    ("service-defaults", {"Protocol": "http"}),
    (
        "service-resolver",
        {
            "DefaultSubset": "v1",
            "Subsets": {
                "v1": {"Filter": "Service.Meta.version == v1"},
                "v2": {"Filter": "Service.Meta.version == v2"},
            },
        },
    ),
    (
        "service-splitter",
        {
            "Splits": [
                {"Weight": 90, "ServiceSubset": "v1"},
                {"Weight": 10, "ServiceSubset": "v2"},
            ]
        },
    ),
    (
        "service-router",
        {
            "Routes": [
                {
                    "Match": {
                        "HTTP": {
                            "PathPrefix": "/beta",
                            "Header": [{"Name": "x-canary", "Exact": "1"}],
                        }
                    },
                    "Destination": {"Service": SERVICE, "ServiceSubset": "v2"},
                }
            ]
        },
    ),
    (
        "service-intentions",
        {
            "Sources": [
                {
                    "Name": "frontend",
                    "Permissions": [
                        {"Action": "allow", "HTTP": {"PathPrefix": "/", "Methods": ["GET"]}}
                    ],
                },
                {"Name": "*", "Action": "deny"},
            ]
        },
    ),
]


def _subset(expected: Any, actual: Any) -> bool:
    """Every key of *expected* is in *actual* with the same value (Consul adds
    defaults and bookkeeping fields such as CreateIndex)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def test_config_entries_round_trip(consul_agent: ConsulAgent) -> None:
    client = consul_agent.client()
    for kind, body in ENTRIES:
        assert client.config.set(kind, SERVICE, body) is True, kind

    for kind, body in ENTRIES:
        entry = client.config.get(kind, SERVICE)
        assert entry["Kind"] == kind and entry["Name"] == SERVICE
        assert _subset(body, entry), f"{kind}: sent {body}, read back {entry}"
        assert [e["Name"] for e in client.config.list(kind)] == [SERVICE]

    # Consul compiled the entries into one discovery chain: router, then
    # splitter, then the resolver's two subsets.
    chain = client.discovery_chain.get(SERVICE)["Chain"]
    assert chain["Protocol"] == "http"
    node_types = {node["Type"] for node in chain["Nodes"].values()}
    assert {"router", "splitter", "resolver"} <= node_types
    targets = {t["ServiceSubset"] for t in chain["Targets"].values()}
    assert targets == {"v1", "v2"}


def test_splitter_without_http_protocol_is_rejected(consul_agent: ConsulAgent) -> None:
    import consul

    client = consul_agent.client()
    with pytest.raises(consul.ConsulException, match="protocol"):
        client.config.set(
            "service-splitter",
            "plain-tcp",
            {"Splits": [{"Weight": 50, "Service": "a"}, {"Weight": 50, "Service": "b"}]},
        )
