"""Real Istio as a conformance target: istiod and Envoy sidecars on loopback, real HTTP.

The `istio` column of the report is the adapter's model of Istio; this one
is Istio. Once per run it brings up a Kubernetes API server without nodes and
istiod (`conformance.targets.istio_live_mesh`); per case file it compiles the
spec with the Istio adapter, applies the output with the spec's workloads
(a Service, a WorkloadEntry and a sidecar per service version, the
application being the conformance fault app) and waits until every sidecar
has acknowledged it; then every probe is sent for real.

In-mesh probes go to the sending service's sidecar (its outbound listener
for the destination's service port, the destination in the Host header);
probes from outside the mesh go in plaintext straight to a destination
instance's inbound listener, as a client without a sidecar would. The first
sidecar a request meets shows what it did:
- the route: the route name in its access log, mapped back to the neutral
  name through the adapter's `neutral_names` (Istio's own route for a host
  without a VirtualService is no neutral route);
- the whole-request timeout and the retry policy: that route as Envoy holds
  it (admin `/config_dump`); a 504 is held against the clock like the
  reference target does;
- the tries each fault caused: counted by the application itself.

Not observed (listed per case as unchecked): mTLS mode, transport and the
authorization decision as such (their effects, refusals and 403s, are
observed), outlier detection and connection limits.

A spec port without a `targetPort` gets one different from its `port`
(port + 10000 below 55536) before compiling, so the Kubernetes Services map
ports and a resource that takes one for the other shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.kit import envoy
from conformance.case import Probe
from conformance.observation import Observation
from conformance.targets.base import NotSupported, Session, TargetUnavailable
from conformance.targets.fault_app import FaultApp
from conformance.targets.istio_live_mesh import (
    TRUST_DOMAIN,
    IstioLoopback,
    Sidecar,
    Workload,
    WorkloadPort,
)
from conformance.targets.istio_live_programs import ProgramsMissing, find_programs
from conformance.targets.live_common import (
    OUTCOME_OF_STATUS,
    REQUEST_TIMEOUT,
    SharedMesh,
    Tally,
    control_headers,
    send,
)
from conformance.targets.local_kube import local_kube
from conformance.targets.reference import timeout_seen
from meshspec.adapter import CompileOptions
from meshspec.durations import format_duration, parse_duration
from meshspec.errors import UnknownTarget
from meshspec.registry import get_adapter
from meshspec.semantics import RetryPolicy
from meshspec.spec import Spec

LIVE_FIELDS = frozenset(
    {"status", "outcome", "backends", "headers", "attempts", "route", "timeout", "retries"}
)
ACCESS_LOG_WAIT = 5.0
#: Envoy's response flag of a request no route matched (a 404)
NO_ROUTE_FLAG = "NR"
#: a request Envoy's codec refuses (a target not starting with `/`) never reaches a route
BAD_REQUEST = 400
#: Envoy `retry_on` conditions whose retries no application ever sees: a try the
#: upstream reset before the request was sent (Istio's inbound route retries
#: these twice: pilot/pkg/networking/core/route/route.go BuildDefaultHTTPInboundRoute)
UNSEEN_RETRIES = frozenset({"reset-before-request"})


def target_port_of(port: int) -> int:
    """The Service's targetPort for a spec port without one: never equal to it."""
    return port + 10000 if port < 55536 else port - 10000


def with_target_ports(spec: Spec) -> Spec:
    """The spec with every port's targetPort written: a port without one gets
    `target_port_of(port)`, so the Services differ from their workloads' ports
    and a resource that takes one for the other shows (the compiler and the
    model read the same, now explicit, targetPorts)."""
    services = {}
    for key, doc in spec.services.items():
        ports = tuple(
            p
            if p.target_port is not None
            else p.model_copy(update={"target_port": target_port_of(p.port)})
            for p in doc.spec.ports
        )
        body = doc.spec.model_copy(update={"ports": ports})
        services[key] = doc.model_copy(update={"spec": body})
    return dataclasses.replace(spec, services=services)


