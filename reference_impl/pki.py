"""A tiny certificate authority for SPIFFE X.509 SVIDs, and the TLS contexts that use them.

Workload identity is the certificate's URI SAN, `spiffe://<td>/ns/<ns>/sa/<sa>`,
never its host name: TLS host name checks are off and the caller compares the
peer's SPIFFE ID with the identity it expects (what a mesh sidecar does).
The clock is a parameter so tests can issue expired or future certificates.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_TTL = dt.timedelta(hours=1)
ROOT_CERT_FILE, ROOT_KEY_FILE = "root.pem", "root-key.pem"
_CLOCK_SKEW = dt.timedelta(minutes=1)


class IdentityError(ValueError):
    """A certificate carries no usable SPIFFE ID, or not the one expected."""


@dataclass(frozen=True)
class Credentials:
    """What a workload needs for mTLS: its certificate, its key, and the CAs it trusts."""

    cert_pem: bytes
    key_pem: bytes
    ca_bundle_pem: bytes
    spiffe_id: str
    not_after: dt.datetime


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CertificateAuthority:
    """A self-signed EC P-256 root that issues short-lived workload certificates."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert = cert
        self._key = key

    @classmethod
    def create(
        cls,
        trust_domain: str = "cluster.local",
        *,
        now: dt.datetime | None = None,
        ttl: dt.timedelta = dt.timedelta(days=1),
    ) -> CertificateAuthority:
        start = now or _utcnow()
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meshspec"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"meshspec root {trust_domain}"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - _CLOCK_SKEW)
            .not_valid_after(start + ttl)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        spiffe_id: str,
        *,
        now: dt.datetime | None = None,
        ttl: dt.timedelta = DEFAULT_TTL,
    ) -> Credentials:
        """An SVID and a fresh key for `spiffe_id` (tests and tools; workloads send a CSR)."""
        key = new_key()
        cert = self._leaf(key.public_key(), spiffe_id, now or _utcnow(), ttl, client=True)
        return Credentials(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key_pem(key),
            ca_bundle_pem=self.cert_pem,
            spiffe_id=spiffe_id,
            not_after=cert.not_valid_after_utc,
        )

    def sign_csr(
        self,
        csr_pem: bytes,
        spiffe_id: str,
        *,
        now: dt.datetime | None = None,
        ttl: dt.timedelta = DEFAULT_TTL,
        client: bool = True,
    ) -> x509.Certificate:
        """A certificate for the CSR's key carrying `spiffe_id`, whatever the CSR asked for.

        The CA decides the identity (the workload it authenticated is entitled to
        one); the CSR only proves possession of the key. CsrError when the CSR is
        not a well-formed, self-signed P-256 request.
        """
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise CsrError(f"not a PEM certificate request: {exc}") from None
        if not csr.is_signature_valid:
            raise CsrError("the request's signature does not match its key")
        public = csr.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
            public.curve, ec.SECP256R1
        ):
            raise CsrError("only EC P-256 keys are accepted")
        return self._leaf(public, spiffe_id, now or _utcnow(), ttl, client=client)

    def _leaf(
        self,
        public: ec.EllipticCurvePublicKey,
        spiffe_id: str,
        start: dt.datetime,
        ttl: dt.timedelta,
        *,
        client: bool,
    ) -> x509.Certificate:
        """URI SAN only (critical, empty subject); both EKUs for workloads, server-only else."""
        if not spiffe_id.startswith("spiffe://"):
            raise IdentityError(f"not a SPIFFE ID: {spiffe_id!r}")
        usages = [ExtendedKeyUsageOID.SERVER_AUTH]
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - _CLOCK_SKEW)
            .not_valid_after(start + ttl)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )

    # -- on disk: the root survives a control plane restart, so pinned sidecars still trust it

    def save(self, directory: Path) -> None:
        """Write `root.pem` and `root-key.pem` (mode 0600) into a private directory."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(directory / ROOT_KEY_FILE, key_pem(self._key))
        write_private(directory / ROOT_CERT_FILE, self.cert_pem)

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        """The root saved by `save` (OSError/ValueError if absent, readable by others, or not
        a P-256 key pair)."""
        key_mode = stat.S_IMODE(os.stat(directory / ROOT_KEY_FILE).st_mode)
        if key_mode & 0o077:
            raise ValueError(
                f"{directory / ROOT_KEY_FILE}: others may read it (mode {key_mode:o}); chmod 600 it"
            )
        cert = x509.load_pem_x509_certificate((directory / ROOT_CERT_FILE).read_bytes())
        key = serialization.load_pem_private_key(
            (directory / ROOT_KEY_FILE).read_bytes(), password=None
        )
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the root key is not an EC key")
        if key.public_key() != cert.public_key():
            raise ValueError("the root key does not belong to the root certificate")
        return cls(cert, key)


class CsrError(ValueError):
    """A certificate signing request the CA will not sign."""


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def csr_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A request that proves possession of `key`; it names nothing (the CA decides)."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, readable by its owner only from the first byte on."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def check_issued(
    cert_pem: bytes,
    root: x509.Certificate,
    public: ec.EllipticCurvePublicKey,
    *,
    now: dt.datetime | None = None,
) -> tuple[str, dt.datetime]:
    """(SPIFFE ID, not-after) of a certificate `root` signed for `public`, valid now.

    IdentityError says why not: another signer, another key, outside its validity.
    """
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise IdentityError(f"not a PEM certificate: {exc}") from None
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        raise IdentityError("certificate is not signed by the pinned root") from None
    if cert.public_key() != public:
        raise IdentityError("certificate is not for this workload's key")
    moment = now or _utcnow()
    if not cert.not_valid_before_utc <= moment < cert.not_valid_after_utc:
        raise IdentityError("certificate is not valid now")
    spiffe_id = spiffe_id_from_der(cert.public_bytes(serialization.Encoding.DER))
    return spiffe_id, cert.not_valid_after_utc


def spiffe_id_from_der(der: bytes) -> str:
    """The single SPIFFE URI SAN of a DER certificate (IdentityError if none or several)."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise IdentityError("certificate has no subjectAltName") from None
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)]
    spiffe = [u for u in uris if u.startswith("spiffe://")]
    if len(spiffe) != 1:
        raise IdentityError(f"certificate must carry exactly one SPIFFE ID, found {len(spiffe)}")
    return spiffe[0]


