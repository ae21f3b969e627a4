"""Consul's native resources: config entries, and the consul-k8s custom resources that carry them.

A config entry is what `consul config write` and `PUT /v1/config` read: PascalCase keys, `Kind`
and `Name` (consul `api/config_entry*.go`; reference pages under
developer.hashicorp.com/consul/docs/reference/config-entry). Inside meshspec an entry travels with
two envelope keys, `apiVersion: consul/config-entry` and `kind: <Kind>`, so every tool can sort
and name it like any other native resource; `config_entry()` strips them again for Consul.

consul-k8s CRDs (`consul.hashicorp.com/v1alpha1`) hold the same fields in lowerCamelCase under
`spec`, the entry's name in `metadata.name` (consul-k8s `control-plane/api/v1alpha1/*_types.go`;
the intentions' destination in `spec.destination.name`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from meshspec.adapter import Kind

CONFIG_API = "consul/config-entry"
CRD_API = "consul.hashicorp.com/v1alpha1"

PROXY_DEFAULTS = "proxy-defaults"
MESH = "mesh"
SERVICE_DEFAULTS = "service-defaults"
SERVICE_RESOLVER = "service-resolver"
SERVICE_SPLITTER = "service-splitter"
SERVICE_ROUTER = "service-router"
SERVICE_INTENTIONS = "service-intentions"

#: Apply order: the mesh entry before proxy-defaults (Consul refuses a permissive
#: `MutualTLSMode` until mesh `AllowEnablingPermissiveMutualTLS` is set), protocols before
#: the chain entries that need them, subsets before the splits that name them, splitters
#: before the routes that lead to them.
ENTRY_KINDS = (
    MESH,
    PROXY_DEFAULTS,
    SERVICE_DEFAULTS,
    SERVICE_RESOLVER,
    SERVICE_SPLITTER,
    SERVICE_ROUTER,
    SERVICE_INTENTIONS,
)
CRD_KINDS = {
    PROXY_DEFAULTS: "ProxyDefaults",
    MESH: "Mesh",
    SERVICE_DEFAULTS: "ServiceDefaults",
    SERVICE_RESOLVER: "ServiceResolver",
    SERVICE_SPLITTER: "ServiceSplitter",
    SERVICE_ROUTER: "ServiceRouter",
    SERVICE_INTENTIONS: "ServiceIntentions",
}
ENTRY_OF_CRD = {crd: entry for entry, crd in CRD_KINDS.items()}
#: The single mesh-wide entries and the names Consul requires for them.
GLOBAL_NAMES = {PROXY_DEFAULTS: "global", MESH: "mesh"}

CONFIG_KINDS = tuple(Kind(CONFIG_API, k) for k in ENTRY_KINDS)
K8S_KINDS = tuple(Kind(CRD_API, CRD_KINDS[k]) for k in ENTRY_KINDS)

#: Meta key prefix that records the neutral names of routes and permissions
#: (config entries carry `Meta`; consul-k8s resources carry annotations instead).
NAMES_META = "meshspec.io/names"
#: Meta key with the spec file and service an entry comes from.
SOURCE_META = "meshspec.io/source"


_META_KEY = re.compile(r"[^A-Za-z0-9_-]")


def meta_key(label: str) -> str:
    """The service meta key a version label is registered as: Consul allows only letters,
    digits, `-` and `_` in meta keys (consul `agent/structs` `validateMetaPair`), so every other
    character becomes `_` (`app.kubernetes.io/version` -> `app_kubernetes_io_version`)."""
    return _META_KEY.sub("_", label)


def entry(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    """An entry as meshspec carries it (envelope keys first, then Consul's fields)."""
    return {"apiVersion": CONFIG_API, "kind": kind, "Name": name, **fields}


def config_entry(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The entry exactly as Consul reads it: `Kind` first, no envelope."""
    out: dict[str, Any] = {"Kind": resource["kind"]}
    out.update((k, v) for k, v in resource.items() if k not in ("apiVersion", "kind"))
    if out["Kind"] == MESH:
        out.pop("Name", None)
    return out


#: snake_case keys whose PascalCase Consul does not derive word by word
_PASCAL_SPECIAL = {
    "http": "HTTP",
    "tls": "TLS",
    "jwt": "JWT",
    "mutual_tls_mode": "MutualTLSMode",
    "allow_enabling_permissive_mutual_tls": "AllowEnablingPermissiveMutualTLS",
    "sanitize_x_forwarded_client_cert": "SanitizeXForwardedClientCert",
}


@cache
def pascal(key: str) -> str:
    """`path_exact` -> `PathExact`, `name` -> `Name`: Consul reads config entries in either
    spelling (consul `lib/decode` `TranslateKeys` and the `alias` struct tags)."""
    if key in _PASCAL_SPECIAL:
        return _PASCAL_SPECIAL[key]
    if "_" not in key:
        return key[:1].upper() + key[1:]
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def pascal_keys(value: Any, data_map: bool = False) -> Any:
    """Every field name in PascalCase; the keys of data maps (subsets, meta, header edits,
    proxy `Config`) as written."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k) if data_map else pascal(str(k))
            out[key] = pascal_keys(v, key in _DATA_MAPS and not data_map)
        return out
    if isinstance(value, list):
        return [pascal_keys(v) for v in value]
    return value


def enveloped(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A config entry as read from a file or the HTTP API -> meshspec's form."""
    raw = pascal_keys(raw)
    fields = {k: v for k, v in raw.items() if k.lower() not in ("kind", "apiversion")}
    kind = str(raw.get("Kind", raw.get("kind", "")))
    if kind == MESH and "Name" not in fields:
        fields = {"Name": "mesh", **fields}
    return {"apiVersion": CONFIG_API, "kind": kind, **fields}


# --- consul-k8s ------------------------------------------------------------------------------

#: keys whose lowerCamel spelling consul-k8s does not derive by the general rule
_K8S_SPECIAL = {"HTTP": "http", "TLS": "tls", "JWT": "jwt", "MutualTLSMode": "mutualTLSMode"}
_ENTRY_SPECIAL = {v: k for k, v in _K8S_SPECIAL.items()}
#: maps whose keys are data (subset names, header names), not field names
_DATA_MAPS = {"Subsets", "Set", "Add", "Meta", "Config"}


@cache
def lower_camel(key: str) -> str:
    """`PathPrefix` -> `pathPrefix`, `HTTP` -> `http`, `MutualTLSMode` -> `mutualTLSMode`."""
    if key in _K8S_SPECIAL:
        return _K8S_SPECIAL[key]
    m = re.match(r"^([A-Z]+)([A-Z][a-z].*)$", key)
    if m:
        return m.group(1).lower() + m.group(2)
    return key[:1].lower() + key[1:]


@cache
def upper_camel(key: str) -> str:
    """The inverse of `lower_camel` for consul-k8s field names."""
    if key in _ENTRY_SPECIAL:
        return _ENTRY_SPECIAL[key]
    for upper in ("TLS", "HTTP", "JWT", "ACL", "TTL", "ID"):
        if key.lower().startswith(upper.lower()) and key[len(upper) : len(upper) + 1].isupper():
            return upper + key[len(upper) :]
    return key[:1].upper() + key[1:]


def _convert(value: Any, rename: Any, data_map: bool = False) -> Any:
    if isinstance(value, dict) or (not isinstance(value, list) and isinstance(value, Mapping)):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k) if data_map else rename(str(k))
            out[key] = _convert(v, rename, str(k) in _DATA_MAPS or key in _DATA_MAPS)
        return out
    if isinstance(value, list):
        return [_convert(v, rename) for v in value]
    return value


def to_crd(
    resource: Mapping[str, Any], namespace: str, annotations: Mapping[str, str]
) -> dict[str, Any]:
    """A config entry as the consul-k8s resource that makes consul-k8s write it."""
    kind = str(resource["kind"])
    fields = {k: v for k, v in resource.items() if k not in ("apiVersion", "kind", "Name", "Meta")}
    if kind == SERVICE_INTENTIONS:
        fields = {"Destination": {"Name": resource["Name"]}, **fields}
    spec = _convert(fields, lower_camel)
    meta: dict[str, Any] = {"name": str(resource["Name"])}
    if kind not in GLOBAL_NAMES:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return {"apiVersion": CRD_API, "kind": CRD_KINDS[kind], "metadata": meta, "spec": spec}


def from_crd(crd: Mapping[str, Any]) -> dict[str, Any]:
    """A consul-k8s resource -> the config entry consul-k8s writes for it (meshspec's form)."""
    kind = ENTRY_OF_CRD[str(crd["kind"])]
    meta = crd.get("metadata") or {}
    spec = crd.get("spec") or {}
    fields = _convert(spec, upper_camel) if isinstance(spec, Mapping) else {}
    name = str(meta.get("name", "")) if isinstance(meta, Mapping) else ""
    if kind == SERVICE_INTENTIONS:
        dest = fields.pop("Destination", None) or {}
        name = str(dest.get("Name", name)) if isinstance(dest, Mapping) else name
    out = entry(kind, name, **fields)
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if isinstance(annotations, Mapping):
        names = {
            str(k): str(v)
            for k, v in annotations.items()
            if str(k).startswith((NAMES_META, SOURCE_META))
        }
        if names:
            out["Meta"] = names
    return out
