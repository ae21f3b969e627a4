"""The outbound listener: carries out what `OutboundCore` decides, with real sockets.

The application speaks plain HTTP/1.1 to this listener with the destination
service in the Host header. Every request becomes a `RequestReceived` event;
the actions that come back open connections (originating mTLS and checking
the server's SPIFFE ID), send requests on them, and finally answer the
application. No policy lives here. Answers to the application carry the route
taken and the timeout it ran under (`x-meshspec-route`, `x-meshspec-timeout`)
so callers and the conformance suite can see which policy applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

from reference_impl.core import (
    CloseConnection,
    Ejected,
    FailureKind,
    Headers,
    OpenConnection,
    OutboundAction,
    OutboundCore,
    OutboundEvent,
    Overflowed,
    RequestReceived,
    Respond,
    Retried,
    Returned,
    SendRequest,
    UpstreamClosed,
    UpstreamConnected,
    UpstreamConnectFailed,
    UpstreamFailed,
    UpstreamResponse,
)
from reference_impl.metrics import SidecarMetrics, decisions_logged, log_decision
from reference_impl.pki import IdentityError, verify_peer
from reference_impl.proxy.deadlines import Deadlines
from reference_impl.proxy.gate import Gate
from reference_impl.proxy.http1 import (
    LINGER_BYTES,
    HttpError,
    HttpMessage,
    MessageReader,
    encode_request,
    encode_response,
    linger,
    local_reply,
    read_response_head,
)
from reference_impl.proxy.tls import TlsMaterial
from reference_impl.proxy.tls_session import connect_tls

CONNECT_TIMEOUT = 5.0
ROUTE_HEADER = "x-meshspec-route"
TIMEOUT_HEADER = "x-meshspec-timeout"
#: set only by this sidecar: the same names from upstream are dropped, never relayed
POLICY_HEADERS = frozenset({ROUTE_HEADER, TIMEOUT_HEADER})
#: the mesh's own headers: an application's requests never carry them onward
MESH_PREFIX = "x-meshspec-"


Deliver = Callable[[HttpMessage | None], None]
#: where a request's answer goes: given the request back, no closure is made per request
Answer = Callable[[HttpMessage, bytes], None]


class _UpstreamProtocol(asyncio.StreamReaderProtocol):
    """Stream protocol that can also hand a response over without any task reading it.

    While `awaiting` is set, bytes go straight to that parser and the whole
    response (None: the connection failed first) to its callback: a request then
    costs no task of its own. Otherwise bytes go to the stream reader, as a
    HEAD exchange needs; and on an idle pooled connection, anything arriving
    calls `when_disturbed`, which watches it at no cost per request.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        super().__init__(reader)
        self.when_disturbed: Callable[[], None] | None = None
        self.awaiting: tuple[MessageReader, Deliver] | None = None
        self.ended = False

    def data_received(self, data: bytes) -> None:
        if self.awaiting is not None:
            messages = self.awaiting[0]
            try:
                messages.feed(data)
            except HttpError:
                self._deliver(None)
                return
            response = messages.pop()
            if response is not None:
                self._deliver(response)
            return
        super().data_received(data)
        self._disturbed()

    def eof_received(self) -> bool:
        self.ended = True
        keep_open = bool(super().eof_received())
        self._deliver(None)
        self._disturbed()
        return keep_open

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        super().connection_lost(exc)
        self._deliver(None)
        self._disturbed()

    def _deliver(self, response: HttpMessage | None) -> None:
        awaiting, self.awaiting = self.awaiting, None
        if awaiting is not None:
            awaiting[1](response)

    def _disturbed(self) -> None:
        callback, self.when_disturbed = self.when_disturbed, None
        if callback is not None:
            callback()


