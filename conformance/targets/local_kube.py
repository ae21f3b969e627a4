"""A Kubernetes API without nodes, on loopback: etcd plus kube-apiserver.

istiod needs an API server to read Services, WorkloadEntries and its
configuration from, and to issue service-account tokens its CA checks; the
tests need one to apply resources to and read them back. Neither needs a
kubelet, so none runs. The server gets its own CA, a serving certificate for
127.0.0.1 (and the `kubernetes` Service's names), an admin client certificate
(group system:masters) and a service-account signing key, all in the run's
work directory. The `kubernetes` endpoint reconciler is off: a loopback address
may not be an endpoint.

The one copy of this start-up: the live Istio target and the test fixtures
(`tests/fixtures/realservers.py`) both use it.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.targets.istio_live_process import Process, free_port

STARTUP_TIMEOUT = 180.0


def write_pki(directory: Path) -> dict[str, Path]:
    """CA, serving certificate, admin client certificate, service-account key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    begin, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    def private(key: Any) -> bytes:
        return bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def write(name: str, data: bytes) -> Path:
        path = directory / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshspec-local-kube-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(begin)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, org: str | None, usage: Any, san: list[Any] | None) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(begin)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), private(key)

    serving_cert, serving_key = leaf(
        "kube-apiserver",
        None,
        ExtendedKeyUsageOID.SERVER_AUTH,
        [
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
        ],
    )
    admin_cert, admin_key = leaf(
        "meshspec-admin", "system:masters", ExtendedKeyUsageOID.CLIENT_AUTH, None
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_pub = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "ca": write("ca.crt", ca.public_bytes(serialization.Encoding.PEM)),
        "serving_cert": write("apiserver.crt", serving_cert),
        "serving_key": write("apiserver.key", serving_key),
        "admin_cert": write("admin.crt", admin_cert),
        "admin_key": write("admin.key", admin_key),
        "sa_key": write("sa.key", private(sa_key)),
        "sa_pub": write("sa.pub", sa_pub),
    }


def kubeconfig_of(
    url: str, ca: Path, cert: Path, key: Path, context: str = "meshspec"
) -> dict[str, Any]:
    """A kubeconfig whose one context (the current one) is the cluster admin."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "meshspec", "cluster": {"server": url, "certificate-authority": str(ca)}}
        ],
        "users": [
            {
                "name": "meshspec-admin",
                "user": {"client-certificate": str(cert), "client-key": str(key)},
            }
        ],
        "contexts": [
            {"name": context, "context": {"cluster": "meshspec", "user": "meshspec-admin"}}
        ],
        "current-context": context,
    }


def http_get(
    url: str, context: ssl.SSLContext | None = None, timeout: float = 5
) -> tuple[int, bytes]:
    """(status, body) of a GET; an HTTP error status is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


@dataclass
class Etcd:
    client_url: str
    data_dir: Path
    process: Process


@contextlib.contextmanager
def start_etcd(workdir: Path, binary: Path, timeout: float = STARTUP_TIMEOUT) -> Iterator[Etcd]:
    """etcd on free loopback ports, data in `workdir`; stopped when the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    client_url = f"http://127.0.0.1:{free_port()}"
    peer_url = f"http://127.0.0.1:{free_port()}"
    data_dir = workdir / "etcd-data"
    process = Process(
        "etcd",
        [
            binary,
            "--name=meshspec",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=meshspec={peer_url}",
            "--initial-cluster-state=new",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
        workdir / "etcd.log",
    )
    try:

        def healthy() -> bool:
            status, body = http_get(f"{client_url}/health")
            return status == 200 and json.loads(body).get("health") == "true"

        process.wait_until("/health", healthy, timeout)
        yield Etcd(client_url=client_url, data_dir=data_dir, process=process)
    finally:
        process.stop()


@dataclass
class KubeServer:
    """A running kube-apiserver and the credentials of a cluster admin."""

    url: str
    kubeconfig: Path
    ca_file: Path
    client_cert: Path
    client_key: Path
    workdir: Path
    process: Process

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        """A raw authenticated GET, for example `get("/readyz")`."""
        return http_get(self.url + path, context=self.ssl_context(), timeout=timeout)


@contextlib.contextmanager
def start_kube_apiserver(
    workdir: Path, binary: Path, etcd_url: str, timeout: float = STARTUP_TIMEOUT
) -> Iterator[KubeServer]:
    """kube-apiserver over the etcd at `etcd_url`, ready (and its `default` namespace
    made) before the block runs; stopped when it ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    pki = write_pki(workdir / "pki")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(kubeconfig_of(url, pki["ca"], pki["admin_cert"], pki["admin_key"]), indent=2)
        + "\n"
    )
    process = Process(
        "kube-apiserver",
        [
            binary,
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={workdir / 'certs'}",
            f"--tls-cert-file={pki['serving_cert']}",
            f"--tls-private-key-file={pki['serving_key']}",
            f"--client-ca-file={pki['ca']}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={url}",
            f"--service-account-key-file={pki['sa_pub']}",
            f"--service-account-signing-key-file={pki['sa_key']}",
            "--service-cluster-ip-range=10.0.0.0/24",
            # A loopback address may not be an endpoint of the `kubernetes` Service.
            "--endpoint-reconciler-type=none",
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--v=1",
        ],
        workdir / "kube-apiserver.log",
    )
    server = KubeServer(
        url=url,
        kubeconfig=kubeconfig,
        ca_file=pki["ca"],
        client_cert=pki["admin_cert"],
        client_key=pki["admin_key"],
        workdir=workdir,
        process=process,
    )

    def ready() -> bool:
        status, body = server.get("/readyz", timeout=5)
        return status == 200 and body.strip() == b"ok"

    try:
        process.wait_until("/readyz", ready, timeout)
        process.wait_until(
            "the default namespace",
            lambda: server.get("/api/v1/namespaces/default", 5)[0] == 200,
            min(timeout, 60),
        )
        yield server
    finally:
        process.stop()


@contextlib.contextmanager
def local_kube(workdir: Path, etcd: Path, kube_apiserver: Path) -> Iterator[Path]:
    """etcd and kube-apiserver on free loopback ports; yields the kubeconfig path."""
    with (
        start_etcd(workdir, etcd) as store,
        start_kube_apiserver(workdir, kube_apiserver, store.client_url) as server,
    ):
        yield server.kubeconfig