def host_of(probe: Probe, sender_namespace: str = "default") -> str:
    """The Host header: the probe's `to` as written, except where a client in the
    sender's namespace would read it as another service. A probe names a service
    `ns/name`, or by a bare name in `default`, which a client elsewhere reaches as
    `name.default.svc.cluster.local` (Kubernetes DNS, and Istio's virtual host
    domains, complete a bare name with the client's own namespace)."""
    host = probe.to
    if "/" in host:
        ns, name = host.split("/", 1)
        host = f"{name}.{ns}.svc.cluster.local"
    elif "." not in host and sender_namespace != "default":
        host = f"{host}.default.svc.cluster.local"
    return host if probe.port is None else f"{host}:{probe.port}"


def workloads_of(
    spec: Spec, addresses: Any, apps: dict[str, FaultApp]
) -> tuple[list[Workload], dict[str, list[Workload]]]:
    """One workload per service version (one for a service without versions),
    each with a started fault app; also the workloads of each service key."""
    workloads: list[Workload] = []
    by_service: dict[str, list[Workload]] = {}
    for key, svc in spec.services.items():
        name, ns = svc.metadata.name, svc.metadata.namespace
        ports = tuple(
            WorkloadPort(
                port=p.port,
                target_port=p.workload_port,
                name=p.name or f"{p.protocol}-{p.port}",
                protocol=str(p.protocol),
            )
            for p in svc.spec.ports
        )
        versions: list[tuple[str | None, dict[str, str]]] = [
            (v.name, v.selector) for v in svc.spec.versions
        ] or [(None, {})]
        for version, selector in versions:
            app_name = key if version is None else f"{key}:{version}"
            app = apps[app_name] = FaultApp(key, version).start()
            workload = Workload(
                name=name if version is None else f"{name}-{version}",
                namespace=ns,
                service=name,
                service_account=spec.service_account(key),
                labels={"app": name, **selector},
                address=addresses.address(len(workloads)),
                ports=ports,
                app_port=app.port,
            )
            workloads.append(workload)
            by_service.setdefault(key, []).append(workload)
    return workloads, by_service


@dataclass(frozen=True)
class RouteSeen:
    """What the first sidecar did with a request: its route and that route's policy."""

    native: str | None
    timeout: float | None
    retries: RetryPolicy


class IstioLiveSession:
    def __init__(
        self,
        mesh: IstioLoopback,
        spec: Spec,
        workloads: Mapping[str, list[Workload]],
        apps: Mapping[str, FaultApp],
        names: Mapping[str, str],
    ) -> None:
        self.mesh = mesh
        self.spec = spec
        self.workloads = workloads
        self.apps = apps
        self.names = names
        self.sent = 0
        self._dumps: dict[str, dict[str, Any]] = {}

    def _service(self, ref: str) -> str:
        key = self.spec.resolve(ref) if "/" in ref else self.spec.resolve(ref, "default")
        if key is None:
            found = self.spec.find(ref)
            key = found[0] if len(found) == 1 else None
        if key is None or key not in self.workloads:
            raise LookupError(f"no running service {ref!r}")
        return key

    def _sidecar(self, workload: Workload) -> Sidecar:
        return self.mesh.sidecars[workload.name]

    def probe(self, probe: Probe) -> Observation:
        dest_key = probe.destination_key
        dest = self.spec.services.get(dest_key)
        host = host_of(probe)
        if probe.from_ is not None:
            sender = self.workloads[self._service(probe.from_)][0]
            host = host_of(probe, sender.namespace)
            port = probe.port or (dest.spec.ports[0].port if dest is not None else 80)
            endpoints = [(sender.address, port, sender)]
        else:
            instances = self.workloads.get(dest_key) or []
            if not instances:
                raise LookupError(f"no running service {dest_key!r}")
            wanted = probe.port or instances[0].ports[0].port
            target = next(
                (p.target_port for p in instances[0].ports if p.port == wanted),
                instances[0].ports[0].target_port,
            )
            endpoints = [(w.address, target, w) for w in instances]
        tally = Tally()
        last: tuple[str, int | None, float, Workload, int] | None = None
        conns: dict[tuple[str, int], http.client.HTTPConnection] = {}
        try:
            for n in range(probe.count):
                address, port, first_hop = endpoints[n % len(endpoints)]
                self.sent += 1
                request_id = f"live-{self.sent}"
                began = time.monotonic()
                status, body = send(
                    conns,
                    (address, port),
                    _connect(address, port),
                    probe,
                    host,
                    control_headers(probe, request_id),
                )
                elapsed = time.monotonic() - began
                tally.add(probe, request_id, status, body, self.apps)
                last = (request_id, status, elapsed, first_hop, port)
        finally:
            for conn in conns.values():
                conn.close()
        status = tally.status
        route: str | None = None
        timeout: float | None = None
        retries: RetryPolicy | None = None
        if last is not None and last[1] not in (None, BAD_REQUEST):
            request_id, last_status, elapsed, first_hop, port = last
            seen = self._route_seen(first_hop, request_id, host, port)
            route = None if seen.native is None else (self.names.get(seen.native) or None)
            told = "none" if seen.timeout is None else format_duration(seen.timeout)
            shown = timeout_seen(told, last_status, elapsed)
            timeout = None if shown in (None, "none") else parse_duration(str(shown))
            retries = seen.retries
        return Observation(
            outcome="mtls_refused" if status is None else OUTCOME_OF_STATUS.get(status),
            status=status,
            route=route,
            timeout=timeout,
            retries=retries,
            backends=tally.backends,
            headers=tally.headers,
            attempts=tally.attempts,
            samples=probe.count,
            sampled=True,
        )

    # ---- what the first sidecar did ------------------------------------------

    def _route_seen(self, workload: Workload, request_id: str, host: str, port: int) -> RouteSeen:
        sidecar = self._sidecar(workload)
        entry = _access_log_entry(sidecar, request_id)
        native = str(entry.get("route") or "")
        if native == "-":
            native = ""
        if NO_ROUTE_FLAG in str(entry.get("flags") or "").split(","):
            return RouteSeen(None, None, RetryPolicy())
        if workload.name not in self._dumps:
            self._dumps[workload.name] = sidecar.config_dump()
        inbound = str(entry.get("cluster") or "").startswith("inbound|")
        # A VirtualService rule without a name gives an Envoy route without one.
        route = _find_route(self._dumps[workload.name], native, host, inbound, port)
        if route is None:
            raise LookupError(f"{workload.name}: route {native!r} for {host} not in config dump")
        action = route.get("route") or {}
        return RouteSeen(native or None, _route_timeout(action), _retry_policy(action))