async def _open_upstream(
    host: str, port: int, context: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, _UpstreamProtocol]:
    """`asyncio.open_connection`, with the protocol that can watch an idle connection."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    protocol = _UpstreamProtocol(reader)
    transport: asyncio.Transport
    if context is None:
        transport, _ = await loop.create_connection(lambda: protocol, host, port)
    else:  # a TlsSession acts as the transport
        transport = cast(
            asyncio.Transport, await connect_tls(host, port, context, protocol, CONNECT_TIMEOUT)
        )
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop), protocol


@dataclass
class _Upstream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    messages: MessageReader
    protocol: _UpstreamProtocol
    task: asyncio.Task[None] | None = None
    watcher: asyncio.Task[None] | None = None
    #: the writer's transport: written to directly, as `StreamWriter.write` does
    transport: asyncio.WriteTransport = field(init=False)

    def __post_init__(self) -> None:
        self.transport = self.writer.transport

    @property
    def busy(self) -> bool:
        return self.task is not None or self.protocol.awaiting is not None

    def close(self) -> None:
        self.protocol.awaiting = None  # an abandoned attempt reports nothing more
        self.protocol.when_disturbed = None
        for task in (self.task, self.watcher):
            if task is not None and not task.done():
                task.cancel()
        self.writer.close()


class OutboundProxy:
    def __init__(
        self,
        core: OutboundCore,
        tls: Callable[[], TlsMaterial | None],
        metrics: SidecarMetrics,
        rng: random.Random,
        deadlines: Deadlines | None = None,
    ) -> None:
        self._core = core
        self._deadlines = deadlines
        self._tls = tls
        self._metrics = metrics
        self._rng = rng
        self._ids = itertools.count(1)
        #: requests the core has not answered yet: the request and where its answer goes
        self._waiters: dict[int, tuple[HttpMessage, Answer]] = {}
        self._clients: set[_ClientConnection] = set()
        self._bodies: dict[int, bytes] = {}
        self._responses: dict[int, dict[int, HttpMessage]] = {}
        self._upstreams: dict[int, _Upstream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the application side -------------------------------------------------------------

    def connection(self, gate: Gate | None = None) -> asyncio.Protocol:
        """A protocol for one connection accepted from the application (`create_server`)."""
        return _ClientConnection(self, gate)

    def _forward(self, request: HttpMessage, answer: Answer) -> None:
        """Hand `request` to the core; `answer` gets it back with the bytes for the application."""
        rid = next(self._ids)
        self._waiters[rid] = (request, answer)
        self._bodies[rid] = request.body
        headers = request.end_to_end_headers()
        # Positional, here and for the other per-request events: keywords cost a dict per call.
        event = RequestReceived(
            rid,
            request.method,
            request.target,
            _without_mesh_headers(headers) if request.mesh_named else headers,
            self._now(),  # now
            self._rng.random(),  # random
        )
        self.feed(event)

    def _reply(self, request: HttpMessage, respond: Respond, upstream: HttpMessage | None) -> bytes:
        self._metrics.request("outbound", respond.route, respond.backend, respond.status)
        if decisions_logged():
            log_decision(
                "outbound",
                method=request.method,
                target=request.target,
                status=respond.status,
                reason=respond.reason,
                route=respond.route,
                backend=respond.backend,
                endpoint=respond.endpoint,
            )
        told = _policy_headers(respond)
        if upstream is None:
            head = request.method == "HEAD"
            return local_reply(respond.status, respond.reason, request.keep_alive, told, head)
        headers = upstream.end_to_end_headers()
        if upstream.mesh_named:
            headers = tuple((n, v) for n, v in headers if n.lower() not in POLICY_HEADERS)
        return encode_response(upstream.status, headers + told, upstream.body, request.keep_alive)

    # -- events in, actions out -----------------------------------------------------------

    def feed(self, event: OutboundEvent) -> None:
        self.perform(self._core.handle(event))

    def perform(self, actions: list[OutboundAction]) -> None:
        for action in actions:
            match action:
                case OpenConnection():
                    self._spawn(self._connect(action))
                case SendRequest():
                    self._start_exchange(action)
                case Respond():
                    self._answer(action)
                case CloseConnection():
                    upstream = self._upstreams.pop(action.conn_id, None)
                    if upstream is not None:
                        upstream.close()
                case Retried():
                    self._metrics.retries.labels(action.backend).inc()
                case Overflowed():
                    self._metrics.overflow.labels(action.cluster).inc()
                case Ejected():
                    e = action.endpoint
                    self._metrics.ejections.labels(e.service, e.instance).inc()
                    log_decision("ejected", endpoint=e.instance, service=e.service)
                case Returned():
                    log_decision("returned", endpoint=action.endpoint.instance)

    def _answer(self, action: Respond) -> None:
        rid = action.request_id
        waiter = self._waiters.pop(rid, None)
        attempts = self._responses.pop(rid, None)
        self._bodies.pop(rid, None)
        if waiter is None:
            return
        request, answer = waiter
        relayed = action.upstream_attempt
        upstream = None if relayed is None or attempts is None else attempts.get(relayed)
        answer(request, self._reply(request, action, upstream))

    def _now(self) -> float:
        # The loop is looked up once: CPython 3.11's `get_running_loop` makes a getpid()
        # system call each time (fork detection), several per request.
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the upstream side ----------------------------------------------------------------

    async def _connect(self, action: OpenConnection) -> None:
        endpoint = action.endpoint
        material = self._tls() if action.tls_identity is not None else None
        if action.tls_identity is not None and material is None:
            self.feed(UpstreamConnectFailed(action.conn_id, self._now(), "no credentials"))
            return
        context: ssl.SSLContext | None = None if material is None else material.client
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                port = endpoint.port if action.port is None else action.port
                reader, writer, protocol = await _open_upstream(endpoint.host, port, context)
        except ssl.SSLError as exc:
            self._metrics.tls_handshake_failures.labels("outbound").inc()
            self.feed(UpstreamConnectFailed(action.conn_id, self._now(), str(exc)))
            return
        except (OSError, TimeoutError) as exc:
            self.feed(UpstreamConnectFailed(action.conn_id, self._now(), str(exc)))
            return
        if action.tls_identity is not None:
            try:
                verify_peer(writer.get_extra_info("ssl_object"), action.tls_identity)
            except IdentityError as exc:
                self._metrics.tls_handshake_failures.labels("outbound").inc()
                log_decision("identity-mismatch", endpoint=endpoint.instance, error=str(exc))
                writer.close()
                self.feed(UpstreamConnectFailed(action.conn_id, self._now(), str(exc)))
                return
        messages = MessageReader(reader, responses=True)
        self._upstreams[action.conn_id] = _Upstream(reader, writer, messages, protocol)
        self.feed(UpstreamConnected(action.conn_id, self._now()))

    def _start_exchange(self, action: SendRequest) -> None:
        upstream = self._upstreams.get(action.conn_id)
        if upstream is None:
            self.feed(
                UpstreamFailed(action.request_id, action.attempt, FailureKind.RESET, self._now())
            )
            return
        upstream.protocol.when_disturbed = None  # what arrives now is the response
        if action.method == "HEAD" or upstream.watcher is not None:
            upstream.task = self._spawn(self._exchange(action, upstream))
        else:
            self._exchange_directly(action, upstream)

    def _exchange_directly(self, action: SendRequest, upstream: _Upstream) -> None:
        """Write the request; the protocol hands the response to `_exchanged` when whole."""
        body = self._bodies.get(action.request_id, b"")
        if upstream.protocol.ended or upstream.transport.is_closing():
            self._exchanged(action, upstream, None)
            return
        upstream.protocol.awaiting = (
            upstream.messages,
            lambda response: self._exchanged(action, upstream, response),
        )
        try:
            upstream.transport.write(
                encode_request(action.method, action.target, action.headers, body)
            )
        except (OSError, ssl.SSLError):
            upstream.protocol.awaiting = None
            self._exchanged(action, upstream, None)

    async def _exchange(self, action: SendRequest, upstream: _Upstream) -> None:
        body = self._bodies.get(action.request_id, b"")
        watcher, upstream.watcher = upstream.watcher, None
        if watcher is not None:
            # Only one reader at a time: wait until the idle watcher has let go.
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        response: HttpMessage | None
        try:
            upstream.writer.write(
                encode_request(action.method, action.target, action.headers, body)
            )
            await upstream.writer.drain()
            if action.method == "HEAD":
                response = await _read_head_only(upstream)
            else:
                response = await upstream.messages.next()
        except (OSError, HttpError, ssl.SSLError):
            response = None
        upstream.task = None
        self._exchanged(action, upstream, response)

    def _exchanged(
        self, action: SendRequest, upstream: _Upstream, response: HttpMessage | None
    ) -> None:
        """An attempt's response arrived (None: the connection failed before it did)."""
        if response is None:
            gone = self._upstreams.pop(action.conn_id, None)
            if gone is not None:
                gone.writer.close()
            kind = FailureKind.RESET
            self.feed(UpstreamFailed(action.request_id, action.attempt, kind, self._now()))
            return
        self._responses.setdefault(action.request_id, {})[action.attempt] = response
        if not response.keep_alive:
            self._upstreams.pop(action.conn_id, None)
            upstream.writer.close()
        self.feed(
            UpstreamResponse(
                action.request_id,
                action.attempt,
                response.status,
                self._now(),
                response.keep_alive,
            )
        )
        if self._upstreams.get(action.conn_id) is upstream and not upstream.busy:
            if action.method == "HEAD":
                # The head was read apart from the parser; a reading task sees any leftover.
                upstream.watcher = self._spawn(self._watch_idle(action.conn_id, upstream))
            else:
                self._watch_idle_quietly(action.conn_id, upstream)

    def _watch_idle_quietly(self, conn_id: int, upstream: _Upstream) -> None:
        """Notice an idle pooled connection closing, so no request is sent into it.

        Anything already seen (extra bytes after the response, an end of stream)
        ends it now; anything later comes through the protocol's callback.
        """
        reader = upstream.reader
        if upstream.messages.has_pending() or reader.at_eof() or reader.exception() is not None:
            self._idle_ended(conn_id, upstream)
            return
        upstream.protocol.when_disturbed = lambda: self._idle_ended(conn_id, upstream)

    async def _watch_idle(self, conn_id: int, upstream: _Upstream) -> None:
        """Notice an idle pooled connection closing, so no request is sent into it."""
        with contextlib.suppress(OSError, HttpError, ssl.SSLError):
            await upstream.messages.next()
        self._idle_ended(conn_id, upstream)

    def _idle_ended(self, conn_id: int, upstream: _Upstream) -> None:
        # End of stream, or bytes nobody asked for: either way the connection is unusable.
        if self._upstreams.get(conn_id) is upstream and not upstream.busy:
            del self._upstreams[conn_id]
            upstream.writer.close()
            self.feed(UpstreamClosed(conn_id, self._now()))

    async def close(self) -> None:
        for upstream in list(self._upstreams.values()):
            upstream.close()
        self._upstreams.clear()
        self._waiters.clear()
        for client in list(self._clients):
            client.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _without_mesh_headers(headers: Headers) -> Headers:
    """The application's headers minus the mesh's own names (`x-meshspec-*`): only
    sidecars set those, so an application cannot pass them off as the mesh's."""
    if not any(name[:11].lower() == MESH_PREFIX for name, _ in headers):
        return headers
    return tuple((n, v) for n, v in headers if n[:11].lower() != MESH_PREFIX)


