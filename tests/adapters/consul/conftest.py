"""A Consul agent left as it was found: tests here write config entries and register
services on the session's shared agent (`consul_agent`), and remove them afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.realservers import ConsulAgent

#: deletion order: nothing is deleted while another entry still needs it
_KINDS = (
    "service-intentions",
    "service-router",
    "service-splitter",
    "service-resolver",
    "service-defaults",
    "proxy-defaults",
    "mesh",
)


@pytest.fixture
def clean_agent(consul_agent: ConsulAgent) -> Iterator[ConsulAgent]:
    client = consul_agent.client()
    before = set(client.agent.services())
    yield consul_agent
    for service_id in set(client.agent.services()) - before:
        client.agent.service.deregister(service_id)
    for kind in _KINDS:
        for e in client.config.list(kind):
            client.config.delete(kind, e.get("Name", "mesh"))
