"""The CA service: short-lived SPIFFE certificates for workloads, renewed at half-life.

Short lifetimes make a leaked key worth little; renewing at half-life leaves
the other half as slack for a control plane that is briefly away. The
certificate authority itself is `reference_impl.pki`.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any

from reference_impl.pki import CertificateAuthority, Credentials

DEFAULT_TTL = 3600.0


@dataclass(frozen=True)
class Issued:
    credentials: Credentials
    issued_at: float
    expires_at: float

    @property
    def renew_at(self) -> float:
        return self.issued_at + (self.expires_at - self.issued_at) / 2

    def to_message(self) -> dict[str, Any]:
        c = self.credentials
        return {
            "type": "credentials",
            "spiffeId": c.spiffe_id,
            "cert": c.cert_pem.decode(),
            "key": c.key_pem.decode(),
            "ca": c.ca_bundle_pem.decode(),
            "issuedAt": self.issued_at,
            "expiresAt": self.expires_at,
        }


class CertificateService:
    """Issues workload credentials with one lifetime; the caller decides when to renew."""

    def __init__(self, authority: CertificateAuthority, ttl: float = DEFAULT_TTL) -> None:
        if ttl < 1:
            raise ValueError("certificate lifetime must be at least 1 second (X.509 has seconds)")
        self.authority = authority
        self.ttl = ttl
        self.issued = 0

    @classmethod
    def create(cls, trust_domain: str, ttl: float = DEFAULT_TTL) -> CertificateService:
        return cls(CertificateAuthority.create(trust_domain), ttl)

    def issue(self, spiffe_id: str) -> Issued:
        now = time.time()
        creds = self.authority.issue(spiffe_id, ttl=dt.timedelta(seconds=self.ttl))
        self.issued += 1
        # X.509 times have whole seconds: the certificate ends at the second before
        expires = math.floor(creds.not_after.timestamp())
        return Issued(creds, now, float(expires))
