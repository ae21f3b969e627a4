"""Neutral mTLS and authorization -> Linkerd's allow-only inbound policy.

Linkerd has no mTLS mode and no DENY (linkerd.io `features/automatic-mtls.md`,
`reference/authorization-policy.md`): meshed clients always speak mTLS, and a port
admits a request when its `Server`'s `accessPolicy` does or when any
AuthorizationPolicy on the Server or on the inbound route the request matches has all
of its authentications satisfied. So, per service port:

* STRICT without authorization is a `Server` with `accessPolicy: all-authenticated`;
  PERMISSIVE without authorization needs nothing; DISABLE exists only as the pods'
  `config.linkerd.io/skip-inbound-ports`, which bypasses the proxy (MS2006, an error).
* Authorization is evaluated here, in the spec's order (DENY, then ALLOW, then the
  default), for every *cell* of requests: the requests that satisfy exactly a given set
  of the rules' `to` conditions. Each cell is one inbound HTTPRoute whose matches are
  the intersection of those conditions; Linkerd's precedence picks the most specific
  cell (more conditions rank higher; cells are written most specific first, so ties
  go to the right one) and a catch-all route holds the requests that meet no condition.
  Rules without `to` need no route: with no `to` at all, policies target the Server.
* In each cell the admitted peers are written as authentications: exact identities of
  the spec's services and of `identities` sources, `*.<ns>...` wildcards, `*` (any
  meshed client) and, for plaintext clients, a NetworkAuthentication of every address
  (which also admits meshed clients: usable only when everyone is admitted). A wider
  set is used only when every narrower one inside it is admitted too; otherwise the
  output fails closed and says which request the spec allows and Linkerd denies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from adapters import _gamma as G
from adapters._k8s import metadata, source_of, workload_selector
from adapters.linkerd import codes as C
from adapters.linkerd import resources as R
from adapters.linkerd._routes import intersection, literal_prefix, regex_samples, shared_path
from meshspec.codes import Code
from meshspec.semantics.authz import source_matches
from meshspec.spec import (
    AuthzAction,
    AuthzRule,
    DefaultAction,
    MtlsMode,
    Operation,
    PathMatch,
    Port,
    Protocol,
    RouteMatch,
    Spec,
    parse_spiffe_id,
    spiffe_id,
)
from meshspec.spec.bundle import PathKey

Report = Callable[[Code, str, PathKey, str], None]
RULE_ANNOTATION = "meshspec.io/rule"
#: distinct `to` conditions per service at most (cells grow as 2^n)
MAX_CONDITIONS = 4
#: an identity no spec service has, standing for "any other client"
_OTHER_NS = "meshspec-other"
_OTHER_SA = "meshspec-other"
EVERYWHERE = ({"cidr": "0.0.0.0/0"}, {"cidr": "::/0"})
#: (rules whose `to` holds, the matches of its inbound route) per cell
Cells = list[tuple[frozenset[int], list[RouteMatch] | None]] | None


@dataclass(frozen=True)
class Peer:
    """A class of clients: its representative SPIFFE ID (None: plaintext) and the Linkerd
    identity pattern that writes it (None: a NetworkAuthentication of every address)."""

    spiffe: str | None
    pattern: str | None
    label: str = ""


def port_mode(spec: Spec, key: str, port: int) -> MtlsMode:
    mtls = spec.service(key).spec.mtls
    if mtls is not None:
        if port in mtls.ports:
            return mtls.ports[port]
        if mtls.mode is not None:
            return mtls.mode
    return spec.mesh.mtls.mode


def linkerd_identity(spec: Spec, spiffe: str) -> str:
    """A SPIFFE ID in the mesh's trust domain in Linkerd's form; any other stays a SPIFFE
    ID (MeshTLSAuthentication accepts both)."""
    parsed = parse_spiffe_id(spiffe)
    if parsed is None or parsed[0] != spec.mesh.trust_domain:
        return spiffe
    td, ns, sa = parsed
    return R.identity(sa, ns, td)


@dataclass(frozen=True)
class MeshPeers:
    """The client classes every service shares: one exact peer per identity of the mesh
    and the peers of each namespace. Built once per compile: building it
    for each service and port read the whole mesh once per namespace, each time."""

    exact: dict[str, Peer]
    namespaces: frozenset[str]
    #: each exact peer's place in the class order
    position: dict[str, int]
    #: the exact peers of each namespace of the trust domain, in order
    members: dict[str, tuple[str, ...]]
    #: exact peers outside the trust domain (each asked on its own)
    foreign: tuple[str, ...]
    #: `namespaces`, sorted
    ordered: tuple[str, ...]


def _spiffe_namespace(spiffe: str) -> str | None:
    parsed = parse_spiffe_id(spiffe)
    return None if parsed is None else parsed[1]


def _mesh_namespace(spec: Spec, spiffe: str | None) -> str | None:
    """The namespace of a SPIFFE ID of the mesh's trust domain; None for any other."""
    if spiffe is None:
        return None
    parsed = parse_spiffe_id(spiffe)
    if parsed is None or parsed[0] != spec.mesh.trust_domain:
        return None
    return parsed[1]


