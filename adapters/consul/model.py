"""The Consul model: what Consul 1.22 and its Envoy sidecars do with a request, read from
Consul's docs and source (each step's module cites them), over config entries.

A caller's sidecar routes on the target as sent (no normalisation outbound), walks the addressed
service's discovery chain (router, splitter, resolver; `_model_chain`), applies the route's
timeout, retries and header edits and the caller's upstream limits and passive health check
for the addressed service (service-defaults `UpstreamConfig`, keyed by the upstream the caller
addressed); each backend's sidecar accepts mTLS (plaintext only where a service is permissive
and transparent proxy is on), normalises the path (mesh `RequestNormalization`; 400 where it
refuses it) and applies the one intention that decides (`_model_intentions`).
A client outside the mesh has no sidecar: it reaches the service's own sidecar directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.consul._model_chain import (
    DEFAULT_TIMEOUT,
    Chain,
    Leg,
    Routed,
    retry_policy,
    route_timeout,
    seconds,
)
from adapters.consul._model_intentions import Authz, decide_intention
from adapters.consul._model_match import Lines, header_lines, http_holds, joined
from adapters.consul._model_paths import Normalisation, Target, as_sent, read_target
from adapters.consul._names import read_names
from adapters.consul.entries import CONFIG_API, ENTRY_OF_CRD, enveloped, from_crd, meta_key
from adapters.kit.envoy import OUTLIER_DEFAULTS
from meshspec.adapter import Topology, Verdict, Workload
from meshspec.durations import format_duration
from meshspec.semantics import BreakerPolicy, Outcome, Request, RetryPolicy, Transport
from meshspec.semantics.steps import BackendResult, host_parts, roll_up
from meshspec.spec import ConnectionLimits, MtlsMode, OutlierDetection

#: Envoy's outlier detection defaults, which Consul leaves in force when a caller sets no
#: passive health check (Envoy `config/cluster/v3/outlier_detection.proto`).
_ENVOY_OUTLIER = OutlierDetection.model_validate(
    {
        "consecutive5xxErrors": OUTLIER_DEFAULTS.consecutive_5xx,
        "interval": format_duration(OUTLIER_DEFAULTS.interval),
        "baseEjectionTime": format_duration(OUTLIER_DEFAULTS.base_ejection_time),
        "maxEjectionPercent": OUTLIER_DEFAULTS.max_ejection_percent,
    }
)


def as_entries(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Config entries in meshspec's form from entries (either form) or consul-k8s resources."""
    out = []
    for r in resources:
        if str(r.get("kind", "")) in ENTRY_OF_CRD:
            out.append(from_crd(r))
        elif r.get("apiVersion") == CONFIG_API:
            out.append(dict(r))
        else:
            out.append(enveloped(r))
    return out


