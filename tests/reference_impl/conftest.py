"""Shared fixtures for the reference implementation: a CA, issued SVIDs, snapshots, an echo app.

They are generic on purpose: sidecar, control-plane and end-to-end tests all use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ruamel.yaml import YAML

from reference_impl.pki import CertificateAuthority, Credentials
from reference_impl.proxy import Sidecar, SidecarConfig
from reference_impl.proxy.http1 import (
    DEFAULT_TIMEOUTS,
    MessageReader,
    ReadTimeouts,
    encode_request,
)
from reference_impl.snapshot import Endpoint, Snapshot

TRUST_DOMAIN = "test.local"


def parse_documents(text: str) -> tuple[dict[str, Any], ...]:
    """YAML text with `---` separators -> plain dicts, as a snapshot carries them."""
    yaml = YAML(typ="safe", pure=True)
    return tuple(dict(d) for d in yaml.load_all(io.StringIO(text)) if d)


def build_snapshot(text: str, endpoints: tuple[Endpoint, ...] = (), version: int = 1) -> Snapshot:
    return Snapshot(version=version, documents=parse_documents(text), endpoints=endpoints)


def spiffe(namespace: str, account: str, trust_domain: str = TRUST_DOMAIN) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{account}"


@pytest.fixture(scope="package")
def ca() -> CertificateAuthority:
    """The mesh's CA (trust domain `test.local`)."""
    return CertificateAuthority.create(TRUST_DOMAIN)


@pytest.fixture(scope="package")
def other_ca() -> CertificateAuthority:
    """An unrelated CA: certificates it issues must be refused by the mesh."""
    return CertificateAuthority.create(TRUST_DOMAIN)


@pytest.fixture(scope="package")
def issue(ca: CertificateAuthority) -> Callable[[str, str], Credentials]:
    """`issue(namespace, service_account)` -> credentials from the mesh's CA (cached)."""
    cache: dict[tuple[str, str], Credentials] = {}

    def _issue(namespace: str, account: str) -> Credentials:
        key = (namespace, account)
        if key not in cache:
            cache[key] = ca.issue(spiffe(namespace, account))
        return cache[key]

    return _issue


@dataclass
class EchoServer:
    """A tiny HTTP/1.1 application that answers with what it received, as JSON."""

    name: str
    host: str
    port: int
    requests: list[dict[str, Any]]
    status: int = 200

    def set_status(self, status: int) -> None:
        self.status = status


def _echo_handler(server_state: EchoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body_in = self.rfile.read(length) if length else b""
            seen = {
                "name": server_state.name,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "lines": [[k.lower(), v] for k, v in self.headers.items()],
                "body": body_in.decode("utf-8", "replace"),
            }
            server_state.requests.append(seen)
            body = json.dumps(seen).encode()
            self.send_response(server_state.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("x-echo-name", server_state.name)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def echo_factory() -> Iterator[Callable[[str], EchoServer]]:
    """`echo_factory(name)` starts an echo app on 127.0.0.1 (stopped after the test)."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(name: str) -> EchoServer:
        state = EchoServer(name=name, host="127.0.0.1", port=0, requests=[])
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _echo_handler(state))
        httpd.daemon_threads = True
        state.port = int(httpd.server_address[1])
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        servers.append((httpd, thread))
        return state

    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def echo(echo_factory: Callable[[str], EchoServer]) -> EchoServer:
    return echo_factory("echo")


# -- running sidecars on loopback -----------------------------------------------------------

LOOPBACK_TIMEOUT = 30.0


def run_async(coro: Any, timeout: float = LOOPBACK_TIMEOUT) -> Any:
    """Run a test coroutine on uvloop (what the sidecar runs on) with an overall bound."""
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(asyncio.wait_for(coro, timeout))


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpClient:
    """A keep-alive HTTP/1.1 client on one connection, optionally over TLS (raw targets allowed)."""

    def __init__(self, port: int, host: str = "127.0.0.1", ssl_context: Any = None) -> None:
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._reader: Any = None
        self._writer: Any = None
        self._messages: Any = None

    async def connect(self) -> HttpClient:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=self.ssl_context), 5
        )
        self._messages = MessageReader(self._reader, responses=True)
        return self

    async def request(
        self,
        target: str,
        host: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        body: bytes = b"",
        timeout: float = 10.0,
    ) -> HttpAnswer:
        """One exchange; raises ConnectionError if the peer closes without an answer."""
        if self._writer is None:
            await self.connect()
        all_headers = (("host", host), *(headers or {}).items())
        self._writer.write(encode_request(method, target, all_headers, body))
        await self._writer.drain()
        message = await asyncio.wait_for(self._messages.next(), timeout)
        if message is None:
            await self.close()
            raise ConnectionError("closed without an answer")
        if not message.keep_alive:
            await self.close()
        return HttpAnswer(message.status, {k.lower(): v for k, v in message.headers}, message.body)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
        self._writer = None


@dataclass
class Workload:
    service: str
    version: str | None
    instance: str
    sidecar: Sidecar
    app: EchoServer | None

    def client(self) -> HttpClient:
        """A client of this workload's outbound listener (what its application would use)."""
        return HttpClient(self.sidecar.outbound_port)


class LoopbackMesh:
    """Sidecars (each with an echo app) on 127.0.0.1, all fed one snapshot."""

    def __init__(
        self,
        spec_text: str,
        issue: Callable[[str, str], Credentials],
        echo_factory: Callable[[str], EchoServer],
    ) -> None:
        self.spec_text = spec_text
        self._issue = issue
        self._echo_factory = echo_factory
        self.workloads: list[Workload] = []
        self.snapshot: Snapshot | None = None

    async def add(
        self,
        service: str,
        version: str | None = None,
        instance: str | None = None,
        account: str | None = None,
        ports: tuple[int, ...] = (),
        max_connections: int | None = None,
        timeouts: ReadTimeouts = DEFAULT_TIMEOUTS,
    ) -> Workload:
        """`ports`: service ports (beside the default one) that get a listener of their own."""
        namespace, name = service.split("/")
        instance = instance or f"{name}-{version or 'x'}-{len(self.workloads)}"
        app = self._echo_factory(instance)
        sidecar = Sidecar(
            SidecarConfig(
                service,
                version,
                instance,
                0,
                0,
                "127.0.0.1",
                app.port,
                0,
                seed=7,
                inbound_ports=tuple((p, 0) for p in ports),
                max_connections=max_connections,
                timeouts=timeouts,
            )
        )
        await sidecar.start()
        creds = self._issue(namespace, account or name)
        sidecar.set_credentials(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem)
        workload = Workload(service, version, instance, sidecar, app)
        self.workloads.append(workload)
        return workload

    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(w.sidecar.endpoint() for w in self.workloads)

    def publish(self, version: int = 1, spec_text: str | None = None) -> Snapshot:
        snapshot = build_snapshot(spec_text or self.spec_text, self.endpoints(), version)
        for w in self.workloads:
            w.sidecar.apply_snapshot(snapshot)
        self.snapshot = snapshot
        return snapshot

    async def close(self) -> None:
        for w in self.workloads:
            await w.sidecar.stop()


@pytest.fixture
def loopback_mesh(
    issue: Callable[[str, str], Credentials], echo_factory: Callable[[str], EchoServer]
) -> Callable[[str], LoopbackMesh]:
    """`loopback_mesh(spec_yaml)`; the test must `await mesh.close()` (use `async with`-style)."""

    def make(spec_text: str) -> LoopbackMesh:
        return LoopbackMesh(spec_text, issue, echo_factory)

    return make
