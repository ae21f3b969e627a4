"""Ferry's behaviour over FerryRoutes, as its README says: mTLS always, the first
rule whose path matches (prefixes by whole segments), 404 when none does, and
every endpoint of the service when it has no FerryRoute. Paths are matched as
sent (Ferry does not normalise them); requests time out after 15 s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meshspec.adapter import Topology, Verdict
from meshspec.semantics import Outcome, Request, Transport
from meshspec.spec import MtlsMode

TIMEOUT = 15.0


class FerryModel:
    def __init__(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> None:
        self.topology = topology
        self.routes = {
            f"{r['metadata']['namespace']}/{r['metadata']['name']}": r["spec"]["rules"]
            for r in resources
            if r.get("kind") == "FerryRoute"
        }

    def decide(self, request: Request) -> Verdict:
        key = self._service(request.destination, request.source)
        workload = self.topology.workloads[key]
        ports = dict(workload.ports)
        if request.port is not None and request.port not in ports:
            return Verdict(Outcome.UNKNOWN_PORT, None)
        if ports.get(request.port or workload.ports[0][0]) == "tcp":
            return Verdict(Outcome.NOT_HTTP, None)
        if request.source is None:  # no sidecar on the client's side, and mTLS is required
            return Verdict(
                Outcome.MTLS_REFUSED, None, mtls=MtlsMode.STRICT, transport=Transport.REFUSED
            )
        path = request.target.split("?")[0]
        rules = self.routes.get(key)
        if rules is None:
            return self._forward(None, {(key, None): 1.0})
        for rule in rules:
            if _matches(rule, path):
                total = sum(int(t.get("weight", 1)) for t in rule["to"])
                shares: dict[tuple[str, str | None], float] = {}
                for t in rule["to"]:
                    k = (str(t["service"]), t.get("version"))
                    shares[k] = round(shares.get(k, 0.0) + int(t.get("weight", 1)) / total, 6)
                return self._forward(str(rule["name"]), shares)
        return Verdict(Outcome.NO_ROUTE, 404)

    def _forward(self, route: str | None, shares: dict[tuple[str, str | None], float]) -> Verdict:
        return Verdict(
            Outcome.FORWARDED,
            None,
            route=route,
            backends={k: v for k, v in shares.items() if v > 0},
            mtls=MtlsMode.STRICT,
            transport=Transport.MTLS,
            timeout=TIMEOUT,
        )

    def _service(self, name: str, source: str | None) -> str:
        """`ns/name`, or a name in the client's namespace, else the only one of that name."""
        if "/" in name:
            return name
        client_ns = None
        if source is not None:
            client_ns = self._service(source, None).split("/")[0]
        named = [k for k, w in self.topology.workloads.items() if w.name == name]
        same_ns = [k for k in named if k.split("/")[0] == client_ns]
        return (same_ns or named)[0]


def _matches(rule: Mapping[str, Any], path: str) -> bool:
    if "exact" in rule:
        return path == str(rule["exact"])
    prefix = str(rule.get("prefix", "/")).rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or not prefix
