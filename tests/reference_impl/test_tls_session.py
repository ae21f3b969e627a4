"""The sidecar's own TLS layer over real sockets on 127.0.0.1, against the standard `ssl` peer.

The mesh tests reach it through whole sidecars; these hold its edges: records
that span several reads or arrive several to a read, reading paused with
records already received, an end of stream behind them, a broken record, a
failed or stalled handshake, close_notify, and a cancelled connect.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable

import pytest

from reference_impl.pki import CertificateAuthority, Credentials, client_context, server_context
from reference_impl.proxy.tls_session import accept_tls, connect_tls
from tests.reference_impl.conftest import run_async, spiffe

pytestmark = pytest.mark.loopback


class Recorder(asyncio.Protocol):
    """Keeps what arrives; pauses reading after the first chunk when asked to."""

    def __init__(self, pause_after_first: bool = False) -> None:
        self.chunks: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.made = False
        self.eof = False
        self.lost: Exception | bool | None = False
        self.pause_after_first = pause_after_first
        self.changed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made = True
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        if self.pause_after_first and len(self.chunks) == 1 and self.transport is not None:
            self.transport.pause_reading()
        self.changed.set()

    def eof_received(self) -> bool | None:
        self.eof = True
        self.changed.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc
        self.changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    @property
    def received(self) -> bytes:
        return b"".join(self.chunks)


def _contexts(
    issue: Callable[[str, str], Credentials],
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server, client = issue("ns", "server"), issue("ns", "client")
    return (
        server_context(server.cert_pem, server.key_pem, server.ca_bundle_pem),
        client_context(client.cert_pem, client.key_pem, client.ca_bundle_pem),
    )


async def _serve(
    context: ssl.SSLContext, protocol: asyncio.BaseProtocol, timeout: float = 5.0
) -> tuple[int, asyncio.Task[object]]:
    """A listener that runs `accept_tls` on its first connection; (port, that task)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    loop = asyncio.get_running_loop()

    async def accept_one() -> object:
        try:
            sock, _ = await loop.sock_accept(listener)
        finally:
            listener.close()
        return await accept_tls(sock, context, protocol, timeout)

    return listener.getsockname()[1], asyncio.create_task(accept_one())


def test_records_both_ways_with_the_standard_client(
    issue: Callable[[str, str], Credentials],
) -> None:
    """Small and large messages (a 200 KiB one takes 13 records) arrive whole and in
    order both ways; the session reports the peer's certificate and closes with
    close_notify, which the peer reads as a clean end."""
    server_ctx, client_ctx = _contexts(issue)
    big = bytes(range(256)) * 800

    async def scenario() -> None:
        server = Recorder()
        port, accepted = await _serve(server_ctx, server)
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
        try:
            session = await accepted
            assert server.made
            peer = session.get_extra_info("ssl_object").getpeercert(binary_form=True)  # type: ignore[attr-defined]
            assert peer == ssl.PEM_cert_to_DER_cert(issue("ns", "client").cert_pem.decode())
            writer.write(b"hello ")
            writer.write(big)
            await writer.drain()
            await server.until(lambda: len(server.received) == 6 + len(big))
            assert server.received == b"hello " + big
            assert server.transport is not None
            server.transport.write(big + b"bye")
            assert await reader.readexactly(len(big) + 3) == big + b"bye"
            server.transport.close()
            assert await asyncio.wait_for(reader.read(), 5.0) == b""  # close_notify: no SSL error
            writer.close()
            await server.until(lambda: server.lost is not False)
        finally:
            writer.transport.abort()  # a failed check leaves no TLS shutdown to wait for

    run_async(scenario())


def test_paused_reading_holds_records_already_received(
    issue: Callable[[str, str], Credentials],
) -> None:
    """Three records and the end of the stream in one write: reading paused after the
    first holds the other two and the end back until it resumes, in order."""
    server_ctx, client_ctx = _contexts(issue)

    async def scenario() -> None:
        server = Recorder(pause_after_first=True)
        port, accepted = await _serve(server_ctx, server)
        # A session of our own on the client side too, writing through its memory BIO
        # so that three records leave in one segment.
        client = Recorder()
        session = await connect_tls("127.0.0.1", port, client_ctx, client, 5.0)
        await accepted
        tls, outgoing = session._tls, session._outgoing
        for part in (b"one", b"two", b"three"):
            tls.write(part)
        raw = session._raw
        assert raw is not None
        raw.write(outgoing.read())
        raw.write_eof()
        await server.until(lambda: server.chunks == [b"one"])
        await asyncio.sleep(0.2)  # everything is there by now; nothing more may be read
        assert server.chunks == [b"one"] and not server.eof
        assert server.transport is not None
        server.transport.resume_reading()
        await server.until(lambda: server.eof)
        assert server.chunks == [b"one", b"two", b"three"]
        session.abort()

    run_async(scenario())


def test_a_broken_record_ends_the_connection_with_its_error(
    issue: Callable[[str, str], Credentials],
) -> None:
    """A record whose bytes were changed on the way fails its integrity check: the
    protocol loses the connection with the SSL error and never sees the bytes."""
    server_ctx, client_ctx = _contexts(issue)

    async def scenario() -> None:
        server = Recorder()
        port, accepted = await _serve(server_ctx, server)
        client = Recorder()
        session = await connect_tls("127.0.0.1", port, client_ctx, client, 5.0)
        await accepted
        session._tls.write(b"GET /admin HTTP/1.1\r\n\r\n")
        record = bytearray(session._outgoing.read())
        record[-3] ^= 0x40  # flip one bit of the tag
        assert session._raw is not None
        session._raw.write(bytes(record))
        await server.until(lambda: server.lost is not False)
        assert server.chunks == []
        assert isinstance(server.lost, ssl.SSLError)
        await client.until(lambda: client.lost is not False)

    run_async(scenario())


def test_a_foreign_certificate_fails_the_handshake(
    issue: Callable[[str, str], Credentials], other_ca: CertificateAuthority
) -> None:
    server_ctx, _ = _contexts(issue)
    stranger = other_ca.issue(spiffe("ns", "client"))
    stranger_ctx = client_context(stranger.cert_pem, stranger.key_pem, stranger.ca_bundle_pem)

    async def scenario() -> None:
        server = Recorder()
        port, accepted = await _serve(server_ctx, server)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await connect_tls("127.0.0.1", port, stranger_ctx, Recorder(), 5.0)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await accepted
        assert not server.made

    run_async(scenario())


def test_a_stalled_handshake_times_out_and_a_cancelled_connect_leaves_nothing(
    issue: Callable[[str, str], Credentials],
) -> None:
    server_ctx, client_ctx = _contexts(issue)

    async def scenario() -> None:
        server = Recorder()
        port, accepted = await _serve(server_ctx, server, timeout=0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello that never ends
        with pytest.raises(TimeoutError):
            await accepted
        assert await asyncio.wait_for(reader.read(), 5.0) == b""
        writer.close()

        # A server that never answers: the client's wait is cancelled, its socket closed.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        connecting = asyncio.create_task(
            connect_tls("127.0.0.1", listener.getsockname()[1], client_ctx, Recorder(), 30.0)
        )
        await asyncio.sleep(0.2)
        accepted_sock, _ = listener.accept()
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting
        accepted_sock.settimeout(5.0)
        hello = accepted_sock.recv(65536)
        assert hello[:1] == b"\x16"  # its ClientHello, then the end
        assert accepted_sock.recv(65536) == b""
        accepted_sock.close()
        listener.close()

    run_async(scenario())
