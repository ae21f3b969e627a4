"""What the oracle remembers per request stays bounded, whatever clients send; and a host
names a service only in that service's own forms."""

from __future__ import annotations

import pytest

from meshspec.loader import load_texts
from meshspec.semantics import UnknownService, normalize_target, resolve_service
from meshspec.semantics.memo import SPECS
from meshspec.semantics.paths import _normalize_cached

SPEC = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: admin-api, namespace: ops}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web}
"""
spec = load_texts([("spec.yaml", SPEC)]).spec
assert spec is not None


def test_huge_targets_are_never_cached() -> None:
    before = _normalize_cached.cache_info().currsize
    for n in range(20):
        target = f"/{n}/" + "a" * (1 << 20)
        result = normalize_target(target)
        assert not isinstance(result, type(None))
    assert _normalize_cached.cache_info().currsize == before
    assert normalize_target("/a/../b") == normalize_target("/b")


def test_hosts_remembered_are_bounded() -> None:
    for n in range(10_000):
        with pytest.raises(UnknownService):
            resolve_service(spec, f"nothing-{n}.example")
    for n in range(10_000):
        variant = "".join(c.upper() if (n >> i) & 1 else c for i, c in enumerate("admin-api"))
        assert resolve_service(spec, f"{variant}.ops:{n}") == "ops/admin-api"
    hosts = SPECS.table(spec)["resolved_hosts"]
    assert 0 < len(hosts) <= 4096


@pytest.mark.parametrize(
    "host",
    [
        "admin-api",
        "admin-api.ops",
        "admin-api.ops.svc",
        "Admin-Api.OPS.svc.cluster.local.",
        "admin-api.ops.svc.cluster.local:8080",
    ],
)
def test_a_service_is_named_by_its_own_forms(host: str) -> None:
    assert resolve_service(spec, host) == "ops/admin-api"


@pytest.mark.parametrize(
    "host",
    [
        "admin-api.evil.example",
        "admin-api.ops.evil.example",
        "admin-api.ops.svc.evil.example",
        "admin-api.ops.svc.cluster.local.evil.example",
        "admin-api.default",
        "web.ops",
    ],
)
def test_a_host_that_only_starts_like_a_service_names_nothing(host: str) -> None:
    with pytest.raises(UnknownService):
        resolve_service(spec, host)