def peer_spiffe_id(ssl_object: Any) -> str:
    """SPIFFE ID of the verified peer of an `ssl.SSLObject`/`SSLSocket`."""
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        raise IdentityError("peer presented no certificate")
    return spiffe_id_from_der(der)


def load_chain(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Load a certificate and key into `ctx` without the key touching a file system if we can.

    ssl only loads key pairs from paths. On Linux an anonymous memory file
    (memfd) gives one that is never on disk; elsewhere a private temporary
    directory (0700, key 0600) holds them for the moment it takes.
    """
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fds: list[int] = []
        try:
            for data in (cert_pem, key_pem):
                fd = os.memfd_create("meshspec-tls", os.MFD_CLOEXEC)
                fds.append(fd)
                with memoryview(data) as view:
                    written = 0
                    while written < len(view):
                        written += os.write(fd, view[written:])
            ctx.load_cert_chain(f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}")
            return
        except OSError:
            pass  # no usable memfd here: fall back to a private directory
        finally:
            for fd in fds:
                os.close(fd)
    with tempfile.TemporaryDirectory(prefix="meshspec-tls-") as tmp:
        cert_path = os.path.join(tmp, "cert.pem")
        key_path = os.path.join(tmp, "key.pem")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key_pem)
        with open(cert_path, "wb") as fh:
            fh.write(cert_pem)
        ctx.load_cert_chain(cert_path, key_path)


def server_context(
    cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes, *, require_client_cert: bool = True
) -> ssl.SSLContext:
    """Inbound mTLS: our SVID, and the client's certificate verified against the bundle."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(ctx, cert_pem, key_pem)
    ctx.load_verify_locations(cadata=ca_bundle_pem.decode())
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    # No session tickets: nothing here resumes a session, and each ticket is a record
    # the client must read after its handshake.
    ctx.num_tickets = 0
    return ctx


def client_context(cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> ssl.SSLContext:
    """Outbound mTLS: chain verified, host name not checked (the SPIFFE ID is, by the caller)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    load_chain(ctx, cert_pem, key_pem)
    ctx.load_verify_locations(cadata=ca_bundle_pem.decode())
    return ctx


def verify_peer(ssl_object: Any, expected: str) -> None:
    """Raise IdentityError unless the peer's SPIFFE ID is `expected`."""
    actual = peer_spiffe_id(ssl_object)
    if actual != expected:
        raise IdentityError(f"peer is {actual}, expected {expected}")
