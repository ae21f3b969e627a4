"""Attacks on the control-plane channel, over real sockets on 127.0.0.1; none may get through.

The attacker is a local process that can connect to any port and bind a free
one, and knows the mesh's root certificate (it is public), but cannot read
other workloads' bootstrap files. What it tries, in order: impersonate a
service with `hello`; use its own valid bootstrap to claim or obtain another
service's identity; `bye` or re-register someone else's endpoint; take the
port after the real control plane dies and push a snapshot without
authorization and a new CA; break the control plane with malformed messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from meshspec.spec.bundle import spiffe_id
from reference_impl.control_plane import ControlPlane, ControlPlaneClient, SpecStore, server
from reference_impl.control_plane.client import pinned_context
from reference_impl.echo import EchoIdentity, start_echo
from reference_impl.pki import CertificateAuthority, csr_pem, key_pem, new_key, server_context
from reference_impl.proxy import Sidecar, SidecarConfig
from reference_impl.snapshot import Endpoint, Snapshot
from tests.reference_impl.conftest import HttpClient, parse_documents
from tests.reference_impl.trust import Trust

pytestmark = pytest.mark.loopback

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: mesh}
spec: {trustDomain: example.org}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, name: http}]
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: accounts, namespace: bank}
spec:
  serviceAccount: ledger
  ports: [{port: 80, name: http}]
  mtls: {mode: STRICT}
  authorization:
    default: deny
    rules:
    - name: web-reads
      action: ALLOW
      from: [{services: [shop/web]}]
      to: {methods: [GET]}
"""

WEB, ACCOUNTS = "web-0", "accounts-0"


