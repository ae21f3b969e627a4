"""ECS services with Service Connect -> neutral spec.

Read: `create-service` / `update-service` input (`--cli-input-json`, or meshspec's
compiled output with its envelope keys), `describe-services` output (the PRIMARY
deployment's `serviceConnectConfiguration`; Service has none of its own, ECS API
reference `Deployment`), and `register-task-definition` input / `describe-task-definition`
output for the port mappings' `appProtocol` and container ports.

Each endpoint (`clientAliases[0].dnsName`, by default `discoveryName.namespace`) is a
neutral service: `name.ns` -> `ns/name`. Its ports are the aliases' ports; the
per-request timeout becomes one catch-all route (15 s, Service Connect's default, is
the neutral default and needs none); TLS becomes STRICT: a plaintext client is refused
as the model reads Service Connect TLS, so the import does not widen; the neutral STRICT
also checks the client, which Service Connect's one-way TLS does not (MS7010).
Service Connect has no routes, splits, retry settings or authorization, so nothing
else is written. Every field of `serviceConnectConfiguration`
is read through an allow-list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.ecs import codes as C
from adapters.ecs.names import API, ROUTE_TAG, SERVICE, TASK_DEFINITION, key_of_dns_name
from adapters.kit import ServiceDraft, documents, mesh_document, to_spec
from meshspec.adapter import ImportResult, NativeDocument
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec.bundle import PathKey

TARGET = "ecs-service-connect"
DEFAULT_PER_REQUEST = 15
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

KNOWN: Mapping[PathKey, frozenset[str]] = {
    ("serviceConnectConfiguration",): frozenset(
        {
            "enabled",
            "namespace",
            "services",
            "logConfiguration",
            "accessLogConfiguration",
            "containerConfigurations",
        }
    ),
    ("serviceConnectConfiguration", "services"): frozenset(
        {"portName", "discoveryName", "clientAliases", "ingressPortOverride", "timeout", "tls"}
    ),
    ("serviceConnectConfiguration", "services", "clientAliases"): frozenset(
        {"port", "dnsName", "testTrafficRules"}
    ),
    ("serviceConnectConfiguration", "services", "timeout"): frozenset(
        {"idleTimeoutSeconds", "perRequestTimeoutSeconds"}
    ),
    ("serviceConnectConfiguration", "services", "tls"): frozenset(
        {"issuerCertificateAuthority", "kmsKey", "roleArn"}
    ),
    ("serviceConnectConfiguration", "services", "tls", "issuerCertificateAuthority"): frozenset(
        {"awsPcaAuthorityArn"}
    ),
}
#: settings with no neutral meaning (logs, the proxy container, test traffic in
#: blue/green deployments, the proxy's own listening port): said once, not carried
_NOT_POLICY = frozenset(
    {
        "logConfiguration",
        "accessLogConfiguration",
        "containerConfigurations",
        "testTrafficRules",
        "ingressPortOverride",
    }
)


class _Reader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.drafts: dict[str, ServiceDraft] = {}
        self.namespaces: dict[str, NativeDocument] = {}
        #: service key -> port -> the task definition's port mapping name
        self.port_names: dict[str, dict[int, str]] = {}
        #: family -> port name -> (protocol, container port)
        self.port_mappings: dict[str, dict[str, tuple[str, int]]] = {}

    def report(
        self, code: Code, doc: NativeDocument, path: PathKey, message: str, hint: str = ""
    ) -> None:
        self.diagnostics.append(
            code(
                message,
                location=doc.origin.locate(path),
                path=".".join(str(p) for p in path),
                target=TARGET,
                hint=hint,
            )
        )


def import_services(docs: Sequence[NativeDocument]) -> ImportResult:
    reader = _Reader()
    services: list[tuple[NativeDocument, PathKey, Mapping[str, Any]]] = []
    for doc in docs:
        data = doc.data
        kind = data.get("kind")
        if kind == TASK_DEFINITION or "containerDefinitions" in data:
            _task_definition(reader, data)
        elif "taskDefinition" in data and isinstance(data["taskDefinition"], Mapping):
            _task_definition(reader, data["taskDefinition"])  # describe-task-definition
        elif kind == SERVICE or "serviceName" in data or "serviceConnectConfiguration" in data:
            services.append((doc, (), data))
        elif isinstance(data.get("services"), list):  # describe-services output
            for i, item in enumerate(data["services"]):
                if isinstance(item, Mapping):
                    services.append((doc, ("services", i), item))
        else:
            what = f"{data.get('apiVersion', '')} {kind or ''}".strip() or "this document"
            reader.report(
                C.NOT_A_SERVICE, doc, (), f"{what} is not an ECS service definition: skipped"
            )
    for doc, where, data in services:
        _service(reader, doc, where, data)
    if len(reader.namespaces) > 1:
        reader.report(
            C.SEVERAL_NAMESPACES,
            next(iter(reader.namespaces.values())),
            ("serviceConnectConfiguration", "namespace"),
            f"Service Connect namespaces {', '.join(sorted(reader.namespaces))}: a service "
            "reaches only the endpoints of its own namespace; the neutral spec lets every "
            "service call every other",
            "add authorization to keep the namespaces apart",
        )
    if not reader.drafts:
        reader.diagnostics.append(
            C.NOTHING(
                "no ECS service with Service Connect in the input",
                location=docs[0].origin.locate(()) if docs else None,
                target=TARGET,
            )
        )
        return ImportResult(None, reader.diagnostics, [])
    mesh = mesh_document("DISABLE")
    if len(reader.namespaces) == 1:
        only = next(iter(reader.namespaces))
        if _LABEL.match(only):
            mesh["metadata"]["name"] = only
    out = documents(mesh, reader.drafts.values())
    _name_ports(out, reader.port_names)
    spec, found = to_spec(out, f"<imported from {TARGET}>")
    return ImportResult(spec, [*reader.diagnostics, *found], out)


def _name_ports(docs: list[dict[str, Any]], names: Mapping[str, Mapping[int, str]]) -> None:
    """A port keeps its port mapping's name where it is a neutral port name and not the
    one the compiler would give it anyway (`<protocol>-<port>`)."""
    for doc in docs[1:]:
        meta = doc["metadata"]
        known = names.get(f"{meta.get('namespace', 'default')}/{meta['name']}", {})
        for port in (doc.get("spec") or {}).get("ports") or []:
            name = known.get(port["port"], "")
            if _LABEL.match(name) and name != f"{port['protocol']}-{port['port']}":
                port["name"] = name


def _task_definition(reader: _Reader, data: Mapping[str, Any]) -> None:
    family = str(data.get("family", ""))
    mappings: dict[str, tuple[str, int]] = {}
    for container in data.get("containerDefinitions") or []:
        for mapping in (container or {}).get("portMappings") or []:
            if isinstance(mapping, Mapping) and mapping.get("name"):
                protocol = str(mapping.get("appProtocol") or "tcp")
                port = mapping.get("containerPort")
                if isinstance(port, int):
                    mappings[str(mapping["name"])] = (protocol, port)
    reader.port_mappings[family] = mappings


def _configuration(data: Mapping[str, Any]) -> tuple[PathKey, Any]:
    """Where the service's configuration is: its own (create/update input), else its
    PRIMARY deployment's (describe-services output)."""
    if "serviceConnectConfiguration" in data:
        return ("serviceConnectConfiguration",), data["serviceConnectConfiguration"]
    deployments = data.get("deployments") or []
    for i, deployment in enumerate(deployments):
        primary = isinstance(deployment, Mapping) and deployment.get("status") == "PRIMARY"
        if primary and "serviceConnectConfiguration" in deployment:
            path = ("deployments", i, "serviceConnectConfiguration")
            return path, deployment["serviceConnectConfiguration"]
    return (), None


