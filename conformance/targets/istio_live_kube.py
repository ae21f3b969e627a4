"""A Kubernetes API without nodes, on loopback: etcd plus kube-apiserver.

istiod needs an API server to read Services, WorkloadEntries and its
configuration from, and to issue service-account tokens its CA checks; it
needs no kubelet, so none runs. The server gets its own CA, a serving
certificate for 127.0.0.1, an admin client certificate (system:masters) and
a service-account signing key, all in the run's work directory. The
`kubernetes` endpoint reconciler is off: a loopback address may not be an
endpoint.

`KubeClient` is the little istio-live needs from the API: server-side apply
that reports each rejection with the server's text, delete, tokens, and
ConfigMaps.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import ipaddress
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from conformance.targets.istio_live_process import Process, free_port

FIELD_MANAGER = "meshspec-istio-live"
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
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshspec-istio-live-ca")])
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
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
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
            x509.DNSName("kubernetes.default.svc"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
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


def kubeconfig_of(url: str, ca: Path, cert: Path, key: Path) -> dict[str, Any]:
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
            {"name": "meshspec", "context": {"cluster": "meshspec", "user": "meshspec-admin"}}
        ],
        "current-context": "meshspec",
    }


def _get(url: str, context: ssl.SSLContext | None = None, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


@contextlib.contextmanager
def local_kube(workdir: Path, etcd: Path, kube_apiserver: Path) -> Iterator[Path]:
    """etcd and kube-apiserver on free loopback ports; yields the kubeconfig path."""
    workdir.mkdir(parents=True, exist_ok=True)
    client_url = f"http://127.0.0.1:{free_port()}"
    peer_url = f"http://127.0.0.1:{free_port()}"
    started: list[Process] = []
    try:
        etcd_proc = Process(
            "etcd",
            [
                etcd,
                "--name=meshspec",
                f"--data-dir={workdir / 'etcd-data'}",
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
        started.append(etcd_proc)
        etcd_proc.wait_until(
            "/health",
            lambda: json.loads(_get(f"{client_url}/health")[1]).get("health") == "true",
            STARTUP_TIMEOUT,
        )
        pki = write_pki(workdir / "pki")
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        api = Process(
            "kube-apiserver",
            [
                kube_apiserver,
                f"--etcd-servers={client_url}",
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
                "--endpoint-reconciler-type=none",
                "--disable-admission-plugins=ServiceAccount",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                "--v=1",
            ],
            workdir / "kube-apiserver.log",
        )
        started.append(api)
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(kubeconfig_of(url, pki["ca"], pki["admin_cert"], pki["admin_key"]))
        )
        context = ssl.create_default_context(cafile=str(pki["ca"]))
        context.load_cert_chain(str(pki["admin_cert"]), str(pki["admin_key"]))
        api.wait_until(
            "/readyz", lambda: _get(url + "/readyz", context) == (200, b"ok"), STARTUP_TIMEOUT
        )
        api.wait_until(
            "the default namespace",
            lambda: _get(url + "/api/v1/namespaces/default", context)[0] == 200,
            60,
        )
        yield kubeconfig
    finally:
        for process in reversed(started):
            process.stop()


class ApplyRejected(Exception):
    """The API server refused objects; the message has each refusal's text."""


class KubeClient:
    """The API calls istio-live makes, over one kubeconfig."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        config: Any = importlib.import_module("kubernetes.config")
        dynamic: Any = importlib.import_module("kubernetes.dynamic")

        workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = kubeconfig
        self.api: Any = config.new_client_from_config(config_file=str(kubeconfig))
        # A discovery cache of its own: the default one in /tmp is shared by every
        # server that ever listened on the same port.
        self.dynamic: Any = dynamic.DynamicClient(
            self.api, cache_file=str(workdir / "discovery.json")
        )

    def _resource(self, api_version: str, kind: str, timeout: float = 30) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
                self.dynamic.resources.invalidate_cache()

    def apply(self, docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Server-side apply each object; the stored objects. ApplyRejected lists
        every refusal with the server's text (the others are applied)."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        stored: list[dict[str, Any]] = []
        refused: list[str] = []
        for doc in docs:
            resource = self._resource(doc["apiVersion"], doc["kind"])
            meta = doc.get("metadata") or {}
            ns = (meta.get("namespace") or "default") if resource.namespaced else None
            try:
                answer = self.dynamic.server_side_apply(
                    resource,
                    body=doc,
                    namespace=ns,
                    field_manager=FIELD_MANAGER,
                    force_conflicts=True,
                )
            except DynamicApiError as exc:
                refused.append(f"{doc['kind']} {ns}/{meta.get('name')}: {_message(exc)}")
                continue
            stored.append(answer.to_dict())
        if refused:
            raise ApplyRejected("the API server refused:\n" + "\n".join(refused))
        return stored

    def delete(self, doc: dict[str, Any]) -> None:
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self._resource(doc["apiVersion"], doc["kind"])
        meta = doc.get("metadata") or {}
        ns = (meta.get("namespace") or "default") if resource.namespaced else None
        with contextlib.suppress(NotFoundError):
            resource.delete(name=meta["name"], namespace=ns)

    def wait_established(self, crd_names: Iterable[str], timeout: float = 120) -> None:
        crd_api = self._resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        pending = set(crd_names)
        deadline = time.monotonic() + timeout
        while pending:
            for name in sorted(pending):
                crd = crd_api.get(name=name).to_dict()
                conditions = {
                    c["type"]: c["status"]
                    for c in (crd.get("status") or {}).get("conditions") or []
                }
                if conditions.get("Established") == "True":
                    pending.discard(name)
            if pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRDs not Established after {timeout:.0f}s: {pending}")
                time.sleep(0.2)

    def token(self, service_account: str, namespace: str, audience: str) -> str:
        """A service-account token from the TokenRequest API."""
        from kubernetes import client

        body = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[audience], expiration_seconds=86400)
        )
        answer: Any = client.CoreV1Api(self.api).create_namespaced_service_account_token(
            service_account, namespace, body
        )
        return str(answer.status.token)

    def config_map_value(self, name: str, namespace: str, key: str) -> str | None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            cm = client.CoreV1Api(self.api).read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return (cm.data or {}).get(key)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        status = json.loads(body) if body else {}
    except ValueError:
        return str(body or exc)
    return str(status.get("message") or exc)
