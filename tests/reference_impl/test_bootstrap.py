"""Provisioning: private files, secrets only where they belong, the root kept across runs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from reference_impl.control_plane import Bootstrap, BootstrapError, Entitlements, Workload
from reference_impl.control_plane.bootstrap import ENTITLEMENTS_FILE, provision
from reference_impl.pki import ROOT_CERT_FILE, ROOT_KEY_FILE, CertificateAuthority

WORKLOADS = [Workload("shop/web", "v1", "web-v1-0"), Workload("shop/cart", None, "cart-0")]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_provision_writes_private_files_and_keeps_secrets_out_of_the_table(
    tmp_path: Path,
) -> None:
    files = provision(
        tmp_path / "pki", tmp_path / "boot", WORKLOADS, "example.org", ("127.0.0.1", 15010)
    )
    assert set(files) == {"web-v1-0", "cart-0"}
    assert mode(tmp_path / "pki") == 0o700 and mode(tmp_path / "boot") == 0o700
    for path in [*files.values(), tmp_path / "pki" / ROOT_KEY_FILE]:
        assert mode(path) == 0o600, path
    table_path = tmp_path / "pki" / ENTITLEMENTS_FILE
    assert mode(table_path) == 0o600
    table = Entitlements.read(table_path)
    bootstraps = {name: Bootstrap.read(path) for name, path in files.items()}
    root = (tmp_path / "pki" / ROOT_CERT_FILE).read_bytes()
    for name, boot in bootstraps.items():
        assert boot.root_pem == root
        assert boot.control_plane_identity == "spiffe://example.org/meshspec/control-plane"
        assert (boot.control_plane_host, boot.control_plane_port) == ("127.0.0.1", 15010)
        assert table.authenticate(boot.token) == boot.workload
        assert boot.workload.instance == name
        assert boot.token not in table_path.read_text()  # only its digest is stored
    assert table.authenticate("") is None
    assert table.authenticate(bootstraps["cart-0"].token + "x") is None
    assert len({b.token for b in bootstraps.values()}) == 2


def test_provisioning_again_keeps_the_root_and_revokes_old_secrets(tmp_path: Path) -> None:
    args = (tmp_path / "pki", tmp_path / "boot", WORKLOADS, "example.org", ("127.0.0.1", 1))
    old = Bootstrap.read(provision(*args)["cart-0"])
    new = Bootstrap.read(provision(*args)["cart-0"])
    assert new.root_pem == old.root_pem
    assert CertificateAuthority.load(tmp_path / "pki").cert_pem == old.root_pem
    table = Entitlements.read(tmp_path / "pki" / ENTITLEMENTS_FILE)
    assert table.authenticate(old.token) is None
    assert table.authenticate(new.token) == new.workload


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604])
def test_a_bootstrap_others_may_read_is_refused(tmp_path: Path, loose: int) -> None:
    path = provision(
        tmp_path / "pki", tmp_path / "boot", WORKLOADS, "example.org", ("127.0.0.1", 1)
    )["web-v1-0"]
    path.chmod(loose)
    with pytest.raises(BootstrapError, match="chmod 600"):
        Bootstrap.read(path)


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"service": "a"}', json.dumps({"service": 1, "instance": "x"})],
)
def test_a_malformed_bootstrap_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "boot.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(BootstrapError, match=r"boot\.json"):
        Bootstrap.read(path)


def test_a_root_key_others_may_read_is_refused(tmp_path: Path) -> None:
    provision(tmp_path / "pki", tmp_path / "boot", WORKLOADS, "example.org", ("127.0.0.1", 1))
    (tmp_path / "pki" / ROOT_KEY_FILE).chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        CertificateAuthority.load(tmp_path / "pki")
