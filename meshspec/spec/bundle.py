"""A loaded spec: the mesh settings plus every service, indexed, with origins.

This is what the oracle, the adapters and the reference implementation read.
It keeps where each document came from so any later finding can name the
file, line and column of the field it is about.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from meshspec.diagnostics import Location
from meshspec.spec.document import MeshDocument, MeshSpec, Metadata, ServiceDocument
from meshspec.spec.service import Version

PathKey = tuple[str | int, ...]


def dotted(path: PathKey) -> str:
    """`("spec", "routes", 0, "timeout")` -> `spec.routes[0].timeout`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Origin:
    """The file a document came from and the positions of its fields."""

    file: str
    document_index: int = 0
    positions: Mapping[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: PathKey = ()) -> Location:
        probe = tuple(path)
        while probe:
            found = self.positions.get(probe)  # one look-up: a document's are found on demand
            if found is not None:
                line, col = found
                return Location(self.file, line, col)
            probe = probe[:-1]
        line, col = self.positions.get((), (0, 0))
        return Location(self.file, line, col)


def service_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


@dataclass(frozen=True)
class Spec:
    """Mesh settings plus services keyed by `namespace/name`, in key order."""

    mesh: MeshSpec = field(default_factory=MeshSpec)
    mesh_metadata: Metadata | None = None
    services: Mapping[str, ServiceDocument] = field(default_factory=dict)
    origins: Mapping[str, Origin] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        documents: list[MeshDocument | ServiceDocument],
        origins: Mapping[str, Origin] | None = None,
    ) -> Spec:
        """Assemble documents that are already known to be consistent."""
        mesh = MeshSpec()
        meta: Metadata | None = None
        services: dict[str, ServiceDocument] = {}
        for doc in documents:
            if isinstance(doc, MeshDocument):
                mesh, meta = doc.spec, doc.metadata
            else:
                services.setdefault(service_key(doc.metadata.namespace, doc.metadata.name), doc)
        ordered = dict(sorted(services.items()))
        return cls(mesh=mesh, mesh_metadata=meta, services=ordered, origins=dict(origins or {}))

    def __iter__(self) -> Iterator[ServiceDocument]:
        return iter(self.services.values())

    def resolve(self, ref: str, namespace: str = "default") -> str | None:
        """Key of the service `ref` names: `name` (in `namespace`) or `ns/name`."""
        if "/" in ref:
            return ref if ref in self.services else None
        key = service_key(namespace, ref)
        return key if key in self.services else None

    def find(self, ref: str) -> list[str]:
        """Keys that `ref` could mean when no namespace is implied."""
        if "/" in ref:
            return [ref] if ref in self.services else []
        return [k for k, svc in self.services.items() if svc.metadata.name == ref]

    def service(self, key: str) -> ServiceDocument:
        return self.services[key]

    def service_account(self, key: str) -> str:
        svc = self.services[key]
        return svc.spec.service_account or svc.metadata.name

    def identity(self, key: str) -> str:
        """The SPIFFE ID of a service's workloads."""
        svc = self.services[key]
        return spiffe_id(self.mesh.trust_domain, svc.metadata.namespace, self.service_account(key))

    def version(self, key: str, name: str) -> Version | None:
        for v in self.services[key].spec.versions:
            if v.name == name:
                return v
        return None

    def locate(self, key: str, path: PathKey = ()) -> Location | None:
        origin = self.origins.get(key)
        return origin.locate(path) if origin else None


def spiffe_id(trust_domain: str, namespace: str, service_account: str) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def parse_spiffe_id(identity: str) -> tuple[str, str, str] | None:
    """(trust domain, namespace, service account) of a workload SPIFFE ID."""
    if not identity.startswith("spiffe://"):
        return None
    parts = identity[len("spiffe://") :].split("/")
    if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa" and all(parts):
        return parts[0], parts[2], parts[4]
    return None
