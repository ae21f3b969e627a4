"""`meshspec up`: a control plane and a sidecar per service version, as OS processes.

Each part is its own process, as in a real mesh, so one crash or stall cannot
hide another's. A sidecar of a service with no application of its own hosts the
built-in echo application in its process (one process per instance, not two,
keeps startup quick on small machines). Children die with the runner: they
get SIGTERM from the kernel when it dies (PR_SET_PDEATHSIG), and the runner
stops each by PID, waits, then kills what is left.

Before anything starts the runner provisions trust in a private directory
(mode 0700, removed on stop): the mesh's root, the control plane's
entitlements table and one bootstrap file (mode 0600) per sidecar. See
`control_plane/bootstrap.py` and the threat model in README.md.
"""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshspec.spec import Protocol, Spec
from reference_impl.control_plane.bootstrap import Workload, provision
from reference_impl.pki import ROOT_CERT_FILE

HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0
RESTARTS, RESTART_WINDOW = 3, 60.0  # give up on a control plane that dies this often
PROBE_INTERVAL, PROBE_TIMEOUT, PROBE_FAILURES = 5.0, 5.0, 3  # a live but hung control plane
_PR_SET_PDEATHSIG = 1
#: A part's exit code when one of its ports was taken before it could bind it
#: (EADDRINUSE on Linux): the ports were free when planned, but another process
#: may take a port between planning and binding, so the runner starts again.
EXIT_PORT_TAKEN = 98
PORT_ATTEMPTS = 5


class StartupError(RuntimeError):
    """A part did not come up; everything started so far has been stopped."""

    def __init__(self, message: str, port_taken: bool = False) -> None:
        super().__init__(message)
        self.port_taken = port_taken


class MeshFailure(RuntimeError):
    """A part died and could not be brought back; the caller should stop the mesh."""


@dataclass
class Instance:
    service: str
    version: str | None
    instance: str
    app_port: int
    inbound_port: int
    outbound_port: int
    admin_port: int
    echo: bool = True
    pid: int | None = None
    #: service port -> inbound listener, for the ports beside the default one
    inbound_ports: dict[int, int] = field(default_factory=dict)


@dataclass
class State:
    """What runs where: written to the state file for `meshspec call` and for people."""

    control_plane: dict[str, Any] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    runner_pid: int = field(default_factory=os.getpid)

    def to_json(self) -> dict[str, Any]:
        return {
            "runnerPid": self.runner_pid,
            "controlPlane": self.control_plane,
            "instances": [
                {
                    "service": i.service,
                    "version": i.version,
                    "instance": i.instance,
                    "appPort": i.app_port,
                    "inboundPort": i.inbound_port,
                    "inboundPorts": {str(k): v for k, v in i.inbound_ports.items()},
                    "outboundPort": i.outbound_port,
                    "adminPort": i.admin_port,
                    "echo": i.echo,
                    "pid": i.pid,
                }
                for i in self.instances
            ],
        }


def free_ports(count: int, avoid: frozenset[int] = frozenset()) -> list[int]:
    """Ports free right now, distinct, none in `avoid` (ports planned but not bound yet)."""
    socks: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)  # held open until the end, so the next bind gets another port
            if s.getsockname()[1] not in avoid:
                ports.append(s.getsockname()[1])
        return ports
    finally:
        for s in socks:
            s.close()


def plan(spec: Spec, instances: int, apps: dict[str, int]) -> list[Instance]:
    """One entry per service version and instance, with its ports.

    `apps` maps "ns/name", "ns/name:version" or "ns/name[:version]#n" (instance n
    alone) to the port of an application that already runs; other services get the
    echo application.
    """
    wanted: list[tuple[str, str | None, int]] = []
    for key, svc in spec.services.items():
        versions: list[str | None] = [v.name for v in svc.spec.versions] or [None]
        for version in versions:
            for n in range(instances):
                wanted.append((key, version, n))
    others = {key: _other_ports(spec, key) for key in spec.services}
    ports = free_ports(sum(4 + len(others[key]) for key, _, _ in wanted))
    result = []
    for key, version, n in wanted:
        app, inbound, outbound, admin = ports[:4]
        extra = {svc_port: ports[4 + j] for j, svc_port in enumerate(others[key])}
        ports = ports[4 + len(extra) :]
        named = key if version is None else f"{key}:{version}"
        own = apps.get(f"{named}#{n}", apps.get(f"{key}:{version}", apps.get(key)))
        name = key.split("/", 1)[1]
        result.append(
            Instance(
                service=key,
                version=version,
                instance=f"{name}-{version or 'default'}-{n}",
                app_port=own if own is not None else app,
                inbound_port=inbound,
                outbound_port=outbound,
                admin_port=admin,
                echo=own is None,
                inbound_ports=extra,
            )
        )
    return result


