"""Real Istio on loopback: istiod configuring real Envoy sidecars, no nodes, no iptables.

istiod (`pilot-discovery`) runs against a Kubernetes API server without
nodes. Workloads have no pods: each instance is a Kubernetes Service plus a
WorkloadEntry on its own loopback address (EndpointSlices cannot be used:
the API server refuses loopback endpoints). Each instance's sidecar is
`pilot-agent proxy sidecar` driving stock Envoy, with no traffic capture: a
per-workload `Sidecar` resource binds its inbound listener to the instance's
address at the Service's targetPort (forwarding to the application on
127.0.0.1) and its outbound listeners to the same address at each service
port, so a client sends to `<its address>:<service port>` with the
destination in the Host header.

Settings that matter (the Envoy here is the stock build, without Istio's own
filters):
- `PILOT_ENABLE_METADATA_EXCHANGE=false`, `PILOT_ENABLE_ALPN_FILTER=false` and
  no metrics provider in the mesh config: otherwise istiod sends
  `istio.metadata_exchange`, `istio.alpn` and `istio.stats` filters that
  stock Envoy rejects;
- Gateway API, the webhooks and injection are off; istiod is its own CA
  (`PILOT_CERT_PROVIDER=istiod`) and checks tokens of audience `istio-ca`;
- `PILOT_DEBOUNCE_AFTER=20ms`: a change reaches Envoy in tens of
  milliseconds instead of the default 100ms debounce;
- `meshConfig.pathNormalization: MERGE_SLASHES`, which the Istio adapter's
  output asks for (diagnostic MS1001);
- protocols are declared on every port (no sniffing: without the ALPN filter
  mTLS carries no protocol hint).

Every workload address of a run is in one 127.x.y.0/24 block reserved with a
lock file, and every other port is a free one, so two runs on one machine do
not collide.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import random
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from conformance.targets.istio_live_kube import KubeClient
from conformance.targets.istio_live_process import Process, StartupError, free_port, free_ports
from conformance.targets.istio_live_programs import Programs

ISTIO_NAMESPACE = "istio-system"
TRUST_DOMAIN = "cluster.local"
CLUSTER_ID = "Kubernetes"
WORKLOAD_LABEL = "meshspec.io/workload"
ROOT_CERT_CONFIG_MAP = "istio-ca-root-cert"
STARTUP_TIMEOUT = 120.0
SYNC_TIMEOUT = 30.0
#: quiet time after istiod's last push before the sidecars count as in sync
PUSH_SETTLE = 0.5
#: how long istiod may take to start a push after it has read a change
NO_PUSH_GRACE = 1.5
#: how long a refused push must stay refused (not replaced by a newer one)
NACK_SETTLE = 0.5
#: how long Envoy drains connections of replaced listeners (whole seconds only)
DRAIN_SECONDS = 1
#: what the access log records of each request: its conformance id, the route
#: Envoy chose, and how it ended (Envoy access-log command operators)
ACCESS_LOG_FORMAT = {
    "id": "%REQ(X-CONFORMANCE-ID)%",
    "route": "%ROUTE_NAME%",
    "status": "%RESPONSE_CODE%",
    "flags": "%RESPONSE_FLAGS%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "cluster": "%UPSTREAM_CLUSTER%",
    "duration": "%DURATION%",
    "path": "%REQ(:PATH)%",
}
ACCESS_LOG = "access.log"

ISTIOD_ENV = {
    "POD_NAME": "istiod-meshspec",
    "POD_NAMESPACE": ISTIO_NAMESPACE,
    "REVISION": "default",
    "CLUSTER_ID": CLUSTER_ID,
    "PILOT_ENABLE_GATEWAY_API": "false",
    "PILOT_ENABLE_GATEWAY_API_STATUS": "false",
    "PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER": "false",
    "PILOT_ENABLE_ALPN_FILTER": "false",
    "PILOT_ENABLE_METADATA_EXCHANGE": "false",
    "VALIDATION_WEBHOOK_CONFIG_NAME": "",
    "INJECTION_WEBHOOK_CONFIG_NAME": "",
    "PILOT_CERT_PROVIDER": "istiod",
    "JWT_POLICY": "third-party-jwt",
    "ENABLE_CA_SERVER": "true",
    "PILOT_ENABLE_ANALYSIS": "false",
    "PILOT_DEBOUNCE_AFTER": "20ms",
    "GOMAXPROCS": "2",
}


def mesh_config(discovery_address: str) -> dict[str, Any]:
    return {
        "trustDomain": TRUST_DOMAIN,
        "rootNamespace": ISTIO_NAMESPACE,
        "enableTracing": False,
        "accessLogFile": ACCESS_LOG,
        "accessLogEncoding": "JSON",
        "accessLogFormat": json.dumps(ACCESS_LOG_FORMAT),
        "defaultProviders": {},
        "pathNormalization": {"normalization": "MERGE_SLASHES"},
        "defaultConfig": {"discoveryAddress": discovery_address},
    }


# --------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------


class AddressBlock:
    """A 127.x.y.0/24 block reserved for this run by a lock on a file."""

    def __init__(self) -> None:
        self._lock: IO[str] | None = None
        self.prefix = ""

    def reserve(self, rng: random.Random | None = None) -> AddressBlock:
        rng = rng or random.Random()
        lock_dir = Path(tempfile.gettempdir()) / "meshspec-istio-live-addresses"
        lock_dir.mkdir(exist_ok=True)
        for _ in range(200):
            x, y = rng.randint(1, 254), rng.randint(0, 255)
            handle = (lock_dir / f"127.{x}.{y}.lock").open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self._lock, self.prefix = handle, f"127.{x}.{y}."
            return self
        raise StartupError("no free 127.x.y.0/24 block for workload addresses")

    def address(self, index: int) -> str:
        if not 0 <= index < 250:
            raise ValueError(f"workload index out of range: {index}")
        return f"{self.prefix}{index + 2}"

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


# --------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkloadPort:
    port: int
    target_port: int
    #: the Service port's name; its prefix declares the protocol to Istio
    name: str
    #: http, grpc or tcp
    protocol: str


@dataclass(frozen=True)
class Workload:
    """One instance of a service: a WorkloadEntry on `address` and its sidecar."""

    name: str
    namespace: str
    service: str
    service_account: str
    labels: dict[str, str]
    address: str
    ports: tuple[WorkloadPort, ...]
    #: the application behind the inbound listener (127.0.0.1:<app_port>)
    app_port: int

    @property
    def all_labels(self) -> dict[str, str]:
        return {
            **self.labels,
            WORKLOAD_LABEL: self.name,
            "security.istio.io/tlsMode": "istio",
        }


def _istio_protocol(protocol: str) -> str:
    return {"http": "HTTP", "grpc": "GRPC", "tcp": "TCP"}.get(protocol, "HTTP")


def workload_manifests(workloads: Sequence[Workload]) -> list[dict[str, Any]]:
    """Namespaces, ServiceAccounts, Services, WorkloadEntries and per-workload Sidecars."""
    out: list[dict[str, Any]] = []
    namespaces = sorted({w.namespace for w in workloads} - {"default"})
    for ns in namespaces:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    seen_accounts: set[tuple[str, str]] = set()
    seen_services: set[tuple[str, str]] = set()
    for w in workloads:
        if (w.namespace, w.service_account) not in seen_accounts:
            seen_accounts.add((w.namespace, w.service_account))
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": w.service_account, "namespace": w.namespace},
                }
            )
        if (w.namespace, w.service) not in seen_services:
            seen_services.add((w.namespace, w.service))
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": w.service, "namespace": w.namespace},
                    "spec": {
                        "selector": {"app": w.service},
                        "ports": [
                            {
                                "name": p.name,
                                "port": p.port,
                                "targetPort": p.target_port,
                                "protocol": "TCP",
                                "appProtocol": p.protocol,
                            }
                            for p in w.ports
                        ],
                    },
                }
            )
    for w in workloads:
        out.append(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "WorkloadEntry",
                "metadata": {"name": w.name, "namespace": w.namespace},
                "spec": {
                    "address": w.address,
                    "serviceAccount": w.service_account,
                    "labels": w.all_labels,
                },
            }
        )
        out.append(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "Sidecar",
                "metadata": {"name": w.name, "namespace": w.namespace},
                "spec": {
                    "workloadSelector": {"labels": {WORKLOAD_LABEL: w.name}},
                    "ingress": [
                        {
                            "port": {
                                "number": p.target_port,
                                "protocol": _istio_protocol(p.protocol),
                                "name": p.name,
                            },
                            "bind": w.address,
                            "captureMode": "NONE",
                            "defaultEndpoint": f"127.0.0.1:{w.app_port}",
                        }
                        for p in w.ports
                    ],
                    "egress": [{"hosts": ["*/*"], "bind": w.address, "captureMode": "NONE"}],
                },
            }
        )
    return out


# --------------------------------------------------------------------------
# Sidecars
# --------------------------------------------------------------------------


@dataclass
class Sidecar:
    """pilot-agent and its Envoy for one workload."""

    workload: Workload
    directory: Path
    process: Process
    admin_port: int

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def admin(self, path: str, timeout: float = 5) -> bytes:
        with urllib.request.urlopen(self.admin_url + path, timeout=timeout) as resp:
            return bytes(resp.read())

    def config_dump(self) -> dict[str, Any]:
        dump: dict[str, Any] = json.loads(self.admin("/config_dump"))
        return dump

    def access_log(self) -> list[dict[str, Any]]:
        """Envoy's access log: one JSON object per request (written every 20ms)."""
        try:
            text = (self.directory / ACCESS_LOG).read_text(errors="replace")
        except OSError:
            return []
        out: list[dict[str, Any]] = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    out.append(entry)
        return out