def _access_log_entry(sidecar: Sidecar, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + ACCESS_LOG_WAIT
    while True:
        entries: list[dict[str, Any]] = sidecar.access_log()
        for entry in reversed(entries):
            if entry.get("id") == request_id:
                return dict(entry)
        if time.monotonic() > deadline:
            raise LookupError(f"{sidecar.workload.name}: no access log entry for {request_id}")
        time.sleep(0.02)


def _virtual_hosts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("domains"), list) and isinstance(node.get("routes"), list):
            yield node
        else:
            for value in node.values():
                yield from _virtual_hosts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _virtual_hosts(value)


def _find_route(
    dump: dict[str, Any], name: str, host: str, inbound: bool = False, port: int | None = None
) -> dict[str, Any] | None:
    """The route named `name` in the virtual host that served `host` on `port`:
    one listing the host for that port (Istio names it `<host>:<port>`), then one
    listing it, then a wildcard one. With `inbound`, Istio's inbound virtual
    hosts (`inbound|http|<port>`) only."""
    wanted = _domain(host)
    candidates: list[tuple[int, dict[str, Any]]] = []
    for vhost in _virtual_hosts(dump):
        vhost_name = str(vhost.get("name", ""))
        if inbound != vhost_name.startswith("inbound|"):
            continue
        domains = {str(d).lower() for d in vhost["domains"]}
        if wanted in domains:
            rank = 0 if port is not None and vhost_name.endswith(f":{port}") else 1
        elif "*" in domains:
            rank = 2
        else:
            continue
        named = [r for r in vhost["routes"] if str(r.get("name") or "") == name]
        if len(named) == 1 or (named and name):
            candidates.append((rank, named[0]))
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1] if candidates else None


def _domain(host: str) -> str:
    """A Host header as Istio's virtual hosts list it: lower case, without a port
    (Istio's listeners strip it before matching)."""
    name, sep, port = host.lower().rpartition(":")
    return name if sep and port.isdigit() else host.lower()


def _duration(value: Any) -> float | None:
    """A protobuf JSON duration ("1.500s") in seconds."""
    if value is None:
        return None
    return float(str(value).rstrip("s"))


