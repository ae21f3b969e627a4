"""The requests a comparison asks about: boundaries of every match and rule, then chance.

Differences hide at the edges of what a spec says, so most probes come from
the specs themselves: each exact path and the paths beside it, each prefix
`/x` with `/x/`, `/x/sub` and `/xy`, each header present, absent and with
another value, each method, each peer an authorization rule names (and one it
does not), a plaintext client, each port. Seeded random requests follow,
built from the same pieces, to reach combinations no boundary names.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from meshspec.semantics import Request
from meshspec.spec import (
    AuthzRule,
    HeaderMatch,
    PathMatch,
    RouteMatch,
    ServiceDocument,
    Spec,
    StringMatchType,
    parse_spiffe_id,
)

#: a header value no spec writes
OTHER_VALUE = "meshspec-other"
#: a method no spec is likely to name
OTHER_METHODS = ("GET", "POST", "DELETE")
DEFAULT_RANDOM = 256
#: targets where meshes normalise paths differently: encoded slash, fragment,
#: doubled slash, dot segments, a malformed escape
EDGE_TARGETS = ("/x%2Fy", "/x#f", "//x", "/x/../y", "/%zz")

Shape = tuple[str, str, tuple[tuple[str, str], ...]]
"""(target, method, sorted headers): a request without its peer and port."""


@dataclass
class ProbeSet:
    """Boundary requests first, then random ones; no request twice."""

    boundary: list[Request] = field(default_factory=list)
    random: list[Request] = field(default_factory=list)

    @property
    def requests(self) -> list[Request]:
        return [*self.boundary, *self.random]


def probe_requests(
    specs: Sequence[Spec],
    seed: int = 0,
    random_count: int = DEFAULT_RANDOM,
    skip: Iterable[str] = (),
) -> ProbeSet:
    """The probes for comparing `specs` (usually the two sides of a change).

    Destinations in `skip` are not asked (they still send requests).
    """
    seen: set[object] = set()
    out = ProbeSet()
    every = _service_keys(specs)
    skipped = set(skip)
    keys = [k for k in every if k not in skipped]
    for key in keys:
        for request in _service_probes(specs, key, every):
            _add(out.boundary, seen, request)
    rng = random.Random(seed)
    pieces = _Pieces.of(specs, keys, every)
    attempts = 0
    while len(out.random) < random_count and attempts < random_count * 4 and keys:
        attempts += 1
        _add(out.random, seen, pieces.random_request(rng))
    return out


def request_key(r: Request) -> tuple[object, ...]:
    return (r.source, r.destination, r.port, r.method, r.target, tuple(sorted(r.headers.items())))


def _add(into: list[Request], seen: set[object], request: Request) -> None:
    key = request_key(request)
    if key not in seen:
        seen.add(key)
        into.append(request)


def _service_keys(specs: Sequence[Spec]) -> list[str]:
    keys: dict[str, None] = {}
    for spec in specs:
        keys.update(dict.fromkeys(spec.services))
    return sorted(keys)


def _documents(specs: Sequence[Spec], key: str) -> list[ServiceDocument]:
    return [spec.services[key] for spec in specs if key in spec.services]


def _service_probes(specs: Sequence[Spec], key: str, keys: list[str]) -> Iterable[Request]:
    """Every shape from the first caller; the shapes authorization reads from every peer.

    A client outside the mesh has no sidecar and is never routed, so only the
    authorization shapes matter for it; so too for the other peers, whose
    answers differ from the first caller's only where a rule tells peers apart.
    The rules read are the service's own and those of the services its routes
    send to.
    """
    docs = _documents(specs, key)
    guarded = docs + [d for k in _route_targets(specs, key) for d in _documents(specs, k)]
    route_shapes = _route_shapes(docs)
    authz_shapes = _authz_shapes(guarded)
    callers = _callers(specs, key, keys, guarded)
    ports: dict[int | None, None] = {None: None}
    for doc in docs:
        ports.update(dict.fromkeys(p.port for p in doc.spec.ports))
    primary = callers[0]
    for shape in dict.fromkeys([*route_shapes, *authz_shapes]):
        yield _request(key, shape, None, primary)
    for shape in authz_shapes:
        for source in [*callers[1:], None]:
            yield _request(key, shape, None, source)
    for target in EDGE_TARGETS:
        yield _request(key, (target, "GET", ()), None, primary)
    for port in ports:
        if port is not None:
            yield _request(key, ("/", "GET", ()), port, primary)
            yield _request(key, ("/", "GET", ()), port, None)


def _route_targets(specs: Sequence[Spec], key: str) -> list[str]:
    """Other services the routes of `key` send traffic to."""
    out: dict[str, None] = {}
    for spec in specs:
        doc = spec.services.get(key)
        if doc is None:
            continue
        namespace = doc.metadata.namespace
        for route in doc.spec.routes:
            for b in route.backends:
                found = None if b.service is None else spec.resolve(b.service, namespace)
                if found is not None and found != key:
                    out[found] = None
    return list(out)


def _request(key: str, shape: Shape, port: int | None, source: str | None) -> Request:
    target, method, headers = shape
    return Request(key, target, method, dict(headers), port, source)


def _callers(
    specs: Sequence[Spec], key: str, keys: list[str], docs: list[ServiceDocument]
) -> list[str]:
    """Peers that authorization can tell apart: each one a rule names, and an outsider."""
    named: dict[str, None] = {}
    namespace = key.split("/", 1)[0]
    for doc in docs:
        for rule in doc.spec.authorization.rules if doc.spec.authorization else ():
            for src in rule.from_:
                for spec in specs:
                    for svc in src.services:
                        found = spec.resolve(svc, namespace)
                        if found:
                            named[found] = None
                    for ns in src.namespaces:
                        in_ns = [k for k in spec.services if k.startswith(ns + "/")]
                        named.update(dict.fromkeys(in_ns[:1]))
                    for ident in src.identities:
                        named.update(dict.fromkeys(_holders(spec, ident)[:1]))
    others = [k for k in keys if k != key and k not in named]
    outsider = [k for k in others if not k.startswith(namespace + "/")][:1] or others[:1]
    callers = [k for k in named if k != key] + outsider
    if not callers:
        callers = [key]
    return callers


def _holders(spec: Spec, identity: str) -> list[str]:
    parsed = parse_spiffe_id(identity)
    if parsed is None:
        return []
    return [k for k in spec.services if spec.identity(k) == identity]


BASE_SHAPES: tuple[Shape, ...] = (("/", "GET", ()), ("/", "POST", ()))


def _route_shapes(docs: list[ServiceDocument]) -> list[Shape]:
    shapes: dict[Shape, None] = dict.fromkeys(BASE_SHAPES)
    matches: list[RouteMatch] = []
    for doc in docs:
        for route in doc.spec.routes:
            matches.extend(route.matches)
    for m in matches:
        shapes.update(dict.fromkeys(_match_shapes(m.path, m.method, m.headers, m.query_params)))
    # two matches at once: where precedence and rule order decide
    for i, a in enumerate(matches):
        for b in matches[i + 1 :]:
            headers = {**_satisfying(a.headers), **_satisfying(b.headers)}
            for path in _paths(a.path)[:1] + _paths(b.path)[:1]:
                method = a.method or b.method or "GET"
                shapes[(path, method, tuple(sorted(headers.items())))] = None
    return list(shapes)


def _authz_shapes(docs: list[ServiceDocument]) -> list[Shape]:
    shapes: dict[Shape, None] = dict.fromkeys(BASE_SHAPES)
    for doc in docs:
        for rule in doc.spec.authorization.rules if doc.spec.authorization else ():
            shapes.update(dict.fromkeys(_rule_shapes(rule)))
    return list(shapes)


def _shapes(docs: list[ServiceDocument]) -> list[Shape]:
    return list(dict.fromkeys([*_route_shapes(docs), *_authz_shapes(docs)]))


def _match_shapes(
    path: PathMatch | None,
    method: str | None,
    headers: Sequence[HeaderMatch],
    query: Sequence[object],
) -> Iterable[Shape]:
    base_headers = _satisfying(headers)
    base_method = method or "GET"
    suffix = _query_suffix(query)
    for target in _paths(path):
        yield (target + suffix, base_method, tuple(sorted(base_headers.items())))
        if suffix:
            yield (target, base_method, tuple(sorted(base_headers.items())))
        for other in OTHER_METHODS:
            if other != base_method:
                yield (target + suffix, other, tuple(sorted(base_headers.items())))
                break
        for name in base_headers:
            absent = {k: v for k, v in base_headers.items() if k != name}
            yield (target + suffix, base_method, tuple(sorted(absent.items())))
            other_value = {**base_headers, name: OTHER_VALUE}
            yield (target + suffix, base_method, tuple(sorted(other_value.items())))


def _query_suffix(query: Sequence[object]) -> str:
    parts = []
    for q in query:
        name = str(getattr(q, "name", ""))
        value = getattr(q, "exact", None) or "1"
        parts.append(f"{name}={value}")
    return "?" + "&".join(parts) if parts else ""


def _rule_shapes(rule: AuthzRule) -> Iterable[Shape]:
    op = rule.to
    if op is None:
        return
    methods = list(op.methods) or ["GET"]
    outside = next((m for m in OTHER_METHODS if m not in methods), None)
    paths = [p for pm in op.paths for p in _paths(pm)] or ["/"]
    headers = _satisfying(op.headers)
    for target in paths:
        for method in [*methods, *([outside] if outside else [])]:
            yield (target, method, tuple(sorted(headers.items())))
        for name in headers:
            absent = {k: v for k, v in headers.items() if k != name}
            yield (target, methods[0], tuple(sorted(absent.items())))
            yield (target, methods[0], tuple(sorted({**headers, name: OTHER_VALUE}.items())))


def _paths(path: PathMatch | None) -> list[str]:
    """The path itself first, then the requests beside its boundary."""
    if path is None:
        return ["/"]
    value = path.value
    if path.exact is not None:
        return [value, value.rstrip("/") + "/", value.rstrip("/") + "x"]
    if path.prefix is not None:
        base = value.rstrip("/") or ""
        if not base:
            return ["/", "/x"]
        return [base, base + "/", base + "/sub", base + "y"]
    literal = _regex_literal(value)
    return [literal] if literal else ["/"]


def _regex_literal(pattern: str) -> str | None:
    """A path a regex surely matches when it is a literal with an optional `.*` tail."""
    body = pattern[:-2] if pattern.endswith(".*") else pattern
    if any(c in body for c in "\\[](){}|?+*^$.") or not body.startswith("/"):
        return None
    return body


def _satisfying(headers: Sequence[HeaderMatch]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in headers:
        if h.type is StringMatchType.EXACT:
            out[h.name] = h.value
        elif h.type is StringMatchType.PREFIX:
            out[h.name] = h.value + "z"
        elif h.type is StringMatchType.PRESENT:
            out[h.name] = "1"
        else:
            literal = _regex_literal("/" + h.value)
            out[h.name] = literal[1:] if literal else OTHER_VALUE
    return out


@dataclass
class _Pieces:
    """What random requests are built from: the names and values the specs use."""

    keys: list[str]
    senders: list[str]
    segments: list[str]
    methods: list[str]
    headers: list[tuple[str, str]]
    ports: dict[str, list[int]]

    @classmethod
    def of(cls, specs: Sequence[Spec], keys: list[str], senders: list[str]) -> _Pieces:
        segments: dict[str, None] = {"x": None}
        methods: dict[str, None] = dict.fromkeys(OTHER_METHODS)
        headers: dict[tuple[str, str], None] = {}
        ports: dict[str, list[int]] = {}
        for key in keys:
            for doc in _documents(specs, key):
                ports.setdefault(key, [])
                ports[key].extend(p.port for p in doc.spec.ports)
                for shape in _shapes([doc]):
                    target, method, hs = shape
                    methods[method] = None
                    path = target.split("?", 1)[0]
                    segments.update(dict.fromkeys(s for s in path.split("/") if s))
                    headers.update(dict.fromkeys(hs))
        return cls(keys, senders, list(segments), list(methods), list(headers), ports)

    def random_request(self, rng: random.Random) -> Request:
        dest = rng.choice(self.keys)
        source = rng.choice([*self.senders, None])
        depth = rng.randint(0, 3)
        path = "/" + "/".join(rng.choice(self.segments) for _ in range(depth))
        if depth and rng.random() < 0.2:
            path += "/"
        count = rng.randint(0, min(2, len(self.headers)))
        headers = dict(rng.sample(self.headers, count)) if count else {}
        if headers and rng.random() < 0.3:
            headers[rng.choice(sorted(headers))] = OTHER_VALUE
        port = rng.choice([None, *self.ports.get(dest, [])])
        return Request(dest, path, rng.choice(self.methods), headers, port, source)
