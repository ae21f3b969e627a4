"""What the importer collects while it reads: services found so far and findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshspec.adapter import NativeDocument
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic, Severity

PathKey = tuple[str | int, ...]


@dataclass
class ServiceDraft:
    namespace: str
    name: str
    ports: dict[int, str] = field(default_factory=dict)
    #: Service port -> workload (container) port, from Kubernetes Services' targetPort
    #: (Istio's portLevelMtls and AuthorizationPolicy `ports` name the latter)
    target_ports: dict[int, int] = field(default_factory=dict)
    #: ports come from a Kubernetes Service, not from guesses
    declared: bool = False
    #: the Kubernetes Service's pod selector (None: no Service, pods carry `app: <name>`)
    selector: dict[str, str] | None = None
    #: named `targetPort`s of the Kubernetes Service: Service port -> container port name
    named_target_ports: dict[int, str] = field(default_factory=dict)
    #: the Kubernetes Service object, when the input has one
    source_doc: Any = None
    #: the workloads (pod templates) behind the service
    pods: list[Any] = field(default_factory=list)
    #: the service account the imported spec says (None: not known, assumed)
    service_account: str | None = None
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    version_resilience: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: list[dict[str, Any]] | None = None
    mtls: dict[str, Any] = field(default_factory=dict)
    authz_rules: list[dict[str, Any]] = field(default_factory=list)
    authz_default_deny: bool = False
    has_authz: bool = False
    resilience: dict[str, Any] = field(default_factory=dict)
    #: mTLS modes by scope: "namespace" / "workload"; per-port overrides.
    mtls_namespace: str | None = None
    mtls_workload: str | None = None
    mtls_ports: dict[int, str] = field(default_factory=dict)
    #: modes of PeerAuthentications that select only some pods (one version)
    mtls_partial: list[str] = field(default_factory=list)
    #: DestinationRule client TLS modes: port (None = every port) -> (mode, doc, path)
    client_tls: dict[int | None, tuple[str, Any, PathKey]] = field(default_factory=dict)

    def workload_port(self, port: int) -> int:
        return self.target_ports.get(port, port)

    def service_ports(self, workload_port: int) -> list[int]:
        """The Service ports that land on a workload port (the port itself without a
        Kubernetes Service)."""
        found = [p for p in sorted(self.ports) if self.workload_port(p) == workload_port]
        if found or self.declared:
            return found
        return [workload_port]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def describe(doc: NativeDocument) -> str:
    return f"{doc.kind} {doc.namespace}/{doc.name}"


@dataclass
class ImportContext:
    trust_domain: str = "cluster.local"
    services: dict[str, ServiceDraft] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: whether some route got Istio's default retry policy written out
    default_retries_written: bool = False
    #: services by namespace, built when first asked for (see `in_namespace`)
    _by_namespace: dict[str, list[ServiceDraft]] | None = field(default=None, repr=False)

    def service(self, namespace: str, name: str) -> ServiceDraft:
        key = f"{namespace}/{name}"
        if key not in self.services:
            self.services[key] = ServiceDraft(namespace, name)
            self._by_namespace = None
        return self.services[key]

    def in_namespace(self, namespace: str) -> list[ServiceDraft]:
        """The services of one namespace, in the order they were found: an index, so
        that reading every namespace-wide policy costs its own namespace, not the mesh."""
        if self._by_namespace is None:
            self._by_namespace = {}
            for svc in self.services.values():
                self._by_namespace.setdefault(svc.namespace, []).append(svc)
        return self._by_namespace.get(namespace, [])

    def report(
        self,
        code: Code,
        doc: NativeDocument,
        path: PathKey,
        message: str,
        hint: str = "",
        example: dict[str, Any] | None = None,
        severity: Severity | None = None,
    ) -> None:
        text = f"{describe(doc)}: {message}"
        extra: dict[str, object] = {}
        if example is not None:
            extra["request"] = example
            shown = f"{example.get('method', 'GET')} {example.get('target', '/')}"
            headers = example.get("headers") or {}
            if headers:
                shown += " with " + ", ".join(f"{k}: {v}" for k, v in headers.items())
            for key, word in (("destination", "to"), ("port", "port"), ("source", "from")):
                if example.get(key) is not None:
                    shown += f" {word} {example[key]}"
            text += f" (for example {shown})"
        self.diagnostics.append(
            code(
                text,
                location=doc.origin.locate(path),
                path=".".join(str(p) for p in path),
                target="istio",
                hint=hint,
                extra=extra,
                severity=severity,
            )
        )