def _route_timeout(action: Mapping[str, Any]) -> float | None:
    seconds = _duration(action.get("timeout"))
    if seconds is None:
        return envoy.DEFAULT_ROUTE_TIMEOUT
    return seconds or None


def _retry_policy(action: Mapping[str, Any]) -> RetryPolicy:
    policy = action.get("retry_policy")
    if not policy:
        return RetryPolicy()
    attempts = int(policy.get("num_retries", envoy.DEFAULT_NUM_RETRIES))
    conditions = {c.strip() for c in str(policy.get("retry_on") or "").split(",")} - {""}
    if attempts <= 0 or conditions <= UNSEEN_RETRIES:
        return RetryPolicy()
    on = envoy.read_retry_on(str(policy.get("retry_on") or "")).conditions
    per_try = _duration(policy.get("per_try_timeout"))
    codes = tuple(int(c) for c in policy.get("retriable_status_codes") or ())
    return RetryPolicy(attempts, per_try or None, on, codes)


def _connect(address: str, port: int) -> Callable[[], http.client.HTTPConnection]:
    return lambda: http.client.HTTPConnection(address, port, timeout=REQUEST_TIMEOUT)


# --------------------------------------------------------------------------
# The target
# --------------------------------------------------------------------------


def _bring_up(stack: ExitStack, timings: dict[str, float]) -> IstioLoopback:
    """A Kubernetes API server and istiod, stopped with `stack`."""
    programs = find_programs()
    began = time.monotonic()
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="meshspec-istio-live-")))
    kubeconfig = stack.enter_context(
        local_kube(workdir / "kube", programs.etcd, programs.kube_apiserver)
    )
    timings["kube"] = time.monotonic() - began
    mesh = IstioLoopback(programs, kubeconfig, workdir / "istio")
    stack.callback(mesh.stop)
    mesh.start()
    timings["bring-up"] = time.monotonic() - began
    return mesh


#: one bring-up per process: every istio-live target (and a test fixture that
#: adopts its own mesh) uses the same running istiod
SHARED: SharedMesh[IstioLoopback] = SharedMesh(_bring_up)


class IstioLiveTarget:
    """Real istiod and Envoy, brought up once per process on first use and kept
    for every case file (re-applying configuration is far cheaper than a
    bring-up)."""

    name = "istio-live"
    observes = LIVE_FIELDS

    @property
    def description(self) -> str:
        release = "Istio"
        with contextlib.suppress(ProgramsMissing):
            release = f"Istio {find_programs().istio_release}"
        return f"{release}: istiod and Envoy sidecars on loopback, over real HTTP"

    @property
    def features(self) -> frozenset[str]:
        try:
            return frozenset(get_adapter("istio").features)
        except UnknownTarget:
            return frozenset()

    @property
    def feature_gaps(self) -> Mapping[str, str]:
        try:
            gaps = get_adapter("istio").unsupported_features
        except UnknownTarget:
            return {}
        return {str(k): v for k, v in gaps.items()}

    def check_available(self) -> None:
        if SHARED.mesh is not None:
            return
        try:
            get_adapter("istio")
            find_programs()
        except (UnknownTarget, ProgramsMissing) as exc:
            raise TargetUnavailable(str(exc)) from None

    @contextmanager
    def open(self, spec: Spec, spec_text: str, instances: int = 1) -> Iterator[Session]:
        if instances != 1:
            raise NotSupported("the live Istio target runs one instance per version")
        spec = with_target_ports(spec)
        adapter = get_adapter("istio")
        compiled = adapter.compile(spec, CompileOptions())
        errors = [d for d in compiled.diagnostics if d.severity == "error"]
        if errors:
            codes = ", ".join(sorted({d.code for d in errors}))
            raise NotSupported(f"istio cannot compile the spec ({codes}): {errors[0].message}")
        if spec.mesh.trust_domain != TRUST_DOMAIN:
            raise NotSupported(f"the live mesh runs with trust domain {TRUST_DOMAIN} only")
        names = adapter.neutral_names(compiled.resources)
        mesh = SHARED.get()
        apps: dict[str, FaultApp] = {}
        try:
            workloads, by_service = workloads_of(spec, mesh.addresses, apps)
            mesh.set_workloads(workloads, [dict(r) for r in compiled.resources])
            yield IstioLiveSession(mesh, spec, by_service, apps, names)
        finally:
            mesh.clear_workloads()
            for app in apps.values():
                app.stop()
