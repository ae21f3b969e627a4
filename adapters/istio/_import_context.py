"""The kit's import context and service draft, with what only Istio's reading needs:
Kubernetes selectors and pods, and mTLS modes by the scope that set them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.istio.resources import TARGET
from adapters.kit import ImportContext as KitImportContext
from adapters.kit import ServiceDraft as KitServiceDraft
from adapters.kit import describe
from meshspec.spec.bundle import PathKey

__all__ = ["ImportContext", "PathKey", "ServiceDraft", "describe"]


@dataclass
class ServiceDraft(KitServiceDraft):
    #: the Kubernetes Service's pod selector (None: no Service, pods carry `app: <name>`)
    selector: dict[str, str] | None = None
    #: named `targetPort`s of the Kubernetes Service: Service port -> container port name
    named_target_ports: dict[int, str] = field(default_factory=dict)
    #: the Kubernetes Service object, when the input has one
    source_doc: Any = None
    #: the workloads (pod templates) behind the service
    pods: list[Any] = field(default_factory=list)
    #: mTLS modes by PeerAuthentication scope: namespace-wide, this workload
    mtls_namespace: str | None = None
    mtls_workload: str | None = None
    #: modes of PeerAuthentications that select only some pods (one version)
    mtls_partial: list[str] = field(default_factory=list)
    #: DestinationRule client TLS modes: port (None = every port) -> (mode, doc, path)
    client_tls: dict[int | None, tuple[str, Any, PathKey]] = field(default_factory=dict)

    def service_mtls_mode(self) -> str | None:
        """A workload's own PeerAuthentication wins over its namespace's."""
        return self.mtls_workload or self.mtls_namespace


@dataclass
class ImportContext(KitImportContext[ServiceDraft]):
    target: str = TARGET
    draft: Any = ServiceDraft
    #: whether some route got Istio's default retry policy written out
    default_retries_written: bool = False
