"""The control plane: serves the spec, the endpoint registry and certificates to sidecars.

Every change (a good spec edit, an endpoint joining or leaving) becomes a new
snapshot with a higher version, pushed to every stream that does not hold it
yet. Changes within `push_delay` of each other are pushed as one snapshot, so
a burst of registrations does not cost every sidecar one snapshot per member. Versions start
from the wall clock in milliseconds, so they keep growing across restarts and a
reconnecting sidecar's version never collides with a new control plane's.

Trust: the stream is TLS with the control plane's own certificate (signed by
the root every sidecar pins from its bootstrap, for an identity no workload can
be issued). The first message must carry a bootstrap secret the entitlements
table knows; it decides which workload the stream is. That workload's sidecar
may register only its own endpoint, say `bye` only for itself, and get a
certificate only for the identity its service has in the current spec, for a
key it proves it holds (a CSR). A spec edit that changes that identity asks
the sidecar for a new CSR at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_impl.control_plane import protocol
from reference_impl.control_plane.bootstrap import Entitlements, Workload
from reference_impl.control_plane.ca import SERVING_TTL, CertificateService, Issued
from reference_impl.control_plane.registry import EndpointRegistry, key_of
from reference_impl.control_plane.store import SpecStore
from reference_impl.pki import CsrError, IdentityError
from reference_impl.snapshot import Endpoint, Snapshot

log = logging.getLogger("meshspec.control_plane")

HELLO_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 5.0
MAX_UNAUTHENTICATED = 128  # streams past TLS that have not said hello yet
CSR_BURST, CSR_WINDOW = 5, 1.0  # at most this many CSRs per stream per window
MAX_TOKEN = 256
MAX_UNREAD = 64 * 1024 * 1024  # snapshot bytes a stream may leave unanswered before it is cut
MAX_NACKED = 32  # rejected versions remembered per stream
REFUSAL_LOG_BURST, REFUSAL_LOG_WINDOW = 20, 10.0  # refusals logged one by one, then summed up


class NoSpec(RuntimeError):
    """The control plane cannot start without one good spec."""


@dataclass
class Stream:
    """One connected sidecar and what it said about the snapshots it was sent."""

    workload: Workload
    endpoint: Endpoint
    writer: asyncio.StreamWriter
    sent: int | None
    acked: int | None = None
    nacked: dict[int, str] = field(default_factory=dict)
    credentials: Issued | None = None
    renewing: str | None = None  # the identity a `renew` was sent for
    replaced: bool = False  # a newer stream of the same workload took over
    unanswered: int = 0  # snapshot bytes sent since its last ACK or NACK
    csr_times: deque[float] = field(default_factory=deque)


class Refused(protocol.ProtocolError):
    """The peer is not a workload this control plane serves, or asked for what it may not have."""


class ControlPlane:
    def __init__(
        self,
        store: SpecStore,
        certificates: CertificateService,
        entitlements: Entitlements,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        grace: float = 5.0,
        settle: float = 0.0,
        poll_interval: float = 0.25,
        push_delay: float = 0.02,
    ) -> None:
        self.store = store
        self.certificates = certificates
        self.entitlements = entitlements
        self.host = host
        self.port = port
        self.settle = settle
        self.poll_interval = poll_interval
        self.push_delay = push_delay
        self.registry = EndpointRegistry(grace, self._changed)
        self.streams: list[Stream] = []
        self.snapshot: Snapshot | None = None
        self._next_version = int(time.time() * 1000)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._flush_pending = False
        self._ready_at = 0.0
        self._acks = asyncio.Condition()
        self._waiting: dict[asyncio.StreamWriter, None] = {}  # past TLS, no hello yet; oldest first
        self.refusals: deque[str] = deque(maxlen=100)  # why streams were refused, latest last
        self._refusal_window = 0.0
        self._refusals_logged = self._refusals_unlogged = 0
        # called with (stream, version, accepted) on every ACK/NACK: for measurements
        self.on_reply: Callable[[Stream, int, bool], None] | None = None

    # lifecycle

    async def start(self) -> None:
        self.store.reload()
        if self.store.current is None:
            raise NoSpec("the spec has errors; the control plane needs one good spec to start")
        loop = asyncio.get_running_loop()
        self._ready_at = loop.time() + self.settle
        self._rebuild()
        identity = self.entitlements.control_plane_identity
        context = self.certificates.serving_context(identity)
        self._server = await asyncio.start_server(
            self._serve,
            self.host,
            self.port,
            limit=protocol.MAX_REQUEST_LINE,
            ssl=context,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._watch())
        self._spawn(self._refresh_serving(context, identity))
        log.info("control plane listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for stream in list(self.streams):
            stream.writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self.registry.close()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # snapshots

    def _changed(self) -> None:
        """Something the snapshot is made of changed: rebuild and push once this turn ends."""
        if self.snapshot is None:
            return
        self._rebuild()

    def _rebuild(self) -> None:
        assert self.store.current is not None
        self._ask_for_renewals()
        self._next_version += 1
        self.snapshot = Snapshot(
            version=self._next_version,
            documents=self.store.current.documents,
            endpoints=self.registry.endpoints(),
        )
        self._schedule_flush()

    def publish(self, snapshot: Snapshot) -> None:
        """Push a snapshot as it is (operators and tests; a bad one is NACKed and kept out)."""
        self._next_version = max(self._next_version, snapshot.version)
        self.snapshot = snapshot
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_pending:
            return
        self._flush_pending = True
        loop = asyncio.get_running_loop()
        loop.call_at(max(loop.time() + self.push_delay, self._ready_at), self._flush)

    def release(self) -> None:
        """End the settle period now (every expected sidecar has registered)."""
        self._ready_at = 0.0
        self._flush_pending = False
        self._schedule_flush()

    def _flush(self) -> None:
        self._flush_pending = False
        snapshot = self.snapshot
        if snapshot is None:
            return
        payload: bytes | None = None
        for stream in self.streams:
            if stream.sent == snapshot.version or stream.writer.is_closing():
                continue
            if stream.unanswered > MAX_UNREAD:
                # a sidecar that does not read must not make us hold every snapshot for it
                log.warning(
                    "%s %s does not read its stream; closing it",
                    stream.workload.service,
                    stream.workload.instance,
                )
                stream.writer.transport.abort()  # close() would wait for it to read
                continue
            if payload is None:
                message = {"type": protocol.SNAPSHOT, "snapshot": snapshot.to_json()}
                payload = protocol.encode(message)
            stream.writer.write(payload)
            stream.unanswered += len(payload)
            stream.sent = snapshot.version

    def refresh(self) -> bool:
        """Re-read the spec if its files changed; True when a new snapshot was built."""
        if self.store.poll():
            self._rebuild()
            return True
        return False

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            self.refresh()

    # streams

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if len(self._waiting) >= MAX_UNAUTHENTICATED:
            # the oldest silent stream goes, not the newcomer: a sidecar says hello at once,
            # so a flood of idle connections cannot lock real sidecars out
            oldest = next(iter(self._waiting))
            del self._waiting[oldest]
            self._refused(oldest.get_extra_info("peername"), "no hello while others waited")
            oldest.close()
        self._waiting[writer] = None
        try:
            hello = await asyncio.wait_for(protocol.read_message(reader), HELLO_TIMEOUT)
            if hello is None:
                return
            stream = self._authenticate(hello, writer)
            self._waiting.pop(writer, None)
            await self._serve_sidecar(stream, reader)
        except (protocol.ProtocolError, TimeoutError) as exc:
            reason = str(exc) or "no hello in time"
            self._refused(peer, reason)
            with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
                await asyncio.wait_for(
                    protocol.send(writer, {"type": protocol.ERROR, "error": reason}), 1.0
                )
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self._waiting.pop(writer, None)
            writer.close()

    def _refused(self, peer: Any, reason: str) -> None:
        """Log a refusal; past a burst, count them and say how many once the window ends."""
        self.refusals.append(reason)
        now = time.monotonic()
        if now - self._refusal_window > REFUSAL_LOG_WINDOW:
            if self._refusals_unlogged:
                log.warning("refused %d more streams without logging each", self._refusals_unlogged)
            self._refusal_window, self._refusals_logged, self._refusals_unlogged = now, 0, 0
        if self._refusals_logged < REFUSAL_LOG_BURST:
            self._refusals_logged += 1
            log.warning("refused a stream from %s: %s", peer, reason)
        else:
            self._refusals_unlogged += 1

    def _authenticate(self, hello: dict[str, Any], writer: asyncio.StreamWriter) -> Stream:
        """The stream of the workload whose bootstrap secret `hello` carries; Refused if none."""
        if hello["type"] != protocol.HELLO:
            raise Refused(f"expected hello, got {hello['type'][:40]!r}")
        workload = self.entitlements.authenticate(protocol.text(hello, "token", limit=MAX_TOKEN))
        if workload is None:
            raise Refused("unknown bootstrap secret")
        node = protocol.obj(hello, "node")
        claimed = Workload(
            protocol.text(node, "service", limit=256),
            protocol.optional_text(node, "version", limit=256),
            protocol.text(node, "instance", limit=256),
        )
        if claimed != workload:
            raise Refused(
                f"this bootstrap is for {workload.service} {workload.instance}, "
                f"not {claimed.service} {claimed.instance}"
            )
        spec = self.store.current.spec if self.store.current else None
        if spec is None or workload.service not in spec.services:
            raise Refused(f"service {workload.service!r} is not in the spec")
        protocol.text(node, "host", limit=255)
        protocol.port(node, "port")
        try:
            # who it is comes from the entitlements; only where it listens is its own word
            endpoint = Endpoint.from_json({**node, **workload.to_json()})
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise protocol.ProtocolError(f"malformed node: {exc!r}"[:200]) from None
        last = protocol.optional_version(hello, "lastVersion")
        return Stream(workload, endpoint, writer, sent=last)

    async def _serve_sidecar(self, stream: Stream, reader: asyncio.StreamReader) -> None:
        for older in self.streams:
            if older.workload == stream.workload:
                # a sidecar that reconnects before we noticed its old stream break
                older.replaced = True
                older.writer.close()
        self.streams.append(stream)
        self.registry.register(stream.endpoint)
        self._schedule_flush()
        said_bye = False
        try:
            while True:
                message = await protocol.read_message(reader)
                if message is None:
                    break
                if message["type"] == protocol.BYE:
                    said_bye = True
                    break
                await self._handle(stream, message)
        finally:
            self.streams.remove(stream)
            if stream.replaced:
                pass
            elif said_bye:
                self.registry.deregister(stream.endpoint)
            elif not any(key_of(s.endpoint) == key_of(stream.endpoint) for s in self.streams):
                self.registry.lost(stream.endpoint)

    async def _handle(self, stream: Stream, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == protocol.ACK:
            version = protocol.version(message)
            if self.on_reply is not None:
                self.on_reply(stream, version, True)
            await self._record_ack(stream, version)
        elif kind == protocol.NACK:
            version = protocol.optional_version(message, "version") or 0
            error = protocol.optional_text(message, "error", limit=4096) or ""
            if self.on_reply is not None:
                self.on_reply(stream, version, False)
            stream.nacked[version] = error
            while len(stream.nacked) > MAX_NACKED:
                del stream.nacked[next(iter(stream.nacked))]
            log.warning(
                "%s %s rejected snapshot %s: %r",
                stream.workload.service,
                stream.workload.instance,
                version,
                error[:500],  # the sidecar's words: quoted, so they cannot forge log lines
            )
            await self._record_ack(stream, stream.acked)
        elif kind == protocol.CSR:
            self._sign(stream, protocol.text(message, "csr").encode())
        else:
            raise protocol.ProtocolError(f"unexpected message type {kind[:40]!r}")

    def _sign(self, stream: Stream, csr: bytes) -> None:
        """Certify the CSR's key for the identity the stream's service has now."""
        now = time.monotonic()
        while stream.csr_times and now - stream.csr_times[0] > CSR_WINDOW:
            stream.csr_times.popleft()
        if len(stream.csr_times) >= CSR_BURST:
            raise Refused(f"more than {CSR_BURST} certificate requests within {CSR_WINDOW:g}s")
        stream.csr_times.append(now)
        spec = self.store.current.spec if self.store.current else None
        if spec is None or stream.workload.service not in spec.services:
            raise Refused(f"service {stream.workload.service!r} is no longer in the spec")
        identity = spec.identity(stream.workload.service)
        try:
            issued = self.certificates.sign(identity, csr)
        except (CsrError, IdentityError) as exc:
            raise Refused(f"certificate request refused: {exc}") from None
        stream.credentials = issued
        stream.renewing = None
        stream.writer.write(protocol.encode(issued.to_message()))

    def _ask_for_renewals(self) -> None:
        """Streams whose service's identity changed in the spec: ask each for a CSR now."""
        assert self.store.current is not None
        spec = self.store.current.spec
        for stream in self.streams:
            issued = stream.credentials
            service = stream.workload.service
            if issued is None or service not in spec.services or stream.writer.is_closing():
                continue
            wanted = spec.identity(service)
            if wanted != issued.spiffe_id and stream.renewing != wanted:
                stream.renewing = wanted
                log.info(
                    "%s %s is now %s: asking for a CSR", service, stream.workload.instance, wanted
                )
                stream.writer.write(protocol.encode({"type": protocol.RENEW, "identity": wanted}))

    async def _record_ack(self, stream: Stream, version: int | None) -> None:
        stream.acked = version
        stream.unanswered = 0
        async with self._acks:
            self._acks.notify_all()

    async def _refresh_serving(self, context: ssl.SSLContext, identity: str) -> None:
        """A fresh serving certificate at half its lifetime (new handshakes present it)."""
        while True:
            await asyncio.sleep(SERVING_TTL.total_seconds() / 2)
            self.certificates.refresh_serving(context, identity)

    # observation

    async def wait_acked(self, version: int, count: int, timeout: float) -> None:
        """Until `count` streams have acknowledged `version` (or a later one)."""

        def done() -> bool:
            return sum(1 for s in self.streams if (s.acked or 0) >= version) >= count

        async with self._acks:
            await asyncio.wait_for(self._acks.wait_for(done), timeout)

    def status(self) -> dict[str, Any]:
        return {
            "version": self.snapshot.version if self.snapshot else None,
            "generation": self.store.generation,
            "problems": [d.render() for d in self.store.problems],
            "endpoints": [e.to_json() for e in self.registry.endpoints()],
            "streams": [
                {
                    "service": s.endpoint.service,
                    "identity": s.credentials.spiffe_id if s.credentials else None,
                    "instance": s.endpoint.instance,
                    "sent": s.sent,
                    "acked": s.acked,
                    "nacked": {str(k): v for k, v in s.nacked.items()},
                }
                for s in self.streams
            ],
            "refusals": list(self.refusals),
        }
