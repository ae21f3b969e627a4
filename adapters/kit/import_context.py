"""What an importer collects while it reads a mesh's resources: the services found
so far (as drafts of neutral service documents) and the findings.

A draft holds only what the neutral spec can say; an adapter subclasses it for
what its mesh needs while reading (selectors, per-scope mTLS modes, ...), and
`adapters.kit.drafts` turns the drafts into the neutral documents and `Spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from meshspec.adapter import NativeDocument
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic, Severity
from meshspec.spec.bundle import PathKey

#: the trust domain a mesh has when its configuration names none
DEFAULT_TRUST_DOMAIN = "cluster.local"


@dataclass
class ServiceDraft:
    """One neutral service as the importer learns it (plain data of the spec's fields)."""

    namespace: str
    name: str
    #: service port -> protocol (`http`, `http2`, `grpc`, `tcp`)
    ports: dict[int, str] = field(default_factory=dict)
    #: service port -> workload (container) port, where they differ
    target_ports: dict[int, int] = field(default_factory=dict)
    #: the ports come from the platform's own service object, not from guesses
    declared: bool = False
    #: the service account the imported spec says (None: not known, assumed the name)
    service_account: str | None = None
    #: version name -> pod labels
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    version_resilience: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: neutral routes (None: the mesh routes this service by its default)
    routes: list[dict[str, Any]] | None = None
    #: the service's neutral mTLS mode (None: the mesh's) and per-port modes
    mtls_mode: str | None = None
    mtls_ports: dict[int, str] = field(default_factory=dict)
    #: neutral authorization rules in order; a rule's `_origin` key is dropped on output
    authz_rules: list[dict[str, Any]] = field(default_factory=list)
    authz_default_deny: bool = False
    has_authz: bool = False
    resilience: dict[str, Any] = field(default_factory=dict)

    def workload_port(self, port: int) -> int:
        return self.target_ports.get(port, port)

    def service_ports(self, workload_port: int) -> list[int]:
        """The service ports that land on a workload port (the port itself when the
        platform declares no service)."""
        found = [p for p in sorted(self.ports) if self.workload_port(p) == workload_port]
        if found or self.declared:
            return found
        return [workload_port]

    def service_mtls_mode(self) -> str | None:
        """The mode the neutral service document states (adapters with scoped modes
        override this)."""
        return self.mtls_mode

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


D = TypeVar("D", bound=ServiceDraft)
#: the draft of an adapter that needs no fields of its own
_PLAIN_DRAFT: Callable[[str, str], Any] = ServiceDraft


def describe(doc: NativeDocument) -> str:
    return f"{doc.kind} {doc.namespace}/{doc.name}"


def shown_request(example: Mapping[str, Any]) -> str:
    """`GET /x with h: 1 to ns/svc port 80 from ns/client`: a counterexample in words."""
    shown = f"{example.get('method', 'GET')} {example.get('target', '/')}"
    headers = example.get("headers") or {}
    if headers:
        shown += " with " + ", ".join(f"{k}: {v}" for k, v in headers.items())
    for key, word in (("destination", "to"), ("port", "port"), ("source", "from")):
        if example.get(key) is not None:
            shown += f" {word} {example[key]}"
    return shown


def native_finding(
    code: Code,
    doc: NativeDocument,
    path: PathKey,
    message: str,
    *,
    target: str,
    hint: str = "",
    extra: dict[str, object] | None = None,
    severity: Severity | None = None,
) -> Diagnostic:
    """A finding about field `path` of a native document, at its file:line."""
    return code(
        f"{describe(doc)}: {message}",
        location=doc.origin.locate(path),
        path=".".join(str(p) for p in path),
        target=target,
        hint=hint,
        extra=extra,
        severity=severity,
    )


@dataclass
class ImportContext(Generic[D]):
    #: the adapter's name, written into every finding
    target: str
    trust_domain: str = DEFAULT_TRUST_DOMAIN
    #: makes the draft of a service not seen before, `(namespace, name) -> draft`: an
    #: adapter passes its `ServiceDraft` subclass here
    draft: Callable[[str, str], D] = _PLAIN_DRAFT
    services: dict[str, D] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def service(self, namespace: str, name: str) -> D:
        key = f"{namespace}/{name}"
        if key not in self.services:
            self.services[key] = self.draft(namespace, name)
        return self.services[key]

    def report(
        self,
        code: Code,
        doc: NativeDocument,
        path: PathKey,
        message: str,
        hint: str = "",
        example: Mapping[str, Any] | None = None,
        severity: Severity | None = None,
    ) -> None:
        """A finding about field `path` of `doc`, at its file:line; `example` is a
        request that shows it (kept as `extra.request` and said in the message)."""
        extra: dict[str, object] = {}
        if example is not None:
            extra["request"] = example
            message += f" (for example {shown_request(example)})"
        self.diagnostics.append(
            native_finding(
                code,
                doc,
                path,
                message,
                target=self.target,
                hint=hint,
                extra=extra,
                severity=severity,
            )
        )