def _policy_headers(respond: Respond) -> Headers:
    """What the local app may learn about the policy its request ran under (see README)."""
    route, timeout = respond.route, respond.timeout
    if route is not None and timeout is not None:  # a forwarded request's: both, built at once
        return ((ROUTE_HEADER, route), (TIMEOUT_HEADER, timeout))
    out: list[tuple[str, str]] = []
    if route is not None:
        out.append((ROUTE_HEADER, route))
    if timeout is not None:
        out.append((TIMEOUT_HEADER, timeout))
    return tuple(out)


async def _read_head_only(upstream: _Upstream) -> HttpMessage:
    """A response to HEAD has headers only; read them alone and restart the parser after."""
    message = await read_response_head(upstream.reader)
    upstream.messages = MessageReader(upstream.reader, responses=True)
    return message


class _ClientConnection(asyncio.Protocol):
    """One connection from the application: parsed as bytes arrive, no stream or task.

    Requests are answered in order, one at a time; a pipelined request waits
    parsed (and reading pauses) until the one before it is answered. Reading
    also pauses while the application does not read its answers.
    """

    def __init__(self, proxy: OutboundProxy, gate: Gate | None) -> None:
        self._proxy = proxy
        self._gate = gate
        self._messages = MessageReader(None)
        self._transport: asyncio.Transport | None = None
        self._admitted = False
        self._busy = False
        self._write_paused = False
        self._read_paused = False
        self._lingering = False
        self._dropped = 0
        self._closed = False

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._transport = transport
        if self._gate is not None and not self._gate.enter():
            self._closed = True
            transport.abort()
            return
        self._admitted = True
        self._proxy._clients.add(self)
        deadlines = self._proxy._deadlines
        if deadlines is not None:
            deadlines.watch(self._messages, transport)

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
        return True  # answer what was asked first; `_next` closes after

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._admitted:
            self._admitted = False
            self._proxy._clients.discard(self)
            deadlines = self._proxy._deadlines
            if deadlines is not None:
                deadlines.forget(self._messages)
            if self._gate is not None:
                self._gate.leave()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._next()

    # -- requests

    _eof = False
    #: what was wrong with the bytes after the requests already parsed: answered in turn
    _error: HttpError | None = None

    def _next(self) -> None:
        """Start the next parsed request, if none is under way and the client reads."""
        transport = self._transport
        if self._busy or self._closed or transport is None:
            return
        messages = self._messages
        if self._write_paused:
            self._pause_reading(transport)
            return
        request = messages.pop()
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
        self._busy = messages.busy = True
        if messages.has_pending() or self._error is not None:
            self._pause_reading(transport)
        self._proxy._forward(request, self._answered)

    def _answered(self, request: HttpMessage, answer: bytes) -> None:
        self._busy = False
        transport = self._transport
        if self._closed or transport is None or transport.is_closing():
            return
        try:
            transport.write(answer)
        except (OSError, RuntimeError):
            self.abort()  # RuntimeError: uvloop's answer to a write on a transport closed
            return
        if not request.keep_alive:
            self._closed = True
            transport.close()
            return
        self._next()

    def _pause_reading(self, transport: asyncio.Transport) -> None:
        if not self._read_paused:
            self._read_paused = True
            transport.pause_reading()

    def _refuse(self, exc: HttpError) -> None:
        """Answer a request that is not acceptable, then close after a moment of draining."""
        transport = self._transport
        if transport is None or transport.is_closing() or self._lingering:
            return
        deadlines = self._proxy._deadlines
        if deadlines is not None:
            deadlines.forget(self._messages)
        try:
            transport.write(local_reply(exc.status, str(exc), keep_alive=False))
        except (OSError, RuntimeError):
            self.abort()
            return
        linger(transport)
        self._lingering = True
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()

    def abort(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()
