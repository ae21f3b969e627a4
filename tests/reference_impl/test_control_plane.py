"""The control plane over real loopback streams, driven by stand-in sidecars."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from meshspec.spec.bundle import spiffe_id
from reference_impl.control_plane import ControlPlane, ControlPlaneClient, SpecStore
from reference_impl.pki import spiffe_id_from_der
from reference_impl.snapshot import Endpoint, Snapshot
from tests.reference_impl.trust import Trust

pytestmark = pytest.mark.loopback

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: mesh}
spec: {trustDomain: example.org}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, name: http}]
  versions: [{name: v1}]
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  serviceAccount: cart-sa
  ports: [{port: 80, name: http}]
  versions: [{name: v1}, {name: v2}]
  routes:
  - name: split
    backends: [{version: v1, weight: %d}, {version: v2, weight: %d}]
"""


class StandIn:
    """Records what a sidecar would be told; validates snapshots like the real one."""

    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []
        self.credentials: list[tuple[bytes, bytes, bytes]] = []

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        _ = snapshot.spec  # SnapshotError for documents with errors
        self.snapshots.append(snapshot)

    def set_credentials(self, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> None:
        self.credentials.append((cert_pem, key_pem, ca_bundle_pem))


def write_spec(path: Path, v1: int = 80, v2: int = 20) -> None:
    path.write_text(SPEC % (v1, v2))
    # mtime resolution can hide two writes in the same tick; move it on explicitly
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def node(service: str, instance: str, port: int = 9000) -> Endpoint:
    return Endpoint(service, "v1", instance, "127.0.0.1", port)


def run(test: Callable[[], Awaitable[None]], timeout: float = 20.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(test(), timeout)

    asyncio.run(bounded())


async def until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


TRUST = Trust("example.org")
for _service, _instance in [
    ("shop/web", "web-v1-0"),
    ("shop/cart", "cart-v1-0"),
    ("shop/nope", "x-0"),  # entitled, but its service is not in the spec
]:
    TRUST.entitle(_service, "v1", _instance)


def control_plane(path: Path, port: int = 0, **kwargs: Any) -> ControlPlane:
    kwargs.setdefault("poll_interval", 0.05)
    certs = TRUST.certificates(ttl=kwargs.pop("ttl", 3600.0))
    return ControlPlane(SpecStore([str(path)]), certs, TRUST.entitlements(), port=port, **kwargs)


def client(cp: ControlPlane, service: str, instance: str) -> tuple[StandIn, ControlPlaneClient]:
    target = StandIn()
    return target, ControlPlaneClient(
        target, node(service, instance), TRUST.bootstrap(instance, cp.port), backoff_max=0.2
    )


def test_snapshots_are_pushed_and_acknowledged_with_the_endpoint_registry(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec)

    async def scenario() -> None:
        cp = control_plane(spec)
        await cp.start()
        web, web_client = client(cp, "shop/web", "web-v1-0")
        cart, cart_client = client(cp, "shop/cart", "cart-v1-0")
        try:
            await web_client.start()
            await cart_client.start()
            assert cp.snapshot is not None
            await until(lambda: len(cp.registry.endpoints()) == 2)
            version = cp.snapshot.version
            await cp.wait_acked(version, 2, timeout=5)
            for target in (web, cart):
                latest = target.snapshots[-1]
                assert latest.version == version
                assert {e.instance for e in latest.endpoints} == {"web-v1-0", "cart-v1-0"}
                assert set(latest.spec.services) == {"shop/cart", "shop/web"}
            # a spec edit becomes a new, higher version that everyone acknowledges
            write_spec(spec, 50, 50)
            await until(lambda: cp.snapshot is not None and cp.snapshot.version > version)
            await cp.wait_acked(cp.snapshot.version, 2, timeout=5)
            route = web.snapshots[-1].spec.services["shop/cart"].spec.routes[0]
            assert [b.weight for b in route.backends] == [50, 50]
        finally:
            await web_client.stop()
            await cart_client.stop()
            await cp.stop()

    run(scenario)


def test_a_bad_snapshot_is_nacked_and_the_last_good_one_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec)

    async def scenario() -> None:
        cp = control_plane(spec)
        await cp.start()
        target, sidecar = client(cp, "shop/web", "web-v1-0")
        try:
            await sidecar.start()
            await until(lambda: sidecar.version is not None)
            good = sidecar.version
            assert good is not None
            bad_docs = [dict(d) for d in cp.store.current.documents]  # type: ignore[union-attr]
            bad_docs.append({"apiVersion": "meshspec.io/v1alpha1", "kind": "Service"})
            cp.publish(Snapshot(good + 1, tuple(bad_docs)))
            stream = cp.streams[0]
            await until(lambda: good + 1 in stream.nacked)
            assert "metadata" in stream.nacked[good + 1]
            said = [r.getMessage() for r in caplog.records if r.name.endswith(".client")]
            assert any(f"rejected snapshot {good + 1}" in line for line in said), said
            assert stream.acked == good
            assert sidecar.version == good
            assert target.snapshots[-1].version == good
            # a later good change is accepted again
            write_spec(spec, 10, 90)
            await until(lambda: (stream.acked or 0) > good + 1)
            assert target.snapshots[-1].version == stream.acked
        finally:
            await sidecar.stop()
            await cp.stop()

    run(scenario)


def test_a_bad_edit_is_reported_and_the_last_good_spec_stays(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec)

    async def scenario() -> None:
        cp = control_plane(spec)
        await cp.start()
        assert cp.snapshot is not None
        version = cp.snapshot.version
        spec.write_text(
            SPEC.replace("weight: %d}, {version: v2", "weight: -%d}, {version: v2") % (1, 2)
        )
        await until(lambda: bool(cp.store.problems))
        assert cp.snapshot.version == version
        assert "mesh.yaml" in cp.status()["problems"][0]
        write_spec(spec, 30, 70)
        await until(lambda: cp.snapshot is not None and cp.snapshot.version > version)
        assert cp.store.problems == []
        await cp.stop()

    run(scenario)


def test_resync_after_reconnect_sends_only_what_the_sidecar_lacks(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec)

    async def scenario() -> None:
        cp = control_plane(spec)
        await cp.start()
        port = cp.port
        target, sidecar = client(cp, "shop/web", "web-v1-0")
        await sidecar.start()
        try:
            await until(lambda: sidecar.version is not None)
            held = sidecar.version
            applied = len(target.snapshots)
            # the same control plane, the stream broken: the sidecar already holds the
            # current version, so nothing is re-sent
            assert sidecar._writer is not None
            sidecar._writer.close()
            await until(lambda: sidecar.connects == 2 and len(cp.streams) == 1)
            await asyncio.sleep(0.2)
            assert len(target.snapshots) == applied
            assert cp.streams[0].sent == held
            # a new control plane with a changed spec: the sidecar keeps its snapshot
            # while it is down, then reports it and receives the current one
            await cp.stop()
            write_spec(spec, 0, 100)
            await asyncio.sleep(0.3)
            assert sidecar.version == held
            cp = control_plane(spec, port=port)
            await cp.start()
            await until(lambda: sidecar.version is not None and sidecar.version != held)
            assert cp.snapshot is not None and sidecar.version == cp.snapshot.version
            assert sidecar.version > (held or 0)
            route = target.snapshots[-1].spec.services["shop/cart"].spec.routes[0]
            assert [b.weight for b in route.backends] == [0, 100]
        finally:
            await sidecar.stop()
            await cp.stop()

    run(scenario)


def test_bye_deregisters_at_once_and_a_lost_stream_after_the_grace_period(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec)

    async def scenario() -> None:
        cp = control_plane(spec, grace=0.5)
        await cp.start()
        _, leaving = client(cp, "shop/web", "web-v1-0")
        _, lost = client(cp, "shop/cart", "cart-v1-0")
        await leaving.start()
        await lost.start()
        await until(lambda: len(cp.registry.endpoints()) == 2)
        await leaving.stop()
        await until(lambda: [e.instance for e in cp.registry.endpoints()] == ["cart-v1-0"], 1.0)
        # break the stream without a goodbye, and keep the sidecar from reconnecting
        lost._stopping = True
        assert lost._writer is not None
        lost._writer.close()
        await asyncio.sleep(0.25)
        assert [e.instance for e in cp.registry.endpoints()] == ["cart-v1-0"]
        await until(lambda: cp.registry.endpoints() == (), 2.0)
        await lost.stop()
        await cp.stop()

    run(scenario)


def test_short_lived_certificates_carry_the_spiffe_id_and_are_renewed(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec)

    async def scenario() -> None:
        cp = control_plane(spec, ttl=1.0)
        await cp.start()
        target, sidecar = client(cp, "shop/cart", "cart-v1-0")
        await sidecar.start()
        try:
            await until(lambda: len(target.credentials) >= 4, 4.0)
        finally:
            await sidecar.stop()
            await cp.stop()
        from cryptography import x509

        serials = set()
        for cert_pem, key_pem, ca_pem in target.credentials:
            cert = x509.load_pem_x509_certificate(cert_pem)
            serials.add(cert.serial_number)
            assert spiffe_id_from_der(cert.public_bytes(_der())) == spiffe_id(
                "example.org", "shop", "cart-sa"
            )
            lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
            assert lifetime.total_seconds() < 61 + 1  # 1 min clock-skew allowance + ttl
            assert b"PRIVATE KEY" in key_pem and b"CERTIFICATE" in ca_pem
        assert len(serials) == len(target.credentials)

    run(scenario)


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def test_an_unknown_service_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec)

    async def scenario() -> None:
        cp = control_plane(spec)
        await cp.start()
        _, stranger = client(cp, "shop/nope", "x-0")
        await stranger.start()
        await until(lambda: any("not in the spec" in r for r in cp.refusals))
        assert cp.registry.endpoints() == ()
        assert stranger.version is None
        await stranger.stop()
        await cp.stop()

    run(scenario)