def _start_sidecar(
    programs: Programs,
    workload: Workload,
    directory: Path,
    kube: KubeClient,
    root_cert: str,
    discovery_address: str,
) -> Sidecar:
    if directory.exists():
        shutil.rmtree(directory)
    for sub in (
        "var/run/secrets/tokens",
        "var/run/secrets/istio",
        "var/lib/istio/envoy",
        "etc/istio/proxy",
    ):
        (directory / sub).mkdir(parents=True)
    token = kube.token(workload.service_account, workload.namespace, "istio-ca")
    (directory / "var/run/secrets/tokens/istio-token").write_text(token)
    (directory / "var/run/secrets/istio/root-cert.pem").write_text(root_cert)
    shutil.copy(
        programs.bootstrap_template, directory / "var/lib/istio/envoy/envoy_bootstrap_tmpl.json"
    )
    # Envoy's health and Prometheus listeners bind 0.0.0.0: ports free on every address
    admin_port, status_port, envoy_status_port, prometheus_port = free_ports(4)
    proxy_config = {
        "discoveryAddress": discovery_address,
        "proxyAdminPort": admin_port,
        "statusPort": status_port,
        "binaryPath": str(programs.envoy),
        "configPath": "./etc/istio/proxy",
        "interceptionMode": "NONE",
        "concurrency": 1,
        "drainDuration": f"{DRAIN_SECONDS}s",
        "terminationDrainDuration": "1s",
        # Envoy writes its access log (the route each request took) every 20ms, not every 1s.
        "fileFlushInterval": "0.020s",
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "INSTANCE_IP": workload.address,
        "HOST_IP": workload.address,
        "POD_NAME": workload.name,
        "POD_NAMESPACE": workload.namespace,
        "SERVICE_ACCOUNT": workload.service_account,
        "ISTIOD_SAN": f"istiod.{ISTIO_NAMESPACE}.svc",
        "CA_ADDR": discovery_address,
        "ENVOY_STATUS_PORT": str(envoy_status_port),
        "ENVOY_PROMETHEUS_PORT": str(prometheus_port),
        "ISTIO_META_CLUSTER_ID": CLUSTER_ID,
        "ISTIO_META_WORKLOAD_NAME": workload.name,
        "ISTIO_META_INTERCEPTION_MODE": "NONE",
        "ISTIO_METAJSON_LABELS": json.dumps(workload.all_labels),
        "ISTIO_META_DNS_CAPTURE": "false",
        "JWT_POLICY": "third-party-jwt",
        "PILOT_CERT_PROVIDER": "istiod",
        "PROXY_CONFIG": json.dumps(proxy_config),
        "GOMAXPROCS": "1",
    }
    process = Process(
        f"sidecar {workload.namespace}/{workload.name}",
        [
            programs.pilot_agent,
            "proxy",
            "sidecar",
            "--meshConfig=/dev/null",
            "--log_output_level=default:warn",
        ],
        directory / "pilot-agent.log",
        env=env,
        cwd=directory,
    )
    return Sidecar(workload, directory, process, admin_port)


