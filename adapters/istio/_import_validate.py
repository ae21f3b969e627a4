"""Istio objects the API server would refuse are reported, not imported.

What an imported object must satisfy, as Istio's CRD schemas
(`manifests/charts/base/files/crd-all.gen.yaml`: enums, `minProperties`, CEL
`x-kubernetes-validations`) and its validation webhook (istio/istio
`pkg/config/validation`) state it, for the fields the importer reads. An object
that fails never reached a cluster, so it has no meaning to keep: one error per
problem, with the file:line of the field, and the object is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adapters.istio._import_context import PathKey
from meshspec.durations import parse_duration

Problem = tuple[PathKey, str]

PEER_MODES = ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")
AUTHZ_ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")
CLIENT_TLS_MODES = ("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")
_SOURCE_LISTS = (
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "notNamespaces",
    "serviceAccounts",
    "notServiceAccounts",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "trustDomains",
    "notTrustDomains",
)
_OPERATION_LISTS = (
    "hosts",
    "notHosts",
    "ports",
    "notPorts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
)


def problems(kind: str, spec: Any) -> list[Problem]:
    """Why Istio would refuse an object of `kind` with this `spec` (empty: accepted)."""
    if not isinstance(spec, Mapping):
        return [(("spec",), "spec must be a mapping")]
    check = _CHECKS.get(kind)
    return [] if check is None else check(spec)


def _enum(value: Any, allowed: tuple[str, ...], path: PathKey) -> list[Problem]:
    if value is None or str(value) in allowed:
        return []
    return [(path, f"unsupported value {value!r}: one of {', '.join(allowed)}")]


def _mapping(value: Any, path: PathKey) -> list[Problem]:
    if value is None or isinstance(value, Mapping):
        return []
    return [(path, "must be a mapping")]


def _selector(selector: Any, path: PathKey) -> list[Problem]:
    """`type/v1beta1/selector.proto` CEL rules: no wildcards, no empty keys."""
    if selector is None:
        return []
    if not isinstance(selector, Mapping):
        return [(path, "must be a mapping")]
    labels = selector.get("matchLabels")
    if labels is None:
        return []
    if not isinstance(labels, Mapping):
        return [((*path, "matchLabels"), "must be a mapping of label names to values")]
    out: list[Problem] = []
    for key, value in labels.items():
        where = (*path, "matchLabels", str(key))
        if not str(key):
            out.append((where, "key must not be empty"))
        elif "*" in str(key):
            out.append((where, "wildcard not allowed in label key match"))
        if "*" in str(value):
            out.append((where, "wildcard not allowed in label value match"))
    return out


def port_number(key: Any) -> int | None:
    """A port given as a map key or number, as Istio parses it (uint32, 1-65535)."""
    text = str(key).strip()
    if isinstance(key, bool) or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= 65535 else None


def _peer_authentication(spec: Mapping[str, Any]) -> list[Problem]:
    out = _selector(spec.get("selector"), ("spec", "selector"))
    mtls = spec.get("mtls")
    out += _mapping(mtls, ("spec", "mtls"))
    if isinstance(mtls, Mapping):
        out += _enum(mtls.get("mode"), PEER_MODES, ("spec", "mtls", "mode"))
    ports = spec.get("portLevelMtls")
    if ports is None:
        return out
    if not isinstance(ports, Mapping):
        return [*out, (("spec", "portLevelMtls"), "must be a mapping of port to mode")]
    if not ports:
        out.append((("spec", "portLevelMtls"), "should have at least 1 properties"))
    selector = spec.get("selector")
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    if not labels:
        out.append((("spec", "portLevelMtls"), "portLevelMtls requires selector"))
    for key, setting in ports.items():
        where: PathKey = ("spec", "portLevelMtls", str(key))
        if not str(key).strip().isdigit():
            out.append((where, f"port {key!r} is not a number (type conversion error)"))
        elif port_number(key) is None:
            out.append((where, "port must be between 1-65535"))
        out += _mapping(setting, where)
        if isinstance(setting, Mapping):
            out += _enum(setting.get("mode"), PEER_MODES, (*where, "mode"))
    return out


def _string_list(value: Any, path: PathKey) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        return [(path, "must be a list of strings")]
    return []


def _authorization_policy(spec: Mapping[str, Any]) -> list[Problem]:
    out = _selector(spec.get("selector"), ("spec", "selector"))
    out += _enum(spec.get("action"), AUTHZ_ACTIONS, ("spec", "action"))
    has_target = spec.get("targetRef") is not None or spec.get("targetRefs") is not None
    if spec.get("selector") is not None and has_target:
        out.append((("spec",), "only one of targetRefs or selector can be set"))
    action = str(spec.get("action") or "ALLOW")
    if action == "CUSTOM" and not spec.get("provider"):
        out.append((("spec", "provider"), "CUSTOM action without provider"))
    if action != "CUSTOM" and spec.get("provider") is not None:
        out.append((("spec", "provider"), "provider is only allowed with the CUSTOM action"))
    rules = spec.get("rules")
    if rules is None:
        return out
    if not isinstance(rules, list):
        return [*out, (("spec", "rules"), "must be a list")]
    for ri, rule in enumerate(rules):
        at: PathKey = ("spec", "rules", ri)
        if rule is None:
            continue
        if not isinstance(rule, Mapping):
            out.append((at, "a rule must be a mapping"))
            continue
        out += _rule(rule, at, action)
    return out


def _rule(rule: Mapping[str, Any], at: PathKey, action: str) -> list[Problem]:
    out: list[Problem] = []
    for field, inner, names in (
        ("from", "source", _SOURCE_LISTS),
        ("to", "operation", _OPERATION_LISTS),
    ):
        entries = rule.get(field)
        if entries is None:
            continue
        if not isinstance(entries, list):
            out.append(((*at, field), "must be a list"))
            continue
        for i, entry in enumerate(entries):
            where: PathKey = (*at, field, i, inner)
            body = entry.get(inner) if isinstance(entry, Mapping) else None
            if not isinstance(body, Mapping):
                out.append(((*at, field, i), f"`{inner}` must be a mapping"))
                continue
            for name in body:
                if name not in names:
                    out.append(((*where, str(name)), f"unknown field `{name}`"))
                else:
                    out += _string_list(body[name], (*where, str(name)))
            accounts = body.get("serviceAccounts") or body.get("notServiceAccounts")
            others = ("principals", "notPrincipals", "namespaces", "notNamespaces")
            if inner == "source" and accounts and any(body.get(n) for n in others):
                out.append((where, "Cannot set serviceAccounts with namespaces or principals"))
            if inner == "operation" and action in ("ALLOW", "DENY"):
                for name in ("ports", "notPorts"):
                    for p in body.get(name) or []:
                        if port_number(p) is None:
                            out.append(((*where, name), f"port {p!r} must be between 1-65535"))
    conditions = rule.get("when")
    if conditions is not None:
        if not isinstance(conditions, list):
            return [*out, ((*at, "when"), "must be a list")]
        for i, cond in enumerate(conditions):
            where = (*at, "when", i)
            if not isinstance(cond, Mapping) or not cond.get("key"):
                out.append((where, "a condition needs a `key`"))
                continue
            if cond.get("values") is None and cond.get("notValues") is None:
                out.append((where, "a condition needs `values` or `notValues`"))
            out += _string_list(cond.get("values"), (*where, "values"))
            out += _string_list(cond.get("notValues"), (*where, "notValues"))
    return out


def _traffic_policy(policy: Any, path: PathKey) -> list[Problem]:
    if policy is None:
        return []
    if not isinstance(policy, Mapping):
        return [(path, "must be a mapping")]
    out: list[Problem] = []
    balancer = policy.get("loadBalancer")
    out += _mapping(balancer, (*path, "loadBalancer"))
    if isinstance(balancer, Mapping):
        out += _warmup(balancer.get("warmup"), (*path, "loadBalancer", "warmup"))
    tls = policy.get("tls")
    out += _mapping(tls, (*path, "tls"))
    if isinstance(tls, Mapping):
        out += _enum(tls.get("mode"), CLIENT_TLS_MODES, (*path, "tls", "mode"))
    settings = policy.get("portLevelSettings")
    if settings is not None and not isinstance(settings, list):
        return [*out, ((*path, "portLevelSettings"), "must be a list")]
    for i, setting in enumerate(settings or []):
        where: PathKey = (*path, "portLevelSettings", i)
        if not isinstance(setting, Mapping):
            out.append((where, "must be a mapping"))
            continue
        number = (
            (setting.get("port") or {}).get("number")
            if isinstance(setting.get("port"), Mapping)
            else None
        )
        if number is not None and port_number(number) is None:
            out.append(((*where, "port", "number"), "port must be between 1-65535"))
        out += _traffic_policy(
            {k: v for k, v in setting.items() if k in ("tls", "loadBalancer")}, where
        )
    return out


def _number_in(value: Any, low: float, high: float | None, path: PathKey) -> list[Problem]:
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [(path, "must be a number")]
    if value < low or (high is not None and value > high):
        bounds = f"{low}-{high}" if high is not None else f">= {low}"
        return [(path, f"Invalid value {value}: must be {bounds}")]
    return []


def _warmup(warmup: Any, path: PathKey) -> list[Problem]:
    """`LoadBalancerSettings.warmup`: `duration` required (at least 1ms), aggression
    at least 0, minimumPercent 0-100."""
    if warmup is None:
        return []
    if not isinstance(warmup, Mapping):
        return [(path, "must be a mapping")]
    out: list[Problem] = []
    if warmup.get("duration") is None:
        out.append(((*path, "duration"), "Required value"))
    else:
        try:
            if parse_duration(str(warmup["duration"])) < 0.001:
                out.append(((*path, "duration"), "must be a valid duration greater than 1ms"))
        except ValueError:
            out.append(((*path, "duration"), "must be a valid duration greater than 1ms"))
    out += _number_in(warmup.get("aggression"), 0, None, (*path, "aggression"))
    out += _number_in(warmup.get("minimumPercent"), 0, 100, (*path, "minimumPercent"))
    return out


def _destination_rule(spec: Mapping[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(spec.get("host"), str) or not spec.get("host"):
        out.append((("spec", "host"), "host is required"))
    out += _traffic_policy(spec.get("trafficPolicy"), ("spec", "trafficPolicy"))
    subsets = spec.get("subsets")
    if subsets is not None and not isinstance(subsets, list):
        return [*out, (("spec", "subsets"), "must be a list")]
    seen: set[str] = set()
    for i, subset in enumerate(subsets or []):
        where: PathKey = ("spec", "subsets", i)
        if not isinstance(subset, Mapping):
            out.append((where, "must be a mapping"))
            continue
        name = str(subset.get("name") or "")
        if not name:
            out.append(((*where, "name"), "subset name is required"))
        elif name in seen:
            out.append(((*where, "name"), f"duplicate subset name {name!r}"))
        seen.add(name)
        out += _mapping(subset.get("labels"), (*where, "labels"))
        out += _traffic_policy(subset.get("trafficPolicy"), (*where, "trafficPolicy"))
    return out


def _virtual_service(spec: Mapping[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    hosts = spec.get("hosts")
    if hosts is not None and (
        not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts)
    ):
        out.append((("spec", "hosts"), "must be a list of host names"))
    for name in ("http", "tcp", "tls", "gateways", "exportTo"):
        value = spec.get(name)
        if value is not None and not isinstance(value, list):
            out.append((("spec", name), "must be a list"))
    for ri, rule in enumerate(spec.get("http") or [] if isinstance(spec.get("http"), list) else []):
        at: PathKey = ("spec", "http", ri)
        if not isinstance(rule, Mapping):
            out.append((at, "an http rule must be a mapping"))
            continue
        for di, dest in enumerate(rule.get("route") or []):
            where: PathKey = (*at, "route", di)
            if not isinstance(dest, Mapping) or not isinstance(dest.get("destination"), Mapping):
                out.append((where, "a route needs a `destination`"))
                continue
            weight = dest.get("weight")
            if weight is not None and (
                isinstance(weight, bool) or not isinstance(weight, int) or weight < 0
            ):
                out.append(((*where, "weight"), "weight must be a non-negative integer"))
            port = dest["destination"].get("port")
            number = port.get("number") if isinstance(port, Mapping) else None
            if number is not None and port_number(number) is None:
                out.append(((*where, "destination", "port", "number"), "port must be 1-65535"))
        retries = rule.get("retries")
        if isinstance(retries, Mapping):
            attempts = retries.get("attempts")
            if attempts is not None and (
                isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0
            ):
                out.append(
                    ((*at, "retries", "attempts"), "attempts must be a non-negative integer")
                )
        elif retries is not None:
            out.append(((*at, "retries"), "must be a mapping"))
    return out


_CHECKS: dict[str, Callable[[Mapping[str, Any]], list[Problem]]] = {
    "PeerAuthentication": _peer_authentication,
    "AuthorizationPolicy": _authorization_policy,
    "DestinationRule": _destination_rule,
    "VirtualService": _virtual_service,
}
