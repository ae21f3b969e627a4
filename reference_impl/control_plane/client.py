"""The sidecar's end of the stream: apply snapshots, install credentials, reconnect.

While the control plane is away the sidecar keeps serving on its last good
snapshot and retries with capped exponential backoff plus jitter (so a
restarted control plane is not hit by every sidecar in the same instant). On
reconnect it reports the version it holds and gets the current one if that
differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any, Protocol

from reference_impl.control_plane import protocol
from reference_impl.snapshot import Endpoint, Snapshot, SnapshotError

log = logging.getLogger("meshspec.control_plane.client")


class SnapshotTarget(Protocol):
    """What the client drives: the sidecar (or a stand-in in tests and benchmarks)."""

    def apply_snapshot(self, snapshot: Snapshot) -> None: ...

    def set_credentials(self, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> None: ...


class ControlPlaneClient:
    def __init__(
        self,
        target: SnapshotTarget,
        node: Endpoint,
        host: str,
        port: int,
        *,
        credentials: bool = True,
        backoff_initial: float = 0.05,
        backoff_max: float = 1.0,
    ) -> None:
        self.target = target
        self.node = node
        self.host = host
        self.port = port
        self.want_credentials = credentials
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.version: int | None = None  # last snapshot applied
        self.rejected: dict[int, str] = {}
        self.credentials_received = 0
        self.connects = 0
        self.connected = asyncio.Event()
        self.applied = asyncio.Event()  # set once any snapshot is applied
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Say goodbye (the control plane deregisters us at once) and close."""
        self._stopping = True
        writer = self._writer
        if writer is not None and not writer.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                await asyncio.wait_for(protocol.send(writer, {"type": protocol.BYE}), 1.0)
            writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = self.backoff_initial
        while not self._stopping:
            try:
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, limit=protocol.MAX_LINE
                )
            except OSError:
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(self.backoff_max, delay * 2)
                continue
            delay = self.backoff_initial
            self._writer = writer
            self.connects += 1
            try:
                await self._session(reader, writer)
            except (ConnectionError, protocol.ProtocolError) as exc:
                log.warning("control plane stream broke: %s", exc)
            finally:
                self.connected.clear()
                self._writer = None
                writer.close()
            if not self._stopping:
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await protocol.send(
            writer,
            {
                "type": protocol.HELLO,
                "node": self.node.to_json(),
                "lastVersion": self.version,
                "credentials": self.want_credentials,
            },
        )
        self.connected.set()
        while True:
            message = await protocol.read_message(reader)
            if message is None:
                return
            reply = self.handle(message)
            if reply is not None:
                await protocol.send(writer, reply)

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Act on one message from the control plane; the reply to send, if any."""
        kind = message["type"]
        if kind == protocol.SNAPSHOT:
            return self._apply(message.get("snapshot"))
        if kind == protocol.CREDENTIALS:
            self.target.set_credentials(
                message["cert"].encode(), message["key"].encode(), message["ca"].encode()
            )
            self.credentials_received += 1
            return None
        if kind == protocol.ERROR:
            raise protocol.ProtocolError(f"control plane refused us: {message.get('error')}")
        return None

    def _apply(self, data: Any) -> dict[str, Any]:
        version = data.get("version") if isinstance(data, dict) else None
        try:
            if not isinstance(data, dict):
                raise SnapshotError("snapshot is not an object")
            snapshot = Snapshot.from_json(data)
            self.target.apply_snapshot(snapshot)
        except SnapshotError as exc:
            self.rejected[int(version or 0)] = str(exc)
            log.warning("rejected snapshot %s: %s", version, exc)
            return {"type": protocol.NACK, "version": version, "error": str(exc)}
        self.version = snapshot.version
        self.applied.set()
        return {"type": protocol.ACK, "version": snapshot.version}
