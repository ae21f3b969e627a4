"""Real Consul as a conformance target: a dev agent and Envoy sidecars on loopback, real HTTP.

The `consul` column of the report is the adapter's model of Consul; this one
is Consul. Once per run it starts a `consul agent -dev`
(`conformance.targets.consul_live_mesh`); per case file it compiles the spec
with the Consul adapter, runs one instance per service version, or as many as
the case file asks for (the conformance fault app behind a sidecar registered
with the version's labels as `Meta`; sidecars of the previous case file are
re-registered rather than restarted), writes the compiled config entries into
the agent in place of the previous ones and waits until every Envoy holds
them, then until every caller's clusters of the spec's services hold
healthy endpoints only, then until a few requests in a row through every
client's upstream listener agree (pooled connections of a replaced listener drain within a
second). Then every probe is sent for real.

In-mesh probes go to the sending service's upstream listener for the
destination (Consul binds one local port per upstream). A probe from a
service that runs no instance is sent as that service: over TLS with a leaf
certificate from the agent's CA (`/v1/agent/connect/ca/leaf/<service>`),
straight to a destination instance's public listener. Probes from outside
the mesh go in plaintext to the public listeners, as a client without a
sidecar would.

Observed: statuses and outcomes (a 403 of an L7 intention, a closed
connection), which versions answered, the headers the application received,
the tries each fault caused and how many requests failed (an outlier
detection's ejections show there). Not observed, and listed per case as
unchecked: the route name (Consul's Envoy routes carry none), the timeout and
retry policy as written (their effects, a 504 and the tries, are observed),
mTLS mode, transport and the authorization decision as such, and connection
limits.

A probe whose fault hits some instances only (what outlier detection acts on)
first waits out Envoy's update merge window, so the caller's clusters took no
host update within it when the probe starts: an ejection is a host health
change, which Envoy holds back until the window since the cluster's previous
host update has passed (envoyproxy/envoy
`source/common/upstream/cluster_manager_impl.cc`, `ClusterManagerImpl::scheduleUpdate`;
`CommonLbConfig.update_merge_window`, 1 s by default, which Consul leaves as
it is). Right after endpoints arrived, the failing instance would otherwise keep
its share of requests for up to a second after Envoy decided to eject it: 6 of
12 requests failed where the ejection at the third 5xx lets 3 fail.
"""

from __future__ import annotations

import contextlib
import http.client
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.case import Probe
from conformance.observation import Observation
from conformance.targets.base import NotSupported, Session, TargetUnavailable
from conformance.targets.consul_live_mesh import ConsulLoopback, Instance, Sidecar
from conformance.targets.consul_live_programs import find_consul_programs
from conformance.targets.fault_app import FaultApp
from conformance.targets.istio_live_programs import ProgramsMissing
from conformance.targets.live_common import (
    OUTCOME_OF_STATUS,
    REQUEST_TIMEOUT,
    SharedMesh,
    Tally,
    control_headers,
    send,
)
from meshspec.adapter import CompileOptions
from meshspec.errors import UnknownTarget
from meshspec.registry import get_adapter
from meshspec.spec import Spec

#: Features the Consul model claims that real Consul was seen not to do; each stays
#: here, with what was seen, until the compiler or the model is fixed.
SEEN_OTHERWISE: Mapping[str, str] = {}

LIVE_FIELDS = frozenset({"status", "outcome", "backends", "headers", "attempts", "failed"})
#: instances per version a case file may ask for (each is an Envoy)
MAX_INSTANCES = 4
#: Envoy's default `update_merge_window`, and a margin for a busy machine
MERGE_WINDOW = 1.0
MERGE_MARGIN = 0.3


def consul_name(spec: Spec, key: str) -> str:
    """The Consul service of a spec service: its name (Consul CE has one namespace)."""
    return spec.services[key].metadata.name


def versions_of(spec: Spec, key: str) -> list[tuple[str | None, dict[str, str]]]:
    """Each version's name and labels; one nameless version for a service without any."""
    versions = spec.services[key].spec.versions
    return [(v.name, dict(v.selector)) for v in versions] or [(None, {})]


@dataclass(frozen=True)
class Running:
    """One running instance of a spec service."""

    key: str
    version: str | None
    instance: Instance
    app: FaultApp