def mesh_peers(spec: Spec) -> MeshPeers:
    exact: dict[str, Peer] = {}
    for key in spec.services:
        sid = spec.identity(key)
        exact.setdefault(sid, Peer(sid, linkerd_identity(spec, sid), label=key))
    members: dict[str, list[str]] = {}
    foreign: list[str] = []
    for sid in exact:
        ns = _mesh_namespace(spec, sid)
        if ns is None:
            foreign.append(sid)
        else:
            members.setdefault(ns, []).append(sid)
    namespaces = frozenset(svc.metadata.namespace for svc in spec)
    return MeshPeers(
        exact,
        namespaces,
        {sid: n for n, sid in enumerate(exact)},
        {ns: tuple(sids) for ns, sids in members.items()},
        tuple(foreign),
        tuple(sorted(namespaces)),
    )


@dataclass(frozen=True)
class ServiceClasses:
    """The client classes of one service's policy, narrowest first, without listing the
    mesh: its exact peers stay in `mesh` (then the rules' own identities in `added`, a
    wildcard per namespace, any meshed client, any plaintext client). A cell asks only
    the peers its rules name and one peer per namespace for those they do not."""

    mesh: MeshPeers
    added: tuple[Peer, ...]
    namespaces: tuple[str, ...]
    #: the namespaces a rule's source names
    spoken: frozenset[str]
    #: every SPIFFE ID the rules name
    named: frozenset[str]
    #: the first exact peer (by place) of the namespaces no rule names that no rule
    #: names, with its namespace: the rules tell such namespaces apart in nothing
    quiet: tuple[str, str] | None
    #: the namespaces a rule names and the first (in order) of the others, sorted:
    #: the wildcards a cell need look at when the others are denied
    narrow: tuple[str, ...]
    #: the first of `namespaces` no rule names
    first_quiet_namespace: str | None


def service_classes(
    spec: Spec, rules: Sequence[AuthzRule], mesh: MeshPeers, named: frozenset[str]
) -> ServiceClasses:
    td = spec.mesh.trust_domain
    added: dict[str, Peer] = {}
    extra: set[str] = set()
    spoken: set[str] = set()
    for rule in rules:
        for src in rule.from_:
            for ident in src.identities:
                if ident not in mesh.exact and ident not in added:
                    added[ident] = Peer(ident, linkerd_identity(spec, ident), label=ident)
                parsed = parse_spiffe_id(ident)
                if parsed is not None and parsed[0] == td:
                    extra.add(parsed[1])
            extra.update(src.namespaces)
            spoken.update(src.namespaces)
    namespaces = (
        mesh.ordered if extra <= mesh.namespaces else tuple(sorted(mesh.namespaces | extra))
    )
    first_quiet = next((ns for ns in namespaces if ns not in spoken), None)
    narrow = tuple(sorted(spoken if first_quiet is None else {*spoken, first_quiet}))
    return ServiceClasses(
        mesh,
        tuple(added.values()),
        namespaces,
        frozenset(spoken),
        named,
        _first_quiet_peer(mesh, spoken, named),
        narrow,
        first_quiet,
    )


