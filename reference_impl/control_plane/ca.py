"""The CA service: short-lived SPIFFE certificates for the keys workloads prove they hold.

A sidecar makes its own key and sends a CSR; the control plane signs it for
the identity the authenticated workload is entitled to, so private keys never
travel. Short lifetimes make a leaked key worth little; sidecars renew at
half-life, which leaves the other half as slack for a control plane that is
briefly away. The certificate authority itself is `reference_impl.pki`.
"""

from __future__ import annotations

import datetime as dt
import math
import ssl
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from reference_impl.pki import CertificateAuthority, csr_pem, key_pem, load_chain, new_key

DEFAULT_TTL = 3600.0
SERVING_TTL = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    spiffe_id: str
    cert_pem: bytes
    ca_pem: bytes
    issued_at: float
    expires_at: float

    @property
    def renew_at(self) -> float:
        return self.issued_at + (self.expires_at - self.issued_at) / 2

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "credentials",
            "spiffeId": self.spiffe_id,
            "cert": self.cert_pem.decode(),
            "ca": self.ca_pem.decode(),
            "issuedAt": self.issued_at,
            "expiresAt": self.expires_at,
        }


class CertificateService:
    """Signs workload CSRs with one lifetime; the sidecar decides when to renew."""

    def __init__(self, authority: CertificateAuthority, ttl: float = DEFAULT_TTL) -> None:
        if ttl < 1:
            raise ValueError("certificate lifetime must be at least 1 second (X.509 has seconds)")
        self.authority = authority
        self.ttl = ttl
        self.issued = 0

    @classmethod
    def create(cls, trust_domain: str, ttl: float = DEFAULT_TTL) -> CertificateService:
        return cls(CertificateAuthority.create(trust_domain), ttl)

    def sign(self, spiffe_id: str, csr: bytes) -> Issued:
        """CsrError for a request that is not well-formed or not self-signed."""
        now = time.time()
        cert = self.authority.sign_csr(csr, spiffe_id, ttl=dt.timedelta(seconds=self.ttl))
        self.issued += 1
        # X.509 times have whole seconds: the certificate ends at the second before
        expires = math.floor(cert.not_valid_after_utc.timestamp())
        return Issued(
            spiffe_id,
            cert.public_bytes(serialization.Encoding.PEM),
            self.authority.cert_pem,
            now,
            float(expires),
        )

    def serving_context(self, identity: str) -> ssl.SSLContext:
        """The control plane's own TLS server context: a fresh key, `identity`, server-only."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.refresh_serving(context, identity)
        return context

    def refresh_serving(self, context: ssl.SSLContext, identity: str) -> None:
        """Load a new serving certificate into `context`: later handshakes present it."""
        key = new_key()
        cert = self.authority.sign_csr(csr_pem(key), identity, ttl=SERVING_TTL, client=False)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        load_chain(context, cert.public_bytes(serialization.Encoding.PEM), key_pem(key))