def instances_of(
    spec: Spec, mesh: ConsulLoopback, apps: dict[str, FaultApp], per_version: int = 1
) -> dict[str, list[Running]]:
    """`per_version` instances per service version (per service without versions),
    each with a started fault app, the version's labels as its `Meta` (keys spelled
    as Consul allows, `adapters.consul.entries.meta_key`), and an
    upstream to every service of the spec; on sidecars already running where
    there are some (`ConsulLoopback.reuse_ids`)."""
    names = {key: consul_name(spec, key) for key in spec.services}
    clashes = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
    if clashes:
        raise NotSupported(
            f"services of different namespaces share the Consul name {clashes[0]!r} "
            "(Consul CE has one namespace)"
        )
    from adapters.consul.entries import meta_key

    upstreams = tuple(sorted(set(names.values())))
    wanted = [
        (key, version, tuple(sorted((meta_key(k), v) for k, v in labels.items())), n)
        for key in spec.services
        for version, labels in versions_of(spec, key)
        for n in range(per_version)
    ]
    ids = mesh.reuse_ids([(names[k], v, meta, n) for k, v, meta, n in wanted])
    out: dict[str, list[Running]] = {}
    for (key, version, meta, n), service_id in zip(wanted, ids, strict=True):
        label = key if version is None else f"{key}:{version}"
        label = label if per_version == 1 else f"{label}#{n}"
        # One application per instance, so a fault can hit some instances only.
        app = apps[label] = FaultApp(key, version, n).start()
        instance = Instance(service_id, names[key], version, app.port, upstreams, meta)
        out.setdefault(key, []).append(Running(key, version, instance, app))
    return out


#: what real Consul answered to each probe in this process, by case file (spec text and
#: instances per version) and probe: the model-against-Consul differential compares with
#: these instead of running the same case files again
OBSERVED: dict[tuple[str, int, str], Observation] = {}


def observed_key(spec_text: str, instances: int, probe: Probe) -> tuple[str, int, str]:
    return spec_text, instances, probe.model_dump_json()


class ConsulLiveSession:
    def __init__(
        self,
        mesh: ConsulLoopback,
        spec: Spec,
        running: Mapping[str, list[Running]],
        apps: Mapping[str, FaultApp],
        case_file: tuple[str, int] | None = None,
    ) -> None:
        self.mesh = mesh
        self.spec = spec
        self.running = running
        self.apps = apps
        self.sent = 0
        #: (spec text, instances) under which observations are kept in OBSERVED
        self.case_file = case_file

    def _key(self, ref: str) -> str | None:
        key = self.spec.resolve(ref) if "/" in ref else self.spec.resolve(ref, "default")
        if key is None:
            found = self.spec.find(ref)
            key = found[0] if len(found) == 1 else None
        return key

    def _sidecar(self, running: Running) -> Sidecar:
        return self.mesh.sidecars[running.instance.id]

    def _destination(self, probe: Probe) -> tuple[str, list[Running]]:
        key = probe.destination_key
        if key not in self.running:
            raise LookupError(f"no running service {probe.to!r}")
        return consul_name(self.spec, key), self.running[key]

    def _endpoints(self, probe: Probe) -> tuple[list[tuple[int, str | None]], bool]:
        """(port, identity to act as over TLS) per request in turn; whether in the mesh."""
        name, instances = self._destination(probe)
        if probe.from_ is None:
            return [(self._sidecar(r).port, None) for r in instances], False
        sender = self._key(probe.from_)
        if sender is not None and sender in self.running:
            sidecar = self._sidecar(self.running[sender][0])
            return [(sidecar.upstream_ports[name], None)], True
        # Not running here: act as that service with a leaf certificate of its name.
        identity = probe.from_.split("/")[-1]
        return [(self._sidecar(r).port, identity) for r in instances], True

    def probe(self, probe: Probe) -> Observation:
        observation = self._probe(probe)
        if self.case_file is not None:
            OBSERVED[observed_key(*self.case_file, probe)] = observation
        return observation

    def _probe(self, probe: Probe) -> Observation:
        endpoints, in_mesh = self._endpoints(probe)
        if probe.fault is not None and probe.fault.instances is not None:
            time.sleep(MERGE_WINDOW + MERGE_MARGIN)
        tally = Tally()
        with Connections(self.mesh) as conns:
            for n in range(probe.count):
                port, identity = endpoints[n % len(endpoints)]
                self.sent += 1
                request_id = f"consul-live-{self.sent}"
                status, body = conns.send(port, identity, probe, control_headers(probe, request_id))
                tally.add(probe, request_id, status, body, self.apps)
        status = tally.status
        if status is None:
            outcome = "mtls_refused" if not in_mesh else None
        else:
            outcome = OUTCOME_OF_STATUS.get(status)
        return Observation(
            outcome=outcome,
            status=status,
            backends=tally.backends,
            headers=tally.headers,
            attempts=tally.attempts,
            failed=tally.failed,
            samples=probe.count,
            sampled=True,
        )


