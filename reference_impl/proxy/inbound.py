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
from typing import cast

from reference_impl.core import ForwardToApp, Headers, InboundCore, InboundRequest, Reject
from reference_impl.metrics import SidecarMetrics, decisions_logged, log_decision
from reference_impl.pki import IdentityError, peer_spiffe_id
from reference_impl.proxy.deadlines import Deadlines
from reference_impl.proxy.gate import Gate
from reference_impl.proxy.http1 import (
    LINGER_BYTES,
    MAX_HEAD,
    HttpError,
    HttpMessage,
    MessageReader,
    encode_request,
    encode_response,
    linger,
    local_reply,
    parse_response_head,
)
from reference_impl.proxy.tls import TlsMaterial
from reference_impl.proxy.tls_session import accept_tls

TLS_HANDSHAKE_RECORD = 0x16
FIRST_BYTE_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 5.0
APP_TIMEOUT = 30.0
XFCC = "x-forwarded-client-cert"
#: the mesh's own headers: never taken from a client, never passed to the application
MESH_PREFIX = "x-meshspec-"


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
        self._connections: set[_Downstream] = set()

    async def serve(
        self, sock: socket.socket, port: int | None = None, gate: Gate | None = None
    ) -> None:
        """Take one connection accepted on the listener of service port `port`: tell TLS
        from plaintext, complete the handshake, then leave it to a protocol (no task).
        `gate` is left when the connection ends."""
        loop = asyncio.get_running_loop()
        material = self._tls()
        try:
            use_tls = not self._core.accepts_plaintext(port) or await _starts_with_tls(sock)
        except (OSError, TimeoutError):
            _closed(sock, gate)
            return
        if use_tls and material is None:
            _closed(sock, gate)
            return
        protocol = _Downstream(self, use_tls, material, port, gate)
        try:
            if use_tls and material is not None:
                await accept_tls(sock, material.server, protocol, HANDSHAKE_TIMEOUT)
            else:
                await loop.connect_accepted_socket(lambda: protocol, sock)
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
            self._metrics.tls_handshake_failures.labels("inbound").inc()
            log_decision("inbound-handshake-failed", error=str(exc))
            if not protocol.started:
                _closed(sock, gate)
            return

    def close(self) -> None:
        for connection in list(self._connections):
            connection.abort()

    def _forward_headers(self, request: HttpMessage, xfcc: Headers) -> Headers:
        """The request's end-to-end headers, the mesh's own names dropped, and `xfcc`
        (`client_certificate_header`, the same for every request of a connection)."""
        headers = request.end_to_end_headers()
        if request.mesh_named:
            headers = tuple((k, v) for k, v in headers if not _set_by_the_mesh(k))
        return headers + xfcc


def _closed(sock: socket.socket, gate: Gate | None) -> None:
    sock.close()
    if gate is not None:
        gate.leave()


