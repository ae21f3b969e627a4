"""A real Consul agent in dev mode on loopback, spoken to over its HTTP API.

`consul agent -dev` is a one-node server with Connect's built-in CA. It is
bound to 127.0.0.1 with its own free ports for the HTTP API, the gRPC xDS
server its sidecars read from, the RPC server and serf LAN; every other port
(DNS, HTTPS, gRPC TLS, serf WAN) is off, so two agents on one machine do not
collide. Leader and CA roots are ready in about 0.1-0.2 s.

API: https://developer.hashicorp.com/consul/api-docs (agent/service,
config, agent/connect).
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.targets.istio_live_process import Process, free_ports

STARTUP_TIMEOUT = 60.0
API_TIMEOUT = 30.0
#: config entry kinds in the order they may be deleted: a router or splitter
#: refers to a resolver's subsets, and all of them need the service's protocol
#: (service-defaults, proxy-defaults) to stay HTTP while they exist
DELETE_ORDER = (
    "service-intentions",
    "service-router",
    "service-splitter",
    "service-resolver",
    "service-defaults",
    "proxy-defaults",
    "mesh",
)


class ConsulAPIError(RuntimeError):
    """The agent refused a request; the message has its answer."""


@dataclass(frozen=True)
class Leaf:
    """A Connect leaf certificate: lets a client act as one service's identity."""

    service: str
    cert_pem: str
    key_pem: str
    roots_pem: str

    def client_context(self) -> ssl.SSLContext:
        """TLS as that service: its certificate, trusting the mesh's roots. A
        sidecar's certificate names it by SPIFFE URI only, so the host name is
        not checked."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.load_verify_locations(cadata=self.roots_pem)
        with tempfile.TemporaryDirectory(prefix="meshspec-leaf-") as tmp:
            cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert.write_text(self.cert_pem)
            key.write_text(self.key_pem)
            context.load_cert_chain(cert, key)
        return context


def agent_config(ports: dict[str, int], data_dir: Path) -> str:
    """The agent's HCL: loopback only, its own ports, Connect on."""
    return "\n".join(
        [
            'bind_addr = "127.0.0.1"',
            'client_addr = "127.0.0.1"',
            'advertise_addr = "127.0.0.1"',
            f'data_dir = "{data_dir}"',
            'node_name = "meshspec"',
            "ports {",
            f"  http = {ports['http']}",
            f"  grpc = {ports['grpc']}",
            f"  server = {ports['server']}",
            f"  serf_lan = {ports['serf_lan']}",
            "  serf_wan = -1",
            "  https = -1",
            "  grpc_tls = -1",
            "  dns = -1",
            "}",
            "connect { enabled = true }",
            "disable_update_check = true",
            "disable_anonymous_signature = true",
            'log_level = "warn"',
            "",
        ]
    )


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    kind = str(entry["Kind"])
    return kind, str(entry.get("Name") or kind)


class ConsulAgent:
    """One `consul agent -dev`; `start` returns once it leads and its CA has roots."""

    def __init__(self, consul: Path, workdir: Path) -> None:
        self.consul = consul
        self.workdir = workdir
        self.ports: dict[str, int] = {}
        self.process: Process | None = None
        #: seconds from start until leader and CA roots were there
        self.ready_seconds = 0.0

    @property
    def http_addr(self) -> str:
        return f"127.0.0.1:{self.ports['http']}"

    @property
    def grpc_addr(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"

    def start(self) -> ConsulAgent:
        self.workdir.mkdir(parents=True, exist_ok=True)
        names = ("http", "grpc", "server", "serf_lan")
        self.ports = dict(zip(names, free_ports(len(names), "127.0.0.1"), strict=True))
        config = self.workdir / "agent.hcl"
        config.write_text(agent_config(self.ports, self.workdir / "data"))
        began = time.monotonic()
        self.process = Process(
            "consul agent",
            [self.consul, "agent", "-dev", "-config-file", config],
            self.workdir / "consul.log",
            env=dict(os.environ, CHECKPOINT_DISABLE="1"),
            cwd=self.workdir,
        )
        self.process.wait_until("a leader", lambda: bool(self.get("/v1/status/leader")), 60)
        self.process.wait_until(
            "Connect CA roots",
            lambda: bool(self.get("/v1/connect/ca/roots").get("Roots")),
            STARTUP_TIMEOUT,
        )
        self.ready_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    # ---- HTTP API --------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One API call; its JSON answer (None when empty). ConsulAPIError on refusal."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://{self.http_addr}{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=API_TIMEOUT) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            answer = exc.read().decode(errors="replace").strip()
            raise ConsulAPIError(f"{method} {path}: {exc.code} {answer}") from None
        return json.loads(text) if text.strip() else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def register(self, registration: dict[str, Any]) -> None:
        self.call("PUT", "/v1/agent/service/register", registration)

    def deregister(self, service_id: str) -> None:
        self.call("PUT", f"/v1/agent/service/deregister/{urllib.parse.quote(service_id)}")

    def service_passing(self, service_id: str) -> bool:
        """Whether every check of a service registered on this agent passes."""
        try:
            answer = self.get(f"/v1/agent/health/service/id/{urllib.parse.quote(service_id)}")
        except ConsulAPIError:
            return False
        return isinstance(answer, dict) and answer.get("AggregatedStatus") == "passing"

    def write_entry(self, entry: dict[str, Any]) -> None:
        """`PUT /v1/config`: the same JSON `consul config write` reads."""
        if self.call("PUT", "/v1/config", entry) is not True:
            raise ConsulAPIError(f"config entry {entry.get('Kind')}/{entry.get('Name')} refused")

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return list(self.get(f"/v1/config/{kind}") or [])

    def delete_entries(self, kinds: Sequence[str] = DELETE_ORDER) -> int:
        """Delete every config entry of `kinds`, dependants first; how many there were."""
        deleted = 0
        for kind in kinds:
            for entry in self.entries(kind):
                # The one mesh entry is listed without a name; its name is "mesh".
                self.delete_entry(kind, str(entry.get("Name") or kind))
                deleted += 1
        return deleted

    def replace_entries(self, entries: Sequence[dict[str, Any]]) -> None:
        """Make `entries` (in apply order) the only config entries, changing no more
        than needed: routers and splitters go first (they name resolver subsets the
        new entries may no longer have), then every entry is written, then what is
        left of the old ones is deleted. Deleting all and writing again would flip
        each service's protocol to tcp and back: its Envoy listeners are replaced
        twice, and a listener can then wait Envoy's 15 s initial fetch timeout for
        a route Consul already sent."""
        keep = {_key(e) for e in entries}
        self.delete_entries(("service-router", "service-splitter"))
        for entry in entries:
            self.write_entry(entry)
        for kind in DELETE_ORDER:
            for old in self.entries(kind):
                if _key({**old, "Kind": kind}) not in keep:
                    self.delete_entry(kind, str(old.get("Name") or kind))

    def delete_entry(self, kind: str, name: str) -> None:
        self.call("DELETE", f"/v1/config/{kind}/{urllib.parse.quote(name, safe='')}")

    def leaf(self, service: str) -> Leaf:
        """A leaf certificate for `service` from the agent's CA."""
        leaf = self.get(f"/v1/agent/connect/ca/leaf/{urllib.parse.quote(service)}")
        roots = self.get("/v1/agent/connect/ca/roots")
        pem = "".join(str(r["RootCert"]).strip() + "\n" for r in roots["Roots"])
        return Leaf(service, str(leaf["CertPEM"]), str(leaf["PrivateKeyPEM"]), pem)