# --------------------------------------------------------------------------
# istiod and the mesh
# --------------------------------------------------------------------------


class ConfigRejected(Exception):
    """istiod or Envoy refused configuration; the message has their text."""


@dataclass
class Timings:
    bring_up: dict[str, float] = field(default_factory=dict)


def _http(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


class IstioLoopback:
    """istiod on a Kubernetes API, and sidecars for the workloads of one spec at a time."""

    def __init__(self, programs: Programs, kubeconfig: Path, workdir: Path) -> None:
        self.programs = programs
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.kube = KubeClient(kubeconfig, workdir / "kube-client")
        self.addresses = AddressBlock()
        self.istiod: Process | None = None
        self.sidecars: dict[str, Sidecar] = {}
        self.workload_objects: list[dict[str, Any]] = []
        self.config_objects: list[dict[str, Any]] = []
        self._versions: dict[tuple[str, str, str, str], str] = {}
        self.timings: dict[str, float] = {}
        self.http_port = 0
        self.discovery_address = ""
        self.root_cert = ""

    # ---- bring-up -----------------------------------------------------------

    def start(self) -> IstioLoopback:
        self.addresses.reserve()
        began = time.monotonic()
        self._install_crds()
        self.timings["crds"] = time.monotonic() - began
        began = time.monotonic()
        self._start_istiod()
        self.timings["istiod"] = time.monotonic() - began
        return self

    def _install_crds(self) -> None:
        import yaml

        with self.programs.crds.open() as handle:
            docs = [
                d
                for d in yaml.load_all(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
                if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"
            ]
        self.kube.apply(
            [
                *docs,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ISTIO_NAMESPACE}},
            ]
        )
        self.kube.wait_established(d["metadata"]["name"] for d in docs)

    def _start_istiod(self) -> None:
        home = self.workdir / "istiod"
        home.mkdir(parents=True, exist_ok=True)
        self.http_port = free_port()
        grpc_port, secure_port, https_port, monitoring = (free_port() for _ in range(4))
        self.discovery_address = f"127.0.0.1:{secure_port}"
        (home / "mesh.json").write_text(json.dumps(mesh_config(self.discovery_address)))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **ISTIOD_ENV}
        self.istiod = Process(
            "istiod",
            [
                self.programs.pilot_discovery,
                "discovery",
                f"--kubeconfig={self.kubeconfig}",
                "--meshConfig=mesh.json",
                "--networksConfig=/dev/null",
                f"--httpAddr=127.0.0.1:{self.http_port}",
                f"--httpsAddr=127.0.0.1:{https_port}",
                f"--grpcAddr=127.0.0.1:{grpc_port}",
                f"--secureGRPCAddr=127.0.0.1:{secure_port}",
                f"--monitoringAddr=127.0.0.1:{monitoring}",
                f"--domain={TRUST_DOMAIN}",
                "--keepaliveMaxServerConnectionAge=30m",
                "--log_output_level=default:info",
            ],
            home / "istiod.log",
            env=env,
            cwd=home,
        )
        self.istiod.wait_until("/ready", lambda: self.debug("/ready")[0] == 200, STARTUP_TIMEOUT)

        def root_cert() -> bool:
            value = self.kube.config_map_value(ROOT_CERT_CONFIG_MAP, "default", "root-cert.pem")
            self.root_cert = value or ""
            return "BEGIN CERTIFICATE" in self.root_cert

        self.istiod.wait_until("the root certificate ConfigMap", root_cert, STARTUP_TIMEOUT)

    def debug(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        """istiod's HTTP (debug) endpoint."""
        return _http(f"http://127.0.0.1:{self.http_port}{path}", timeout)

    # ---- workloads ----------------------------------------------------------

    def set_workloads(
        self, workloads: Sequence[Workload], config: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Replace the running workloads and the Istio configuration: objects
        applied, one sidecar per workload, all ready and in sync with istiod."""
        began = time.monotonic()
        self.clear_workloads()
        objects = workload_manifests(workloads)
        stored = self.kube.apply(objects)
        self.workload_objects = objects
        self.set_config(config)
        for w in workloads:
            self._wait_root_cert(w.namespace)
            self.sidecars[w.name] = _start_sidecar(
                self.programs,
                w,
                self.workdir / "sidecars" / f"{w.namespace}-{w.name}",
                self.kube,
                self.root_cert,
                self.discovery_address,
            )
        for name, sidecar in list(self.sidecars.items()):
            try:
                self._wait_sidecar_ready(sidecar)
            except StartupError as exc:
                if "Address already in use" not in str(exc):
                    raise
                # another program took a port between choosing and binding: once more
                sidecar.process.stop()
                self.sidecars[name] = sidecar = _start_sidecar(
                    self.programs,
                    sidecar.workload,
                    sidecar.directory,
                    self.kube,
                    self.root_cert,
                    self.discovery_address,
                )
                self._wait_sidecar_ready(sidecar)
        self.wait_synced(stored)
        self.timings["workloads"] = time.monotonic() - began

    def _wait_root_cert(self, namespace: str) -> None:
        assert self.istiod is not None
        self.istiod.wait_until(
            f"{ROOT_CERT_CONFIG_MAP} in {namespace}",
            lambda: bool(
                self.kube.config_map_value(ROOT_CERT_CONFIG_MAP, namespace, "root-cert.pem")
            ),
            STARTUP_TIMEOUT,
        )

    def _wait_sidecar_ready(self, sidecar: Sidecar) -> None:
        w = sidecar.workload

        def listening() -> bool:
            listeners = sidecar.admin("/listeners?format=json")
            data = json.loads(listeners)
            bound = {
                f"{(s.get('local_address') or {}).get('socket_address', {}).get('address')}:"
                f"{(s.get('local_address') or {}).get('socket_address', {}).get('port_value')}"
                for s in data.get("listener_statuses", [])
            }
            wanted = {f"{w.address}:{p.target_port}" for p in w.ports}
            return wanted <= bound and sidecar.admin("/ready").strip() == b"LIVE"

        sidecar.process.wait_until("inbound listeners and LIVE", listening, STARTUP_TIMEOUT)

    def clear_workloads(self) -> None:
        for sidecar in self.sidecars.values():
            sidecar.process.stop()
        self.sidecars.clear()
        for doc in reversed(self.workload_objects):
            if doc["kind"] != "Namespace":
                self.kube.delete(doc)
        self.workload_objects = []

    # ---- configuration ------------------------------------------------------

    def set_config(self, resources: Sequence[dict[str, Any]]) -> float:
        """Replace the Istio configuration and wait until every sidecar has it.

        ConfigRejected when the API server refuses an object or an Envoy
        refuses what istiod made of it (with their text). Seconds it took.
        """
        began = time.monotonic()
        wanted = {_key(d) for d in resources}
        deleted = [d for d in self.config_objects if _key(d) not in wanted]
        for doc in deleted:
            self.kube.delete(doc)
        from conformance.targets.istio_live_kube import ApplyRejected

        try:
            stored = self.kube.apply(resources)
        except ApplyRejected as exc:
            raise ConfigRejected(str(exc)) from None
        self.config_objects = list(resources)
        versions = {_key(d): str(d["metadata"].get("resourceVersion")) for d in stored}
        if deleted or versions != self._versions:
            self.wait_synced(stored, deleted)
            if self.sidecars:
                # Envoy keeps serving open connections with a replaced listener's old
                # filter chains (an authorization policy, the mTLS mode) while it
                # drains them: `drainDuration`, 1s, the least pilot-agent accepts.
                time.sleep(DRAIN_SECONDS + 0.2)
        self._versions = versions
        return time.monotonic() - began

    def wait_synced(
        self, stored: Iterable[dict[str, Any]], deleted: Iterable[dict[str, Any]] = ()
    ) -> None:
        """Until istiod holds each object at its stored version (and none of the
        deleted ones), has pushed since, and every sidecar has acknowledged every
        push; an Envoy NACK fails with Envoy's text (istiod's `/debug/syncz`
        keeps each proxy's last error per resource type)."""
        assert self.istiod is not None
        want = {
            _config_key(d): str(d["metadata"].get("resourceVersion", ""))
            for d in stored
            if _is_istio(d)
        }
        gone = {_config_key(d) for d in deleted if _is_istio(d)}

        def ingested() -> bool:
            status, body = self.debug("/debug/configz")
            if status != 200:
                return False
            have = {
                _config_key(c): str(c["metadata"].get("resourceVersion", ""))
                for c in json.loads(body) or []
            }
            return all(have.get(k) == v for k, v in want.items()) and not gone & set(have)

        self.istiod.wait_until("the applied configuration", ingested, SYNC_TIMEOUT)
        seen_at = time.time()

        nacked: dict[tuple[str, str, str | None], float] = {}

        def in_sync() -> bool:
            status, body = self.debug("/debug/syncz")
            if status != 200:
                return False
            proxies = json.loads(body) or []
            states = [r for p in proxies for r in (p.get("resources") or {}).values()]
            # An error stays until the next ACK: it is this push's once it has
            # stayed with the same push (nonce) for a moment.
            errors = []
            for p in proxies:
                for type_url, r in (p.get("resources") or {}).items():
                    if r.get("lastError"):
                        first = nacked.setdefault(
                            (p["proxy"], type_url, r.get("sent")), time.time()
                        )
                        if time.time() - first > NACK_SETTLE:
                            kind = type_url.rsplit(".", 1)[-1]
                            errors.append(f"{p['proxy']}: {kind}: {r['lastError']}")
            if errors:
                raise ConfigRejected("Envoy rejected configuration:\n" + "\n".join(errors))
            if any(r.get("lastError") for r in states):
                return False
            if not all(r.get("sent") == r.get("acked") for r in states):
                return False
            newest = max((_epoch(r.get("sentTime")) for r in states), default=0.0)
            now = time.time()
            if newest >= seen_at:
                return now - newest > PUSH_SETTLE
            # a change no sidecar depends on is pushed to none
            return now - seen_at > NO_PUSH_GRACE

        if self.sidecars:
            self.istiod.wait_until(
                "every sidecar in sync", in_sync, SYNC_TIMEOUT, fatal=(ConfigRejected,)
            )
            self._raise_if_rejected()

    def _raise_if_rejected(self) -> None:
        """Envoy's own record of refused updates (`error_state` in its config dump)."""
        refused: list[str] = []
        for name, sidecar in self.sidecars.items():
            dump = sidecar.admin("/config_dump")
            for state in _error_states(json.loads(dump)):
                refused.append(f"{name}: {state}")
        if refused:
            raise ConfigRejected("Envoy rejected configuration:\n" + "\n".join(refused))

    # ---- clean-up -----------------------------------------------------------

    def memory_bytes(self) -> dict[str, int]:
        out = {name: s.process.rss_bytes() for name, s in self.sidecars.items()}
        if self.istiod is not None:
            out["istiod"] = self.istiod.rss_bytes()
        return out

    def stop(self) -> None:
        for sidecar in self.sidecars.values():
            sidecar.process.stop()
        self.sidecars.clear()
        if self.istiod is not None:
            self.istiod.stop()
            self.istiod = None
        self.addresses.release()


def _is_istio(doc: dict[str, Any]) -> bool:
    return ".istio.io/" in str(doc.get("apiVersion"))


def _config_key(doc: dict[str, Any]) -> tuple[str, str, str]:
    meta = doc.get("metadata") or {}
    return (doc["kind"], meta.get("namespace") or "default", meta["name"])


def _epoch(stamp: str | None) -> float:
    """A Go RFC 3339 time (nanoseconds, `Z`) as seconds since the epoch."""
    if not stamp:
        return 0.0
    head, dot, rest = stamp.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        stamp = f"{head}.{digits[:6]}{zone}"
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _error_states(node: Any) -> Iterator[str]:
    """Every `error_state.details` anywhere in an Envoy config dump."""
    if isinstance(node, dict):
        state = node.get("error_state")
        if isinstance(state, dict) and state.get("details"):
            yield str(state["details"])
        for value in node.values():
            yield from _error_states(value)
    elif isinstance(node, list):
        for value in node:
            yield from _error_states(value)


def _key(doc: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = doc.get("metadata") or {}
    return (doc["apiVersion"], doc["kind"], meta.get("namespace") or "default", meta["name"])


@contextlib.contextmanager
def istio_loopback(programs: Programs, kubeconfig: Path, workdir: Path) -> Iterator[IstioLoopback]:
    mesh = IstioLoopback(programs, kubeconfig, workdir)
    try:
        yield mesh.start()
    finally:
        mesh.stop()
