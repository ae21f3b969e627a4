"""The benchmark's anchor checks what the sidecars check: a pair that skipped them would be cheaper.

The Envoy pair of `bench.proxy` is compared with the sidecar pair on CPU per
request, so its server side must really authenticate and authorize. These tests
attack the server's Envoy over real sockets, as a workload without the client's
identity would.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.proxy.envoy import CLIENT_ID, TRUST_DOMAIN, EnvoyPair, envoy_pair
from bench.proxy.run import echo_app
from reference_impl.pki import CertificateAuthority, client_context

pytestmark = [pytest.mark.realservers, pytest.mark.loopback]


def _get(port: int, ctx: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """One GET / with Host `server`; (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        if ctx is None:
            return _exchange(raw)
        with ctx.wrap_socket(raw, do_handshake_on_connect=False) as tls:
            tls.do_handshake()
            return _exchange(tls)


def _exchange(sock: socket.socket) -> tuple[int, bytes]:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _outcome(port: int, ctx: ssl.SSLContext | None) -> str:
    """What came back: "tls" (handshake refused), "connection" (closed), or the HTTP status."""
    try:
        status, _ = _get(port, ctx)
    except ssl.SSLError:
        return "tls"
    except (ConnectionError, IndexError, ValueError):
        return "connection"
    return str(status)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(TRUST_DOMAIN)


@pytest.fixture
def mtls_pair(envoy_binary: Path, tmp_path: Path, ca: CertificateAuthority) -> Iterator[EnvoyPair]:
    with (
        echo_app() as (app_port, _pid),
        envoy_pair(str(envoy_binary), app_port, tmp_path, True, ca) as pair,
    ):
        yield pair


def test_a_request_through_the_pair_reaches_the_app_with_the_clients_identity(
    mtls_pair: EnvoyPair,
) -> None:
    status, body = _get(mtls_pair.port)
    assert status == 200
    headers = json.loads(body)["request"]["headers"]
    assert f"URI={CLIENT_ID}" in headers["x-forwarded-client-cert"]


def test_the_clients_identity_is_let_in_directly(mtls_pair: EnvoyPair, tmp_path: Path) -> None:
    """The control for the refusals below: the same request with the client's SVID passes."""
    certs = tmp_path / "envoy-certs-mtls"
    ctx = client_context(
        (certs / "client.pem").read_bytes(),
        (certs / "client-key.pem").read_bytes(),
        (certs / "ca.pem").read_bytes(),
    )
    assert _outcome(mtls_pair.server_port, ctx) == "200"


def test_another_workload_of_the_same_ca_is_outcome(
    mtls_pair: EnvoyPair, ca: CertificateAuthority
) -> None:
    intruder = ca.issue(f"spiffe://{TRUST_DOMAIN}/ns/bench/sa/intruder")
    ctx = client_context(intruder.cert_pem, intruder.key_pem, intruder.ca_bundle_pem)
    # the server's Envoy accepts only the client's SPIFFE ID (SAN match, then RBAC)
    assert _outcome(mtls_pair.server_port, ctx) in {"tls", "connection", "403"}


def test_a_workload_without_a_certificate_is_outcome(mtls_pair: EnvoyPair) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    assert _outcome(mtls_pair.server_port, ctx) in {"tls", "connection"}


def test_plain_http_to_the_mtls_server_side_is_outcome(mtls_pair: EnvoyPair) -> None:
    assert _outcome(mtls_pair.server_port, None) == "connection"


def test_the_pair_speaks_tls_1_3_between_its_envoys_as_istio_does(
    mtls_pair: EnvoyPair, tmp_path: Path
) -> None:
    """Istio sets TLS 1.2-1.3 on its sidecars' mTLS; left to Envoy's default for
    upstreams (at most TLS 1.2) the client's Envoy would not run what Istio runs,
    nor what the sidecars run. Read from the client's Envoy's own counters."""
    _get(mtls_pair.port)
    config = json.loads((tmp_path / "envoy-client-mtls.json").read_text())
    admin = config["admin"]["address"]["socket_address"]["port_value"]
    url = f"http://127.0.0.1:{admin}/stats?filter=ssl.versions"
    with urllib.request.urlopen(url, timeout=10) as answer:
        stats = answer.read().decode()
    counters = dict(line.rsplit(": ", 1) for line in stats.splitlines() if ": " in line)
    assert int(counters.get("cluster.server-v1.ssl.versions.TLSv1.3", "0")) >= 1, stats
    assert int(counters.get("cluster.server-v1.ssl.versions.TLSv1.2", "0")) == 0
