"""Service Connect's behaviour over ECS service definitions, read from AWS's
documentation (not from meshspec's semantics).

Sources:

* ECS developer guide, "Service Connect concepts"
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-connect-concepts.html):
  a task's Service Connect proxy resolves and connects to the endpoints of its own
  namespace only; applications outside the namespace or without Service Connect
  "can connect through the Service Connect proxy but can't resolve Service Connect
  endpoint names". An endpoint is a client alias: `dnsName` and `port`, `dnsName`
  by default `discoveryName.namespace` (API reference `ServiceConnectClientAlias`).
* "Service Connect components"
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-connect-concepts-deploy.html):
  new connections are balanced between all tasks of the service: no routes, no
  weights, no versions.
* API reference `TimeoutConfiguration`
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TimeoutConfiguration.html):
  `perRequestTimeoutSeconds` per Service Connect service (port); `0` disables it;
  it cannot be set for TCP. Its default when unset is 15 s: stated by AWS's
  Service Connect material and observed by users (e.g. zenn.dev/moozaru
  "ECS Service ConnectのHTTPタイムアウトはデフォ15秒"), not by the API reference
  (UNVERIFIED there).
* API reference `ServiceConnectTlsConfiguration` and the developer guide's "Service
  Connect TLS": TLS with certificates from AWS Private CA, encryption in transit;
  the client's certificate is not checked (no identity-based authorization). The
  neutral vocabulary has no word for one-way TLS. The model answers STRICT with
  transport `mtls` meaning "encrypted" for a Service Connect client, and refuses a
  plaintext client outside Service Connect (ASSUMPTION, UNVERIFIED: the proxy's ingress
  listener then takes TLS only, as an Envoy listener with a TLS transport socket does;
  the reading under which an import never widens). The compiler reports every mTLS
  mode but DISABLE as lost (MS7507: the client is not checked), so no STRICT case is
  claimed.
* Retries and outlier detection: AWS's App Mesh migration post (aws.amazon.com/blogs/
  containers/migrating-from-aws-app-mesh-to-amazon-ecs-service-connect) says Service
  Connect has "built-in health checks, outlier detection, and retry mechanisms"; how
  many retries on which failures is not documented (UNVERIFIED). The model answers
  no retry policy and no breaker settings, and claims neither feature.
* Path handling, header handling and host-name normalisation of its Envoy are not
  documented: not modelled (every request target is forwarded as sent).

A client outside Service Connect (no `source`) has no proxy of its own: no timeout,
no retries, as with every sidecar mesh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.ecs.names import ROUTE_TAG as _ROUTE_TAG
from adapters.ecs.names import SERVICE, key_of_dns_name
from meshspec.adapter import Topology, Verdict
from meshspec.semantics import BreakerPolicy, Outcome, Request, Transport, choose_port
from meshspec.spec import MtlsMode

#: perRequestTimeoutSeconds when unset (see the module docstring)
DEFAULT_PER_REQUEST = 15.0


@dataclass(frozen=True)
class Endpoint:
    """One client alias of a Service Connect service."""

    key: str
    namespace: str
    timeout: float | None
    tls: bool


class ServiceConnectModel:
    def __init__(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> None:
        self.topology = topology
        #: (service key, port) -> endpoint
        self.endpoints: dict[tuple[str, int], Endpoint] = {}
        #: service key -> the Cloud Map namespace its tasks are in
        self.member_of: dict[str, str] = {}
        self.route_of: dict[str, str] = {}
        for res in resources:
            if res.get("kind") != SERVICE:
                continue
            config = res.get("serviceConnectConfiguration") or {}
            if config.get("enabled") is not True:
                continue
            namespace = str(config.get("namespace") or "")
            route = next(
                (str(t["value"]) for t in res.get("tags") or [] if t.get("key") == _ROUTE_TAG),
                "",
            )
            for entry in config.get("services") or []:
                aliases = entry.get("clientAliases") or []
                for alias in aliases:
                    host = alias.get("dnsName") or f"{entry.get('discoveryName')}.{namespace}"
                    key = key_of_dns_name(str(host))
                    seconds = (entry.get("timeout") or {}).get("perRequestTimeoutSeconds")
                    timeout = DEFAULT_PER_REQUEST if seconds is None else float(seconds) or None
                    self.endpoints[(key, int(alias["port"]))] = Endpoint(
                        key, namespace, timeout, "tls" in entry
                    )
                    self.member_of[key] = namespace
                    if route:
                        self.route_of[key] = route

    def decide(self, request: Request) -> Verdict:
        source = None if request.source is None else self._key(request.source, None)
        key = self._key(request.destination, source)
        workload = self.topology.workloads.get(key)
        if workload is None:
            return Verdict(Outcome.UNKNOWN_SERVICE, None)
        ports = dict(workload.ports)
        if request.port is not None and request.port not in ports:
            return Verdict(Outcome.UNKNOWN_PORT, None)
        port = choose_port(workload.ports, request.port)
        if ports[port] == "tcp":
            return Verdict(Outcome.NOT_HTTP, None)
        endpoint = self.endpoints.get((key, port))
        tls = endpoint is not None and endpoint.tls
        mode = MtlsMode.STRICT if tls else MtlsMode.DISABLE
        in_service_connect = (
            source is not None
            and endpoint is not None
            and self.member_of.get(source) == endpoint.namespace
        )
        forwarded: dict[str, Any] = {
            "backends": {(key, None): 1.0},
            # no request authorization: whatever arrives is let in
            "authz": "allow",
            "mtls": mode,
            "breakers": {(key, None): BreakerPolicy()},
            "headers": request.header_map(),
        }
        if not in_service_connect:
            # no proxy of its own: reaches the tasks by address, as sent, in plaintext,
            # which a TLS listener refuses (see the module docstring)
            if tls:
                return Verdict(
                    Outcome.MTLS_REFUSED,
                    None,
                    backends={(key, None): 1.0},
                    mtls=mode,
                    transport=Transport.REFUSED,
                    breakers={(key, None): BreakerPolicy()},
                    headers=request.header_map(),
                )
            return Verdict(Outcome.FORWARDED, None, transport=Transport.PLAINTEXT, **forwarded)
        assert endpoint is not None
        return Verdict(
            Outcome.FORWARDED,
            None,
            route=self.route_of.get(key),
            transport=Transport.MTLS if tls else Transport.PLAINTEXT,
            timeout=endpoint.timeout,
            **forwarded,
        )

    def _key(self, name: str, source: str | None) -> str:
        """`ns/name`; a host `name.ns` (an endpoint's dnsName); a bare name is the
        service of that name in the client's namespace (ASSUMPTION: the test's short
        name stands for the endpoint the application is configured with)."""
        if "/" in name:
            return name
        host = name.strip().lower().rstrip(".")
        if "." in host:
            return key_of_dns_name(host)
        namespace = None if source is None else source.split("/")[0]
        named = [k for k, w in self.topology.workloads.items() if w.name == host]
        same = [k for k in named if k.split("/")[0] == namespace]
        return (same or named or [f"default/{host}"])[0]
