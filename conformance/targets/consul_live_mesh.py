"""Real Consul on loopback: one dev agent configuring real Envoy sidecars.

Each instance is an application (the conformance fault app, in this process)
registered with `/v1/agent/service/register`: its service name, its version
labels in `Meta` (what a service-resolver subset filters on), and a
`Connect.SidecarService` whose upstreams bind one local port per service it
may call. Each sidecar gets its own 1 s checks (a TCP check on its public
port and an alias of its application): with the default checks a restarted
sidecar stays critical, and requests get 503, for up to 10 s.

A sidecar is Envoy started by `consul connect envoy -sidecar-for <id>`:
- `-ignore-envoy-compatibility`: Consul 1.22 supports Envoy 1.33-1.35 and
  refuses a newer one, yet exits 0 doing so, so readiness is checked on
  Envoy's admin `/ready`, never on the exit code;
- `--disable-hot-restart` passed by us: with any drain option given Consul
  stops adding it itself, and a hot-restart Envoy leaves `/dev/shm` files;
- `--drain-time-s 1 --drain-strategy immediate`: a replaced listener (new
  intentions) closes its pooled connections within a second instead of
  keeping the old filter chain for 20 s or more;
- `--concurrency 1`: one worker, on a machine running many sidecars.

Sidecars are kept across specs: `set_instances` starts the missing ones,
re-registers the kept ones whose application port or upstreams changed
(Consul updates their Envoy in place) and stops the rest. `set_config`
replaces the config entries and ends each change with a route of a service
of its own that every sidecar calls, numbered by generation; it returns once
every Envoy holds that route and then took no update for a while, with no
listener warming or draining (an Envoy can lag the others by seconds on a
busy machine, so a fixed wait is not enough). `settle` then sends requests
through the upstream listeners until they agree.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from conformance.targets.consul_live_agent import ConsulAgent, Leaf
from conformance.targets.consul_live_programs import ConsulPrograms
from conformance.targets.istio_live_process import Process, StartupError

STARTUP_TIMEOUT = 60.0
SYNC_TIMEOUT = 30.0
#: seconds every config dump must stay the same before the sidecars count as in sync
SETTLE = 0.4
#: a service of no spec that every sidecar has an upstream to: each config change
#: ends with a route of its own generation for it, so an Envoy holding that route
#: has been sent the change (config entries reach the Envoys in 0.2-0.7 s, but one
#: Envoy can lag the others by seconds on a busy machine)
SYNC_SERVICE = "meshspec-config-sync"
#: Envoy stats that move on every xDS update, and its listener transition gauges
UPDATE_STATS = "(update_success|update_rejected|listeners_warming|listeners_draining)$"
TRANSITION_GAUGES = ("total_listeners_warming", "total_listeners_draining")
POLL = 0.05
#: Envoy's admin answers within milliseconds, but a loaded machine can stall it
ADMIN_TIMEOUT = 10.0
#: requests in a row through each upstream that must agree before probing
STABLE_REQUESTS = 3
STABLE_TIMEOUT = 15.0
#: answers of a cluster without endpoints (yet): Envoy's 503 at L7, a closed connection at L4
NO_ENDPOINT_YET = frozenset({(503, "no healthy upstream"), (None, "")})
#: how long such an answer counts as endpoints on their way, not as what the config says
NO_HEALTHY_GRACE = 3.0
DRAIN_SECONDS = 1
#: where Linux says which local ports outgoing connections take, and its default start
EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
DEFAULT_EPHEMERAL_LOW = 32768
#: how many ports below the ephemeral range listeners are chosen from
LISTENER_PORTS = 12000
ENVOY_OPTIONS = (
    "--disable-hot-restart",
    "--drain-time-s",
    str(DRAIN_SECONDS),
    "--drain-strategy",
    "immediate",
    "--concurrency",
    "1",
    "--log-level",
    "warn",
)


class ConfigRejected(Exception):
    """An Envoy refused what Consul sent it."""


@dataclass(frozen=True)
class Instance:
    """One instance to run: an application on `app_port` and its sidecar."""

    id: str
    service: str
    version: str | None
    app_port: int
    #: Consul services its sidecar has an upstream listener for
    upstreams: tuple[str, ...] = ()
    #: its registration's `Meta` (a version's labels, which resolver subsets filter
    #: on); without it, `version` as `Meta.version`
    meta: tuple[tuple[str, str], ...] = ()

    @property
    def meta_map(self) -> dict[str, str]:
        if self.meta:
            return dict(self.meta)
        return {} if self.version is None else {"version": self.version}


@dataclass
class Sidecar:
    instance: Instance
    #: its public (mTLS) listener, where other sidecars and plaintext clients connect
    port: int
    admin_port: int
    #: upstream service -> the local port its listener is bound to
    upstream_ports: dict[str, int] = field(default_factory=dict)
    #: its upstream listener of SYNC_SERVICE
    sync_port: int = 0
    process: Process | None = None
    #: when its Envoy was started (monotonic clock)
    started: float = 0.0

    @property
    def proxy_id(self) -> str:
        return f"{self.instance.id}-sidecar-proxy"

    def admin(self, path: str, timeout: float = ADMIN_TIMEOUT) -> bytes:
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
            return body

    def config_dump(self) -> dict[str, Any]:
        dump: dict[str, Any] = json.loads(self.admin("/config_dump"))
        return dump

    def update_counters(self) -> dict[str, int]:
        """Envoy's xDS update counters (every accepted or refused update moves one)
        and its warming and draining listener gauges."""
        text = self.admin(f"/stats?filter={UPDATE_STATS}").decode()
        out = {}
        for line in text.splitlines():
            name, _, value = line.rpartition(": ")
            if name and value.strip().isdigit():
                out[name] = int(value)
        return out

    def holds_generation(self, generation: int) -> bool:
        """Whether it holds the sync route of `generation`."""
        path = f"/config_dump?resource=dynamic_route_configs&name_regex={SYNC_SERVICE}"
        try:
            held = self.admin(path).decode()
        except urllib.error.HTTPError as exc:
            if exc.code == HTTPStatus.NOT_FOUND:  # no such route (yet)
                return False
            raise
        return f'"/{SYNC_SERVICE}/{generation}"' in held

    def clusters_not_ready(self, services: set[str]) -> list[str]:
        """Its upstream clusters of `services` without a host, or with one not healthy."""
        return unready_clusters(self.admin("/clusters").decode(), services)

    def refusals(self) -> str:
        """Why it refused its latest updates (the error states in its config)."""
        return "; ".join(error_states(self.config_dump())) or "no error state kept"

    def ready(self) -> bool:
        return self.admin("/ready", timeout=2).strip() == b"LIVE"

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def registration(instance: Instance, sidecar: Sidecar) -> dict[str, Any]:
    """The agent service registration of an instance with its sidecar."""
    ports = {**sidecar.upstream_ports, SYNC_SERVICE: sidecar.sync_port}
    upstreams = [
        {"DestinationName": name, "LocalBindAddress": "127.0.0.1", "LocalBindPort": port}
        for name, port in sorted(ports.items())
    ]
    return {
        "ID": instance.id,
        "Name": instance.service,
        "Address": "127.0.0.1",
        "Port": instance.app_port,
        "Meta": instance.meta_map,
        "Connect": {
            "SidecarService": {
                "Port": sidecar.port,
                "Checks": [
                    {
                        "Name": "public listener",
                        "TCP": f"127.0.0.1:{sidecar.port}",
                        "Interval": "1s",
                    },
                    {"Name": "application", "AliasService": instance.id},
                ],
                "Proxy": {"Upstreams": upstreams},
            }
        },
    }


def answer_to_get(port: int) -> tuple[int | None, str]:
    """Status of a plain GET, with Envoy's own answer text (an application's shows
    as ""); None when the connection is closed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return None, ""
    finally:
        conn.close()
    text = body.decode(errors="replace")
    return response.status, "" if text.startswith("{") else text


