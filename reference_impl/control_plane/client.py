"""The sidecar's end of the stream: authenticate both ways, apply snapshots, renew credentials.

Trust comes from the workload's bootstrap, never from whoever holds the port:
the stream is TLS verified against the root pinned in the bootstrap, and the
peer must present the control plane's own identity (a workload certificate
from the same root is not enough). The sidecar then proves who it is with the
bootstrap secret. Its private key is made here and never sent: it asks for a
certificate with a CSR, at start, at every half-life and whenever the control
plane says the workload's identity changed, and accepts only a certificate the
pinned root signed for that key. Whatever is refused is logged.

While the control plane is away (or something else answers on its port) the
sidecar keeps serving on its last good snapshot and credentials and retries
with capped exponential backoff plus jitter (so a restarted control plane is
not hit by every sidecar in the same instant). On reconnect it reports the
version it holds and gets the current one if that differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import ssl
import time
from collections import deque
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from meshspec.spec.bundle import parse_spiffe_id
from reference_impl.control_plane import protocol
from reference_impl.control_plane.bootstrap import Bootstrap
from reference_impl.pki import IdentityError, check_issued, csr_pem, key_pem, new_key, verify_peer
from reference_impl.snapshot import Endpoint, Snapshot, SnapshotError

log = logging.getLogger("meshspec.control_plane.client")

HANDSHAKE_TIMEOUT = 5.0
MIN_RENEWAL = 0.05  # seconds; a certificate cut short by whole-second rounding never spins
CSR_RETRY = 5.0  # ask again when a CSR got no answer in this long


class SnapshotTarget(Protocol):
    """What the client drives: the sidecar (or a stand-in in tests and benchmarks)."""

    def apply_snapshot(self, snapshot: Snapshot) -> None: ...

    def set_credentials(self, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> None: ...


def pinned_context(root_pem: bytes) -> ssl.SSLContext:
    """TLS to the control plane: only the pinned root; the identity is checked after."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=root_pem.decode())
    return context


