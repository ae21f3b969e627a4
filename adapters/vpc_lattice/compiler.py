"""Neutral spec -> the AWS Gateway API controller's objects for VPC Lattice (v2.1.3).

Each HTTP port of a service becomes a VPC Lattice service: an HTTPRoute named after the
service (`<service>-<port>` when it has several HTTP ports) on the Gateway listener of
that port, the Gateway standing for the service network. Listener rules are first-match
by priority, and the controller gives rule `i` priority `i + 1` (aws-application-
networking-k8s `pkg/gateway/model_build_rule.go`, `buildRules`), taking one match per
rule and at most 100 rules (`MaxRulePriority`); so each neutral match becomes its own
rule, sorted most specific first (the spec's precedence), which makes Lattice's first
match the spec's most specific one. A segment prefix `/a` becomes the rules Exact `/a`
and PathPrefix `/a/`, right whether Lattice's prefix is read by segment or by string.

Lattice matches paths (exact, prefix), one method and up to five exact headers, nothing
else; it has no retries, no per-route timeout, no header edits, no outlier detection:
each is a diagnostic. Versions are Services of their own (`<service>-<version>`),
shared with the gateway-api target. Authorization becomes an IAMAuthPolicy on the route
(`_iam.py`); gRPC ports a TargetGroupPolicy for HTTP/2 (the controller assumes HTTP/1,
`docs/api-types/target-group-policy.md`).
"""

from __future__ import annotations

from typing import Any

from adapters import _gamma as G
from adapters._k8s import metadata, source_of
from adapters.kit import CompileContext
from adapters.vpc_lattice import _iam
from adapters.vpc_lattice import codes as C
from adapters.vpc_lattice import resources as R
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.semantics.mtls import port_mode
from meshspec.semantics.routing import precedence_key
from meshspec.spec import MtlsMode, Protocol, RouteMatch, Spec
from meshspec.spec.bundle import PathKey

TARGET = "vpc-lattice"
MAX_RULES = 100
MAX_HEADERS = 5
MAX_WEIGHT = 999


