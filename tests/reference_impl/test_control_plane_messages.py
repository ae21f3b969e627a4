"""Whatever a peer sends, the control plane answers with ProtocolError or acts: never another error.

Properties over arbitrary bytes and arbitrary JSON in every field the control
plane reads, before and after authentication.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_impl.control_plane import ControlPlane, SpecStore, protocol
from reference_impl.control_plane.server import Stream
from reference_impl.snapshot import Endpoint
from tests.reference_impl.trust import Trust

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, name: http}]
"""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


class Sink:
    """Stands in for a stream's writer: keeps what would be sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return False


def make(tmp: Path) -> tuple[ControlPlane, Trust]:
    spec = tmp / "mesh.yaml"
    spec.write_text(SPEC)
    trust = Trust("cluster.local")
    trust.entitle("shop/web", None, "web-0")
    store = SpecStore([str(spec)])
    store.reload()
    return ControlPlane(store, trust.certificates(), trust.entitlements()), trust


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_message_or_a_protocol_error(line: bytes) -> None:
    try:
        message = protocol.decode(line)
    except protocol.ProtocolError:
        return
    assert isinstance(message, dict) and isinstance(message["type"], str)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    token=json_values,
    node=json_values
    | st.fixed_dictionaries(
        {"service": json_values, "instance": json_values, "host": json_values, "port": json_values}
    ),
    last=json_values,
    use_real_token=st.booleans(),
)
def test_any_hello_is_a_stream_or_a_protocol_error(
    tmp_path: Path, token: Any, node: Any, last: Any, use_real_token: bool
) -> None:
    cp, trust = make(tmp_path)
    if use_real_token:
        token = trust.tokens["web-0"][1]
    hello = {"type": "hello", "token": token, "node": node, "lastVersion": last}
    # through the wire format, as it arrives
    try:
        message = protocol.decode(json.dumps(hello).encode())
        stream = cp._authenticate(message, Sink())  # type: ignore[arg-type]
    except protocol.ProtocolError:
        return
    assert stream.workload.instance == "web-0"
    assert isinstance(stream.endpoint.port, int) and 0 < stream.endpoint.port < 65536


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["ack", "nack", "csr", "bye", "hello", "snapshot"]) | st.text(max_size=8),
    fields=st.dictionaries(
        st.sampled_from(["version", "error", "csr", "token"]), json_values, max_size=3
    ),
)
def test_any_message_after_hello_is_handled_or_a_protocol_error(
    tmp_path: Path, kind: str, fields: dict[str, Any]
) -> None:
    cp, trust = make(tmp_path)
    workload = trust.tokens["web-0"][0]
    endpoint = Endpoint("shop/web", None, "web-0", "127.0.0.1", 9)
    stream = Stream(workload, endpoint, Sink(), sent=None)  # type: ignore[arg-type]

    async def handle() -> None:
        message = protocol.decode(json.dumps({**fields, "type": kind}).encode())
        await cp._handle(stream, message)

    try:
        asyncio.run(handle())
    except protocol.ProtocolError:
        return
    assert kind in ("ack", "nack")