class ControlPlaneClient:
    def __init__(
        self,
        target: SnapshotTarget,
        node: Endpoint,
        bootstrap: Bootstrap,
        *,
        address: tuple[str, int] | None = None,
        credentials: bool = True,
        backoff_initial: float = 0.05,
        backoff_max: float = 1.0,
    ) -> None:
        self.target = target
        self.node = node
        self.bootstrap = bootstrap
        self.host, self.port = address or (
            bootstrap.control_plane_host,
            bootstrap.control_plane_port,
        )
        self.want_credentials = credentials
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.version: int | None = None  # last snapshot applied
        self.identity: str | None = None  # SPIFFE ID of the credentials installed
        self.rejected: dict[int, str] = {}
        self.rejected_credentials: deque[str] = deque(maxlen=100)
        # why peers on the control plane's address were refused, latest last
        self.untrusted: deque[str] = deque(maxlen=100)
        self.credentials_received = 0
        self.connects = 0
        self.connected = asyncio.Event()
        self.applied = asyncio.Event()  # set once any snapshot is applied
        self._root = x509.load_pem_x509_certificate(bootstrap.root_pem)
        self._tls = pinned_context(bootstrap.root_pem)
        self._pending: ec.EllipticCurvePrivateKey | None = None  # key of the CSR in flight
        self._csr_sent_at = 0.0
        self._renew_at: float | None = None
        self._renew_asked = False
        self._wake = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_problem = ""

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Say goodbye (the control plane deregisters us at once) and close."""
        self._stopping = True
        writer = self._writer
        if writer is not None and not writer.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(protocol.send(writer, {"type": protocol.BYE}), 1.0)
            writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the stream ------------------------------------------------------------------------

    def _problem(self, text: str) -> None:
        """Log a problem once until it changes (a retry loop must not flood the log)."""
        if text != self._last_problem:
            log.warning("%s", text)
            self._last_problem = text

    async def _run(self) -> None:
        delay = self.backoff_initial
        where = f"{self.host}:{self.port}"
        while not self._stopping:
            try:
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    limit=protocol.MAX_LINE,
                    ssl=self._tls,
                    ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
                )
            except ssl.SSLError as exc:
                reason = f"the peer at {where} is not trusted (TLS against the pinned root: {exc})"
                self.untrusted.append(reason)
                self._problem(f"not using it: {reason}")
                await self._backoff(delay)
                delay = min(self.backoff_max, delay * 2)
                continue
            except (OSError, TimeoutError):
                await self._backoff(delay)
                delay = min(self.backoff_max, delay * 2)
                continue
            try:
                verify_peer(
                    writer.get_extra_info("ssl_object"), self.bootstrap.control_plane_identity
                )
            except (IdentityError, ValueError) as exc:
                reason = f"the peer at {where} is not the control plane: {exc}"
                self.untrusted.append(reason)
                self._problem(f"not using it: {reason}")
                writer.close()
                await self._backoff(delay)
                delay = min(self.backoff_max, delay * 2)
                continue
            delay = self.backoff_initial
            if self._last_problem:
                log.info("connected to the control plane at %s", where)
                self._last_problem = ""  # the same problem again is news again
            self._writer = writer
            self.connects += 1
            try:
                await self._session(reader, writer)
            except (ConnectionError, ssl.SSLError, protocol.ProtocolError) as exc:
                self._problem(f"control plane stream broke: {exc}")
            finally:
                self.connected.clear()
                self._writer = None
                writer.close()
            if not self._stopping:
                await self._backoff(delay)

    async def _backoff(self, delay: float) -> None:
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        w = self.bootstrap.workload
        node = {**self.node.to_json(), "service": w.service, "version": w.version}
        node["instance"] = w.instance
        await protocol.send(
            writer,
            {
                "type": protocol.HELLO,
                "token": self.bootstrap.token,
                "node": node,
                "lastVersion": self.version,
            },
        )
        self.connected.set()
        self._pending = None  # an answer to a CSR of the old stream will not come
        renewals = asyncio.ensure_future(self._renewals(writer))
        try:
            while True:
                message = await protocol.read_message(reader, max_depth=None)
                if message is None:
                    return
                reply = self.handle(message)
                if reply is not None:
                    await protocol.send(writer, reply)
        finally:
            renewals.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, ssl.SSLError):
                await renewals

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Act on one message from the control plane; the reply to send, if any."""
        kind = message["type"]
        if kind == protocol.SNAPSHOT:
            return self._apply(message.get("snapshot"))
        if kind == protocol.CREDENTIALS:
            self._install(message)
            return None
        if kind == protocol.RENEW:
            self._renew_asked = True
            self._wake.set()
            return None
        if kind == protocol.ERROR:
            error = message.get("error")
            raise protocol.ProtocolError(f"control plane refused us: {str(error)[:500]}")
        return None

    # -- snapshots ---------------------------------------------------------------------------

    def _apply(self, data: Any) -> dict[str, Any]:
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, bool) or not isinstance(version, int):
            version = None
        try:
            if not isinstance(data, dict):
                raise SnapshotError("snapshot is not an object")
            snapshot = Snapshot.from_json(data)
            self.target.apply_snapshot(snapshot)
        except (SnapshotError, ArithmeticError, ValueError, TypeError, KeyError) as exc:
            self.rejected[version or 0] = str(exc)
            log.warning("rejected snapshot %s: %s", version, exc)
            return {"type": protocol.NACK, "version": version, "error": str(exc)[:4000]}
        self.version = snapshot.version
        self.applied.set()
        return {"type": protocol.ACK, "version": snapshot.version}

    # -- credentials -------------------------------------------------------------------------

    def _due(self, now: float) -> bool:
        if self._pending is not None and now - self._csr_sent_at < CSR_RETRY:
            return False  # one request in flight at a time
        return self._renew_asked or self._renew_at is None or now >= self._renew_at

    async def _renewals(self, writer: asyncio.StreamWriter) -> None:
        """Send a CSR when none is held, at half-life, and when the control plane asks."""
        if not self.want_credentials:
            return
        while True:
            now = time.time()
            if self._due(now):
                self._pending = new_key()
                self._csr_sent_at = now
                self._renew_asked = False
                await protocol.send(
                    writer, {"type": protocol.CSR, "csr": csr_pem(self._pending).decode()}
                )
            self._wake.clear()
            if self._pending is not None:
                wait = CSR_RETRY
            else:
                wait = max(MIN_RENEWAL, (self._renew_at or now) - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _install(self, message: dict[str, Any]) -> None:
        try:
            identity, not_after, cert = self._check(message)
            assert self._pending is not None
            self.target.set_credentials(cert, key_pem(self._pending), self.bootstrap.root_pem)
        except (protocol.ProtocolError, IdentityError, ValueError, ssl.SSLError) as exc:
            self.rejected_credentials.append(str(exc))
            log.warning("rejected credentials: %s", exc)
            return
        now = time.time()
        self._renew_at = now + max(MIN_RENEWAL, (not_after.timestamp() - now) / 2)
        self._pending = None
        self.identity = identity
        self.credentials_received += 1
        self._wake.set()

    def _check(self, message: dict[str, Any]) -> tuple[str, dt.datetime, bytes]:
        """(identity, not-after, certificate) of credentials we asked for, or why not."""
        if self._pending is None:
            raise protocol.ProtocolError("credentials this sidecar did not ask for")
        cert = protocol.text(message, "cert", limit=64 * 1024).encode()
        ca = protocol.text(message, "ca", limit=64 * 1024).encode()
        try:
            offered = x509.load_pem_x509_certificate(ca)
        except ValueError:
            raise IdentityError("the CA bundle is not a certificate") from None
        if offered != self._root:
            raise IdentityError("the CA bundle is not the root pinned in the bootstrap")
        identity, not_after = check_issued(cert, self._root, self._pending.public_key())
        namespace = self.bootstrap.workload.service.split("/", 1)[0]
        parsed = parse_spiffe_id(identity)
        if parsed is None or parsed[1] != namespace:
            raise IdentityError(f"{identity} is not a workload identity in namespace {namespace}")
        return identity, not_after, cert