def _other_ports(spec: Spec, key: str) -> list[int]:
    """Service ports beyond the default one (the first HTTP port): each gets a listener."""
    ports = spec.service(key).spec.ports
    http = [p.port for p in ports if p.protocol is not Protocol.TCP]
    default = http[0] if http else ports[0].port
    return [p.port for p in ports if p.port != default]


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM when the runner dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _spawn(args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "reference_impl", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )


def wait_ready(procs: Sequence[subprocess.Popen[bytes]], timeout: float) -> list[dict[str, Any]]:
    """Each child's first stdout line, a JSON object that says it is ready."""
    lines: dict[int, dict[str, Any]] = {}
    buffers: dict[int, bytes] = {p.pid: b"" for p in procs}
    by_fd = {}
    sel = selectors.DefaultSelector()
    for p in procs:
        assert p.stdout is not None
        sel.register(p.stdout, selectors.EVENT_READ)
        by_fd[p.stdout.fileno()] = p
    deadline = time.monotonic() + timeout
    try:
        while len(lines) < len(procs):
            left = deadline - time.monotonic()
            if left <= 0:
                slow = [p.pid for p in procs if p.pid not in lines]
                raise StartupError(f"not ready within {timeout:.0f}s: pids {slow}")
            for key, _ in sel.select(min(left, 0.5)):
                p = by_fd[key.fd]
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    code = p.wait()
                    taken = code == EXIT_PORT_TAKEN
                    why = " (a port was taken)" if taken else ""
                    raise StartupError(
                        f"pid {p.pid} exited during startup (code {code}){why}", taken
                    )
                buffers[p.pid] += chunk
                if b"\n" in buffers[p.pid]:
                    lines[p.pid] = json.loads(buffers[p.pid].split(b"\n", 1)[0])
                    sel.unregister(key.fileobj)
    finally:
        sel.close()
    return [lines[p.pid] for p in procs]