def sync_entries(generation: int) -> list[dict[str, Any]]:
    return [
        {"Kind": "service-defaults", "Name": SYNC_SERVICE, "Protocol": "http"},
        {
            "Kind": "service-router",
            "Name": SYNC_SERVICE,
            "Routes": [{"Match": {"HTTP": {"PathExact": f"/{SYNC_SERVICE}/{generation}"}}}],
        },
    ]


def _ephemeral_low() -> int:
    try:
        return int(Path(EPHEMERAL_RANGE_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_LOW


def listener_ports(count: int, host: str, avoid: Iterable[int] = ()) -> list[int]:
    """`count` different ports free a moment ago on `host`, none of `avoid`, below
    the ephemeral range. A sidecar binds its listeners only once Consul configures
    it, seconds later; a port of the ephemeral range (what binding port 0 gives)
    may meanwhile become the local port of one of the many outgoing connections
    here, and the Envoy then refuses the listener ("Address already in use")."""
    high = _ephemeral_low() - 1
    low = max(1024, high - LISTENER_PORTS)
    avoided = set(avoid)
    chosen: list[int] = []
    socks: list[socket.socket] = []
    try:
        for port in random.sample(range(low, high + 1), high + 1 - low):
            if len(chosen) == count:
                break
            if port in avoided:
                continue
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((host, port))
            except OSError:
                sock.close()
                continue
            socks.append(sock)
            chosen.append(port)
    finally:
        for sock in socks:
            sock.close()
    if len(chosen) < count:
        raise StartupError(f"fewer than {count} free ports in {low}-{high}")
    return chosen


def unready_clusters(clusters: str, services: set[str]) -> list[str]:
    """The clusters of `services` in Envoy's admin `/clusters` text without a host,
    or with a host not healthy (`<cluster>::<host>::health_flags::<flags>`; Consul
    names a cluster `[<subset>.]<service>.<namespace>.<dc>.internal.<trust domain>.consul`)."""
    hosts: dict[str, list[str]] = {}
    for line in clusters.splitlines():
        cluster, _, rest = line.partition("::")
        head, internal, _ = cluster.partition(".internal.")
        parts = head.split(".")
        if not internal or len(parts) < 3 or parts[-3] not in services:
            continue
        flags = hosts.setdefault(cluster, [])
        if "::health_flags::" in rest:
            flags.append(rest.rpartition("::")[2])
    return sorted(c for c, flags in hosts.items() if not flags or set(flags) != {"healthy"})


def _states(node: Any, key: str) -> Iterator[Any]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            else:
                yield from _states(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _states(v, key)


def in_transition(counters: Mapping[str, int]) -> bool:
    """A listener still warming, or an old one still draining its connections."""
    return any(v for k, v in counters.items() if k.endswith(TRANSITION_GAUGES))


def rejected(counters: Mapping[str, int]) -> int:
    return sum(v for k, v in counters.items() if k.endswith(".update_rejected"))


def error_states(dump: Mapping[str, Any]) -> list[str]:
    """Why Envoy refused an update, for each refused resource."""
    out = []
    for state in _states(dump, "error_state"):
        failed = state.get("failed_configuration") or {} if isinstance(state, dict) else {}
        name = failed.get("name", "?") if isinstance(failed, dict) else "?"
        details = state.get("details", "") if isinstance(state, dict) else state
        out.append(f"{name}: {details}")
    return out


@dataclass
class Timings:
    agent_ready: float = 0.0
    #: seconds each `set_config` took, writes and settling included
    config: list[float] = field(default_factory=list)
    #: seconds from the last write of each change until every Envoy held it
    propagation: list[float] = field(default_factory=list)
    #: seconds each newly started sidecar took until it served
    sidecars: list[float] = field(default_factory=list)
    #: seconds until requests through every upstream agreed, after each change
    settle: list[float] = field(default_factory=list)


class ConsulLoopback:
    """The agent and the sidecars of the instances currently set."""

    def __init__(self, programs: ConsulPrograms, workdir: Path) -> None:
        self.programs = programs
        self.workdir = workdir
        self.agent = ConsulAgent(programs.consul, workdir / "agent")
        self.sidecars: dict[str, Sidecar] = {}
        self.timings = Timings()
        self._started = 0
        self._given: set[int] = set()
        self._ids_by_key: dict[Hashable, str] = {}
        self._slots = 0
        #: how many times the config entries were replaced
        self.generation = 0
        #: clusters still without healthy endpoints when `wait_endpoints` gave up
        self.unready: list[str] = []
        #: every process started, stopped ones included (a test checks none outlives stop)
        self._pids: list[int] = []

    def start(self) -> ConsulLoopback:
        self.agent.start()
        if self.agent.process is not None:
            self._pids.append(self.agent.process.pid)
        self.timings.agent_ready = self.agent.ready_seconds
        return self

    def stop(self) -> None:
        """Every sidecar, then the agent, each by its own process group."""
        for sidecar in self.sidecars.values():
            sidecar.stop()
        self.sidecars.clear()
        self.agent.stop()

    # ---- instances ---------------------------------------------------------------

    def set_instances(self, instances: Sequence[Instance]) -> None:
        """Run exactly `instances`: keep the sidecars that match, start the others."""
        wanted = {i.id: i for i in instances}
        for sid in [s for s in self.sidecars if s not in wanted]:
            self._remove(sid)
        for instance in instances:
            sidecar = self.sidecars.get(instance.id)
            if sidecar is None:
                self._add(instance)
            elif sidecar.instance != instance:
                self._reregister(sidecar, instance)
        for sidecar in self.sidecars.values():
            self._wait_serving(sidecar)

    def reuse_ids(self, keys: Sequence[Hashable]) -> list[str]:
        """A service ID for each instance to run (keys name them, e.g. service and
        version): the ID whose sidecar ran the same key before, else one whose
        sidecar runs something not needed any more, else a new one. Starting an
        Envoy costs seconds of CPU, re-registering its ID as another service
        costs nothing: Consul sends it the new service's config and certificate.
        Two keys may remember the same ID (one ran there, then the other): the
        first keeps it, the other takes another, or two instances would share one
        registration and one of them would not run at all (its callers then answer
        "no healthy upstream")."""
        ids: list[str | None] = [self._ids_by_key.get(k) for k in keys]
        taken = {i for i in ids if i is not None and i in self.sidecars}
        spare = [i for i in self.sidecars if i not in taken]
        out: list[str] = []
        for key, known in zip(keys, ids, strict=True):
            sid = known if known in taken and known not in out else None
            if sid is None:
                if spare:
                    sid = spare.pop(0)
                else:
                    self._slots += 1
                    sid = f"slot-{self._slots}"
            self._ids_by_key[key] = sid
            out.append(sid)
        return out

    def pids(self) -> set[int]:
        return set(self._pids)

    def _ports(self, count: int) -> list[int]:
        """Free ports never handed out before: a sidecar binds its ports only once
        Consul configures it, so a port chosen earlier may look free still."""
        ports = listener_ports(count, "127.0.0.1", self._given)
        self._given.update(ports)
        return ports

    def _add(self, instance: Instance) -> None:
        port, admin, sync = self._ports(3)
        sidecar = Sidecar(instance, port, admin, sync_port=sync)
        sidecar.upstream_ports = dict(
            zip(instance.upstreams, self._ports(len(instance.upstreams)), strict=True)
        )
        self.agent.register(registration(instance, sidecar))
        self.sidecars[instance.id] = sidecar
        self._started += 1
        sidecar.started = time.monotonic()
        sidecar.process = Process(
            f"envoy for {instance.id}",
            [
                self.programs.consul,
                "connect",
                "envoy",
                "-sidecar-for",
                instance.id,
                "-admin-bind",
                f"127.0.0.1:{admin}",
                "-envoy-binary",
                self.programs.envoy,
                "-ignore-envoy-compatibility",
                "-http-addr",
                self.agent.http_addr,
                "-grpc-addr",
                self.agent.grpc_addr,
                "--",
                *ENVOY_OPTIONS,
            ],
            self.workdir / "envoy" / f"{self._started}-{instance.id}.log",
            cwd=self.workdir,
        )
        self._pids.append(sidecar.process.pid)

    def _reregister(self, sidecar: Sidecar, instance: Instance) -> None:
        """A kept sidecar with a new application port or upstreams: Consul updates
        its Envoy's local cluster and listeners in place."""
        ports = dict(sidecar.upstream_ports)
        new = [u for u in instance.upstreams if u not in ports]
        ports.update(zip(new, self._ports(len(new)), strict=True))
        sidecar.upstream_ports = {u: ports[u] for u in instance.upstreams}
        sidecar.instance = instance
        self.agent.register(registration(instance, sidecar))

    def _remove(self, service_id: str) -> None:
        sidecar = self.sidecars.pop(service_id)
        sidecar.stop()
        with contextlib.suppress(Exception):
            self.agent.deregister(service_id)

    def _wait_serving(self, sidecar: Sidecar) -> None:
        """Envoy LIVE with every upstream listener bound, and both checks passing."""
        process = sidecar.process
        assert process is not None

        def serving() -> bool:
            if not sidecar.ready():
                return False
            for port in [sidecar.port, *sidecar.upstream_ports.values()]:
                with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, 1)) as c:
                    c.connect()
            return self.agent.service_passing(sidecar.proxy_id)

        process.wait_until(f"{sidecar.proxy_id} serving", serving, STARTUP_TIMEOUT)
        if sidecar.started:
            self.timings.sidecars.append(time.monotonic() - sidecar.started)
            sidecar.started = 0.0

    def leaf(self, service: str) -> Leaf:
        return self.agent.leaf(service)

    # ---- configuration -----------------------------------------------------------

    def set_config(self, entries: Sequence[Mapping[str, Any]]) -> float:
        """Replace every config entry by `entries` (in order); seconds until every
        Envoy holds the result."""
        began = time.monotonic()
        self.generation += 1
        self.agent.replace_entries([*(dict(e) for e in entries), *sync_entries(self.generation)])
        self.wait_synced(self.generation)
        took = time.monotonic() - began
        self.timings.config.append(took)
        return took

    def wait_synced(self, generation: int) -> None:
        """Until every Envoy holds the sync route of `generation` (written after
        everything else), and then took no update for SETTLE seconds with no
        listener warming or draining. ConfigRejected when an Envoy refuses an
        update. Read from Envoy's update counters, not its whole config: a config
        dump of every sidecar every few milliseconds costs more CPU than the mesh."""
        began = time.monotonic()
        stable_since = began
        last: dict[str, dict[str, int]] = {}
        marked: set[str] = set()
        while True:
            now = time.monotonic()
            try:
                counters = {sid: s.update_counters() for sid, s in self.sidecars.items()}
            except OSError:  # an admin answer slower than its timeout: not settled yet
                stable_since = now
                counters = last
            if now - began > SYNC_TIMEOUT:
                missing = sorted(set(self.sidecars) - marked)
                raise StartupError(
                    f"the sidecars did not settle within {SYNC_TIMEOUT:.0f}s "
                    f"(without the latest config: {', '.join(missing) or 'none'})"
                )
            for sid, seen in counters.items():
                if rejected(seen) > rejected(last.get(sid, seen)):
                    raise ConfigRejected(f"{sid}: {self.sidecars[sid].refusals()}")
            for sid, sidecar in self.sidecars.items():
                with contextlib.suppress(OSError):
                    if sid not in marked and sidecar.holds_generation(generation):
                        marked.add(sid)
                        if len(marked) == len(self.sidecars):
                            self.timings.propagation.append(now - began)
            busy = any(in_transition(c) for c in counters.values())
            if counters != last or busy or len(marked) < len(self.sidecars):
                stable_since, last = now, counters
            elif now - stable_since >= SETTLE:
                return
            time.sleep(POLL)

    def wait_endpoints(self, services: Iterable[str]) -> float:
        """Until every sidecar's clusters of `services` (the main one and each
        resolver subset's) hold at least one host and only healthy ones, for at
        most STABLE_TIMEOUT seconds (`unready` lists those that did not); seconds
        it took. A sidecar re-registered as another service, or one just started,
        reaches its callers' clusters some time after its checks pass (Consul's
        health watch, then EDS), and a subset cluster no settling request goes
        through (a route taken by a POST only) would otherwise answer
        "no healthy upstream" to the first probe."""
        wanted = set(services)
        began = time.monotonic()
        self.unready = []
        while True:
            waiting = [
                f"{sid}: {cluster}"
                for sid, sidecar in self.sidecars.items()
                for cluster in sidecar.clusters_not_ready(wanted)
            ]
            if not waiting:
                return time.monotonic() - began
            if time.monotonic() - began > STABLE_TIMEOUT:
                # Seen once for a sidecar re-registered as another service: its
                # callers' clusters stayed without a healthy host. Probes then show
                # what Consul does (a 503), as before this wait.
                self.unready = waiting
                return time.monotonic() - began
            time.sleep(POLL)

    def settle(self, ports: Iterable[int]) -> float:
        """Until STABLE_REQUESTS requests in a row through each upstream listener
        `ports` get the same answer, other than an empty cluster's (Envoy's "no
        healthy upstream", or a closed connection at L4) while endpoints may still
        be on their way (NO_HEALTHY_GRACE seconds); seconds it took."""
        began = time.monotonic()
        for port in ports:
            seen: list[tuple[int | None, str]] = []
            while len(seen) < STABLE_REQUESTS or len(set(seen[-STABLE_REQUESTS:])) != 1:
                waited = time.monotonic() - began
                if waited > STABLE_TIMEOUT:
                    raise StartupError(f"upstream port {port}: answers keep changing: {seen[-6:]}")
                answer = answer_to_get(port)
                if answer in NO_ENDPOINT_YET and waited < NO_HEALTHY_GRACE:
                    seen.clear()
                    time.sleep(0.02)
                    continue
                seen.append(answer)
        took = time.monotonic() - began
        self.timings.settle.append(took)
        return took

    def memory_bytes(self) -> dict[str, int]:
        out = {}
        if self.agent.process is not None:
            out["consul agent"] = self.agent.process.rss_bytes()
        for sid, sidecar in self.sidecars.items():
            if sidecar.process is not None:
                out[sid] = sidecar.process.rss_bytes()
        return out


@contextlib.contextmanager
def consul_loopback(programs: ConsulPrograms, workdir: Path) -> Iterator[ConsulLoopback]:
    mesh = ConsulLoopback(programs, workdir)
    try:
        yield mesh.start()
    finally:
        mesh.stop()
