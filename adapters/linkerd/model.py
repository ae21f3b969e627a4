"""Linkerd 2.20's behaviour over its own resources, read from linkerd2-proxy, the policy
controller and the docs (each step cites its source; route ranking in
`_model_routes.py`, inbound policy in `_model_policy.py`).

A request from a meshed client goes through the client's proxy (outbound), then the
proxy of each backend pod (inbound); a client outside the mesh reaches the addressed
Service's pods directly, with no route, timeout or retry.

Outbound (linkerd.io `reference/httproute.md`, `reference/retries.md`,
`reference/timeouts.md`, `features/service-profiles.md`):
* a ServiceProfile for the Service's FQDN wins: its routes are tried in order, the
  first whose condition holds is used (linkerd2-proxy `linkerd/service-profiles/src/
  http.rs` `route_for_request`), with a 10 s default timeout; HTTPRoutes and retry and
  timeout annotations are then ignored;
* otherwise the HTTPRoutes with the Service as parent: producer routes, replaced for
  clients of the route's namespace by consumer routes; none: every endpoint of the
  Service, no timeout; some but no rule matches: 404 (linkerd2-proxy
  `linkerd/app/outbound/src/http/logical/policy/router.rs`, `NoRoute`);
* timeouts: `timeout.linkerd.io/request` on the route wins over the rule's
  `timeouts.request`; a route's timeout (or retry) annotations replace all of its
  Service's; `0s` or none: no timeout;
* retries: `retry.linkerd.io/*` of the route, else of the Service; the limit defaults to
  1; besides the listed statuses the proxy retries refused streams, unavailable
  backends and per-try timeouts, never resets or connection errors
  (linkerd2-proxy `linkerd/app/outbound/src/http/retry.rs` `retryable_error`).
Failure accrual: `balancer.linkerd.io/failure-accrual*` on each backend's Service.
Paths are matched as sent (the proxy does not normalise them); header lines are
matched one by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from adapters import _gamma as G
from adapters import _gamma_model as GM
from adapters.linkerd import _model_routes as MR
from adapters.linkerd import resources as R
from adapters.linkerd._model_policy import Client, InboundPolicy
from meshspec.adapter import Topology, Verdict, Workload
from meshspec.semantics import BreakerPolicy, Outcome, Request, RetryPolicy, Transport
from meshspec.spec import OutlierDetection, RetryOn

PROFILE_TIMEOUT = 10.0
DEFAULT_INBOUND_POLICY = "all-unauthenticated"


def _lines(headers: Mapping[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        values = [value] if isinstance(value, str) else list(value)
        out.setdefault(name.lower(), []).extend(v.strip(" \t") for v in values)
    return out


def _joined(lines: Mapping[str, Sequence[str]]) -> dict[str, str]:
    return {k: ",".join(v) for k, v in lines.items()}


def retry_policy(config: R.RetryConfig | None) -> RetryPolicy:
    if config is None or config.limit == 0:
        return RetryPolicy()
    retry_on = [RetryOn.REFUSED_STREAM]
    codes: list[int] = []
    for lo, hi in config.statuses:
        if (lo, hi) == (500, 599):
            retry_on.append(RetryOn.SERVER_ERROR)
        elif (lo, hi) == (502, 504):
            retry_on.append(RetryOn.GATEWAY_ERROR)
        else:
            codes += range(lo, hi + 1)
    order = list(RetryOn)
    return RetryPolicy(
        config.limit,
        config.timeout,
        tuple(sorted(set(retry_on), key=order.index)),
        tuple(sorted(set(codes))),
    )


class LinkerdModel:
    def __init__(
        self,
        resources: Sequence[Mapping[str, Any]],
        topology: Topology,
        proxy: str = MR.MAIN,
        default_inbound_policy: str = DEFAULT_INBOUND_POLICY,
    ) -> None:
        if proxy not in MR.PROXY_BEHAVIOURS:
            raise ValueError(f"proxy behaviour {proxy!r}: one of {', '.join(MR.PROXY_BEHAVIOURS)}")
        self.topology = topology
        self.proxy = proxy
        outbound = [r for r in resources if r.get("kind") == "HTTPRoute"]
        self.routes = [
            G.parse_route(r)
            for r in outbound
            if str(r.get("apiVersion", "")).startswith(f"{G.GROUP}/")
            or str(r.get("apiVersion", "")).startswith(f"{R.POLICY_GROUP}/")
        ]
        self.routes.sort(key=lambda r: (r.namespace, r.name))
        self.services = {
            (
                str(r["metadata"].get("namespace") or "default"),
                str(r["metadata"]["name"]),
            ): R.annotations_of(r)
            for r in resources
            if (r.get("apiVersion"), r.get("kind")) == ("v1", "Service")
        }
        self.profiles = {
            str(r["metadata"]["name"]): r for r in resources if r.get("kind") == "ServiceProfile"
        }
        self.inbound = InboundPolicy(resources, default_inbound_policy)

    # --- the request ------------------------------------------------------------

    def decide(self, request: Request) -> Verdict:
        reached = GM.address(self.topology, request)
        if isinstance(reached, Verdict):
            return reached
        source, client_ns, key = reached.source, reached.client_ns, reached.key
        workload, port = reached.workload, reached.port
        lines = _lines(request.headers)
        path, query = GM.split_target(request.target)
        client = self._client(source)
        if source is None:
            return self._inbound(
                client,
                {(key, None): 1.0},
                port,
                request.method,
                path,
                query,
                lines,
                None,
                None,
                RetryPolicy(),
                lines,
                meshed=False,
            )
        outbound = self._outbound(
            key, workload, port, client_ns, request.method, path, query, lines
        )
        if isinstance(outbound, Verdict):
            return outbound
        shares, route, timeout, retries, edited = outbound
        return self._inbound(
            client,
            shares,
            port,
            request.method,
            path,
            query,
            edited,
            route,
            timeout,
            retries,
            edited,
            meshed=True,
        )

    def _client(self, source: str | None) -> Client:
        if source is None:
            return Client(None, None, None)
        w = self.topology.workloads[source]
        td = self.topology.trust_domain
        return Client(
            R.identity(w.service_account, w.namespace, td),
            f"spiffe://{td}/ns/{w.namespace}/sa/{w.service_account}",
            (w.service_account, w.namespace, td),
        )

    # --- outbound ---------------------------------------------------------------

    def _outbound(
        self,
        key: str,
        workload: Workload,
        port: int,
        client_ns: str | None,
        method: str,
        path: str,
        query: str,
        lines: dict[str, list[str]],
    ) -> (
        Verdict
        | tuple[
            dict[tuple[str, str | None], float],
            str | None,
            float | None,
            RetryPolicy,
            dict[str, list[str]],
        ]
    ):
        fqdn = f"{workload.name}.{workload.namespace}.svc.cluster.local"
        profile = self.profiles.get(fqdn)
        if profile is not None:
            return self._profile(key, profile, method, path, lines)
        service_notes = self.services.get((workload.namespace, workload.name), {})
        svc_timeouts = R.TimeoutConfig.parse(service_notes)
        routes = GM.applicable(self.routes, workload, port, client_ns)
        if not routes:
            return (
                {(key, None): 1.0},
                None,
                None if svc_timeouts is None else (svc_timeouts.request or None),
                retry_policy(R.RetryConfig.parse(service_notes)),
                lines,
            )
        found = MR.best_rule(routes, method, path, query, lines, self.proxy)
        if found is None:
            return Verdict(Outcome.NO_ROUTE, 404)
        route, index, rule = found
        name = f"{route.key}#{index}"
        shares, _invalid = GM.shares(self.topology, rule)
        if not shares:
            return Verdict(Outcome.UNAVAILABLE, 500, route=name)
        route_timeouts = R.TimeoutConfig.parse(route.annotations)
        if route_timeouts is not None and route_timeouts.request is not None:
            timeout: float | None = route_timeouts.request
        elif rule.request_timeout is not None:
            timeout = rule.request_timeout
        elif route_timeouts is None and svc_timeouts is not None:
            timeout = svc_timeouts.request
        else:
            timeout = None
        retries = R.RetryConfig.parse(route.annotations)
        if retries is None:
            retries = R.RetryConfig.parse(service_notes)
        policy = retry_policy(retries)
        if policy.attempts and policy.per_try_timeout is None and rule.backend_timeout:
            policy = RetryPolicy(
                policy.attempts, rule.backend_timeout, policy.retry_on, policy.status_codes
            )
        edited = GM.edited(_joined(lines), rule.header_modifier)
        return shares, name, timeout or None, policy, {k: [v] for k, v in edited.items()}

    def _profile(
        self,
        key: str,
        profile: Mapping[str, Any],
        method: str,
        path: str,
        lines: dict[str, list[str]],
    ) -> (
        Verdict
        | tuple[
            dict[tuple[str, str | None], float],
            str | None,
            float | None,
            RetryPolicy,
            dict[str, list[str]],
        ]
    ):
        spec = profile.get("spec") or {}
        for route in spec.get("routes") or []:
            if _condition(route.get("condition") or {}, method, path):
                name = f"profile:{profile['metadata']['name']}#{route.get('name', '')}"
                text = route.get("timeout")
                timeout = PROFILE_TIMEOUT
                if text is not None:
                    from meshspec.durations import parse_duration

                    timeout = parse_duration(str(text))
                # `isRetryable`: failures (5xx unless responseClasses say otherwise) are
                # retried while the budget allows; a request alone gets one retry
                retries = (
                    RetryPolicy(1, None, (RetryOn.SERVER_ERROR,))
                    if route.get("isRetryable")
                    else RetryPolicy()
                )
                return {(key, None): 1.0}, name, timeout or None, retries, lines
        # no profile route matches: the default route, with the profile's defaults
        return {(key, None): 1.0}, None, PROFILE_TIMEOUT, RetryPolicy(), lines

    # --- inbound ----------------------------------------------------------------

    def _inbound(
        self,
        client: Client,
        shares: dict[tuple[str, str | None], float],
        port: int,
        method: str,
        path: str,
        query: str,
        lines: Mapping[str, Sequence[str]],
        route: str | None,
        timeout: float | None,
        retries: RetryPolicy,
        edited: Mapping[str, Sequence[str]],
        *,
        meshed: bool,
    ) -> Verdict:
        answers = []
        for (key, version), share in shares.items():
            if share <= 0:
                continue
            w = self.topology.workloads[key]
            labels = {"app": w.name, **(w.versions.get(version, {}) if version else {})}
            if version is None and w.versions:
                labels = {"app": w.name, **next(iter(w.versions.values()))}
            bport = port if dict(w.ports).get(port) else w.ports[0][0]
            target = w.workload_port(bport)
            names = {w.workload_port(p): f"{proto}-{p}" for p, proto in w.ports}
            answers.append(
                self.inbound.admit(
                    w.namespace,
                    labels,
                    target,
                    names,
                    client,
                    (method, path, query, lines),
                    self.proxy,
                )
            )
        first = answers[0] if answers else None
        # Linkerd has no mTLS mode (linkerd.io features/automatic-mtls): none is named
        mtls = None
        transport = Transport.MTLS if meshed else Transport.PLAINTEXT
        breakers = {k: self._breaker(k) for k in shares} if meshed else {}
        base = Verdict(
            Outcome.FORWARDED,
            None,
            route=route,
            backends=shares,
            mtls=mtls,
            transport=transport,
            timeout=timeout,
            retries=retries,
            breakers=breakers,
            headers=_joined(edited),
        )
        if answers and all(a.no_route for a in answers):
            return replace(base, outcome=Outcome.NO_ROUTE, status=404)
        allowed = [a for a in answers if a.allowed and not a.no_route]
        authz = "allow" if first is not None and first.allowed else "deny"
        rule = None if first is None else first.policy
        base = replace(base, authz=authz, authz_rule=rule)
        if not allowed:
            return replace(base, outcome=Outcome.DENIED, status=403)
        if len(allowed) < len(answers):
            return replace(base, outcome=Outcome.PARTIALLY_DENIED)
        return base

    def _breaker(self, key: tuple[str, str | None]) -> BreakerPolicy:
        w = self.topology.workloads[key[0]]
        name = w.name if key[1] is None else G.version_service_name(w.name, key[1])
        accrual = R.FailureAccrual.parse(self.services.get((w.namespace, name), {}))
        if accrual is None:
            return BreakerPolicy()
        return BreakerPolicy(
            OutlierDetection(
                consecutive_5xx_errors=accrual.max_failures,
                base_ejection_time=accrual.min_penalty,
            )
        )



def _condition(cond: Mapping[str, Any], method: str, path: str) -> bool:
    """A ServiceProfile route condition (linkerd.io `reference/service-profiles.md`):
    `pathRegex` (whole path), `method`, and `all`/`any`/`not` of conditions."""
    if "pathRegex" in cond:
        try:
            if re.fullmatch(str(cond["pathRegex"]), path) is None:
                return False
        except re.error:
            return False
    if "method" in cond and str(cond["method"]) != method:
        return False
    if "all" in cond and not all(_condition(c, method, path) for c in cond["all"] or []):
        return False
    if "any" in cond and not any(_condition(c, method, path) for c in cond["any"] or []):
        return False
    return not ("not" in cond and _condition(cond["not"] or {}, method, path))