def _first_quiet_peer(
    mesh: MeshPeers, spoken: set[str], named: frozenset[str]
) -> tuple[str, str] | None:
    """The first exact peer (by place) no rule names of a namespace no rule names. The
    namespaces come in the place of their first peer, so the search stops at the first
    namespace that starts after the best peer found: it looks at the namespaces the rules
    name and those whose first peers they name, not at every namespace."""
    found: tuple[str, str] | None = None
    best = 0
    for ns, sids in mesh.members.items():
        if found is not None and mesh.position[sids[0]] > best:
            break
        if ns in spoken:
            continue
        first = next((s for s in sids if s not in named), None)
        if first is not None and (found is None or mesh.position[first] < best):
            found, best = (first, ns), mesh.position[first]
    return found


def decide(
    spec: Spec,
    key: str,
    rules: Sequence[AuthzRule],
    default: DefaultAction,
    cell: frozenset[int],
    peer: str | None,
) -> tuple[bool, str | None]:
    """The spec's answer for a peer and a request in `cell` (indexes of the rules whose
    `to` holds): DENY rules, then ALLOW rules, then the default."""
    ns = spec.service(key).metadata.namespace
    for action in (AuthzAction.DENY, AuthzAction.ALLOW):
        for i, rule in enumerate(rules):
            if rule.action is not action or (rule.to is not None and i not in cell):
                continue
            if not rule.from_ or any(source_matches(spec, ns, s, peer) for s in rule.from_):
                return action is AuthzAction.ALLOW, rule.name
    return default is DefaultAction.ALLOW, None


def named_identities(spec: Spec, key: str, rules: Sequence[AuthzRule]) -> frozenset[str]:
    """Every SPIFFE ID the rules name, as an identity or as a service's."""
    ns = spec.service(key).metadata.namespace
    out: set[str] = set()
    for rule in rules:
        for src in rule.from_:
            out.update(src.identities)
            for ref in src.services:
                resolved = spec.resolve(ref, ns)
                if resolved is not None:
                    out.add(spec.identity(resolved))
    return frozenset(out)


def operation_matches(op: Operation) -> list[RouteMatch]:
    """A rule's `to` as ORed route matches (methods x paths, headers ANDed in each)."""
    methods: Sequence[Any] = op.methods or (None,)
    paths: Sequence[PathMatch | None] = op.paths or (None,)
    return [RouteMatch(path=p, method=m, headers=op.headers) for m in methods for p in paths]


