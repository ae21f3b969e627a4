"""Bootstrap trust for tests that run a control plane in-process: a root, secrets, bootstraps."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from reference_impl.control_plane import (
    Bootstrap,
    CertificateService,
    Entitlements,
    Workload,
    control_plane_identity,
)
from reference_impl.control_plane.bootstrap import token_digest
from reference_impl.pki import CertificateAuthority


@dataclass
class Trust:
    """One mesh's root and a secret per workload, as `meshspec up` provisions them."""

    trust_domain: str
    authority: CertificateAuthority = field(init=False)
    tokens: dict[str, tuple[Workload, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.authority = CertificateAuthority.create(self.trust_domain)

    @property
    def identity(self) -> str:
        return control_plane_identity(self.trust_domain)

    def entitle(self, service: str, version: str | None, instance: str) -> Workload:
        workload = Workload(service, version, instance)
        self.tokens[instance] = (workload, secrets.token_urlsafe(32))
        return workload

    def entitlements(self) -> Entitlements:
        return Entitlements(self.identity, {token_digest(t): w for w, t in self.tokens.values()})

    def certificates(self, ttl: float = 3600.0) -> CertificateService:
        return CertificateService(self.authority, ttl)

    def bootstrap(self, instance: str, port: int, host: str = "127.0.0.1") -> Bootstrap:
        workload, token = self.tokens[instance]
        return Bootstrap(workload, token, host, port, self.identity, self.authority.cert_pem)