def _service(reader: _Reader, doc: NativeDocument, where: PathKey, data: Mapping[str, Any]) -> None:
    at, config = _configuration(data)
    name = str(data.get("serviceName", ""))
    if config is None:
        reader.report(
            C.NOT_ENABLED, doc, (*where, "serviceName"), f"ECS service {name!r}: no Service Connect"
        )
        return
    if not isinstance(config, Mapping):
        message = "serviceConnectConfiguration is not a mapping"
        reader.report(C.WRONG_TYPE, doc, (*where, *at), message)
        return
    _unknown(reader, doc, config, (*where, *at), ("serviceConnectConfiguration",))
    if config.get("enabled") is not True:
        reader.report(
            C.NOT_ENABLED, doc, (*where, *at, "enabled"), f"ECS service {name!r}: not enabled"
        )
        return
    namespace = str(config.get("namespace") or "default").rsplit("/", 1)[-1]
    reader.namespaces.setdefault(namespace, doc)
    family = str(data.get("taskDefinition") or "")
    family = family.rsplit("/", 1)[-1].split(":")[0]
    mappings = reader.port_mappings.get(family)
    route_name = next(
        (str(t.get("value")) for t in data.get("tags") or [] if t.get("key") == ROUTE_TAG), ""
    )
    entries = config.get("services") or []
    if not entries:  # a client service: a neutral service of its name, default port
        key = f"default/{name or 'client'}"
        _new_draft(reader, doc, where, key)
        return
    timeouts: dict[int, int] = {}
    draft: ServiceDraft | None = None
    for i, entry in enumerate(entries):
        path = (*where, *at, "services", i)
        if not isinstance(entry, Mapping):
            reader.report(C.WRONG_TYPE, doc, path, "a Service Connect service is a mapping")
            continue
        port_name = str(entry.get("portName", ""))
        aliases = [a for a in entry.get("clientAliases") or [] if isinstance(a, Mapping)]
        host = next((str(a["dnsName"]) for a in aliases if a.get("dnsName")), "")
        host = host or f"{entry.get('discoveryName') or port_name}.{namespace}"
        key = key_of_dns_name(host)
        if draft is None or draft.key != key:
            draft = _new_draft(reader, doc, path, key)
        for alias in aliases:
            port = alias.get("port")
            if not isinstance(port, int) or not 1 <= port <= 65535:
                reader.report(C.WRONG_TYPE, doc, (*path, "clientAliases"), f"port {port!r}")
                continue
            protocol, container = (mappings or {}).get(port_name, ("http", port))
            draft.ports[port] = "tcp" if protocol == "tcp" else protocol
            reader.port_names.setdefault(draft.key, {})[port] = port_name
            if container != port:
                draft.target_ports[port] = container
            timeout = entry.get("timeout") or {}
            if draft.ports[port] != "tcp":
                seconds = timeout.get("perRequestTimeoutSeconds", DEFAULT_PER_REQUEST)
                if isinstance(seconds, int) and seconds >= 0:
                    timeouts[port] = seconds
                else:
                    reader.report(C.WRONG_TYPE, doc, (*path, "timeout"), f"timeout {seconds!r}")
            if "idleTimeoutSeconds" in timeout:
                reader.report(
                    C.IDLE_TIMEOUT,
                    doc,
                    (*path, "timeout", "idleTimeoutSeconds"),
                    "the idle timeout is not carried",
                    "the neutral spec has request timeouts only",
                )
        if "tls" in entry:
            draft.mtls_mode = "STRICT"
            reader.report(
                C.TLS_ONE_WAY,
                doc,
                (*path, "tls"),
                "TLS checks the server's certificate only: the service is STRICT, which "
                "also checks the client's",
                "after the move a client needs the mesh's identity, not only TLS",
            )
    if draft is not None:
        _timeout_route(reader, doc, (*where, *at), draft, timeouts, route_name)


