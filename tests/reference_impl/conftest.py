"""Shared fixtures for the reference implementation: a CA, issued SVIDs, snapshots, an echo app.

They are generic on purpose: sidecar, control-plane and end-to-end tests all use them.
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    """The mesh's CA (trust domain `test.local`)."""
    return CertificateAuthority.create(TRUST_DOMAIN)


@pytest.fixture(scope="session")
def other_ca() -> CertificateAuthority:
    """An unrelated CA: certificates it issues must be refused by the mesh."""
    return CertificateAuthority.create(TRUST_DOMAIN)


@pytest.fixture(scope="session")
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

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body_in = self.rfile.read(length) if length else b""
            seen = {
                "name": server_state.name,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body_in.decode("utf-8", "replace"),
            }
            server_state.requests.append(seen)
            body = json.dumps(seen).encode()
            self.send_response(server_state.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("x-echo-name", server_state.name)
            self.end_headers()
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
