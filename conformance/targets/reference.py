"""The live reference implementation: real sidecars and echo apps, real HTTP.

Per case file one mesh is started (control plane plus one sidecar with the
echo app per service version, as `meshspec up` runs it), every probe is sent
for real, and the mesh is stopped. In-mesh probes go to the sending
service's outbound listener, with the destination in the Host header;
probes from outside the mesh go in plaintext straight to the destination's
inbound listeners, as a client without a sidecar would.

The route taken and the whole-request timeout are read from the headers the
outbound sidecar adds to its answers (`x-meshspec-route`, `x-meshspec-timeout`,
see reference_impl/README.md): measuring the 15s default or proving that a
disabled timeout never fires would cost a probe 15s or more, and a per-try
timeout cuts a slow try before the whole-request one. Whether a timeout fires
is still observed live (a slow app, a 504) by the cases with a `delay` fault,
and every 504 is held against the clock: one far from the named timeout
shows the measured time instead. A client outside the mesh has no sidecar:
no route and no timeout apply.

Connection limits are observed live when a probe checks them: many slow
requests at once, the sidecar's overflow and the app's peak concurrency
counted (`conformance.targets.limits`).

Not observed, so cases that check only these stay not supported:
- a retry policy as written: `statusCodes` covered by `5xx` or
  `gateway-error` retry nothing more, `refused-stream` exists only in
  HTTP/2 (the sidecars speak HTTP/1.1), so different policies behave alike;
  the tries each fault causes are observed instead (`attempts`);
- an outlier detection policy as written: the reference sidecar does not use
  `interval`, always lets one endpoint be ejected whatever
  `maxEjectionPercent` says, and `baseEjectionTime` (30s by default) takes
  that long to see; ejection itself is tested live on the sidecar.
"""

from __future__ import annotations

import http.client
import importlib
import json
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conformance.case import Probe
from conformance.observation import Observation
from conformance.targets.base import Session, TargetUnavailable
from conformance.targets.fault_app import DELAY_HEADER, FAIL_HEADER, ID_HEADER, FaultApp
from conformance.targets.limits import observe_limits
from meshspec.durations import format_duration, parse_duration
from meshspec.features import ALL_FEATURES
from meshspec.spec import Spec

#: what a live mesh shows: statuses, who answered, what the app received, tries it saw,
#: and the route and timeout the client sidecar says it applied
LIVE_FIELDS = frozenset(
    {
        "status",
        "outcome",
        "backends",
        "headers",
        "attempts",
        "failed",
        "route",
        "timeout",
        "connectionLimits",
    }
)
ROUTE_HEADER = "x-meshspec-route"
TIMEOUT_HEADER = "x-meshspec-timeout"
OUTCOME_OF_STATUS = {200: "forwarded", 400: "bad_request", 403: "denied", 404: "no_route"}
REQUEST_TIMEOUT = 20.0
TIMEOUT_STATUS = 504
#: seconds a fired timeout may differ from the one the sidecar names (plus 10%)
TIMEOUT_TOLERANCE = 0.2


class ReferenceSession:
    def __init__(self, state: dict[str, Any], apps: dict[str, FaultApp] | None = None) -> None:
        self.instances: list[dict[str, Any]] = list(state.get("instances", []))
        self.apps = dict(apps or {})
        self.sent = 0

    def _outbound(self, sender: str) -> int:
        for inst in self.instances:
            service = str(inst["service"])
            if sender in (service, service.split("/", 1)[1]):
                return int(inst["outboundPort"])
        raise LookupError(f"no running service {sender!r}")

    def _inbound(self, destination_key: str, service_port: int | None) -> list[int]:
        """Each instance's listener of `service_port` (its default listener when the port has
        none of its own): the port a client connects to decides the port's mTLS mode."""
        ports = [
            int((i.get("inboundPorts") or {}).get(str(service_port), i["inboundPort"]))
            for i in self.instances
            if i["service"] == destination_key
        ]
        if not ports:
            raise LookupError(f"no running service {destination_key!r}")
        return ports

    def _tries(self, request_id: str, echo: dict[str, Any] | None) -> int | None:
        """How many tries of one request the apps saw (also when none of them answered)."""
        if self.apps:
            return sum(app.tries.get(request_id, 0) for app in self.apps.values()) or None
        return None if echo is None else int(echo.get("attempts") or 0) or None

    def _peak(self, group: str) -> int:
        """The most requests of `group` any one app served at once."""
        return max((app.peaks[group] for app in self.apps.values()), default=0)

    def probe(self, probe: Probe) -> Observation:
        host = probe.to if probe.port is None else f"{probe.to}:{probe.port}"
        if probe.from_ is not None:
            ports = [self._outbound(probe.from_)]
        else:
            ports = self._inbound(probe.destination_key, probe.port)
        statuses: Counter[int | None] = Counter()
        answered: Counter[tuple[str, str | None]] = Counter()
        headers: dict[str, str] | None = None
        attempts: int | None = None
        routes: Counter[str | None] = Counter()
        timeouts: Counter[str | None] = Counter()
        conns: dict[int, http.client.HTTPConnection] = {}
        try:
            for n in range(probe.count):
                port = ports[n % len(ports)]
                self.sent += 1
                began = time.monotonic()
                control = _control(probe, self.sent)
                status, told, body = _send(conns, port, probe, host, control)
                elapsed = time.monotonic() - began
                statuses[status] += 1
                routes[told.get(ROUTE_HEADER)] += 1
                timeouts[timeout_seen(told.get(TIMEOUT_HEADER), status, elapsed)] += 1
                echo = _echo(body)
                if probe.fault is not None:
                    attempts = self._tries(control[ID_HEADER], echo)
                if status != 200:
                    echo = None
                if echo is not None:
                    answered[(str(echo.get("service")), echo.get("version"))] += 1
                    request = echo.get("request") or {}
                    headers = dict(request.get("headers") or {})
        finally:
            for conn in conns.values():
                conn.close()
        status, _ = statuses.most_common(1)[0]
        outcome = "mtls_refused" if status is None else OUTCOME_OF_STATUS.get(status)
        total = sum(answered.values())
        limits = None
        if "connection_limits" in probe.expect.written and probe.from_ is not None:
            self.sent += 1
            limits = observe_limits(ports[0], host, probe.path, f"crowd-{self.sent}", self._peak)
        return Observation(
            outcome=outcome,
            status=status,
            route=_one(routes),
            timeout=_seconds(_one(timeouts)),
            connection_limits=limits,
            backends={k: v / total for k, v in answered.items()} if total else {},
            headers=headers,
            attempts=attempts,
            failed=sum(n for s, n in statuses.items() if s is not None and s >= 500),
            samples=probe.count,
            sampled=True,
        )


