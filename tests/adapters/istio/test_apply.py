"""`meshspec apply`: the exact requests it sends, its errors, and a real API server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner

from meshspec.cli import cli

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: default}
spec:
  versions: [{name: v1}, {name: v2}]
  routes:
    - name: split
      backends: [{version: v1, weight: 90}, {version: v2, weight: 10}]
"""

DISCOVERY = {
    "networking.istio.io/v1": [
        ("VirtualService", "virtualservices"),
        ("DestinationRule", "destinationrules"),
    ],
    "security.istio.io/v1": [
        ("PeerAuthentication", "peerauthentications"),
        ("AuthorizationPolicy", "authorizationpolicies"),
    ],
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any


@dataclass
class FakeApiServer:
    """Answers discovery, apply, list and delete the way the Kubernetes API does,
    and records every request."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    stored: list[dict[str, Any]] = field(default_factory=list)
    serve_istio: bool = True
    reject: bool = False


@pytest.fixture
def fake_api() -> Iterator[FakeApiServer]:
    state = FakeApiServer("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            state.requests.append(
                Recorded(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    self.headers.get("Content-Type", ""),
                    body,
                )
            )
            group = parts.path.removeprefix("/apis/")
            if self.command == "GET" and group in DISCOVERY and state.serve_istio:
                resources = [
                    {"name": p, "kind": k, "namespaced": True} for k, p in DISCOVERY[group]
                ]
                return self._reply(200, {"kind": "APIResourceList", "resources": resources})
            if self.command == "PATCH" and state.reject:
                status = {"kind": "Status", "reason": "Invalid", "message": "spec.http: bad"}
                return self._reply(422, status)
            if self.command == "PATCH":
                return self._reply(200, body)
            if self.command == "GET" and parts.path.count("/") == 4:
                plural = parts.path.rsplit("/", 1)[1]
                items = [o for o in state.stored if o["kind"].lower() + "s" == plural]
                return self._reply(200, {"items": items})
            if self.command == "DELETE":
                return self._reply(200, {"kind": "Status", "status": "Success"})
            return self._reply(404, {"kind": "Status", "message": "the server could not find it"})

        do_GET = do_PATCH = do_DELETE = _handle

        def _reply(self, status: int, data: Any) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def kubeconfig_for(url: str, directory: Path) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"token": "secret-token"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path = directory / "kubeconfig"
    path.write_text(json.dumps(config))
    return str(path)


def write_spec(directory: Path, text: str = SPEC) -> str:
    path = directory / "mesh.yaml"
    path.write_text(text)
    return str(path)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["apply", *args], catch_exceptions=False)


@pytest.mark.parametrize(("dry_run", "expected"), [("server", "All"), ("none", None)])
def test_apply_sends_server_side_apply_requests(
    fake_api: FakeApiServer, tmp_path: Path, dry_run: str, expected: str | None
) -> None:
    config = kubeconfig_for(fake_api.url, tmp_path)
    result = run(
        "--target", "istio", write_spec(tmp_path), "--kubeconfig", config, f"--dry-run={dry_run}"
    )
    assert result.exit_code == 0, result.output
    patches = [r for r in fake_api.requests if r.method == "PATCH"]
    assert patches
    kinds = set()
    for req in patches:
        assert req.content_type == "application/apply-patch+yaml"
        assert req.query.get("fieldManager") == "meshspec"
        assert req.query.get("force") == "true"
        assert req.query.get("dryRun") == expected
        meta = req.body["metadata"]
        assert req.path == (
            f"/apis/{req.body['apiVersion']}/namespaces/{meta['namespace']}/"
            f"{req.body['kind'].lower()}s/{meta['name']}"
        )
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "meshspec"
        assert meta["labels"]["meshspec.io/spec-id"] == "shop"
        kinds.add(req.body["kind"])
    assert {"VirtualService", "DestinationRule"} <= kinds
    assert ("dry run" in result.output) == (dry_run == "server")


def test_prune_deletes_only_stale_objects_of_this_spec(
    fake_api: FakeApiServer, tmp_path: Path
) -> None:
    labels = {"app.kubernetes.io/managed-by": "meshspec", "meshspec.io/spec-id": "shop"}
    fake_api.stored.append(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "gone", "namespace": "default", "labels": labels},
        }
    )
    config = kubeconfig_for(fake_api.url, tmp_path)
    result = run("--target", "istio", write_spec(tmp_path), "--kubeconfig", config, "--prune")
    assert result.exit_code == 0, result.output
    lists = [r for r in fake_api.requests if r.method == "GET" and r.query.get("labelSelector")]
    assert lists and all(
        r.query["labelSelector"] == "app.kubernetes.io/managed-by=meshspec,meshspec.io/spec-id=shop"
        for r in lists
    )
    deletes = [r for r in fake_api.requests if r.method == "DELETE"]
    assert [d.path for d in deletes] == [
        "/apis/networking.istio.io/v1/namespaces/default/virtualservices/gone"
    ]
    assert "pruned VirtualService default/gone" in result.output


def test_missing_crds_is_a_clear_error(fake_api: FakeApiServer, tmp_path: Path) -> None:
    fake_api.serve_istio = False
    result = run(
        "--target",
        "istio",
        write_spec(tmp_path),
        "--kubeconfig",
        kubeconfig_for(fake_api.url, tmp_path),
    )
    assert result.exit_code == 1
    assert "are the CRDs installed" in result.output
    assert "Traceback" not in result.output


def test_rejection_names_the_object_and_the_reason(fake_api: FakeApiServer, tmp_path: Path) -> None:
    fake_api.reject = True
    config = kubeconfig_for(fake_api.url, tmp_path)
    result = run("--target", "istio", write_spec(tmp_path), "--kubeconfig", config)
    assert result.exit_code == 1
    assert "was rejected: 422 spec.http: bad" in result.output
    assert "Traceback" not in result.output


def test_unreachable_cluster_is_a_clear_error(tmp_path: Path) -> None:
    result = run(
        "--target",
        "istio",
        write_spec(tmp_path),
        "--kubeconfig",
        kubeconfig_for("http://127.0.0.1:9", tmp_path),
    )
    assert result.exit_code == 1
    assert "cannot reach the Kubernetes API server" in result.output
    assert "Traceback" not in result.output


def test_bad_kubeconfig_and_bad_spec_exit_1(tmp_path: Path) -> None:
    missing = run("--target", "istio", write_spec(tmp_path), "--kubeconfig", str(tmp_path / "nope"))
    assert missing.exit_code == 1 and "kubeconfig" in missing.output
    broken = run("--target", "istio", write_spec(tmp_path, "kind: [\n"), "--kubeconfig", "x")
    assert broken.exit_code == 1 and "nothing applied" in broken.output


@pytest.mark.realservers
def test_apply_to_a_real_api_server(kube_apiserver: Any, tmp_path: Path) -> None:
    from adapters.istio.cluster import read_cluster
    from tests.fixtures.realservers import apply_documents, install_crds, upstream_dir

    install_crds(kube_apiserver, [upstream_dir() / "crds" / "istio" / "crd-all.gen.yaml"])
    config = str(kube_apiserver.kubeconfig)
    spec = write_spec(tmp_path)
    # The mesh-wide PeerAuthentication lives in Istio's root namespace.
    missing = run("--target", "istio", spec, "--kubeconfig", config, "--dry-run=server")
    assert missing.exit_code == 1 and 'namespaces "istio-system" not found' in missing.output
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}
    assert all(r.ok for r in apply_documents(kube_apiserver, [namespace], dry_run=False))
    dry = run("--target", "istio", spec, "--kubeconfig", config, "--dry-run=server")
    assert dry.exit_code == 0, dry.output
    docs, problems = read_cluster(config, None)
    assert not problems and not [d for d in docs if d.name == "web"]
    applied = run("--target", "istio", spec, "--kubeconfig", config)
    assert applied.exit_code == 0, applied.output
    docs, problems = read_cluster(config, None)
    assert not problems
    assert {(d.kind, d.name) for d in docs} >= {
        ("VirtualService", "web"),
        ("DestinationRule", "web"),
    }
    live = CliRunner().invoke(
        cli,
        ["import", "--from", "istio", "--kubeconfig", config, "-o", "json"],
        catch_exceptions=False,
    )
    assert live.exit_code == 0, live.output
    assert '"name": "web"' in live.stdout and '"weight": 90' in live.stdout
    # `web` leaves the spec, `store` joins it: web's objects are stale now.
    smaller = (
        SPEC.split("---")[0] + "---\n" + SPEC.split("---")[1].replace("name: web", "name: store")
    )
    pruned = run(
        "--target", "istio", write_spec(tmp_path, smaller), "--kubeconfig", config, "--prune"
    )
    assert pruned.exit_code == 0, pruned.output
    assert "pruned VirtualService default/web" in pruned.output, pruned.output
    expected = compiled_keys(smaller, tmp_path)
    docs, problems = read_cluster(config, None)
    labelled = {
        (d.kind, d.namespace, d.name)
        for d in docs
        if (d.data.get("metadata") or {}).get("labels", {}).get("meshspec.io/spec-id") == "shop"
    }
    assert labelled == expected


def compiled_keys(text: str, directory: Path) -> set[tuple[str, str, str]]:
    from meshspec import api

    spec = api.load(write_spec(directory, text))
    resources = api.compile(spec, "istio").resources
    return {
        (r["kind"], r["metadata"].get("namespace", "default"), r["metadata"]["name"])
        for r in resources
    }
