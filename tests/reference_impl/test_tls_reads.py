"""TLS reads into a kept buffer: every byte arrives in order; the callbacks pass through."""

from __future__ import annotations

import asyncio
import ssl

from reference_impl.pki import CertificateAuthority, client_context, server_context
from reference_impl.proxy.tls_reads import READ_BUFFER_BYTES, TlsReads
from tests.reference_impl.conftest import run_async


class _Recording(asyncio.Protocol):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.events: list[str] = []
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def eof_received(self) -> bool | None:
        self.events.append("eof")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        if not self.closed.done():
            self.closed.set_result(None)


def _contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = CertificateAuthority.create("cluster.local")
    creds = ca.issue("spiffe://cluster.local/ns/a/sa/b")
    return (
        server_context(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem),
        client_context(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem),
    )


def test_every_byte_arrives_in_order_through_a_buffer_smaller_than_the_message() -> None:
    server_ctx, client_ctx = _contexts()
    payload = bytes(range(256)) * 400 + b"end"  # ~100 KiB: fills the buffer several times

    async def scenario() -> tuple[_Recording, TlsReads]:
        loop = asyncio.get_running_loop()
        inner = _Recording()
        wrappers: list[TlsReads] = []

        def factory() -> TlsReads:
            wrappers.append(TlsReads(inner))
            return wrappers[0]

        server = await loop.create_server(factory, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost"
        )
        writer.write(payload)
        await writer.drain()
        writer.close()
        await asyncio.wait_for(inner.closed, 10)
        server.close()
        return inner, wrappers[0]

    inner, wrapper = run_async(scenario())
    assert b"".join(inner.chunks) == payload
    # uvloop took the buffered path: no read was larger than the kept buffer
    assert len(inner.chunks) > 1
    assert max(len(c) for c in inner.chunks) <= READ_BUFFER_BYTES
    assert inner.events[0] == "made" and inner.events[-1] == "lost"
    assert wrapper.protocol is inner
