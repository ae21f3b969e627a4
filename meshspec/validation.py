"""Semantic checks over documents that each passed the schema.

References, duplicates, weights, regexes, clean paths, shadowed matches,
timeouts: what the schema alone cannot see. Each finding names the file,
line and column of the offending field.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshspec import codes
from meshspec.diagnostics import Diagnostic, Location
from meshspec.durations import format_duration
from meshspec.regex import check_regex
from meshspec.semantics import DEFAULT_TIMEOUT, ordered_candidates, port_mode, precedence_key
from meshspec.spec import (
    HeaderMatch,
    MeshDocument,
    Origin,
    PathMatch,
    Protocol,
    QueryParamMatch,
    RouteMatch,
    ServiceDocument,
    Spec,
)
from meshspec.spec.bundle import PathKey, dotted, service_key

_UNCLEAN = ("//", "/./", "/../", "%2f", "%2F", "%5c", "%5C", "#", "?", "\\")


def clean_path_problem(value: str) -> str | None:
    """Why an exact or prefix path value can never equal a normalised path."""
    if not value.startswith("/"):
        return "must start with '/'"
    for bad in _UNCLEAN:
        if bad in value:
            return f"must not contain '{bad}' (requests are normalised before matching)"
    if value.endswith("/.") or value.endswith("/.."):
        return "must not end in a dot segment"
    return None


class _Checker:
    def __init__(self) -> None:
        self.found: list[Diagnostic] = []

    def add(self, diag: Diagnostic) -> None:
        self.found.append(diag)


def validate_documents(
    documents: Sequence[tuple[MeshDocument | ServiceDocument, Origin]],
) -> tuple[Spec, list[Diagnostic]]:
    """The spec the documents make, and every semantic finding."""
    found: list[Diagnostic] = []
    meshes = [(d, o) for d, o in documents if isinstance(d, MeshDocument)]
    for extra, origin in meshes[1:]:
        found.append(
            codes.DUPLICATE_MESH(
                f"second Mesh document '{extra.metadata.name}'; the first was in "
                f"{meshes[0][1].locate()}",
                location=origin.locate(),
                hint="keep one Mesh document per spec",
            )
        )
    origins: dict[str, Origin] = {}
    kept: list[MeshDocument | ServiceDocument] = []
    if meshes:
        kept.append(meshes[0][0])
        origins["mesh"] = meshes[0][1]
    for doc, origin in documents:
        if not isinstance(doc, ServiceDocument):
            continue
        key = service_key(doc.metadata.namespace, doc.metadata.name)
        if key in origins:
            found.append(
                codes.DUPLICATE_NAME(
                    f"service {key} is defined twice; the first is at {origins[key].locate()}",
                    location=origin.locate(("metadata", "name")),
                    path="metadata.name",
                    hint="merge the two documents or rename one",
                )
            )
            continue
        origins[key] = origin
        kept.append(doc)
    spec = Spec.build(kept, origins)
    for key in spec.services:
        found.extend(_check_service(spec, key))
    return spec, found


def _target_port_conflicts(spec: Spec, key: str, origin: Origin) -> list[Diagnostic]:
    """Service ports that land on one workload port must agree on what that port is.

    Kubernetes lets several service ports share a targetPort. The sidecar
    sees one workload port, so it has one protocol and one mTLS mode: two
    service ports with different protocols or modes there cannot both hold.
    """
    out: list[Diagnostic] = []
    first: dict[int, int] = {}
    ports = spec.service(key).spec.ports
    for i, p in enumerate(ports):
        j = first.setdefault(p.workload_port, i)
        if j == i:
            continue
        other = ports[j]
        conflict = ""
        if p.protocol is not other.protocol:
            conflict = f"protocol {p.protocol.value} vs {other.protocol.value}"
        else:
            mode, other_mode = port_mode(spec, key, p.port), port_mode(spec, key, other.port)
            if mode is not other_mode:
                conflict = f"mTLS {mode.value} vs {other_mode.value}"
        if conflict:
            field = "targetPort" if p.target_port is not None else "port"
            out.append(
                codes.TARGET_PORT_CONFLICT(
                    f"ports {other.port} and {p.port} of service {key} disagree about workload "
                    f"port {p.workload_port}: {conflict}",
                    location=origin.locate(("spec", "ports", i, field)),
                    path=dotted(("spec", "ports", i, field)),
                    hint="give them the same protocol and mTLS mode, or different targetPorts",
                )
            )
    return out


def _check_service(spec: Spec, key: str) -> list[Diagnostic]:
    svc = spec.service(key)
    origin = spec.origins[key]
    ns = svc.metadata.namespace
    out: list[Diagnostic] = []

    def at(*path: str | int) -> Location:
        return origin.locate(path)

    def dup(items: Sequence[object], attr: str, what: str, field_path: PathKey) -> None:
        seen: dict[object, int] = {}
        for i, item in enumerate(items):
            name = getattr(item, attr)
            if name in seen:
                p = (*field_path, i, attr)
                out.append(
                    codes.DUPLICATE_NAME(
                        f"{what} '{name}' appears twice in service {key}",
                        location=at(*p),
                        path=dotted(p),
                        hint="names must be unique within a service",
                    )
                )
            seen.setdefault(name, i)

    s = svc.spec
    dup(s.ports, "port", "port", ("spec", "ports"))
    dup([p for p in s.ports if p.name], "name", "port name", ("spec", "ports"))
    dup(s.versions, "name", "version", ("spec", "versions"))
    dup(s.routes, "name", "route", ("spec", "routes"))
    if s.authorization:
        dup(s.authorization.rules, "name", "authorization rule", ("spec", "authorization", "rules"))

    if s.routes and all(p.protocol is Protocol.TCP for p in s.ports):
        out.append(
            codes.TCP_ROUTE(
                f"service {key} has only TCP ports, so its HTTP routes never apply",
                location=at("spec", "routes"),
                path="spec.routes",
                hint="give a port protocol http or grpc, or remove the routes",
            )
        )
    if s.mtls:
        port_numbers = {p.port for p in s.ports}
        for port in s.mtls.ports:
            if port not in port_numbers:
                p: PathKey = ("spec", "mtls", "ports", port)
                out.append(
                    codes.BAD_PORT(
                        f"mTLS override for port {port}, which service {key} does not have",
                        location=at(*p),
                        path=dotted(p),
                        hint="ports: " + ", ".join(str(n) for n in sorted(port_numbers)),
                    )
                )

    out.extend(_target_port_conflicts(spec, key, origin))
    out.extend(_shadowed_matches(svc, key, origin))
    for ri, route in enumerate(s.routes):
        rp: tuple[str | int, ...] = ("spec", "routes", ri)
        for mi, match in enumerate(route.matches):
            mp: PathKey = (*rp, "matches", mi)
            if match.path:
                out.extend(_check_path(match.path, origin, (*mp, "path")))
            for hi, h in enumerate(match.headers):
                out.extend(_check_string(h, origin, (*mp, "headers", hi)))
            for qi, q in enumerate(match.query_params):
                out.extend(_check_string(q, origin, (*mp, "queryParams", qi)))
        total = 0
        for bi, b in enumerate(route.backends):
            bp: PathKey = (*rp, "backends", bi)
            total += b.weight
            target = key if b.service is None else spec.resolve(b.service, ns)
            if target is None:
                out.append(
                    codes.DANGLING_SERVICE(
                        f"backend service '{b.service}' does not exist",
                        location=at(*bp, "service"),
                        path=dotted((*bp, "service")),
                        hint=_known_services(spec),
                    )
                )
                continue
            if b.version is not None and spec.version(target, b.version) is None:
                versions = [v.name for v in spec.service(target).spec.versions]
                out.append(
                    codes.DANGLING_VERSION(
                        f"service {target} has no version '{b.version}'",
                        location=at(*bp, "version"),
                        path=dotted((*bp, "version")),
                        hint=("versions: " + ", ".join(versions))
                        if versions
                        else f"declare versions under {target}'s spec.versions",
                    )
                )
        if route.backends and total == 0:
            out.append(
                codes.BAD_WEIGHTS(
                    f"every backend of route '{route.name}' has weight 0",
                    location=at(*rp, "backends"),
                    path=dotted((*rp, "backends")),
                    hint="give at least one backend a positive weight",
                )
            )
        per_try = route.retries.per_try_timeout if route.retries else None
        timeout = DEFAULT_TIMEOUT if route.timeout is None else route.timeout
        if per_try and timeout and per_try > timeout:
            p = (*rp, "retries", "perTryTimeout")
            out.append(
                codes.RETRY_TIMEOUT(
                    f"per-try timeout of route '{route.name}' is longer than its timeout "
                    f"({format_duration(timeout)}): no retry can follow a per-try timeout",
                    location=at(*p),
                    path=dotted(p),
                    hint="make perTryTimeout shorter than timeout",
                )
            )

    if s.authorization:
        seen_rules: dict[object, str] = {}
        for ri, rule in enumerate(s.authorization.rules):
            rp = ("spec", "authorization", "rules", ri)
            for si, src in enumerate(rule.from_):
                for ref in src.services:
                    if spec.resolve(ref, ns) is None:
                        p = (*rp, "from", si, "services")
                        out.append(
                            codes.DANGLING_SERVICE(
                                f"authorization source service '{ref}' does not exist",
                                location=at(*p),
                                path=dotted(p),
                                hint=_known_services(spec),
                            )
                        )
            if rule.to:
                for pi, pm in enumerate(rule.to.paths):
                    out.extend(_check_path(pm, origin, (*rp, "to", "paths", pi)))
                for hi, h in enumerate(rule.to.headers):
                    out.extend(_check_string(h, origin, (*rp, "to", "headers", hi)))
            ident = (rule.action, rule.from_, rule.to)
            if ident in seen_rules:
                out.append(
                    codes.UNREACHABLE_AUTHZ_RULE(
                        f"rule '{rule.name}' repeats rule '{seen_rules[ident]}' and never decides",
                        location=at(*rp),
                        path=dotted(rp),
                        hint="remove the duplicate",
                    )
                )
            seen_rules.setdefault(ident, rule.name)
    return out


def _known_services(spec: Spec) -> str:
    names = list(spec.services)
    return ("services: " + ", ".join(names[:20])) if names else "no services are defined"


def _shadowed_matches(svc: ServiceDocument, key: str, origin: Origin) -> list[Diagnostic]:
    """Matches that never win: an earlier-ranked match with the same precedence
    rank accepts every request they accept (checked condition by condition,
    so a finding is always real; regexes only count when written identically)."""
    out: list[Diagnostic] = []
    ranked = ordered_candidates(svc)
    for j, later in enumerate(ranked):
        later_key = precedence_key(later.match, 0, 0)[:5]
        for earlier in ranked[:j]:
            if precedence_key(earlier.match, 0, 0)[:5] != later_key:
                continue
            if not covers(earlier.match, later.match):
                continue
            where: PathKey = ("spec", "routes", later.route_index)
            what = f"route '{later.route.name}'"
            if later.match_index is not None:
                where = (*where, "matches", later.match_index)
                what = f"match {later.match_index} of route '{later.route.name}'"
            winner = f"route '{earlier.route.name}'"
            if earlier.match_index is not None:
                winner = f"match {earlier.match_index} of route '{earlier.route.name}'"
            out.append(
                codes.SHADOWED_MATCH(
                    f"{what} can never be selected: {winner} ranks before it and "
                    "matches every request it matches",
                    location=origin.locate(where),
                    path=dotted(where),
                    hint="remove it, or make it more specific than the match that wins",
                )
            )
            break
    return out


def _path_of(match: RouteMatch | None) -> tuple[str, str]:
    if match is None or match.path is None:
        return ("prefix", "/")
    if match.path.prefix is not None:
        return ("prefix", match.path.prefix.rstrip("/") or "/")
    return (str(match.path.type), match.path.value)


def _implies(strong: HeaderMatch | QueryParamMatch, weak: HeaderMatch | QueryParamMatch) -> bool:
    """Every value `strong` accepts is accepted by `weak` (same name)."""
    if strong.name != weak.name:
        return False
    if weak.present:
        return True
    if strong.type != weak.type:
        exact = strong.exact
        prefix = getattr(weak, "prefix", None)
        return exact is not None and prefix is not None and exact.startswith(prefix)
    if isinstance(weak, HeaderMatch) and weak.prefix is not None:
        return strong.value.startswith(weak.prefix)
    return strong.value == weak.value


def covers(wide: RouteMatch | None, narrow: RouteMatch | None) -> bool:
    """Whether `wide` accepts every request `narrow` accepts (sound, not complete)."""
    if _path_of(wide) != _path_of(narrow):
        return False
    if wide is None:
        return True
    if wide.method is not None and (narrow is None or narrow.method != wide.method):
        return False
    narrow_headers = narrow.headers if narrow else ()
    narrow_query = narrow.query_params if narrow else ()
    return all(any(_implies(n, w) for n in narrow_headers) for w in wide.headers) and all(
        any(_implies(n, w) for n in narrow_query) for w in wide.query_params
    )


def _check_path(pm: PathMatch, origin: Origin, path: PathKey) -> list[Diagnostic]:
    if pm.regex is not None:
        why = check_regex(pm.regex)
        if why:
            p = (*path, "regex")
            return [
                codes.BAD_REGEX(
                    f"path regex {pm.regex!r} {why}",
                    location=origin.locate(p),
                    path=dotted(p),
                    hint="use RE2 syntax: no look-around, no back-references",
                )
            ]
        return []
    why = clean_path_problem(pm.value)
    if why:
        p = (*path, "exact" if pm.exact is not None else "prefix")
        return [
            codes.BAD_PATH(
                f"path {pm.value!r} {why}",
                location=origin.locate(p),
                path=dotted(p),
                hint="write the path as it looks after normalisation, e.g. '/api/v1'",
            )
        ]
    return []


def _check_string(
    m: HeaderMatch | QueryParamMatch, origin: Origin, path: PathKey
) -> list[Diagnostic]:
    if m.regex is None:
        return []
    why = check_regex(m.regex)
    if not why:
        return []
    p = (*path, "regex")
    return [
        codes.BAD_REGEX(
            f"regex {m.regex!r} for '{m.name}' {why}",
            location=origin.locate(p),
            path=dotted(p),
            hint="use RE2 syntax: no look-around, no back-references",
        )
    ]
