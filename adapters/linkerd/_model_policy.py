"""Linkerd's inbound policy for one request: is the client admitted on this pod port?

Sources: linkerd.io `reference/authorization-policy.md` and `features/server-policy.md`
(2-edge): a port no `Server` selects gets the default inbound policy (cluster default
`all-unauthenticated`; `all-authenticated`, `cluster-authenticated`,
`cluster-unauthenticated`, `deny`, `audit`); a `Server` makes its port deny what its
`accessPolicy` (default `deny`) does not admit unless an AuthorizationPolicy does. A
policy targets the Server (all its traffic), an inbound HTTPRoute of the Server (the
requests that route matches), or the Namespace (every Server and route in it); it
admits a client when **all** its required authentications do, and policies are
alternatives. Once a Server has inbound routes, a request none matches gets 404
(linkerd2-proxy `linkerd/app/inbound/src/policy/http.rs`); an unauthorized HTTP
request gets 403, a connection on a non-HTTP port is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters import _gamma as G
from adapters.linkerd import _model_routes as MR
from adapters.linkerd import resources as R

#: the address every client is modelled at (pod network); NetworkAuthentications match it
CLIENT_ADDRESS = "10.1.2.3"
CLUSTER_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


@dataclass(frozen=True)
class Client:
    """Who connects: the Linkerd identity and its SPIFFE form (None for both: plaintext)."""

    identity: str | None
    spiffe: str | None
    parts: tuple[str, str, str] | None
    address: str = CLIENT_ADDRESS


@dataclass(frozen=True)
class Admission:
    allowed: bool
    #: `namespace/policy` that admitted, None when a default or accessPolicy decided
    policy: str | None
    #: a Server selected the port
    server: str | None
    #: 404: the Server has inbound routes and none matches
    no_route: bool = False
    #: plaintext clients can never be admitted here (what STRICT means in Linkerd)
    authenticated_only: bool = False


def _default_admits(policy: str, client: Client) -> bool:
    if policy in ("all-unauthenticated", "audit", "cluster-unauthenticated"):
        return True
    if policy in ("all-authenticated", "cluster-authenticated"):
        return client.identity is not None
    return False


def _admits_plaintext(policy: str) -> bool:
    return policy in ("all-unauthenticated", "audit", "cluster-unauthenticated")


class InboundPolicy:
    def __init__(self, resources: Sequence[Mapping[str, Any]], default_policy: str) -> None:
        self.default_policy = default_policy
        self.servers = [R.Server.parse(r) for r in resources if r.get("kind") == "Server"]
        self.policies = sorted(
            (
                R.AuthorizationPolicy.parse(r)
                for r in resources
                if r.get("kind") == "AuthorizationPolicy"
            ),
            key=lambda p: (p.namespace, p.name),
        )
        self.meshtls = {
            (a.namespace, a.name): a
            for a in (
                R.MeshTLSAuthentication.parse(r)
                for r in resources
                if r.get("kind") == "MeshTLSAuthentication"
            )
        }
        self.networks = {
            (a.namespace, a.name): a
            for a in (
                R.NetworkAuthentication.parse(r)
                for r in resources
                if r.get("kind") == "NetworkAuthentication"
            )
        }
        self.routes = sorted(
            (
                G.parse_route(r)
                for r in resources
                if r.get("kind") == "HTTPRoute"
                and any(
                    (p or {}).get("kind") == "Server"
                    for p in ((r.get("spec") or {}).get("parentRefs") or [])
                    if isinstance(p, Mapping)
                )
            ),
            key=lambda r: (r.namespace, r.name),
        )

    def server_for(
        self, namespace: str, labels: Mapping[str, str], port: int, port_names: Mapping[int, str]
    ) -> R.Server | None:
        for s in sorted(self.servers, key=lambda s: s.name):
            if s.namespace == namespace and s.selects(labels, port, port_names):
                return s
        return None

    def _authn_holds(self, ref: R.Ref, client: Client) -> bool:
        if ref.kind == "MeshTLSAuthentication":
            authn = self.meshtls.get((ref.namespace, ref.name))
            if authn is None:
                return False
            ident = client.identity
            return authn.admits(client.parts, ident) or (
                client.spiffe is not None and client.spiffe in authn.identities
            )
        if ref.kind == "NetworkAuthentication":
            net = self.networks.get((ref.namespace, ref.name))
            return net is not None and net.admits(client.address)
        if ref.kind == "ServiceAccount":
            return client.parts is not None and (client.parts[0], client.parts[1]) == (
                ref.name,
                ref.namespace,
            )
        return False

    def _admitting(self, targets: set[tuple[str, str, str]], client: Client) -> str | None:
        """The first policy (by namespace/name) on one of `targets` that admits the client.
        A policy whose authentications cannot all be found is ignored (CRD description)."""
        for p in self.policies:
            if (p.target.kind, p.target.namespace, p.target.name) not in targets:
                continue
            if p.required and all(self._authn_holds(r, client) for r in p.required):
                return f"{p.namespace}/{p.name}"
        return None

    def _plaintext_possible(self, targets: set[tuple[str, str, str]]) -> bool:
        plain = Client(None, None, None)
        return self._admitting(targets, plain) is not None

    def admit(
        self,
        namespace: str,
        labels: Mapping[str, str],
        port: int,
        port_names: Mapping[int, str],
        client: Client,
        request: tuple[str, str, str, Mapping[str, Sequence[str]]] | None,
        behaviour: str,
    ) -> Admission:
        server = self.server_for(namespace, labels, port, port_names)
        if server is None:
            allowed = _default_admits(self.default_policy, client)
            return Admission(
                allowed, None, None, authenticated_only=not _admits_plaintext(self.default_policy)
            )
        targets = {("Server", server.namespace, server.name), ("Namespace", namespace, namespace)}
        everything = set(targets)
        mine = [
            r
            for r in self.routes
            if r.namespace == server.namespace
            and any(p.kind == "Server" and p.name == server.name for p in r.parents)
        ]
        for r in mine:
            everything.add(("HTTPRoute", r.namespace, r.name))
        only_authenticated = not _admits_plaintext(server.access_policy) and not (
            self._plaintext_possible(everything)
        )
        if mine and request is not None:
            method, path, query, lines = request
            found = MR.best_rule(mine, method, path, query, lines, behaviour)
            if found is None:
                return Admission(
                    False, None, server.name, no_route=True, authenticated_only=only_authenticated
                )
            targets.add(("HTTPRoute", found[0].namespace, found[0].name))
        policy = self._admitting(targets, client)
        if policy is not None:
            return Admission(True, policy, server.name, authenticated_only=only_authenticated)
        allowed = _default_admits(server.access_policy, client)
        return Admission(allowed, None, server.name, authenticated_only=only_authenticated)