class _Downstream(asyncio.Protocol):
    """One client connection of an inbound listener, parsed as bytes arrive.

    Each request is decided on its head (a refused request's body is never
    read), answered in order, one at a time; reading pauses while a request
    is with the application or the client does not read its answers.
    """

    def __init__(
        self,
        proxy: InboundProxy,
        tls: bool,
        material: TlsMaterial | None,
        port: int | None,
        gate: Gate | None,
    ) -> None:
        self._proxy = proxy
        self._tls = tls
        self._own = None if material is None else material.identity
        self._port = port
        self._gate = gate
        self._messages = MessageReader(None, heads=True)
        self._transport: asyncio.Transport | None = None
        self._peer: str | None = None
        self._app: _AppLink | None = None
        #: a forwarded request whose body is still arriving
        self._pending: tuple[HttpMessage, ForwardToApp] | None = None
        #: the `x-forwarded-client-cert` line the application is told, once worked out
        self._xfcc: Headers | None = None
        #: the request with the application, and its verdict
        self._with_app: tuple[HttpMessage, ForwardToApp] | None = None
        self._error: HttpError | None = None
        self.started = False
        self._busy = False
        self._eof = False
        self._closed = False
        self._lingering = False
        self._dropped = 0
        self._read_paused = False
        self._write_paused = False

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.started = True
        transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._transport = transport
        proxy = self._proxy
        proxy._connections.add(self)
        if self._tls:
            try:
                self._peer = peer_spiffe_id(transport.get_extra_info("ssl_object"))
            except IdentityError as exc:
                proxy._metrics.tls_handshake_failures.labels("inbound").inc()
                log_decision("inbound-identity-missing", error=str(exc))
                self.abort()
                return
        if proxy._deadlines is not None:
            proxy._deadlines.watch(self._messages, transport)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if self._lingering or self._error is not None:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES and self._transport is not None:
                # Enough read for nothing: stop reading and let the close come on time.
                self._transport.pause_reading()
            return
        try:
            self._messages.feed(data)
        except HttpError as exc:
            self._error = exc
        self._next()

    def eof_received(self) -> bool | None:
        if self._lingering:
            self.abort()
            return None
        self._eof = True
        if self._messages.in_message and self._error is None:
            self._error = HttpError("connection closed in the middle of a message", 400)
        self._next()
        # Answer what was asked first; `_next` closes after (over TLS the transport
        # closes on its own: a half-closed TLS connection cannot be written to).
        return None if self._tls else True

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        proxy = self._proxy
        if self in proxy._connections:
            proxy._connections.discard(self)
            if proxy._deadlines is not None:
                proxy._deadlines.forget(self._messages)
            if self._gate is not None:
                self._gate.leave()
        if self._app is not None:
            self._app.close()
            self._app = None

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._next()

    # -- requests

    def _next(self) -> None:
        """Decide and start what was parsed, in order, while nothing is under way."""
        while not self._busy and not self._closed and self._transport is not None:
            transport = self._transport
            messages = self._messages
            if self._write_paused:
                self._pause_reading(transport)
                return
            if self._pending is not None:
                pending, verdict = self._pending
                if not messages.complete(pending):
                    if self._error is not None:
                        self._refuse(self._error)
                    return
                self._pending = None
                messages.pop()
                self._to_app(pending, verdict)
                continue
            request = messages.pop_head()
            if request is None:
                messages.busy = False
                if self._error is not None:
                    self._refuse(self._error)
                elif self._eof:
                    self.abort()
                elif self._read_paused:
                    self._read_paused = False
                    transport.resume_reading()
                return
            self._decide(request)

    def _decide(self, request: HttpMessage) -> None:
        """Decided on the head: a refused request's body is never read."""
        proxy = self._proxy
        peer = self._peer
        verdict = proxy._core.decide(
            InboundRequest(
                request.method, request.target, tuple(request.headers), self._tls, peer, self._port
            )
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
        if isinstance(verdict, Reject):
            if verdict.status is None:
                proxy._metrics.request("inbound", None, None, 0)
                self.abort()
                return
            proxy._metrics.request("inbound", verdict.rule, None, verdict.status)
            # Keep the connection only if the body is already here (nothing unread).
            whole = self._messages.complete(request)
            if whole:
                self._messages.pop()
            keep = request.keep_alive and whole
            head = request.method == "HEAD"
            reply = local_reply(verdict.status, verdict.reason, keep, head=head)
            if keep:
                self._write(reply)
            else:
                self._refuse_with(reply)
            return
        self._pending = (request, verdict)

    def _to_app(self, request: HttpMessage, verdict: ForwardToApp) -> None:
        self._busy = self._messages.busy = True
        if self._messages.has_pending() or self._error is not None:
            assert self._transport is not None
            self._pause_reading(self._transport)
        xfcc = self._xfcc
        if xfcc is None:  # a connection's peer does not change: told the same way every time
            peer = self._peer
            xfcc = self._xfcc = (
                () if peer is None else ((XFCC, f"By={self._own or ''};URI={peer}"),)
            )
        headers = self._proxy._forward_headers(request, xfcc)
        data = encode_request(request.method, verdict.target, headers, request.body)
        app = self._app
        if app is None or app.ended:
            app = self._app = _AppLink(self._proxy._app)
        self._with_app = (request, verdict)
        app.exchange(data, request.method == "HEAD", self._answered)

    def _answered(self, response: HttpMessage | None, error: str | None) -> None:
        """The application's answer to the request `_with_app` holds (a bound method, not a
        closure per request)."""
        assert self._with_app is not None
        request, verdict = self._with_app
        self._with_app = None
        self._busy = False
        metrics = self._proxy._metrics
        head = request.method == "HEAD"
        if response is None:
            if self._app is not None:
                self._app.close()
                self._app = None
            metrics.request("inbound", verdict.rule, "app", 503)
            reason = (
                "local application closed"
                if error is None
                else f"local application failed: {error}"
            )
            answer = local_reply(503, reason, request.keep_alive, (), head)
        else:
            metrics.request("inbound", verdict.rule, "app", response.status)
            if (not response.keep_alive or head) and self._app is not None:
                # After HEAD, an application that wrongly sent a body would have its body
                # read as the next response: the connection is not used again.
                self._app.close()
                self._app = None
            answer = encode_response(
                response.status, response.end_to_end_headers(), response.body, request.keep_alive
            )
        if self._closed:
            return
        self._write(answer)
        if not request.keep_alive and self._transport is not None:
            self._closed = True
            self._transport.close()
            return
        self._next()

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        try:
            transport.write(data)
        except (OSError, RuntimeError, ssl.SSLError):
            self.abort()  # RuntimeError: uvloop's answer to a write on a transport closed

    def _pause_reading(self, transport: asyncio.Transport) -> None:
        if not self._read_paused:
            self._read_paused = True
            transport.pause_reading()

    def _refuse(self, exc: HttpError) -> None:
        self._refuse_with(local_reply(exc.status, str(exc), keep_alive=False))

    def _refuse_with(self, reply: bytes) -> None:
        """Answer, then close after a moment of reading and dropping what still arrives."""
        transport = self._transport
        if transport is None or transport.is_closing() or self._lingering:
            return
        self._lingering = True
        deadlines = self._proxy._deadlines
        if deadlines is not None:
            deadlines.forget(self._messages)
        self._write(reply)
        if transport.is_closing():
            return
        linger(transport)
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()

    def abort(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()


Answer = Callable[[HttpMessage | None, str | None], None]


class _AppLink(asyncio.Protocol):
    """The plain connection to the local application that one client connection uses.

    One exchange at a time: the request is written as soon as the connection is
    open, and the whole response (None and why, when the connection failed
    first or the application took longer than APP_TIMEOUT) goes to the callback.
    """

    def __init__(self, address: tuple[str, int]) -> None:
        self._messages = MessageReader(None, responses=True)
        self._transport: asyncio.Transport | None = None
        self._waiting: tuple[bytes, bool, Answer] | None = None
        self._answer: Answer | None = None
        self._head_only = False
        self._head = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0
        self.ended = False
        # Kept: CPython 3.11's `get_running_loop` makes a getpid() system call each time.
        loop = self._loop = asyncio.get_running_loop()
        self._opening: asyncio.Task[None] | None = loop.create_task(self._open(address))

    async def _open(self, address: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(APP_TIMEOUT):
                await loop.create_connection(lambda: self, *address)
        except (OSError, TimeoutError) as exc:
            self._fail(str(exc) or type(exc).__name__)
        finally:
            self._opening = None

    def exchange(self, data: bytes, head_only: bool, answer: Answer) -> None:
        loop = self._loop
        self._answer = answer
        self._head_only = head_only
        # One timer per connection, moved lazily: an exchange costs no timer of its own.
        self._due = loop.time() + APP_TIMEOUT
        if self._timer is None:
            self._timer = loop.call_at(self._due, self._check_due)
        if self._transport is None:
            self._waiting = (data, head_only, answer)
            return
        self._send(data)

    def _check_due(self) -> None:
        self._timer = None
        if self._answer is None or self.ended:
            return
        loop = self._loop
        if loop.time() >= self._due:
            self._fail("no answer in time")
        else:
            self._timer = loop.call_at(self._due, self._check_due)

    def _send(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            self._transport.write(data)
        except (OSError, RuntimeError) as exc:
            self._fail(str(exc))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        if self.ended:
            self._transport.close()
            return
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._send(waiting[0])

    def data_received(self, data: bytes) -> None:
        if self._answer is None:
            self._fail("bytes nobody asked for")  # the connection is out of step
            return
        if self._head_only:
            # A HEAD response has a length but no body: read its head alone.
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > MAX_HEAD:
                    self._fail("response head too large")
                return
            try:
                head = parse_response_head(bytes(self._head[: end + 4]))
            except HttpError as exc:
                self._fail(str(exc))
                return
            self._deliver(head, None)
            return
        try:
            self._messages.feed(data)
        except HttpError as exc:
            self._fail(str(exc))
            return
        response = self._messages.pop()
        if response is not None:
            self._deliver(response, None)

    def eof_received(self) -> bool | None:
        self._fail(None)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(None if exc is None else str(exc))

    def _deliver(self, response: HttpMessage | None, error: str | None) -> None:
        answer, self._answer = self._answer, None
        if answer is not None:
            answer(response, error)

    def _fail(self, error: str | None) -> None:
        self.close()
        self._deliver(None, error)

    def close(self) -> None:
        self.ended = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()
        elif self._opening is not None:
            self._opening.cancel()


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
