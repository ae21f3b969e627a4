"""The CA issues SPIFFE SVIDs that ssl accepts for mutual TLS, and identities are checked."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from reference_impl.pki import (
    CertificateAuthority,
    Credentials,
    IdentityError,
    client_context,
    peer_spiffe_id,
    server_context,
    spiffe_id_from_der,
    verify_peer,
)
from tests.reference_impl.conftest import spiffe


def test_svid_shape(issue: Callable[[str, str], Credentials]) -> None:
    creds = issue("ns", "api")
    cert = x509.load_pem_x509_certificate(creds.cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [spiffe("ns", "api")]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {o.dotted_string for o in eku} == {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= dt.timedelta(hours=2)
    der = cert.public_bytes(encoding=serialization.Encoding.DER)
    assert spiffe_id_from_der(der) == spiffe("ns", "api")


def test_rejects_non_spiffe_identity(ca: CertificateAuthority) -> None:
    with pytest.raises(IdentityError):
        ca.issue("https://example.com")


def handshake(
    server: Credentials, client: Credentials, expected: str
) -> tuple[str | None, str | None]:
    """One mutual-TLS handshake over a socket pair; (server-seen id, client error)."""
    srv_ctx = server_context(server.cert_pem, server.key_pem, server.ca_bundle_pem)
    cli_ctx = client_context(client.cert_pem, client.key_pem, client.ca_bundle_pem)
    a, b = socket.socketpair()
    a.settimeout(5)
    b.settimeout(5)
    seen: dict[str, str | None] = {"peer": None}

    def serve() -> None:
        try:
            with srv_ctx.wrap_socket(a, server_side=True) as tls:
                seen["peer"] = peer_spiffe_id(tls)
                tls.recv(1)
        except (ssl.SSLError, OSError, IdentityError):
            seen["peer"] = None

    thread = threading.Thread(target=serve)
    thread.start()
    error = None
    try:
        with cli_ctx.wrap_socket(b) as tls:
            verify_peer(tls, expected)
            tls.sendall(b"x")
    except (ssl.SSLError, OSError, IdentityError) as exc:
        error = type(exc).__name__
    finally:
        b.close()
        thread.join(timeout=5)
    return seen["peer"], error


def test_mutual_tls_with_spiffe_ids(issue: Callable[[str, str], Credentials]) -> None:
    peer, error = handshake(issue("ns", "api"), issue("ns", "web"), spiffe("ns", "api"))
    assert (peer, error) == (spiffe("ns", "web"), None)


def test_client_refuses_the_wrong_server_identity(issue: Callable[[str, str], Credentials]) -> None:
    _, error = handshake(issue("ns", "api"), issue("ns", "web"), spiffe("ns", "db"))
    assert error == "IdentityError"


def test_certificate_from_another_ca_is_refused(
    issue: Callable[[str, str], Credentials], other_ca: CertificateAuthority
) -> None:
    intruder = other_ca.issue(spiffe("ns", "web"))
    peer, error = handshake(issue("ns", "api"), intruder, spiffe("ns", "api"))
    assert peer is None and error is not None


def test_expired_certificate_is_refused(
    ca: CertificateAuthority, issue: Callable[[str, str], Credentials]
) -> None:
    old = ca.issue(spiffe("ns", "web"), now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
    peer, _ = handshake(issue("ns", "api"), old, spiffe("ns", "api"))
    assert peer is None


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memfd is Linux only")
def test_loading_a_key_never_writes_it_to_a_file_system(
    issue: Callable[[str, str], Credentials], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_files(*args: object, **kwargs: object) -> None:
        raise AssertionError("the key went to a temporary directory")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_files)
    creds = issue("ns", "api")
    context = server_context(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem)
    assert context.verify_mode == ssl.CERT_REQUIRED