def stop_all(procs: Sequence[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM each child by PID, wait, then SIGKILL the ones still there."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p.stdout is not None:
            p.stdout.close()


class Mesh:
    """The running parts of one `up`: start them, describe them, stop them."""

    def __init__(
        self,
        spec_paths: Sequence[str],
        spec: Spec,
        *,
        instances: int = 1,
        apps: dict[str, int] | None = None,
        log_dir: Path,
        cert_ttl: float = 3600.0,
        trust_dir: Path | None = None,
    ) -> None:
        self.spec_paths = list(spec_paths)
        self.spec = spec
        self.log_dir = log_dir
        self.cert_ttl = cert_ttl
        self._instances, self._apps = instances, dict(apps or {})
        self.state = State(instances=plan(spec, instances, self._apps))
        self.control_plane: subprocess.Popen[bytes] | None = None
        self.sidecars: list[subprocess.Popen[bytes]] = []
        self.trust_dir = trust_dir
        self._own_trust_dir = trust_dir is None
        self._control_plane_args: list[str] = []
        self._restarts: list[float] = []
        self._reported: set[int] = set()
        self.probe_interval = PROBE_INTERVAL
        self._next_probe = 0.0
        self._probe_failures = 0

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [*self.sidecars, *([self.control_plane] if self.control_plane else [])]

    def start(self, timeout: float = READY_TIMEOUT) -> State:
        """Start every part; when a part finds a planned port taken, start over on new ports."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._start(timeout)
                return self.state
            except StartupError as exc:
                self.stop()
                if not exc.port_taken or attempt == PORT_ATTEMPTS:
                    raise
            except BaseException:
                self.stop()
                raise
            self.control_plane, self.sidecars = None, []
            self.state = State(instances=plan(self.spec, self._instances, self._apps))
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> None:
        planned = frozenset(
            port
            for i in self.state.instances
            for port in (i.app_port, i.inbound_port, i.outbound_port, i.admin_port)
        ) | frozenset(p for i in self.state.instances for p in i.inbound_ports.values())
        (cp_port,) = free_ports(1, avoid=planned)
        if self.trust_dir is None:
            self.trust_dir = Path(tempfile.mkdtemp(prefix="meshspec-trust-"))
        pki_dir = self.trust_dir / "pki"
        bootstraps = provision(
            pki_dir,
            self.trust_dir / "bootstrap",
            [Workload(i.service, i.version, i.instance) for i in self.state.instances],
            self.spec.mesh.trust_domain,
            (HOST, cp_port),
        )
        self._control_plane_args = [
            "control-plane",
            *self.spec_paths,
            "--pki-dir",
            str(pki_dir),
            "--port",
            str(cp_port),
            "--cert-ttl",
            str(self.cert_ttl),
            "--settle",
            "1.0",
        ]
        self._start_control_plane(timeout)
        for inst in self.state.instances:
            args = [
                "sidecar",
                "--bootstrap",
                str(bootstraps[inst.instance]),
                "--inbound-port",
                str(inst.inbound_port),
                "--outbound-port",
                str(inst.outbound_port),
                "--admin-port",
                str(inst.admin_port),
                "--app-port",
                str(inst.app_port),
            ]
            for service_port, listen in inst.inbound_ports.items():
                args += ["--port-listener", f"{service_port}={listen}"]
            if inst.echo:
                args.append("--echo")
            proc = _spawn(args, self.log_dir / f"{inst.instance}.log")
            inst.pid = proc.pid
            self.sidecars.append(proc)
        wait_ready(self.sidecars, timeout)

    def _start_control_plane(self, timeout: float) -> None:
        self.control_plane = _spawn(self._control_plane_args, self.log_dir / "control-plane.log")
        (ready,) = wait_ready([self.control_plane], timeout)
        self.state.control_plane = {
            "host": HOST,
            "port": int(ready["port"]),
            "pid": self.control_plane.pid,
        }
        self._probe_failures = 0

    def supervise(self, timeout: float = READY_TIMEOUT) -> list[str]:
        """Check the parts once: restart a dead control plane, report a dead sidecar.

        Returns what happened, one line each (empty when all is well); MeshFailure
        when the control plane died more than RESTARTS times within RESTART_WINDOW
        or cannot start again (its port taken, say).
        """
        events: list[str] = []
        for proc, inst in zip(self.sidecars, self.state.instances, strict=True):
            code = proc.poll()
            if code is not None and proc.pid not in self._reported:
                self._reported.add(proc.pid)
                events.append(f"sidecar {inst.instance} (pid {proc.pid}) exited with code {code}")
        cp = self.control_plane
        code = None if cp is None else cp.poll()
        if cp is not None and code is None and self._hung():
            silent = PROBE_FAILURES * self.probe_interval
            events.append(
                f"control plane (pid {cp.pid}) has not answered a TLS handshake "
                f"for {silent:.0f}s; killing it"
            )
            cp.kill()
            code = cp.wait()
        if cp is None or code is None:
            return events
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW]
        what = f"control plane (pid {cp.pid}) exited with code {code}"
        if len(self._restarts) >= RESTARTS:
            raise MeshFailure(
                f"{what}; it died {RESTARTS + 1} times within {RESTART_WINDOW:.0f}s, giving up"
            )
        self._restarts.append(now)
        if cp.stdout is not None:
            cp.stdout.close()
        try:
            self._start_control_plane(timeout)
        except StartupError as exc:
            raise MeshFailure(f"{what} and could not be restarted: {exc}") from None
        events.append(f"{what}; restarted as pid {self.state.control_plane['pid']}")
        return events

    def _hung(self) -> bool:
        """True after PROBE_FAILURES handshakes in a row failed, probed every probe_interval.

        A handshake, then a close without a word: the control plane does no work for it
        and logs nothing. It proves the process still accepts and answers, not only lives.
        """
        now = time.monotonic()
        if now < self._next_probe or self.trust_dir is None:
            return False
        self._next_probe = now + self.probe_interval
        port = int(self.state.control_plane["port"])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.load_verify_locations(cafile=str(self.trust_dir / "pki" / ROOT_CERT_FILE))
        try:
            with socket.create_connection((HOST, port), timeout=PROBE_TIMEOUT) as sock:
                sock.settimeout(PROBE_TIMEOUT)
                with context.wrap_socket(sock):
                    pass
        except (OSError, ssl.SSLError):
            self._probe_failures += 1
            return self._probe_failures >= PROBE_FAILURES
        self._probe_failures = 0
        return False

    def stop(self) -> None:
        """Sidecars first (they deregister), then the control plane; then forget the secrets."""
        stop_all(self.sidecars)
        if self.control_plane is not None:
            stop_all([self.control_plane])
        if self._own_trust_dir and self.trust_dir is not None:
            shutil.rmtree(self.trust_dir, ignore_errors=True)
            self.trust_dir = None


def write_state(path: Path, state: State) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
    os.replace(tmp, path)


def read_state(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
