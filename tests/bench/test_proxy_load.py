"""The proxy benchmark's load: its "unique id" kind really sends a new x-request-id each time,
and its sidecar spec is the routing and authorization the Envoy pair is configured with."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from bench.proxy.load import run_asyncio, run_wrk
from bench.proxy.run import spec_text
from meshspec.loader import load_data
from tests.bench.ok_server import OkHandler, serving
from tests.reference_impl.conftest import parse_documents


class _Recorder(OkHandler):
    seen_ids: list[str | None] = []

    def seen(self) -> None:
        type(self).seen_ids.append(self.headers.get("x-request-id"))


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[str | None]]]:
    _Recorder.seen_ids = []
    with serving(_Recorder) as port:
        yield port, _Recorder.seen_ids


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