def neutral_names(entries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Router routes `<service>#<i>` and intentions `<service>/<source>[#<i>]` -> neutral names."""
    out: dict[str, str] = {}
    for e in entries:
        names = read_names(e.get("Meta"))
        if e.get("kind") == "service-router":
            out.update({f"{e['Name']}#{k}": v for k, v in names.items()})
        elif e.get("kind") == "service-intentions":
            out.update({f"{e['Name']}/{k}": v for k, v in names.items()})
    return out


class ConsulModel:
    def __init__(
        self,
        entries: Sequence[Mapping[str, Any]],
        topology: Topology,
        *,
        default_allow: bool = True,
        transparent_proxy: bool = False,
    ) -> None:
        self.entries = {(str(e["kind"]), str(e.get("Name", ""))): e for e in entries}
        self.topology = topology
        self.default_allow = default_allow
        self.transparent_proxy = transparent_proxy
        self.chain = Chain(self.entries)
        self.normalisation = Normalisation.of(self.entries.get(("mesh", "mesh")))
        self.by_name: dict[str, Workload] = {}
        for w in sorted(topology.workloads.values(), key=lambda w: w.key):
            self.by_name.setdefault(w.name, w)

    # --- the request ------------------------------------------------------------------------
    def decide(self, request: Request) -> Verdict:
        dest = self._workload(request.destination)
        caller = None if request.source is None else self._workload(request.source)
        if dest is None:
            return Verdict(Outcome.UNKNOWN_SERVICE, None)
        ports = dict(dest.ports)
        if request.port is not None and request.port not in ports:
            return Verdict(Outcome.UNKNOWN_PORT, None)
        if self._protocol(dest.name) == "tcp":
            return Verdict(Outcome.NOT_HTTP, None)
        lines = header_lines(request.headers)
        if caller is None:
            # no sidecar on the client's side: no chain, no retries, no timeout
            routed = Routed(None, (Leg(dest.name, None, 1.0),), None, RetryPolicy(), {})
        else:
            sent = as_sent(request.target)
            if sent is None:
                return Verdict(Outcome.BAD_REQUEST, 400)
            routed = self._route(dest.name, request.method, sent, lines)
        return self._finish(request, dest, caller, routed, lines)

    def _workload(self, ref: str) -> Workload | None:
        """A service by `ns/name` or host name (Consul names services alone: one namespace)."""
        host = ref.lower().split(":")[0].rstrip(".")
        if "/" in host:
            ns, _, name = host.partition("/")
            w = self.by_name.get(name)
            return w if w is not None and w.namespace == ns else None
        parts = host_parts(host)
        w = None if parts is None else self.by_name.get(parts[0])
        if w is None or parts is None or parts[1] not in (None, w.namespace):
            return None
        return w

    def _protocol(self, name: str) -> str:
        defaults = self.entries.get(("service-defaults", name)) or {}
        if defaults.get("Protocol"):
            return str(defaults["Protocol"]).lower()
        config = (self.entries.get(("proxy-defaults", "global")) or {}).get("Config") or {}
        return str(config.get("protocol") or "tcp").lower()

    def _route(self, service: str, method: str, target: Target, lines: Lines) -> Routed:
        router = self.entries.get(("service-router", service))
        for i, route in enumerate((router or {}).get("Routes") or []):
            match = (route.get("Match") or {}).get("HTTP")
            if match is not None and not http_holds(match, method, target, lines):
                continue
            d = route.get("Destination") or {}
            to = str(d.get("Service") or service)
            subset = d.get("ServiceSubset") or None
            legs = self.chain.legs(to, None if subset is None else str(subset), 1.0)
            return Routed(
                f"{service}#{i}",
                tuple(legs),
                route_timeout(d),
                retry_policy(d),
                d.get("RequestHeaders") or {},
            )
        legs = self.chain.legs(service, None, 1.0)
        timeout = DEFAULT_TIMEOUT if router is not None else self.chain.first_timeout(service)
        return Routed(None, tuple(legs), timeout, RetryPolicy(), {})

    # --- the backends -----------------------------------------------------------------------
    def _finish(
        self,
        request: Request,
        dest: Workload,
        caller: Workload | None,
        routed: Routed,
        lines: Lines,
    ) -> Verdict:
        shares: dict[tuple[str, str | None], float] = {}
        breakers: dict[tuple[str, str | None], BreakerPolicy] = {}
        results: list[tuple[MtlsMode, Transport, Authz | None]] = []
        edited: dict[str, tuple[str, ...]] = {}
        for leg in routed.legs:
            if leg.weight <= 0:
                continue
            w = self.by_name.get(leg.service)
            version = None if w is None else self._version(w, leg.subset)
            if w is None or version is False:
                return Verdict(Outcome.UNAVAILABLE, 503, route=routed.route)
            key = (w.key, version if isinstance(version, str) else None)
            shares[key] = round(shares.get(key, 0.0) + leg.weight, 6)
            breakers.setdefault(key, self._breaker(caller, dest.name))
            edited = _edit(_edit(dict(lines), routed.headers), leg.headers)
            inbound = self._inbound(w, caller, request.method, request.target, edited)
            if inbound is None:
                return Verdict(Outcome.BAD_REQUEST, 400)
            results.append(inbound)
        mode, transport, authz = results[0]
        outcome, status = roll_up(
            [
                BackendResult(t is Transport.REFUSED, None if a is None else a.allowed)
                for _, t, a in results
            ]
        )
        return Verdict(
            outcome=outcome,
            status=status,
            route=routed.route,
            backends=shares,
            authz=None if authz is None else ("allow" if authz.allowed else "deny"),
            authz_rule=None if authz is None else authz.rule,
            mtls=mode,
            transport=transport,
            timeout=routed.timeout,
            retries=routed.retries,
            breakers=breakers,
            headers=joined(edited),
        )

    def _version(self, w: Workload, subset: str | None) -> str | bool | None:
        """The topology version a resolver subset selects (None: every instance; False: none)."""
        if subset is None:
            return None
        res = self.chain.resolver(w.name) or {}
        spec = (res.get("Subsets") or {}).get(subset)
        if not isinstance(spec, Mapping):
            return False
        # instances carry their version labels as service meta (`meta_key`)
        chosen = [
            v
            for v, labels in w.versions.items()
            if _filter_holds(
                str(spec.get("Filter", "")), {meta_key(k): x for k, x in labels.items()}
            )
        ]
        if len(chosen) == 1:
            return chosen[0]
        if len(chosen) == len(w.versions) and chosen:
            return None
        return False if not chosen else chosen[0]

    def _mode(self, name: str) -> MtlsMode:
        mode = (self.entries.get(("service-defaults", name)) or {}).get("MutualTLSMode") or (
            self.entries.get(("proxy-defaults", "global")) or {}
        ).get("MutualTLSMode")
        permissive = str(mode or "").lower() == "permissive"
        allowed = bool(
            (self.entries.get(("mesh", "mesh")) or {}).get("AllowEnablingPermissiveMutualTLS")
        )
        if permissive and allowed and self.transparent_proxy:
            return MtlsMode.PERMISSIVE
        return MtlsMode.STRICT

    def _inbound(
        self, w: Workload, caller: Workload | None, method: str, raw: str, lines: Lines
    ) -> tuple[MtlsMode, Transport, Authz | None] | None:
        """What the backend's sidecar does: None where it answers 400."""
        mode = self._mode(w.name)
        if caller is None:
            if mode is MtlsMode.STRICT:
                return mode, Transport.REFUSED, None
            # the permissive filter chain is a plain TCP proxy to the application: no HTTP
            # handling, no normalisation, no intentions (consul `agent/xds/listeners.go`,
            # `makePermissiveFilterChain`)
            return mode, Transport.PLAINTEXT, Authz(True, None)
        target = read_target(raw, self.normalisation)
        if target is None:
            return None
        authz = decide_intention(
            self.entries, w.name, caller.name, method, target, lines, self.default_allow
        )
        return mode, Transport.MTLS, authz

    def _breaker(self, caller: Workload | None, upstream: str) -> BreakerPolicy:
        """The caller's upstream config for the service it addressed."""
        if caller is None:
            return BreakerPolicy()
        return self.breaker_for(caller.name, upstream)

    def breaker_for(self, caller: str, upstream: str) -> BreakerPolicy:
        """What `caller`'s sidecar applies to the upstream it addresses as `upstream`:
        on every cluster of that upstream's discovery chain alike, a resolver subset's
        included (consul `agent/xds/clusters.go`, `makeUpstreamClustersForDiscoveryChain`
        gives each resolver target's cluster the upstream config's `PassiveHealthCheck`
        and `Limits`), whichever version the route picked. The override for the upstream
        is merged over `Defaults` field by field, a field the override leaves out keeping
        the defaults' value (consul `agent/configentry/resolve.go`,
        `ComputeResolvedServiceConfig`, and `UpstreamConfig.MergeInto`, which copies only
        the fields an entry sets)."""
        defaults = self.entries.get(("service-defaults", caller)) or {}
        upstream_config = defaults.get("UpstreamConfig") or {}
        chosen = dict(upstream_config.get("Defaults") or {})
        for o in upstream_config.get("Overrides") or []:
            if str(o.get("Name", "")) == upstream:
                chosen.update((k, v) for k, v in o.items() if v is not None)
        return BreakerPolicy(
            _outlier(chosen.get("PassiveHealthCheck")), _limits(chosen.get("Limits"))
        )


def _outlier(check: Any) -> OutlierDetection | None:
    if not isinstance(check, Mapping):
        return _ENVOY_OUTLIER
    enforcing = check.get("EnforcingConsecutive5xx")
    if enforcing is not None and int(enforcing) == 0:
        return None
    return OutlierDetection.model_validate(
        {
            "consecutive5xxErrors": int(
                check.get("MaxFailures") or OUTLIER_DEFAULTS.consecutive_5xx
            ),
            "interval": _text(check.get("Interval"), OUTLIER_DEFAULTS.interval),
            "baseEjectionTime": _text(
                check.get("BaseEjectionTime"), OUTLIER_DEFAULTS.base_ejection_time
            ),
            "maxEjectionPercent": int(
                check.get("MaxEjectionPercent") or OUTLIER_DEFAULTS.max_ejection_percent
            ),
        }
    )


def _text(value: Any, default: float) -> str:
    return format_duration(seconds(value) if value else default)


def _limits(limits: Any) -> ConnectionLimits | None:
    if not isinstance(limits, Mapping):
        return None
    conns = limits.get("MaxConnections") or None
    pending = limits.get("MaxPendingRequests") or None
    if conns is None and pending is None:
        return None
    return ConnectionLimits.model_validate({"maxConnections": conns, "maxPendingRequests": pending})


def _filter_holds(expr: str, labels: Mapping[str, str]) -> bool:
    """`Service.Meta.k == "v" and ...` (the filters this adapter writes and the common ones)."""
    import re

    clauses = [c.strip() for c in re.split(r"\band\b", expr) if c.strip()]
    for clause in clauses:
        m = re.fullmatch(
            r'Service\.Meta(?:\.([A-Za-z0-9_]+)|\["([^"]+)"\])\s*(==|!=)\s*"?([^"]*)"?', clause
        )
        if m is None:
            return False
        key = m.group(1) or m.group(2)
        same = labels.get(key) == m.group(4)
        if same != (m.group(3) == "=="):
            return False
    return bool(clauses)


def _edit(lines: Mapping[str, tuple[str, ...]], edits: Any) -> dict[str, tuple[str, ...]]:
    """Envoy's request header edits: removals first, then set (replace), then add (append)."""
    out = dict(lines)
    if not isinstance(edits, Mapping) or not edits:
        return out
    for name in edits.get("Remove") or []:
        out.pop(str(name).lower(), None)
    for name, value in (edits.get("Set") or {}).items():
        out[str(name).lower()] = (str(value),)
    for name, value in (edits.get("Add") or {}).items():
        out[str(name).lower()] = (*out.get(str(name).lower(), ()), str(value))
    return out