def _new_draft(reader: _Reader, doc: NativeDocument, path: PathKey, key: str) -> ServiceDraft:
    namespace, name = key.split("/")
    if key in reader.drafts:
        reader.report(C.DUPLICATE, doc, path, f"endpoint {name}.{namespace} given again")
    draft = ServiceDraft(namespace, name)
    draft.declared = True
    reader.drafts[key] = draft
    return draft


def _timeout_route(
    reader: _Reader,
    doc: NativeDocument,
    path: PathKey,
    draft: ServiceDraft,
    timeouts: dict[int, int],
    route_name: str,
) -> None:
    values = set(timeouts.values())
    if not values:
        return
    chosen = 0 if 0 in values else max(values)
    if len(values) > 1:
        reader.report(
            C.TIMEOUTS_PER_PORT,
            doc,
            (*path, "services"),
            f"per-request timeouts {sorted(values)} on different ports: the neutral route "
            f"takes {'none' if chosen == 0 else f'{chosen}s'}",
            "the neutral timeout belongs to a route, not to a port",
        )
    if chosen != DEFAULT_PER_REQUEST or route_name:
        draft.routes = [{"name": route_name or "service-connect", "timeout": f"{chosen}s"}]


def _unknown(
    reader: _Reader, doc: NativeDocument, value: Any, where: PathKey, shape: PathKey
) -> None:
    known = KNOWN.get(shape)
    if isinstance(value, Mapping) and known is not None:
        for field, inner in value.items():
            if field not in known:
                reader.report(
                    C.FIELD_DROPPED,
                    doc,
                    (*where, field),
                    f"field {field!r} is not Service Connect's: dropped",
                    "check the spelling against the ECS API reference",
                )
            elif field in _NOT_POLICY:
                reader.report(C.NOT_CARRIED, doc, (*where, field), f"{field} is not carried", "")
            else:
                _unknown(reader, doc, inner, (*where, field), (*shape, field))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _unknown(reader, doc, item, (*where, i), shape)


__all__ = ["API", "import_services"]
