"""What every live target (real Istio, real Consul) does alike: send a probe's
requests over kept-alive connections, tell the application how to misbehave,
read what answered, and keep one running mesh per process.

Each live target decides where a request goes (which port, which identity);
the requests themselves and what is read from their answers are the same, so
both targets observe the same things the same way.
"""

from __future__ import annotations

import atexit
import http.client
import json
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from conformance.case import Probe
from conformance.targets.fault_app import DELAY_HEADER, FAIL_HEADER, ID_HEADER, FaultApp

OUTCOME_OF_STATUS = {200: "forwarded", 400: "bad_request", 403: "denied", 404: "no_route"}
REQUEST_TIMEOUT = 20.0

K = TypeVar("K", bound=Hashable)
M = TypeVar("M")


def control_headers(probe: Probe, request_id: str) -> dict[str, str]:
    """Headers that tell the application behind the sidecar how to misbehave
    (`conformance.targets.fault_app`), and the request's id, by which it counts
    the tries it saw."""
    out = {ID_HEADER: request_id}
    fault = probe.fault
    if fault is not None and fault.status is not None:
        out[FAIL_HEADER] = f"{fault.status}x{fault.times}"
        if fault.instances is not None:
            out[FAIL_HEADER] += f"@{fault.instances}"
    if fault is not None and fault.reset:
        out[FAIL_HEADER] = f"resetx{fault.times}"
    if fault is not None and fault.delay is not None:
        out[DELAY_HEADER] = str(fault.delay_seconds)
    return out


def echo_of(body: bytes) -> dict[str, Any] | None:
    """The application's echo of the request (None: an answer of the mesh itself)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "service" in data else None


def send(
    conns: dict[K, http.client.HTTPConnection],
    key: K,
    connect: Callable[[], http.client.HTTPConnection],
    probe: Probe,
    host: str,
    control: Mapping[str, str],
) -> tuple[int | None, bytes]:
    """One request of `probe` on the kept-alive connection `key` (opened with
    `connect` when there is none): status and body; None as the status when the
    connection is refused or cut (a plaintext client at an mTLS listener, an L4
    deny). A kept-alive connection the sidecar closed meanwhile is opened again
    once, for in-mesh probes."""
    for attempt in (1, 2):
        conn = conns.get(key)
        if conn is None:
            conn = conns[key] = connect()
        try:
            conn.putrequest(probe.method, probe.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            for name, value in [*probe.headers.items(), *control.items()]:
                # A list is the same header sent once per value, each on its own line.
                for line in [value] if isinstance(value, str) else value:
                    conn.putheader(name, line)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
        except http.client.RemoteDisconnected:
            conns.pop(key).close()
            if attempt == 2 or probe.from_ is None:
                return None, b""
            continue
        except (TimeoutError, OSError, http.client.HTTPException):
            conns.pop(key).close()
            return None, b""
        if response.will_close:
            conns.pop(key).close()
        return response.status, body
    return None, b""


@dataclass
class Tally:
    """What the answers to one probe's requests showed, request by request."""

    statuses: Counter[int | None] = field(default_factory=Counter)
    answered: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    #: the headers the application received, from its latest echo
    headers: dict[str, str] | None = None
    #: tries the application saw of the latest request (under a fault)
    attempts: int | None = None

    def add(
        self,
        probe: Probe,
        request_id: str,
        status: int | None,
        body: bytes,
        apps: Mapping[str, FaultApp],
    ) -> None:
        self.statuses[status] += 1
        if probe.fault is not None:
            self.attempts = sum(app.tries[request_id] for app in apps.values()) or None
        echo = echo_of(body) if status == 200 else None
        if echo is not None:
            self.answered[(str(echo.get("service")), echo.get("version"))] += 1
            request = echo.get("request") or {}
            self.headers = dict(request.get("headers") or {})

    @property
    def status(self) -> int | None:
        """The most common status (None: refused or cut)."""
        return self.statuses.most_common(1)[0][0]

    @property
    def backends(self) -> dict[tuple[str, str | None], float]:
        total = sum(self.answered.values())
        return {k: v / total for k, v in self.answered.items()} if total else {}

    @property
    def failed(self) -> int:
        """Requests answered with a 5xx."""
        return sum(n for s, n in self.statuses.items() if s is not None and s >= 500)


class SharedMesh(Generic[M]):
    """One bring-up per process: every live target of a kind (and a test fixture
    that adopts its own mesh) uses the same running control plane and keeps its
    sidecars. `bring_up` starts the mesh, registering on the stack what stops it,
    and may record how long its steps took in `timings`."""

    def __init__(self, bring_up: Callable[[ExitStack, dict[str, float]], M]) -> None:
        self._bring_up = bring_up
        self.mesh: M | None = None
        self.stack: ExitStack | None = None
        self.timings: dict[str, float] = {}

    def get(self) -> M:
        if self.mesh is None:
            stack = ExitStack()
            try:
                mesh = self._bring_up(stack, self.timings)
            except BaseException:
                stack.close()
                raise
            self.stack, self.mesh = stack, mesh
            atexit.register(self.close)
        return self.mesh

    @contextmanager
    def adopt(self, mesh: M) -> Iterator[M]:
        """Use `mesh` (brought up by the caller) while the block runs, unless one
        is running already; yields the one in use."""
        if self.mesh is not None:
            yield self.mesh
            return
        self.mesh = mesh
        try:
            yield mesh
        finally:
            self.mesh = None

    def close(self) -> None:
        if self.stack is not None:
            stack, self.stack, self.mesh = self.stack, None, None
            stack.close()