def _one(seen: Counter[str | None]) -> str | None:
    """The value every answer agreed on; mixed answers show as the most common one."""
    value, _ = seen.most_common(1)[0]
    return value


def _seconds(told: str | None) -> float | None:
    """None when the sidecar said "none" or said nothing (no client side, nothing forwarded)."""
    return None if told is None or told == "none" else parse_duration(told)


def timeout_seen(told: str | None, status: int | None, elapsed: float) -> str | None:
    """The timeout the sidecar names, held against the clock when it fired.

    A 504 that came much earlier or later than the named timeout shows the
    time it took instead, so a sidecar that says one thing and does another
    fails a check of `timeout` (a per-try timeout also ends a request early).
    """
    if status != TIMEOUT_STATUS or told is None or told == "none":
        return told
    if abs(elapsed - parse_duration(told)) <= TIMEOUT_TOLERANCE + 0.1 * elapsed:
        return told
    return format_duration(round(elapsed, 3))


def _control(probe: Probe, serial: int) -> dict[str, str]:
    """Headers that tell the application behind the sidecar how to misbehave."""
    out = {ID_HEADER: f"req-{serial}"}
    if probe.fault is not None and probe.fault.status is not None:
        out[FAIL_HEADER] = f"{probe.fault.status}x{probe.fault.times}"
        if probe.fault.instances is not None:
            out[FAIL_HEADER] += f"@{probe.fault.instances}"
    if probe.fault is not None and probe.fault.reset:
        out[FAIL_HEADER] = f"resetx{probe.fault.times}"
    if probe.fault is not None and probe.fault.delay is not None:
        out[DELAY_HEADER] = str(probe.fault.delay_seconds)
    return out


def _send(
    conns: dict[int, http.client.HTTPConnection],
    port: int,
    probe: Probe,
    host: str,
    control: dict[str, str],
) -> tuple[int | None, dict[str, str], bytes]:
    """One request: status, response headers (lower-case names), body.

    None as the status when the connection is refused or cut.
    """
    for attempt in (1, 2):
        conn = conns.get(port)
        if conn is None:
            conn = conns[port] = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=REQUEST_TIMEOUT
            )
        try:
            conn.putrequest(probe.method, probe.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            for name, value in [*probe.headers.items(), *control.items()]:
                for line in [value] if isinstance(value, str) else value:
                    conn.putheader(name, line)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
        except http.client.RemoteDisconnected:
            conns.pop(port).close()
            if attempt == 2 or probe.from_ is None:
                return None, {}, b""
            continue
        except (TimeoutError, ConnectionError, http.client.BadStatusLine):
            conns.pop(port).close()
            return None, {}, b""
        if response.will_close:
            conns.pop(port).close()
        told = {name.lower(): value for name, value in response.getheaders()}
        return response.status, told, body
    return None, {}, b""


def _echo(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "service" in data else None


class ReferenceTarget:
    name = "reference"
    description = "meshspec's reference sidecars and control plane, over real sockets"
    features = ALL_FEATURES
    observes = LIVE_FIELDS
    #: it has every feature
    feature_gaps: Mapping[str, str] = {}

    def check_available(self) -> None:
        try:
            for module, name in (
                ("reference_impl.proxy", "Sidecar"),
                ("reference_impl.runner", "Mesh"),
            ):
                if not hasattr(importlib.import_module(module), name):
                    raise ImportError(f"{module} has no {name} yet")
        except ImportError as exc:
            raise TargetUnavailable(f"reference implementation not importable: {exc}") from None

    @contextmanager
    def open(self, spec: Spec, spec_text: str, instances: int = 1) -> Iterator[Session]:
        from reference_impl.runner import Mesh

        apps: dict[str, FaultApp] = {}
        for key, svc in spec.services.items():
            versions: list[str | None] = [v.name for v in svc.spec.versions] or [None]
            for version in versions:
                name = key if version is None else f"{key}:{version}"
                for n in range(instances):
                    # One application per instance, so a fault can hit some instances only.
                    label = name if instances == 1 else f"{name}#{n}"
                    apps[label] = FaultApp(key, version, n).start()
        try:
            with tempfile.TemporaryDirectory(prefix="meshspec-conformance-") as tmp:
                spec_file = Path(tmp) / "spec.yaml"
                spec_file.write_text(spec_text, encoding="utf-8")
                mesh = Mesh(
                    [str(spec_file)],
                    spec,
                    instances=instances,
                    apps={name: app.port for name, app in apps.items()},
                    log_dir=Path(tmp) / "logs",
                )
                state = mesh.start()
                try:
                    yield ReferenceSession(state.to_json(), apps)
                finally:
                    mesh.stop()
        finally:
            for app in apps.values():
                app.stop()
