"""The proxy benchmark's load: its "unique id" kind really sends a new x-request-id each time,
and its sidecar spec is the routing and authorization the Envoy pair is configured with."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.proxy.load import run_asyncio, run_wrk
from bench.proxy.run import spec_text
from meshspec.loader import load_data
from tests.reference_impl.conftest import parse_documents


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str | None] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("x-request-id"))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[str | None]]]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], _Recorder.seen
    finally:
        server.shutdown()
        server.server_close()


def _loaders() -> list[str]:
    return ["asyncio", *(["wrk"] if shutil.which("wrk") else [])]


@pytest.mark.loopback
@pytest.mark.parametrize("tool", _loaders())
def test_unique_ids_are_new_in_every_request(
    recorder: tuple[int, list[str | None]], tool: str
) -> None:
    port, seen = recorder
    if tool == "wrk":
        result = run_wrk(f"http://127.0.0.1:{port}/", "server", 2, 1.0, unique_ids=True)
    else:
        result = run_asyncio(port, "server", 2, 0.5, unique_ids=True)
    assert result.requests > 10 and not result.errors
    assert all(seen) and len(set(seen)) == len(seen), seen[:5]
    seen.clear()
    run_asyncio(port, "server", 2, 0.2)
    assert seen and set(seen) == {None}


@pytest.mark.parametrize("mode", ["STRICT", "DISABLE"])
def test_the_sidecars_spec_loads_with_a_route_and_an_authorization(mode: str) -> None:
    loaded = load_data([dict(d) for d in parse_documents(spec_text(mode))])
    assert loaded.ok and loaded.spec is not None, loaded.diagnostics
    server = loaded.spec.service("bench/server").spec
    assert [r.name for r in server.routes] == ["all"]
    assert server.authorization is not None and server.authorization.rules
