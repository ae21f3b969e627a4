"""The inbound listeners: terminate mTLS, ask `InboundCore`, forward to the local app.

Each listener serves one service port and takes that port's mTLS mode; the
Host header never chooses it. When the port accepts plaintext (PERMISSIVE or
DISABLE), the first byte tells TLS (a handshake record starts with 0x16) from
plaintext; the byte is peeked, not read, so the TLS layer still sees it. On a
STRICT port the handshake is required outright and a plaintext client fails
it. The peer's identity is the SPIFFE ID of its verified certificate.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from reference_impl.core import ForwardToApp, InboundCore, InboundRequest, Reject
from reference_impl.metrics import SidecarMetrics, decisions_logged, log_decision
from reference_impl.pki import IdentityError, peer_spiffe_id
from reference_impl.proxy.deadlines import Deadlines
from reference_impl.proxy.http1 import (
    HttpError,
    HttpMessage,
    MessageReader,
    close_after_answer,
    encode_request,
    encode_response,
    local_reply,
    read_response_head,
)
from reference_impl.proxy.tls import TlsMaterial

TLS_HANDSHAKE_RECORD = 0x16
FIRST_BYTE_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 5.0
APP_TIMEOUT = 30.0
XFCC = "x-forwarded-client-cert"
#: the mesh's own headers: never taken from a client, never passed to the application
MESH_PREFIX = "x-meshspec-"


@dataclass
class _AppConnection:
    """One plain connection to the local application per downstream connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    messages: MessageReader

    async def response_to(self, method: str) -> HttpMessage | None:
        if method != "HEAD":
            return await self.messages.next()
        # A HEAD response has a length but no body; restart the parser after it.
        message = await read_response_head(self.reader)
        self.messages = MessageReader(self.reader, responses=True)
        return message


