"""The sidecar's current TLS material, swapped whole on rotation.

Contexts are built once per rotation; a connection takes the contexts that
are current when it opens and keeps them, so rotation never disturbs it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from reference_impl.pki import client_context, server_context, spiffe_id_from_der


@dataclass(frozen=True)
class TlsMaterial:
    identity: str
    server: ssl.SSLContext
    client: ssl.SSLContext

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> TlsMaterial:
        """ValueError/ssl.SSLError/IdentityError when the PEMs do not make usable credentials."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        identity = spiffe_id_from_der(cert.public_bytes(serialization.Encoding.DER))
        return cls(
            identity=identity,
            server=server_context(cert_pem, key_pem, ca_bundle_pem),
            client=client_context(cert_pem, key_pem, ca_bundle_pem),
        )
