"""A live AWS account, emulated by moto's server on loopback: the compiled resources are
created through boto3, then `meshspec import --from appmesh --live --region` reads them
back. moto 5.2.5 has no virtual-service calls (CreateVirtualService,
DescribeVirtualService, ListVirtualServices, ...): those are reported, the rest is read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from adapters.appmesh import adapter
from adapters.appmesh._compile_api import compile_api
from adapters.appmesh.aws import client, create_in_account
from meshspec.adapter import CompileOptions, NativeDocument
from meshspec.cli import cli
from meshspec.loader import load_paths
from meshspec.spec import Origin
from tests.adapters.validator import REPO_ROOT
from tests.fixtures.realservers import free_port

#: App Mesh calls moto 5.2.5 lacks (checked against its appmesh/responses.py)
MOTO_LACKS = {"CreateVirtualService"}


@pytest.fixture
def moto_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("moto[server] is not installed (pip install -e '.[test]')")
        pytest.skip("moto[server] is not installed")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        yield "eu-west-1"
    finally:
        server.stop()


@pytest.mark.loopback
def test_compiled_output_created_in_an_account_imports_back_live(moto_account: str) -> None:
    spec = load_paths([str(REPO_ROOT / "examples" / "canary" / "mesh.yaml")]).spec
    assert spec is not None
    api, _ = compile_api(spec)
    failed = create_in_account(api, client(moto_account))
    assert set(failed) == MOTO_LACKS  # everything else moto has is created

    result = CliRunner().invoke(
        cli, ["import", "--from", "appmesh", "--live", "--region", moto_account]
    )
    assert result.exit_code == 0, result.output
    assert "MS3013" in result.stderr and "ListVirtualServices failed" in result.stderr
    # what the account holds: the compiled resources but the virtual services
    held = [
        r
        for r in adapter.compile(spec, CompileOptions(allow_lossy=frozenset({"all"}))).resources
        if r["kind"] != "VirtualService"
    ]
    expected = adapter.import_resources(
        [NativeDocument(r, Origin("<compiled>", i)) for i, r in enumerate(held)]
    )
    live = [d for d in yaml.safe_load_all(result.stdout)] if result.stdout.strip() else []
    assert _services(live) == _services(expected.documents)
    assert len(_services(live)) >= 2


def _services(docs: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return sorted(
        (f"{d['metadata'].get('namespace', 'default')}/{d['metadata']['name']}", d["spec"])
        for d in docs
        if d.get("kind") == "Service"
    )