class PolicyCompiler:
    def __init__(self, spec: Spec, report: Report) -> None:
        self.spec = spec
        self.report = report
        self.servers: list[dict[str, Any]] = []
        self.authns: list[dict[str, Any]] = []
        self.networks: list[dict[str, Any]] = []
        self.routes: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = []
        self._strict_note = False
        self._mesh_peers: MeshPeers | None = None
        self._namespaces: dict[str, str | None] = {}
        self._wildcards: dict[str, Peer] = {}
        self._last_cells: tuple[tuple[str, tuple[Operation, ...]], Cells] | None = None

    def service(self, key: str) -> None:
        svc = self.spec.service(key)
        authz = svc.spec.authorization
        for port in svc.spec.ports:
            mode = port_mode(self.spec, key, port.port)
            if mode is MtlsMode.DISABLE:
                path: PathKey = ("spec", "mtls") if svc.spec.mtls is not None else ()
                self.report(
                    C.MTLS_DISABLE,
                    key if path else "mesh",
                    path or ("spec", "mtls"),
                    f"port {port.port} of {key}: Linkerd cannot accept plaintext from meshed "
                    "clients except by bypassing its proxy (config.linkerd.io/"
                    f'skip-inbound-ports: "{port.workload_port}" on the pods), which also '
                    "bypasses authorization; the port keeps mTLS from meshed clients",
                )
            strict = mode is MtlsMode.STRICT
            if authz is None:
                if strict:
                    self._server(key, port, "all-authenticated")
                    self._note_strict(key)
                continue
            self._authorize(key, port, strict)

    def _note_strict(self, key: str) -> None:
        if not self._strict_note:
            self._strict_note = True
            self.report(
                C.STRICT_IS_403,
                key,
                ("spec", "mtls"),
                "a plaintext HTTP request to a STRICT port gets 403 from Linkerd's proxy; the "
                "spec refuses the connection",
            )

    def _server_name(self, key: str, port: Port) -> str:
        return f"{self.spec.service(key).metadata.name}-{port.port}"

    def _server(self, key: str, port: Port, access: str) -> str:
        svc = self.spec.service(key)
        name = self._server_name(key, port)
        protocol = {Protocol.GRPC: "gRPC", Protocol.TCP: "opaque"}.get(port.protocol, "unknown")
        self.servers.append(
            {
                "apiVersion": R.SERVER_API,
                "kind": "Server",
                "metadata": metadata(name, svc.metadata.namespace, source_of(self.spec, key)),
                "spec": {
                    "podSelector": {"matchLabels": workload_selector(svc.metadata.name)},
                    "port": port.workload_port,
                    "proxyProtocol": protocol,
                    "accessPolicy": access,
                },
            }
        )
        return name

    def _authorize(self, key: str, port: Port, strict: bool) -> None:
        svc = self.spec.service(key)
        authz = svc.spec.authorization
        assert authz is not None
        rules = authz.rules
        base: PathKey = ("spec", "authorization")
        conditions: dict[Operation, list[int]] = {}
        for i, rule in enumerate(rules):
            if rule.to is not None:
                conditions.setdefault(rule.to, []).append(i)
                if rule.action is AuthzAction.DENY and rule.to.headers:
                    h = rule.to.headers[0]
                    value = h.exact or h.prefix or _sample_value(h.regex) or "x"
                    self.report(
                        C.AUTHZ_INEXACT,
                        key,
                        (*base, "rules", i, "to", "headers"),
                        f"rule '{rule.name}': Linkerd matches a header line by line, so "
                        f"GET {_sample([rule], frozenset({0}))} with '{h.name}: a,{value}' "
                        "is not denied by it",
                    )
        server = self._server(key, port, "deny")
        if strict:
            self._note_strict(key)
        ops = list(conditions)
        if port.protocol is Protocol.TCP and ops:
            self.report(
                C.AUTHZ_INEXACT,
                key,
                base,
                f"port {port.port} is TCP: request conditions "
                "never hold there; only rules without 'to' apply",
            )
            ops = []
        if len(ops) > MAX_CONDITIONS:
            self.report(
                C.AUTHZ_INEXACT,
                key,
                base,
                f"{len(ops)} distinct 'to' conditions need up to {2 ** len(ops)} inbound "
                f"routes; at most {MAX_CONDITIONS} are compiled: requests meeting the others "
                "are denied",
            )
            ops = ops[:MAX_CONDITIONS]
        # the ports of a service share their cells (what they find is reported once)
        asked = (key, tuple(ops))
        if self._last_cells is None or self._last_cells[0] != asked:
            self._last_cells = (asked, self._cells(key, ops, conditions))
        cells = self._last_cells[1]
        if cells is None:
            return
        if self._mesh_peers is None:
            self._mesh_peers = mesh_peers(self.spec)
        named = named_identities(self.spec, key, rules)
        all_peers = service_classes(self.spec, rules, self._mesh_peers, named)
        for cell_index, (held, matches) in enumerate(cells):
            target = None
            if matches is not None:
                target = self._inbound_route(key, port, server, cell_index, matches)
            self._cell_policies(
                key, port, server, target, cell_index, rules, authz.default, held, all_peers, strict
            )

    def _cells(
        self, key: str, ops: list[Operation], conditions: dict[Operation, list[int]]
    ) -> Cells:
        """(rules whose `to` holds, the matches of its inbound route) per cell, most specific
        first; None for the matches means no inbound routes (policies on the Server)."""
        if not ops:
            return [(frozenset(), None)]
        out: list[tuple[frozenset[int], list[RouteMatch] | None]] = []
        for size in range(len(ops), 0, -1):
            for subset in combinations(range(len(ops)), size):
                matches: list[RouteMatch] | None = operation_matches(ops[subset[0]])
                for j in subset[1:]:
                    merged: list[RouteMatch] = []
                    for a in matches or []:
                        for b in operation_matches(ops[j]):
                            both = intersection(a, b)
                            if both is not None:
                                merged.append(both)
                            elif _may_overlap(a, b):
                                both_path = shared_path(a, b) or "a path both match"
                                self.report(
                                    C.AUTHZ_INEXACT,
                                    key,
                                    ("spec", "authorization"),
                                    "two rules' 'to' conditions overlap where one inbound "
                                    f"route cannot match both (e.g. a request to {both_path} "
                                    "meeting both is decided as if only one held)",
                                )
                    matches = merged
                if not matches:
                    continue
                held = frozenset(i for j in subset for i in conditions[ops[j]])
                out.append((held, matches))
        out.append((frozenset(), [RouteMatch()]))
        return out

    def _inbound_route(
        self, key: str, port: Port, server: str, index: int, matches: list[RouteMatch]
    ) -> str:
        svc = self.spec.service(key)
        name = f"{server}-authz-{index:02d}"

        def lost(path: PathKey, message: str) -> None:
            self.report(C.AUTHZ_INEXACT, key, path, message)

        native = [G.native_match(m, ("spec", "authorization"), lost) for m in matches]
        self.routes.append(
            {
                "apiVersion": R.INBOUND_ROUTE_API,
                "kind": "HTTPRoute",
                "metadata": metadata(name, svc.metadata.namespace, source_of(self.spec, key)),
                "spec": {
                    "parentRefs": [{"group": R.POLICY_GROUP, "kind": "Server", "name": server}],
                    "rules": [{"matches": native}],
                },
            }
        )
        return name

    def _namespace_of(self, spiffe: str | None) -> str | None:
        """The namespace of a SPIFFE ID of the mesh's trust domain; None for any other."""
        if spiffe is None:
            return None
        if spiffe not in self._namespaces:
            parsed = parse_spiffe_id(spiffe)
            in_mesh = parsed is not None and parsed[0] == self.spec.mesh.trust_domain
            self._namespaces[spiffe] = parsed[1] if parsed is not None and in_mesh else None
        return self._namespaces[spiffe]

    def _wildcard(self, ns: str) -> Peer:
        if ns not in self._wildcards:
            td = self.spec.mesh.trust_domain
            self._wildcards[ns] = Peer(
                spiffe_id(td, ns, _OTHER_SA),
                R.namespace_wildcard(ns, td),
                label=f"another workload of namespace {ns}",
            )
        return self._wildcards[ns]

    def _cell_policies(
        self,
        key: str,
        port: Port,
        server: str,
        route: str | None,
        index: int,
        rules: Sequence[AuthzRule],
        default: DefaultAction,
        held: frozenset[int],
        classes: ServiceClasses,
        strict: bool,
    ) -> None:
        spec = self.spec
        mesh = classes.mesh
        named = classes.named
        # A peer of the mesh's trust domain that no rule names gets the answer every such
        # peer of its namespace gets (its namespace is all the rules can tell of it), and
        # in a namespace no rule names, the answer of every such peer of such namespaces:
        # asked once per namespace the rules name and once for all the others.
        unnamed: dict[str | None, tuple[bool, str | None]] = {}

        def ask(spiffe: str | None) -> tuple[bool, str | None]:
            ns = None if spiffe in named else self._namespace_of(spiffe)
            if ns is None:
                return decide(spec, key, rules, default, held, spiffe)
            group = ns if ns in classes.spoken else None
            if group not in unnamed:
                unnamed[group] = decide(spec, key, rules, default, held, spiffe)
            return unnamed[group]

        # exact peers asked on their own: (place, pattern, label, answer, namespace)
        alone: list[tuple[int, str, str, tuple[bool, str | None], str | None]] = []
        own = {*(s for s in named if s in mesh.exact), *mesh.foreign}
        for sid in sorted(own, key=mesh.position.__getitem__):
            peer = mesh.exact[sid]
            alone.append(
                (mesh.position[sid], _pattern(peer), peer.label, ask(sid), _spiffe_namespace(sid))
            )
        # the answer for the namespaces no rule names (all alike to the rules); when it
        # denies, they matter only through their first peer and first wildcard, and the
        # cell need not go through the mesh's namespaces
        quiet = classes.quiet
        quiet_answer: tuple[bool, str | None] | None = None
        if quiet is not None:
            quiet_answer = ask(quiet[0])
        elif classes.first_quiet_namespace is not None:
            quiet_answer = ask(self._wildcard(classes.first_quiet_namespace).spiffe)
        every_namespace = quiet_answer is not None and quiet_answer[0]
        # the mesh's peers no rule names, a block per namespace: (place of its first
        # peer, namespace, first peer, answer); the namespaces no rule names, when
        # denied, as one block of their first peer
        blocks: list[tuple[int, str, str, tuple[bool, str | None]]] = []
        if every_namespace:
            scan = list(mesh.members.items())
        else:
            scan = [
                (ns, mesh.members[ns])
                for ns in classes.narrow
                if ns in classes.spoken and ns in mesh.members
            ]
            if quiet is not None and quiet_answer is not None:
                blocks.append((mesh.position[quiet[0]], quiet[1], quiet[0], quiet_answer))
        for ns, sids in scan:
            first = next((s for s in sids if s not in named), None)
            if first is not None:
                blocks.append((mesh.position[first], ns, first, ask(first)))
        for j, peer in enumerate(classes.added, start=len(mesh.exact)):
            assert peer.spiffe is not None
            alone.append(
                (j, _pattern(peer), peer.label, ask(peer.spiffe), _spiffe_namespace(peer.spiffe))
            )
        # the first exact peer denied, over all and per namespace: (place, label)
        denied = sorted(
            [(p, label, ns) for p, _pat, label, ans, ns in alone if not ans[0]]
            + [(p, mesh.exact[s].label, ns) for p, ns, s, ans in blocks if not ans[0]],
            key=lambda d: d[0],
        )
        first_denied: dict[str | None, str] = {}
        for _p, label, space in denied:
            first_denied.setdefault(space, label)
        # admitted exact peers by rule, in class order: (pattern or None, block namespace)
        entries = sorted(
            [(p, ans[1], pat, "") for p, pat, _label, ans, _ns in alone if ans[0]]
            + [(p, ans[1], "", ns) for p, ns, _s, ans in blocks if ans[0]],
            key=lambda e: e[0],
        )
        admitted: dict[str | None, list[str]] = {}
        admitted_blocks: dict[str | None, list[str]] = {}
        for _p, rule, pat, space in entries:
            if pat:
                admitted.setdefault(rule, []).append(pat)
            else:
                admitted.setdefault(rule, [])
                admitted_blocks.setdefault(rule, []).append(space)
        td = spec.mesh.trust_domain
        everyone = Peer(
            spiffe_id(td, _OTHER_NS, _OTHER_SA), "*", "a meshed client outside the spec"
        )
        plaintext = Peer(None, None, "a client outside the mesh (plaintext)")
        wider: list[tuple[Peer, bool, str | None, str | None]] = []
        first_wider_denied: str | None = denied[0][1] if denied else None
        for ns in classes.namespaces if every_namespace else classes.narrow:
            peer = self._wildcard(ns)
            allowed, rule = ask(peer.spiffe)
            wider.append((peer, allowed, rule, first_denied.get(ns)))
            if not allowed and first_wider_denied is None:
                first_wider_denied = peer.label
        allowed, rule = ask(everyone.spiffe)
        wider.append((everyone, allowed, rule, first_wider_denied))
        if not allowed and first_wider_denied is None:
            first_wider_denied = everyone.label
        allowed, rule = ask(None)
        if strict:
            allowed = False
        wider.append((plaintext, allowed, rule, first_wider_denied))
        network_rule: tuple[bool, str | None] | None = None
        for peer, allowed, rule, denied_label in wider:
            if not allowed:
                continue
            if denied_label is not None:
                code = C.AUTHZ_INEXACT if peer.pattern is None else C.IDENTITY_OUTSIDE
                self.report(
                    code,
                    key,
                    ("spec", "authorization"),
                    f"port {port.port}: the spec allows {peer.label} but denies "
                    f"{denied_label}; Linkerd cannot admit the one without "
                    f"the other, so {peer.label} is denied"
                    + (
                        f" (e.g. GET {_sample(rules, held)} in plaintext)"
                        if peer.pattern is None
                        else ""
                    ),
                )
                continue
            if peer.pattern is None:
                network_rule = (allowed, rule)
            else:
                admitted.setdefault(rule, []).append(peer.pattern)
        svc = self.spec.service(key)
        prefix = route or server
        # narrowest first: a client several policies admit is named by the first (by name),
        # which is then the rule the spec decided by for it
        ordered = sorted(admitted.items(), key=lambda item: max(map(_breadth, item[1]), default=0))
        for n, (rule, patterns) in enumerate(ordered):
            written = set(patterns)
            for ns in admitted_blocks.get(rule, ()) if "*" not in written else ():
                # a namespace's wildcard holds its peers; without it they are listed
                if R.namespace_wildcard(ns, td) not in written:
                    written.update(
                        _pattern(mesh.exact[s]) for s in mesh.members[ns] if s not in named
                    )
            identities = sorted(written)
            if "*" in identities:
                identities = ["*"]
            wild = [i for i in identities if i.startswith("*.")]
            identities = [
                i
                for i in identities
                if i in wild or not any(R.identity_matches(w, i) for w in wild)
            ]
            name = f"{prefix}-{n}"
            self.authns.append(
                {
                    "apiVersion": R.AUTHN_API,
                    "kind": "MeshTLSAuthentication",
                    "metadata": metadata(name, svc.metadata.namespace, source_of(self.spec, key)),
                    "spec": {"identities": identities},
                }
            )
            self._policy(key, name, server, route, ("MeshTLSAuthentication", name), rule)
        if network_rule is not None:
            name = f"{prefix}-all"
            self.networks.append(
                {
                    "apiVersion": R.AUTHN_API,
                    "kind": "NetworkAuthentication",
                    "metadata": metadata(name, svc.metadata.namespace, source_of(self.spec, key)),
                    "spec": {"networks": [dict(n) for n in EVERYWHERE]},
                }
            )
            self._policy(key, name, server, route, ("NetworkAuthentication", name), network_rule[1])

    def _policy(
        self,
        key: str,
        name: str,
        server: str,
        route: str | None,
        authn: tuple[str, str],
        rule: str | None,
    ) -> None:
        svc = self.spec.service(key)
        target = (
            {"group": R.POLICY_GROUP, "kind": "HTTPRoute", "name": route}
            if route is not None
            else {"group": R.POLICY_GROUP, "kind": "Server", "name": server}
        )
        self.policies.append(
            {
                "apiVersion": R.AUTHN_API,
                "kind": "AuthorizationPolicy",
                "metadata": metadata(
                    name,
                    svc.metadata.namespace,
                    source_of(self.spec, key, ("spec", "authorization")),
                    **{RULE_ANNOTATION: rule or ""},
                ),
                "spec": {
                    "targetRef": target,
                    "requiredAuthenticationRefs": [
                        {"group": R.POLICY_GROUP, "kind": authn[0], "name": authn[1]}
                    ],
                },
            }
        )