def run(test: Callable[[], Awaitable[None]], timeout: float = 30.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(test(), timeout)

    asyncio.run(bounded())


async def until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def make_trust() -> Trust:
    trust = Trust("example.org")
    trust.entitle("shop/web", None, WEB)
    trust.entitle("bank/accounts", None, ACCOUNTS)
    return trust


def control_plane(trust: Trust, spec: Path, port: int = 0) -> ControlPlane:
    store = SpecStore([str(spec)])
    return ControlPlane(
        store, trust.certificates(), trust.entitlements(), port=port, poll_interval=0.05
    )


class Raw:
    """The attacker's end: TLS to the control plane (it knows the public root), raw lines."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.lines: list[bytes] = []

    @classmethod
    async def open(cls, port: int, root_pem: bytes) -> Raw:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=pinned_context(root_pem), limit=2**26
        )
        return cls(reader, writer)

    def send(self, message: Any) -> None:
        raw = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.writer.write(raw + b"\n")

    async def messages(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Every message until the control plane closes the stream (or `timeout` passes)."""
        out = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                line = await asyncio.wait_for(self.reader.readline(), deadline - loop.time())
            except (TimeoutError, ConnectionError, ssl.SSLError):
                break
            if not line:
                break
            self.lines.append(line)
            out.append(json.loads(line))
        return out

    async def until(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            assert line, f"closed before a {kind!r} message"
            self.lines.append(line)
            message = json.loads(line)
            if message["type"] == kind:
                return dict(message)

    def close(self) -> None:
        self.writer.close()


def hello(token: str, service: str, instance: str, port: int = 9) -> dict[str, Any]:
    node = {"service": service, "version": None, "instance": instance}
    return {"type": "hello", "token": token, "node": {**node, "host": "127.0.0.1", "port": port}}


def only_error(messages: list[dict[str, Any]]) -> str:
    """The one `error` the control plane answers with before it closes."""
    assert [m["type"] for m in messages] == ["error"], messages
    return str(messages[0]["error"])


def closing_error(messages: list[dict[str, Any]]) -> str:
    """On an admitted stream: the `error` the control plane closes with.

    Snapshot pushes may arrive before it at any time (a push races the answer),
    so they are allowed; anything else, credentials above all, is not.
    """
    kinds = [m["type"] for m in messages]
    assert kinds and kinds[-1] == "error", messages
    assert set(kinds[:-1]) <= {"snapshot"}, messages
    return str(messages[-1]["error"])


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "mesh.yaml"
    path.write_text(SPEC)
    return path


def test_hello_naming_a_service_without_its_secret_gets_nothing(spec_file: Path) -> None:
    trust = make_trust()

    async def scenario() -> None:
        cp = control_plane(trust, spec_file)
        await cp.start()
        try:
            for token in ["", "guess", "x" * 300, trust.tokens[WEB][1] + "x"]:
                raw = await Raw.open(cp.port, trust.authority.cert_pem)
                raw.send(hello(token, "bank/accounts", ACCOUNTS))
                raw.send({"type": "csr", "csr": csr_pem(new_key()).decode()})
                error = only_error(await raw.messages())
                assert "secret" in error or "longer" in error
                raw.close()
            # the old protocol's hello, no secret at all
            raw = await Raw.open(cp.port, trust.authority.cert_pem)
            raw.send({"type": "hello", "node": hello("", "bank/accounts", ACCOUNTS)["node"]})
            assert "token" in only_error(await raw.messages())
            # no TLS at all: the handshake fails, nothing is answered
            reader, writer = await asyncio.open_connection("127.0.0.1", cp.port)
            writer.write(json.dumps(hello("", "bank/accounts", ACCOUNTS)).encode() + b"\n")
            assert b"credentials" not in await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert cp.registry.endpoints() == ()
            assert cp.certificates.issued == 0
        finally:
            await cp.stop()

    run(scenario)


def test_a_valid_bootstrap_of_one_workload_gets_only_its_own_identity(spec_file: Path) -> None:
    """web's own secret: it cannot claim to be accounts, and its CSR yields web's identity."""
    trust = make_trust()
    web_token = trust.tokens[WEB][1]

    async def scenario() -> None:
        cp = control_plane(trust, spec_file)
        await cp.start()
        try:
            raw = await Raw.open(cp.port, trust.authority.cert_pem)
            raw.send(hello(web_token, "bank/accounts", ACCOUNTS))
            assert "this bootstrap is for shop/web" in only_error(await raw.messages())
            raw.close()

            # as itself, asking in its CSR for the ledger identity: the CA ignores the ask
            raw = await Raw.open(cp.port, trust.authority.cert_pem)
            raw.send(hello(web_token, "shop/web", WEB))
            key = new_key()
            ledger = spiffe_id("example.org", "bank", "ledger")
            greedy = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(x509.Name([]))
                .add_extension(
                    x509.SubjectAlternativeName([x509.UniformResourceIdentifier(ledger)]),
                    critical=True,
                )
                .sign(key, _sha256())
            )
            raw.send(
                {"type": "csr", "csr": greedy.public_bytes(serialization.Encoding.PEM).decode()}
            )
            creds = await raw.until("credentials")
            cert = x509.load_pem_x509_certificate(creds["cert"].encode())
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
            assert uris == [spiffe_id("example.org", "shop", "web")]
            assert cert.public_key() == key.public_key()
            # the key was made here; nothing the control plane sent carries one
            assert "key" not in creds
            assert not any(b"PRIVATE KEY" in line for line in raw.lines)
            # a CSR signed with another key than the one it names is refused
            forged = bytearray(csr_pem(new_key()))
            forged[-60] ^= 1
            raw.send({"type": "csr", "csr": forged.decode(errors="replace")})
            assert "certificate request refused" in closing_error(await raw.messages())
            raw.close()
        finally:
            await cp.stop()

    run(scenario)


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def test_no_one_can_bye_or_replace_another_workloads_endpoint(spec_file: Path) -> None:
    trust = make_trust()

    class Quiet:
        def apply_snapshot(self, snapshot: Any) -> None:
            pass

        def set_credentials(self, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> None:
            pass

    async def scenario() -> None:
        cp = control_plane(trust, spec_file)
        await cp.start()
        real = Endpoint("bank/accounts", None, ACCOUNTS, "127.0.0.1", 7001)
        accounts = ControlPlaneClient(Quiet(), real, trust.bootstrap(ACCOUNTS, cp.port))
        await accounts.start()
        try:
            await until(lambda: cp.registry.endpoints() == (real,))
            # without accounts' secret: hello as accounts pointing at our port, then bye
            for token in ["", trust.tokens[WEB][1]]:
                raw = await Raw.open(cp.port, trust.authority.cert_pem)
                raw.send(hello(token, "bank/accounts", ACCOUNTS, port=6666))
                raw.send({"type": "bye"})
                only_error(await raw.messages())
                raw.close()
            # a bye before any hello
            raw = await Raw.open(cp.port, trust.authority.cert_pem)
            raw.send({"type": "bye"})
            assert "expected hello" in only_error(await raw.messages())
            raw.close()
            # web, with its own secret, registers and says bye: only web comes and goes
            raw = await Raw.open(cp.port, trust.authority.cert_pem)
            raw.send(hello(trust.tokens[WEB][1], "shop/web", WEB, port=7001))
            await until(lambda: len(cp.registry.endpoints()) == 2)
            raw.send({"type": "bye"})
            await until(lambda: len(cp.registry.endpoints()) == 1)
            raw.close()
            await asyncio.sleep(0.2)
            assert cp.registry.endpoints() == (real,)
        finally:
            await accounts.stop()
            await cp.stop()

    run(scenario)


# -- a rogue control plane ------------------------------------------------------------------


class Rogue:
    """Whatever holds the control plane's port after it died, pushing its own world."""

    def __init__(self, payload: list[dict[str, Any]], context: ssl.SSLContext | None) -> None:
        self.payload = payload
        self.context = context
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self, port: int) -> None:
        timeout = None if self.context is None else 2.0
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", port, ssl=self.context, ssl_handshake_timeout=timeout
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for message in self.payload:
                writer.write(json.dumps(message).encode() + b"\n")
            await writer.drain()
            await reader.read()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


def rogue_contexts(trust: Trust) -> dict[str, ssl.SSLContext | None]:
    """Ways to hold the port: plaintext; TLS from a root of its own; TLS with a real
    workload certificate of the mesh (a compromised workload's), which is not the
    control plane's identity."""
    own = CertificateAuthority.create("example.org")
    own_creds = own.issue(trust.identity)  # even the right identity, from the wrong root
    workload_key = new_key()
    web_cert = trust.authority.sign_csr(
        csr_pem(workload_key), spiffe_id("example.org", "shop", "web")
    ).public_bytes(serialization.Encoding.PEM)
    return {
        "plaintext": None,
        "foreign-root": server_context(
            own_creds.cert_pem, own_creds.key_pem, own.cert_pem, require_client_cert=False
        ),
        "workload-certificate": server_context(
            web_cert, key_pem(workload_key), trust.authority.cert_pem, require_client_cert=False
        ),
    }


def open_spec() -> dict[str, Any]:
    """The rogue's snapshot: the same services with every authorization block removed."""
    documents = [dict(d) for d in parse_documents(SPEC)]
    for d in documents:
        d.get("spec", {}).pop("authorization", None)
    return {"version": 2**62, "documents": documents, "endpoints": []}


@pytest.mark.parametrize("how", ["plaintext", "foreign-root", "workload-certificate"])
def test_a_rogue_control_plane_on_the_port_is_not_believed(
    spec_file: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    trust = make_trust()
    rogue_ca = CertificateAuthority.create("example.org")
    rogue_creds = rogue_ca.issue(spiffe_id("example.org", "bank", "ledger"))

    async def scenario() -> None:
        cp = control_plane(trust, spec_file)
        await cp.start()
        port = cp.port
        apps, sidecars, clients = [], [], []
        for service, instance in [("shop/web", WEB), ("bank/accounts", ACCOUNTS)]:
            app = await start_echo(EchoIdentity(service, None, instance), "127.0.0.1", 0)
            apps.append(app)
            sidecar = Sidecar(
                SidecarConfig(
                    service, None, instance, 0, 0, "127.0.0.1", app.sockets[0].getsockname()[1], 0
                )
            )
            await sidecar.start()
            node = Endpoint(service, None, instance, "127.0.0.1", sidecar.inbound_port)
            client = ControlPlaneClient(
                sidecar, node, trust.bootstrap(instance, port), backoff_max=0.1
            )
            await client.start()
            sidecars.append(sidecar)
            clients.append(client)
        rogue: Rogue | None = None
        try:
            await until(lambda: all(s.ready for s in sidecars) and len(cp.streams) == 2)
            await cp.wait_acked(cp.snapshot.version, 2, 5)  # type: ignore[union-attr]
            web = HttpClient(sidecars[0].outbound_port)

            async def status(method: str) -> int:
                answer = await web.request("/credit", "accounts.bank", method=method, body=b"1")
                return answer.status

            assert await status("GET") == 200
            assert await status("POST") == 403
            held = [c.version for c in clients]
            identities = [c.identity for c in clients]

            await cp.stop()
            rogue = Rogue(
                [
                    {"type": "snapshot", "snapshot": open_spec()},
                    {
                        "type": "credentials",
                        "cert": rogue_creds.cert_pem.decode(),
                        "key": rogue_creds.key_pem.decode(),
                        "ca": rogue_ca.cert_pem.decode(),
                    },
                ],
                rogue_contexts(trust)[how],
            )
            await rogue.start(port)
            await until(lambda: all(len(c.untrusted) >= 2 for c in clients))
            assert [c.version for c in clients] == held
            assert [c.identity for c in clients] == identities
            assert all(c.credentials_received == 1 for c in clients)
            assert await status("POST") == 403
            assert await status("GET") == 200
            said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
            expected = "not the control plane" if how == "workload-certificate" else "not trusted"
            assert any(expected in line for line in said), said
            await web.close()
        finally:
            if rogue is not None:
                await rogue.stop()
            for client in clients:
                await client.stop()
            for sidecar in sidecars:
                await sidecar.stop()
            for app in apps:
                app.close()

    run(scenario)


def test_credentials_the_sidecar_did_not_ask_for_or_from_another_root_are_rejected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Defence in depth behind the authenticated stream: the client checks what it installs."""
    trust = make_trust()
    installed: list[bytes] = []

    class Target:
        def apply_snapshot(self, snapshot: Any) -> None:
            pass

        def set_credentials(self, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> None:
            installed.append(cert_pem)

    node = Endpoint("shop/web", None, WEB, "127.0.0.1", 9)
    client = ControlPlaneClient(Target(), node, trust.bootstrap(WEB, 1))
    other = CertificateAuthority.create("example.org")
    web_id = spiffe_id("example.org", "shop", "web")
    unasked = trust.authority.issue(web_id)
    client.handle({"type": "credentials", "cert": unasked.cert_pem.decode(), "ca": "x"})
    client._pending = new_key()  # a CSR in flight
    for cert, ca in [
        (other.sign_csr(csr_pem(client._pending), web_id), other.cert_pem),  # new CA
        (other.sign_csr(csr_pem(client._pending), web_id), trust.authority.cert_pem),
        (trust.authority.sign_csr(csr_pem(new_key()), web_id), trust.authority.cert_pem),
        (
            trust.authority.sign_csr(
                csr_pem(client._pending), spiffe_id("example.org", "bank", "ledger")
            ),
            trust.authority.cert_pem,
        ),
    ]:
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        client.handle({"type": "credentials", "cert": pem, "ca": ca.decode()})
    assert installed == []
    assert len(client.rejected_credentials) == 5
    logged = [r.getMessage() for r in caplog.records if "rejected credentials" in r.getMessage()]
    assert len(logged) == 5
    good = trust.authority.sign_csr(csr_pem(client._pending), web_id)
    pem = good.public_bytes(serialization.Encoding.PEM).decode()
    client.handle({"type": "credentials", "cert": pem, "ca": trust.authority.cert_pem.decode()})
    assert len(installed) == 1 and client.identity == web_id


# -- malformed messages -----------------------------------------------------------------------

NESTED = b'{"type": "hello", "node": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
MALFORMED: dict[str, bytes] = {
    "huge-float-version": b'{"type": "hello", "version": 1e400, "lastVersion": 1e400}',
    "deep-nesting": NESTED,
    "shallow-but-too-deep": b'{"type": "hello", "node": ' + b"[" * 70 + b"]" * 70 + b"}",
    "nan": b'{"type": "hello", "token": NaN}',
    "not-an-object": b"[1, 2, 3]",
    "no-type": b'{"token": "x"}',
    "type-not-a-string": b'{"type": 5}',
    "token-not-a-string": b'{"type": "hello", "token": {"a": 1}}',
    "not-utf8": b'{"type": "hello", "token": "\xff\xfe"}',
    "not-json": b"GET / HTTP/1.1",
    "too-long": b'{"type": "hello", "token": "' + b"a" * 200_000 + b'"}',
}
# a hello with web's real secret (put in for TOKEN) and one bad field
WITH_SECRET: dict[str, bytes] = {
    "hello-huge-float-last-version": b'{"type": "hello", "token": "TOKEN", "lastVersion": 1e400,'
    b' "node": {"service": "shop/web", "instance": "web-0", "host": "127.0.0.1", "port": 9}}',
    "hello-huge-float-port": b'{"type": "hello", "token": "TOKEN",'
    b' "node": {"service": "shop/web", "instance": "web-0", "host": "127.0.0.1", "port": 1e400}}',
    "hello-port-as-string": b'{"type": "hello", "token": "TOKEN",'
    b' "node": {"service": "shop/web", "instance": "web-0", "host": "127.0.0.1", "port": "9"}}',
    "hello-node-nested": b'{"type": "hello", "token": "TOKEN", "node": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}",
    "hello-without-node": b'{"type": "hello", "token": "TOKEN"}',
}
AFTER_HELLO: dict[str, bytes] = {
    "ack-huge-float": b'{"type": "ack", "version": 1e400}',
    "ack-string-version": b'{"type": "ack", "version": "12"}',
    "ack-bool-version": b'{"type": "ack", "version": true}',
    "ack-negative": b'{"type": "ack", "version": -1}',
    "ack-too-large": b'{"type": "ack", "version": 99999999999999999999999}',
    "nack-error-object": b'{"type": "nack", "version": 1, "error": {"x": 1}}',
    "csr-garbage": b'{"type": "csr", "csr": "-----BEGIN CERTIFICATE REQUEST-----"}',
    "csr-number": b'{"type": "csr", "csr": 1e400}',
    "unknown-type": b'{"type": "status"}',
}


@pytest.mark.parametrize("case", [*MALFORMED, *WITH_SECRET, *AFTER_HELLO])
def test_malformed_messages_get_an_error_and_close_without_a_traceback(
    spec_file: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    trust = make_trust()
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        cp = control_plane(trust, spec_file)
        await cp.start()
        loop = asyncio.get_running_loop()
        unhandled: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
        try:
            raw = await Raw.open(cp.port, trust.authority.cert_pem)
            if case in AFTER_HELLO:
                raw.send(hello(trust.tokens[WEB][1], "shop/web", WEB))
                await until(lambda: len(cp.streams) == 1)
                raw.send(AFTER_HELLO[case])
            elif case in WITH_SECRET:
                raw.send(WITH_SECRET[case].replace(b"TOKEN", trust.tokens[WEB][1].encode()))
            else:
                raw.send(MALFORMED[case])
            messages = await raw.messages()
            assert messages[-1]["type"] == "error", messages
            assert raw.reader.at_eof()  # closed after the error
            raw.close()
            await until(lambda: cp.streams == [])
            # the control plane still serves a well-behaved sidecar
            good = await Raw.open(cp.port, trust.authority.cert_pem)
            good.send(hello(trust.tokens[ACCOUNTS][1], "bank/accounts", ACCOUNTS))
            good.send({"type": "csr", "csr": csr_pem(new_key()).decode()})
            assert (await good.until("credentials"))["spiffeId"].endswith("/sa/ledger")
            good.close()
        finally:
            await cp.stop()
        assert unhandled == []

    run(scenario)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert any("refused a stream" in r.getMessage() for r in caplog.records)


# -- resources ------------------------------------------------------------------------------


def test_a_flood_of_silent_connections_does_not_lock_sidecars_out(spec_file: Path) -> None:
    trust = make_trust()

    class Quiet:
        def apply_snapshot(self, snapshot: Any) -> None:
            pass

        def set_credentials(self, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> None:
            pass

    async def scenario() -> None:
        cp = control_plane(trust, spec_file)
        await cp.start()
        silent: list[Raw] = []
        try:
            for _ in range(server.MAX_UNAUTHENTICATED + 40):
                silent.append(await Raw.open(cp.port, trust.authority.cert_pem))
            await until(lambda: len(cp._waiting) == server.MAX_UNAUTHENTICATED)
            node = Endpoint("shop/web", None, WEB, "127.0.0.1", 7000)
            web = ControlPlaneClient(Quiet(), node, trust.bootstrap(WEB, cp.port))
            await web.start()
            await until(lambda: web.credentials_received == 1 and web.version is not None)
            assert len(cp._waiting) <= server.MAX_UNAUTHENTICATED
            assert any("no hello while others waited" in r for r in cp.refusals)
            await web.stop()
        finally:
            for raw in silent:
                raw.close()
            await cp.stop()

    run(scenario, timeout=60)


def test_a_sidecar_that_stops_reading_is_cut_off(
    spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An authenticated stream that never reads must not make the control plane queue forever."""
    trust = make_trust()
    monkeypatch.setattr(server, "MAX_UNREAD", 1 << 20)

    async def scenario() -> None:
        cp = control_plane(trust, spec_file)
        await cp.start()
        try:
            raw = await Raw.open(cp.port, trust.authority.cert_pem)
            raw.send(hello(trust.tokens[WEB][1], "shop/web", WEB))
            await until(lambda: len(cp.streams) == 1)
            stream = cp.streams[0]
            assert cp.snapshot is not None
            bulk = {"kind": "Bulk", "data": "x" * (1 << 20)}  # never read by the test
            for _ in range(40):
                cp.publish(Snapshot(cp.snapshot.version + 1, (bulk,)))
                await asyncio.sleep(0.03)
                if stream.writer.is_closing():
                    break
            await until(lambda: cp.streams == [])
            raw.close()
        finally:
            await cp.stop()

    run(scenario)