class Connections:
    """Kept-alive client connections of one probe: plaintext, or TLS as a service."""

    def __init__(self, mesh: ConsulLoopback) -> None:
        self.mesh = mesh
        self.conns: dict[tuple[int, str | None], http.client.HTTPConnection] = {}

    def __enter__(self) -> Connections:
        return self

    def __exit__(self, *exc: object) -> None:
        for conn in self.conns.values():
            conn.close()

    def _connect(self, port: int, identity: str | None) -> http.client.HTTPConnection:
        if identity is None:
            return http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        context = self.mesh.leaf(identity).client_context()
        return http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=REQUEST_TIMEOUT, context=context
        )

    def send(
        self, port: int, identity: str | None, probe: Probe, control: Mapping[str, str]
    ) -> tuple[int | None, bytes]:
        """One request: status and body (`live_common.send`)."""
        return send(
            self.conns,
            (port, identity),
            lambda: self._connect(port, identity),
            probe,
            probe.to,
            control,
        )


# --------------------------------------------------------------------------
# The target
# --------------------------------------------------------------------------


def _bring_up(stack: ExitStack, timings: dict[str, float]) -> ConsulLoopback:
    """A Consul dev agent, stopped with `stack`."""
    programs = find_consul_programs()
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="meshspec-consul-live-")))
    mesh = ConsulLoopback(programs, workdir)
    stack.callback(mesh.stop)
    mesh.start()
    return mesh


#: one agent per process: every consul-live target (and a test fixture that adopts
#: its own mesh) uses the same running agent and keeps its sidecars
SHARED: SharedMesh[ConsulLoopback] = SharedMesh(_bring_up)


class ConsulLiveTarget:
    """A real Consul agent and Envoy, brought up once per process on first use
    and kept for every case file."""

    name = "consul-live"
    observes = LIVE_FIELDS

    @property
    def description(self) -> str:
        release = "Consul"
        with contextlib.suppress(ProgramsMissing):
            programs = find_consul_programs()
            release = f"Consul {programs.consul_version} with Envoy {programs.envoy_version}"
        return f"{release}: a dev agent and Envoy sidecars on loopback, over real HTTP"

    @property
    def features(self) -> frozenset[str]:
        try:
            return frozenset(get_adapter("consul").features) - set(SEEN_OTHERWISE)
        except UnknownTarget:
            return frozenset()

    @property
    def feature_gaps(self) -> Mapping[str, str]:
        try:
            gaps = get_adapter("consul").unsupported_features
        except UnknownTarget:
            return {}
        return {**{str(k): v for k, v in gaps.items()}, **SEEN_OTHERWISE}

    def check_available(self) -> None:
        if SHARED.mesh is not None:
            return
        try:
            get_adapter("consul")
            find_consul_programs()
        except (UnknownTarget, ProgramsMissing) as exc:
            raise TargetUnavailable(str(exc)) from None

    def compile(self, spec: Spec) -> list[dict[str, Any]]:
        """The config entries of `spec`, in apply order; NotSupported on errors."""
        from adapters.consul.entries import config_entry

        compiled = get_adapter("consul").compile(spec, CompileOptions())
        errors = [d for d in compiled.diagnostics if d.severity == "error"]
        if errors:
            codes = ", ".join(sorted({d.code for d in errors}))
            raise NotSupported(f"consul cannot compile the spec ({codes}): {errors[0].message}")
        return [config_entry(r) for r in compiled.resources]

    @contextmanager
    def open(self, spec: Spec, spec_text: str, instances: int = 1) -> Iterator[Session]:
        if not 1 <= instances <= MAX_INSTANCES:
            raise NotSupported(f"the live Consul target runs 1 to {MAX_INSTANCES} instances")
        entries = self.compile(spec)
        mesh = SHARED.get()
        apps: dict[str, FaultApp] = {}
        try:
            running = instances_of(spec, mesh, apps, instances)
            mesh.set_instances([r.instance for rs in running.values() for r in rs])
            mesh.set_config(entries)
            mesh.wait_endpoints({r.instance.service for rs in running.values() for r in rs})
            mesh.settle(
                port
                for instances in running.values()
                for port in mesh.sidecars[instances[0].instance.id].upstream_ports.values()
            )
            yield ConsulLiveSession(mesh, spec, running, apps, (spec_text, instances))
        finally:
            for app in apps.values():
                app.stop()
