"""The control plane: serves the spec, the endpoint registry and certificates to sidecars.

Every change (a good spec edit, an endpoint joining or leaving) becomes a new
snapshot with a higher version, pushed to every stream that does not hold it
yet. Changes within `push_delay` of each other are pushed as one snapshot, so
a burst of registrations does not cost every sidecar one snapshot per member. Versions start
from the wall clock in milliseconds, so they keep growing across restarts and a
reconnecting sidecar's version never collides with a new control plane's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_impl.control_plane import protocol
from reference_impl.control_plane.ca import CertificateService, Issued
from reference_impl.control_plane.registry import EndpointRegistry
from reference_impl.control_plane.store import SpecStore
from reference_impl.snapshot import Endpoint, Snapshot

log = logging.getLogger("meshspec.control_plane")

HELLO_TIMEOUT = 10.0
MIN_RENEWAL = 0.05  # seconds; a certificate cut short by whole-second rounding never spins


class NoSpec(RuntimeError):
    """The control plane cannot start without one good spec."""


@dataclass
class Stream:
    """One connected sidecar and what it said about the snapshots it was sent."""

    endpoint: Endpoint
    writer: asyncio.StreamWriter
    sent: int | None
    acked: int | None = None
    nacked: dict[int, str] = field(default_factory=dict)
    credentials: Issued | None = None


class ControlPlane:
    def __init__(
        self,
        store: SpecStore,
        certificates: CertificateService | None,
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
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=protocol.MAX_LINE
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._watch())
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
            if payload is None:
                message = {"type": protocol.SNAPSHOT, "snapshot": snapshot.to_json()}
                payload = protocol.encode(message)
            stream.writer.write(payload)
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
        try:
            hello = await asyncio.wait_for(protocol.read_message(reader), HELLO_TIMEOUT)
            if hello is None:
                return
            if hello["type"] == "status":
                await protocol.send(writer, {"type": "status", **self.status()})
                return
            await self._serve_sidecar(hello, reader, writer)
        except (protocol.ProtocolError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            log.warning("dropping a stream: %s", exc)
            with contextlib.suppress(ConnectionError):
                await protocol.send(writer, {"type": protocol.ERROR, "error": str(exc)})
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _serve_sidecar(
        self,
        hello: dict[str, Any],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if hello["type"] != protocol.HELLO:
            raise protocol.ProtocolError(f"expected hello, got {hello['type']!r}")
        endpoint = Endpoint.from_json(hello["node"])
        last = hello.get("lastVersion")
        stream = Stream(endpoint, writer, sent=None if last is None else int(last))
        spec = self.store.current.spec if self.store.current else None
        if spec is None or endpoint.service not in spec.services:
            raise protocol.ProtocolError(f"unknown service {endpoint.service!r}")
        rotation: asyncio.Task[None] | None = None
        if self.certificates is not None and hello.get("credentials", True):
            rotation = self._spawn(self._rotate(stream, spec.identity(endpoint.service)))
        self.streams.append(stream)
        self.registry.register(endpoint)
        self._schedule_flush()
        said_bye = False
        try:
            while True:
                message = await protocol.read_message(reader)
                if message is None:
                    break
                kind = message["type"]
                if kind == protocol.ACK:
                    if self.on_reply is not None:
                        self.on_reply(stream, int(message["version"]), True)
                    await self._record_ack(stream, int(message["version"]))
                elif kind == protocol.NACK:
                    if self.on_reply is not None:
                        self.on_reply(stream, int(message["version"] or 0), False)
                    stream.nacked[int(message["version"] or 0)] = str(message.get("error", ""))
                    log.warning(
                        "%s/%s rejected snapshot %s: %s",
                        endpoint.service,
                        endpoint.instance,
                        message["version"],
                        message.get("error", ""),
                    )
                    await self._record_ack(stream, stream.acked)
                elif kind == protocol.BYE:
                    said_bye = True
                    break
        finally:
            if rotation is not None:
                rotation.cancel()
            self.streams.remove(stream)
            if said_bye:
                self.registry.deregister(endpoint)
            elif not any(s.endpoint == endpoint for s in self.streams):
                self.registry.lost(endpoint)

    async def _record_ack(self, stream: Stream, version: int | None) -> None:
        stream.acked = version
        async with self._acks:
            self._acks.notify_all()

    async def _rotate(self, stream: Stream, identity: str) -> None:
        """Send credentials now, then fresh ones at every half-life."""
        assert self.certificates is not None
        while True:
            creds = self.certificates.issue(identity)
            stream.credentials = creds
            stream.writer.write(protocol.encode(creds.to_message()))
            await asyncio.sleep(max(MIN_RENEWAL, creds.renew_at - time.time()))

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
                    "instance": s.endpoint.instance,
                    "sent": s.sent,
                    "acked": s.acked,
                    "nacked": {str(k): v for k, v in s.nacked.items()},
                }
                for s in self.streams
            ],
        }