class InboundProxy:
    def __init__(
        self,
        core: InboundCore,
        tls: Callable[[], TlsMaterial | None],
        app: tuple[str, int],
        metrics: SidecarMetrics,
        deadlines: Deadlines | None = None,
    ) -> None:
        self._core = core
        self._tls = tls
        self._app = app
        self._metrics = metrics
        self._deadlines = deadlines

    async def serve(self, sock: socket.socket, port: int | None = None) -> None:
        """Handle one connection accepted on the listener of service port `port`."""
        loop = asyncio.get_running_loop()
        material = self._tls()
        try:
            use_tls = not self._core.accepts_plaintext(port) or await _starts_with_tls(sock)
        except (OSError, TimeoutError):
            sock.close()
            return
        if use_tls and material is None:
            sock.close()
            return
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol,
                sock,
                ssl=material.server if use_tls and material is not None else None,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT if use_tls else None,
            )
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
            self._metrics.tls_handshake_failures.labels("inbound").inc()
            log_decision("inbound-handshake-failed", error=str(exc))
            sock.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        peer: str | None = None
        if use_tls:
            try:
                peer = peer_spiffe_id(transport.get_extra_info("ssl_object"))
            except IdentityError as exc:
                self._metrics.tls_handshake_failures.labels("inbound").inc()
                log_decision("inbound-identity-missing", error=str(exc))
                writer.close()
                return
        await self._serve_requests(reader, writer, use_tls, peer, material, port)

    async def _serve_requests(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: bool,
        peer: str | None,
        material: TlsMaterial | None,
        port: int | None,
    ) -> None:
        messages = MessageReader(reader, heads=True)
        app: _AppConnection | None = None
        deadlines = self._deadlines
        if deadlines is not None:
            deadlines.watch(messages, writer)
        try:
            while True:
                messages.busy = False
                try:
                    request = await messages.next_head()
                except HttpError as exc:
                    if not writer.is_closing():
                        writer.write(local_reply(exc.status, str(exc), keep_alive=False))
                        await close_after_answer(reader, writer)
                    break
                if request is None:
                    break
                # Decided on the head: a refused request's body is never read.
                headers = tuple(request.headers)
                verdict = self._core.decide(
                    InboundRequest(request.method, request.target, headers, tls, peer, port)
                )
                if decisions_logged():
                    log_decision(
                        "inbound",
                        method=request.method,
                        target=request.target,
                        peer=peer,
                        verdict=type(verdict).__name__,
                        status=getattr(verdict, "status", None),
                        rule=verdict.rule,
                    )
                head_only = request.method == "HEAD"
                if isinstance(verdict, Reject):
                    if verdict.status is None:
                        self._metrics.request("inbound", None, None, 0)
                        break
                    self._metrics.request("inbound", verdict.rule, None, verdict.status)
                    # Keep the connection only if the body is already here (nothing unread).
                    whole = messages.complete(request)
                    if whole:
                        await messages.rest(request)
                    keep = request.keep_alive and whole
                    reply = local_reply(verdict.status, verdict.reason, keep, head=head_only)
                    writer.write(reply)
                    await writer.drain()
                    if not keep:
                        await close_after_answer(reader, writer)
                        break
                    continue
                try:
                    await messages.rest(request)
                except HttpError as exc:
                    if not writer.is_closing():
                        writer.write(local_reply(exc.status, str(exc), keep_alive=False))
                        await close_after_answer(reader, writer)
                    break
                own = None if material is None else material.identity
                messages.busy = True
                answer, app = await self._to_app(app, request, verdict, peer, own)
                writer.write(answer)
                await writer.drain()
                if not request.keep_alive:
                    break
        except (ConnectionError, OSError, ssl.SSLError, RuntimeError):
            pass  # RuntimeError: uvloop's answer to a write on a transport already closed
        finally:
            if deadlines is not None:
                deadlines.forget(messages)
            if app is not None:
                app.writer.close()
            writer.close()

    async def _to_app(
        self,
        app: _AppConnection | None,
        request: HttpMessage,
        verdict: ForwardToApp,
        peer: str | None,
        own: str | None,
    ) -> tuple[bytes, _AppConnection | None]:
        headers = tuple((k, v) for k, v in request.end_to_end_headers() if not _set_by_the_mesh(k))
        if peer is not None:
            headers += ((XFCC, f"By={own or ''};URI={peer}"),)
        data = encode_request(request.method, verdict.target, headers, request.body)
        try:
            if app is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self._app), APP_TIMEOUT
                )
                app = _AppConnection(reader, writer, MessageReader(reader, responses=True))
            app.writer.write(data)
            await app.writer.drain()
            # asyncio.timeout, unlike wait_for, runs no extra task per request.
            async with asyncio.timeout(APP_TIMEOUT):
                response = await app.response_to(request.method)
        except (OSError, HttpError, TimeoutError) as exc:
            if app is not None:
                app.writer.close()
            self._metrics.request("inbound", verdict.rule, "app", 503)
            head = request.method == "HEAD"
            reply = local_reply(
                503, f"local application failed: {exc}", request.keep_alive, (), head
            )
            return reply, None
        if response is None:
            app.writer.close()
            self._metrics.request("inbound", verdict.rule, "app", 503)
            head = request.method == "HEAD"
            return local_reply(503, "local application closed", request.keep_alive, (), head), None
        self._metrics.request("inbound", verdict.rule, "app", response.status)
        if not response.keep_alive or request.method == "HEAD":
            # After HEAD, an application that wrongly sent a body would have its body read
            # as the next response: the connection is not used again.
            app.writer.close()
            app = None
        body = encode_response(
            response.status, response.end_to_end_headers(), response.body, request.keep_alive
        )
        return body, app


def _set_by_the_mesh(name: str) -> bool:
    """Headers only the mesh sets: whatever a client sent under these names is dropped."""
    lowered = name.lower()
    return lowered == XFCC or lowered.startswith(MESH_PREFIX)


async def _starts_with_tls(sock: socket.socket) -> bool:
    """Wait for the first byte and peek at it (it stays in the socket for the next reader)."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await asyncio.wait_for(readable, FIRST_BYTE_TIMEOUT)
    finally:
        loop.remove_reader(sock.fileno())
    first = sock.recv(1, socket.MSG_PEEK)
    if not first:
        raise ConnectionError("closed before sending anything")
    return first[0] == TLS_HANDSHAKE_RECORD