class _Compiler:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.ctx = CompileContext(spec, TARGET)

    def report(self, code: Code, key: str, path: PathKey, message: str, hint: str = "") -> None:
        self.ctx.report(code, key, path, message, hint)

    def run(self) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
        routes: list[dict[str, Any]] = []
        target_policies: list[dict[str, Any]] = []
        auth_policies: list[dict[str, Any]] = []
        ports: list[int] = []
        timeouts_lost = False
        for key, svc in self.spec.services.items():
            self._mtls(key)
            self._resilience(key)
            http = G.http_ports(svc.spec.ports)
            if len(http) < len(svc.spec.ports):
                self.report(
                    C.TCP_PORT,
                    key,
                    ("spec", "ports"),
                    "TCP ports are not written: VPC Lattice carries them only as TLS passthrough",
                    "reach TCP ports directly, or with a TLSRoute of your own",
                )
            written = []
            for port in http:
                route = self._route(key, port.port, len(http) > 1)
                routes.append(route)
                written.append(route)
                ports.append(port.port)
            timeouts_lost |= bool(http)
            target_policies += self._target_group_policies(key)
            if svc.spec.authorization is not None and written:
                auth_policies += self._auth_policies(key, written)
        if timeouts_lost:
            self.report(
                C.TIMEOUT_LOST,
                "mesh",
                (),
                "the spec's 15s default request timeout is not kept: the controller does "
                "not read HTTPRoute timeouts",
                "bound requests in the clients",
            )
        self._unique_names(routes)
        gateway = [R.gateway(self.spec, ports)] if ports else []
        out = [*G.version_services(self.spec), *gateway, *routes]
        # a service's route findings are found once per HTTP port: each is said once
        seen: set[str] = set()
        findings = []
        for d in self.ctx.diagnostics:
            if d.render() not in seen:
                seen.add(d.render())
                findings.append(d)
        return [*out, *target_policies, *auth_policies], findings

    def _unique_names(self, routes: list[dict[str, Any]]) -> None:
        """Routes whose default VPC Lattice service names collide (the controller cuts
        names short) get a name of their own, but the first of each name."""
        taken: set[str] = set()
        for route in routes:
            meta = route["metadata"]
            name = R.service_name(meta["name"], meta["namespace"])
            if name not in taken:
                taken.add(name)
                continue
            unique = R.unique_service_name(meta["name"], meta["namespace"])
            meta["annotations"] = dict(
                sorted({**meta["annotations"], R.NAME_OVERRIDE_ANNOTATION: unique}.items())
            )
            taken.add(unique)
            self.ctx.diagnostics.append(
                C.NAME_OVERRIDE(
                    f"HTTPRoute {meta['namespace']}/{meta['name']} would be the VPC Lattice "
                    f"service {name}, as another route is: named {unique}",
                    target=TARGET,
                    hint="shorter service and namespace names keep the default names",
                )
            )

    # --- security -----------------------------------------------------------------

    def _mtls(self, key: str) -> None:
        svc = self.spec.service(key)
        modes = {port_mode(self.spec, key, p.port) for p in svc.spec.ports}
        lost = sorted(str(m) for m in modes if m is not MtlsMode.DISABLE)
        if lost:
            path: PathKey = ("spec", "mtls") if svc.spec.mtls is not None else ()
            self.report(
                C.MTLS_LOST,
                key,
                path,
                f"mTLS {', '.join(lost)} is not kept: VPC Lattice has no mutual TLS between "
                "workloads, and a client that reaches the pods directly is let in unchecked",
                "restrict direct pod traffic (security groups allowing only the VPC Lattice "
                "prefix list), or accept with --allow-lossy mtls",
            )
        self._no_peer(key, modes)
        if svc.spec.authorization is not None and modes != {MtlsMode.STRICT}:
            self.report(
                C.AUTHZ_DIRECT,
                key,
                ("spec", "authorization"),
                "a client that reaches the pods directly is not checked: IAM auth applies to "
                "traffic through the service network only",
                "restrict direct pod traffic, or accept with --allow-lossy authz",
            )

    def _no_peer(self, key: str, modes: set[MtlsMode]) -> None:
        authz = self.spec.service(key).spec.authorization
        if authz is None or MtlsMode.DISABLE not in modes:
            return
        for i, rule in enumerate(authz.rules):
            if rule.from_:
                self.report(
                    C.AUTHZ_NO_PEER,
                    key,
                    ("spec", "authorization", "rules", i, "from"),
                    f"rule {rule.name}: without mTLS the spec names no peer, so its sources "
                    "match no mesh client (or every one, for unauthenticated); VPC Lattice "
                    "names every signed caller by its IAM role",
                    "require mTLS in the spec, or accept with --allow-lossy authz",
                )

    def _auth_policies(self, key: str, routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def lost(path: PathKey, why: str, identity: bool) -> None:
            code = C.AUTHZ_IDENTITY if identity else C.AUTHZ_L7
            self.report(
                code,
                key,
                path,
                f"{why}: IAM auth policies here say principals only",
                "compile for a mesh with L7 authorization, or accept with --allow-lossy authz",
            )

        document, names = _iam.policy(self.spec, key, lost)
        self.report(
            C.SIGV4_REQUIRED,
            key,
            ("spec", "authorization"),
            "clients must sign requests with SigV4, as the IAM role EKS Pod Identity gives "
            "their service account",
            "associate a Pod Identity role with each client service account",
        )
        text = _iam.policy_text(document)
        rules = ",".join(f"{sid}={name}" for sid, name in names.items())
        out = []
        for route in routes:
            meta = route["metadata"]
            out.append(
                {
                    "apiVersion": R.POLICY_API,
                    "kind": "IAMAuthPolicy",
                    "metadata": metadata(
                        meta["name"],
                        meta["namespace"],
                        source_of(self.spec, key, ("spec", "authorization")),
                        **{R.RULES_ANNOTATION: rules},
                    ),
                    "spec": {
                        "targetRef": {
                            "group": "gateway.networking.k8s.io",
                            "kind": "HTTPRoute",
                            "name": meta["name"],
                        },
                        "policy": text,
                    },
                }
            )
        return out

    # --- traffic ------------------------------------------------------------------

    def _resilience(self, key: str) -> None:
        svc = self.spec.service(key)
        if svc.spec.resilience is not None or any(v.resilience for v in svc.spec.versions):
            self.report(
                C.RESILIENCE_LOST,
                key,
                ("spec", "resilience"),
                "outlier detection and connection limits are left out",
                "a TargetGroupPolicy health check is an active check, not outlier detection",
            )

    def _route(self, key: str, port: int, several: bool) -> dict[str, Any]:
        svc = self.spec.service(key)
        name = G.route_name_of(svc.metadata.name, port, several)
        rules: list[tuple[str, dict[str, Any]]] = []
        if not svc.spec.routes:
            rules = [("", self._rule([{"path": {"type": "PathPrefix", "value": "/"}}], key, port))]
        else:
            rules = self._ordered_rules(key, port)
        if len(rules) > MAX_RULES:
            self.report(
                C.TOO_MANY_RULES,
                key,
                ("spec", "routes"),
                f"{len(rules)} listener rules needed; the least specific beyond {MAX_RULES} "
                "are left out",
                "split the service's routes over fewer matches",
            )
            rules = rules[:MAX_RULES]
        return {
            "apiVersion": R.GATEWAY_API,
            "kind": "HTTPRoute",
            "metadata": metadata(
                name,
                svc.metadata.namespace,
                source_of(self.spec, key),
                **{G.ROUTES_ANNOTATION: ",".join(n for n, _ in rules)},
            ),
            "spec": {
                "parentRefs": [R.parent_ref(self.spec, port)],
                "rules": [r for _, r in rules],
            },
        }

    def _ordered_rules(self, key: str, port: int) -> list[tuple[str, dict[str, Any]]]:
        svc = self.spec.service(key)
        entries: list[tuple[tuple[int, ...], str, list[dict[str, Any]], int]] = []
        for i, route in enumerate(svc.spec.routes):
            base: PathKey = ("spec", "routes", i)
            self._route_losses(key, i)
            matches: list[RouteMatch | None] = list(route.matches) or [None]
            kept = 0
            for j, m in enumerate(matches):
                native = self._matches(key, (*base, "matches", j), m)
                if native is None:
                    continue
                kept += 1
                entries.append((precedence_key(m, i, j), route.name, native, i))
            if kept == 0:
                self.report(
                    C.ROUTE_UNREACHABLE,
                    key,
                    base,
                    f"route {route.name} is not written: none of its matches has a VPC "
                    "Lattice form",
                    "rewrite its matches with paths, one method and exact headers",
                )
        entries.sort(key=lambda e: e[0])
        out = []
        for _, name, native, i in entries:
            for match in native:
                out.append((name, self._rule([match], key, port, i)))
        return out

    def _route_losses(self, key: str, i: int) -> None:
        route = self.spec.service(key).spec.routes[i]
        base: PathKey = ("spec", "routes", i)
        if route.retries is not None and route.retries.attempts:
            self.report(
                C.RETRIES_LOST,
                key,
                (*base, "retries"),
                f"route {route.name}: retries left out (VPC Lattice does not retry)",
                "retry in the clients",
            )
        if route.timeout is not None and route.timeout > 0:
            self.report(
                C.TIMEOUT_LOST,
                key,
                (*base, "timeout"),
                f"route {route.name}: its request timeout is left out",
                "bound requests in the clients",
            )
        svc = self.spec.service(key)
        for b in route.backends:
            other = (
                None if b.service is None else self.spec.resolve(b.service, svc.metadata.namespace)
            )
            if other is not None and other != key and self.spec.service(other).spec.authorization:
                self.report(
                    C.AUTHZ_BACKEND,
                    key,
                    (*base, "backends"),
                    f"route {route.name} sends requests to {other}, whose authorization VPC "
                    "Lattice does not check on this path (only the addressed service's policy)",
                    "address that service directly, or accept with --allow-lossy authz",
                )
        edits = route.request_headers
        if edits is not None and (edits.set or edits.add or edits.remove):
            self.report(
                C.HEADER_EDITS_LOST,
                key,
                (*base, "requestHeaders"),
                f"route {route.name}: request header edits left out (the controller writes "
                "no HTTPRoute filters to VPC Lattice)",
                "edit the headers in the clients or the backends",
            )

    def _matches(
        self, key: str, path: PathKey, m: RouteMatch | None
    ) -> list[dict[str, Any]] | None:
        """The Lattice matches of one neutral match (one rule each); None: no form."""

        def lose(why: str) -> None:
            self.report(C.MATCH_LOST, key, path, f"match left out: {why}", _MATCH_HINT)

        if m is None:
            return [{"path": {"type": "PathPrefix", "value": "/"}}]
        if m.path is not None and m.path.regex is not None:
            lose("VPC Lattice has no regex path match")
            return None
        if m.query_params:
            lose("VPC Lattice has no query parameter match")
            return None
        if len(m.headers) > MAX_HEADERS:
            lose(f"more than {MAX_HEADERS} header matches")
            return None
        headers = []
        for h in m.headers:
            if h.exact is None:
                lose(f"header {h.name}: VPC Lattice matches header values exactly only")
                return None
            headers.append({"type": "Exact", "name": h.name, "value": h.exact})
        if headers and any(h["value"].lower() != h["value"].upper() for h in headers):
            self.report(
                C.HEADER_CASE,
                key,
                path,
                "VPC Lattice compares header values case-insensitively: other cases match too",
                "match values without letters, or accept the wider match",
            )
        paths: list[dict[str, Any]]
        if m.path is None:
            paths = [{"type": "PathPrefix", "value": "/"}]
        elif m.path.exact is not None:
            paths = [{"type": "Exact", "value": m.path.exact}]
        else:
            prefix = (m.path.prefix or "/").rstrip("/")
            if not prefix:
                paths = [{"type": "PathPrefix", "value": "/"}]
            else:
                paths = [
                    {"type": "Exact", "value": prefix},
                    {"type": "PathPrefix", "value": prefix + "/"},
                ]
        out = []
        for p in paths:
            match: dict[str, Any] = {"path": p}
            if headers:
                match["headers"] = headers
            if m.method is not None:
                match["method"] = str(m.method)
            out.append(match)
        return out

    def _rule(
        self, matches: list[dict[str, Any]], key: str, port: int, index: int | None = None
    ) -> dict[str, Any]:
        backends = () if index is None else self.spec.service(key).spec.routes[index].backends
        refs = G.backend_refs(self.spec, key, port, backends)
        top = max((r["weight"] for r in refs), default=0)
        if top > MAX_WEIGHT:
            assert index is not None
            self.report(
                C.WEIGHTS_SCALED,
                key,
                ("spec", "routes", index, "backends"),
                f"weights scaled by {MAX_WEIGHT}/{top} (VPC Lattice weights are 0-999)",
                "use weights up to 999 to keep the split exact",
            )
            for r in refs:
                r["weight"] = round(r["weight"] * MAX_WEIGHT / top)
        return {"matches": matches, "backendRefs": refs}

    def _target_group_policies(self, key: str) -> list[dict[str, Any]]:
        """HTTP/2 for the Services of a service whose HTTP ports speak gRPC."""
        svc = self.spec.service(key)
        http = G.http_ports(svc.spec.ports)
        two = [p for p in http if p.protocol is Protocol.GRPC]
        if not two:
            return []
        if len(two) < len(http):
            self.report(
                C.PROTOCOL_MIXED,
                key,
                ("spec", "ports"),
                "HTTP/1 and HTTP/2 ports share one Service: its target groups use HTTP/1",
                "put HTTP/2 ports in a service of their own",
            )
            return []
        names = [svc.metadata.name] + [
            G.version_service_name(svc.metadata.name, v.name) for v in svc.spec.versions
        ]
        return [
            {
                "apiVersion": R.POLICY_API,
                "kind": "TargetGroupPolicy",
                "metadata": metadata(
                    name, svc.metadata.namespace, source_of(self.spec, key, ("spec", "ports"))
                ),
                "spec": {
                    "targetRef": {"group": "", "kind": "Service", "name": name},
                    "protocol": "HTTP",
                    "protocolVersion": "HTTP2",
                },
            }
            for name in names
        ]


_MATCH_HINT = "VPC Lattice matches exact and prefix paths, one method and up to 5 exact headers"


def compile_vpc_lattice(spec: Spec) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    return _Compiler(spec).run()
