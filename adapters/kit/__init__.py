"""The adapter kit: what every adapter reuses, so that an adapter holds only its mesh.

An adapter writes its contract (`meshspec.adapter.Adapter`), its native resource
types, a compiler, an importer and a model. It reuses from here:

* `CompileContext` - the spec being compiled and the findings, located in the spec;
* `ImportContext`, `ServiceDraft` - services found while importing and the findings,
  located in the native files, with a counterexample request when there is one;
* `drafts` - service drafts -> the neutral documents and the typed `Spec`;
* `first_match` - a first-match rule list -> most-specific-wins routes that send
  every request where the mesh does, or a conflict with a concrete request;
* `envoy` - Envoy's retry names, defaults, path and header handling, for meshes
  whose data plane is Envoy;
* `kube_cluster` - reading a live Kubernetes cluster by a list of kinds;
* `kube_workloads` - the pods (labels, service account, container port names) that
  the workload objects of the input run;
* `platform` - the Kubernetes objects (ServiceAccounts, Services, Deployments) that
  compiled resources assume, written by `compile --with-workloads`.
"""

from adapters.kit import envoy, first_match
from adapters.kit.compile_context import CompileContext
from adapters.kit.drafts import documents, mesh_document, plain, service_document, to_spec
from adapters.kit.first_match import (
    Conflict,
    OrderResult,
    Piece,
    keep_order,
    merge_segment_pairs,
    sample_of,
    string_prefix_pieces,
)
from adapters.kit.import_context import (
    DEFAULT_TRUST_DOMAIN,
    ImportContext,
    ServiceDraft,
    describe,
    native_finding,
    shown_request,
)
from adapters.kit.kube_cluster import read_cluster
from adapters.kit.kube_workloads import PodTemplate, pod_template, selects
from adapters.kit.platform import platform_objects, with_platform

__all__ = [
    "DEFAULT_TRUST_DOMAIN",
    "CompileContext",
    "Conflict",
    "ImportContext",
    "OrderResult",
    "Piece",
    "PodTemplate",
    "ServiceDraft",
    "describe",
    "documents",
    "envoy",
    "first_match",
    "keep_order",
    "merge_segment_pairs",
    "mesh_document",
    "native_finding",
    "plain",
    "platform_objects",
    "pod_template",
    "read_cluster",
    "sample_of",
    "selects",
    "service_document",
    "shown_request",
    "string_prefix_pieces",
    "to_spec",
    "with_platform",
]