def _sample_value(regex: str | None) -> str | None:
    if regex is None:
        return None
    for candidate in regex.split("|"):
        text = candidate.strip("^$()")
        if text and all(ch not in ".*+?[]{}\\" for ch in text):
            return text
    return None


def _breadth(pattern: str) -> int:
    return 2 if pattern == "*" else 1 if pattern.startswith("*.") else 0


def _pattern(peer: Peer) -> str:
    assert peer.pattern is not None, peer
    return peer.pattern


def _sample(rules: Sequence[AuthzRule], held: frozenset[int]) -> str:
    for i in sorted(held):
        op = rules[i].to
        if op is not None and op.paths:
            p = op.paths[0]
            if p.regex is not None:
                return next(iter(regex_samples(p.regex)), "/")
            return p.exact or (p.prefix or "/")
    return "/"


def _may_overlap(a: RouteMatch, b: RouteMatch) -> bool:
    """Whether some request meets both (exactly for exact and prefix paths; a regex is
    assumed to overlap)."""
    if a.method and b.method and a.method != b.method:
        return False
    pa, pb = a.path, b.path
    if pa is None or pb is None:
        return True
    if pa.regex is not None or pb.regex is not None:
        # every path a condition accepts starts with its literal text
        la, lb = (literal_prefix(p.regex) if p.regex is not None else p.value for p in (pa, pb))
        return la.startswith(lb) or lb.startswith(la)
    return shared_path(a, b) is not None
