"""A client policy's TLS with `enforce: false` (API reference `ClientPolicyTls`:
"whether the policy is enforced"): the client sends plaintext. Against a STRICT
listener App Mesh refuses the connection, the neutral spec (whose sidecars speak the
server's mode) would let it through: the import says so (MS3204) and its check fails
closed (MS3207); against a PERMISSIVE listener it is plaintext today, mTLS after."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.appmesh import adapter
from adapters.appmesh.model import AppMeshModel
from meshspec.adapter import NativeDocument, Topology
from meshspec.diagnostics import Severity
from meshspec.semantics import Outcome, Request, Transport

CRDS = (Path(__file__).parent / "forms" / "crds.yaml").read_text(encoding="utf-8")
POLICY = "        clientPolicy:\n          tls:\n"


def _documents(text: str, tmp_path: Path) -> list[NativeDocument]:
    path = tmp_path / "mesh.yaml"
    path.write_text(text, encoding="utf-8")
    assert adapter.files is not None
    docs, problems = adapter.files.read([str(path)])
    assert problems == []
    return list(docs)


def _with(enforce: bool | None, listener: str = "STRICT") -> str:
    text = CRDS.replace("mode: STRICT", f"mode: {listener}")
    if enforce is None:
        return text
    assert POLICY in text
    return text.replace(POLICY, POLICY + f"            enforce: {str(enforce).lower()}\n")


@pytest.mark.parametrize(
    ("enforce", "transport", "outcome"),
    [
        (None, Transport.MTLS, Outcome.FORWARDED),
        (True, Transport.MTLS, Outcome.FORWARDED),
        (False, Transport.REFUSED, Outcome.MTLS_REFUSED),
    ],
)
def test_the_model_reads_enforce(
    enforce: bool | None, transport: Transport, outcome: Outcome, tmp_path: Path
) -> None:
    docs = _documents(_with(enforce), tmp_path)
    imported = adapter.import_resources(docs)
    assert imported.spec is not None
    model = AppMeshModel([d.data for d in docs], Topology.of(imported.spec))
    verdict = model.decide(Request("shop/cart", "/", source="shop/frontend"))
    assert (verdict.outcome, verdict.transport) == (outcome, transport)


def test_an_unenforced_policy_towards_strict_is_reported_and_fails_closed(tmp_path: Path) -> None:
    found = adapter.import_resources(_documents(_with(False), tmp_path)).diagnostics
    client = [d for d in found if d.code == "MS3204"]
    assert client and "enforce: false" in client[0].message
    widened = [d for d in found if d.code == "MS3207"]
    assert widened and widened[0].severity is Severity.ERROR
    assert "shop/frontend" in widened[0].message
    enforced = adapter.import_resources(_documents(_with(True), tmp_path)).diagnostics
    assert not [d for d in enforced if d.code in ("MS3204", "MS3207")]


def test_an_unenforced_policy_towards_permissive_is_plaintext_today(tmp_path: Path) -> None:
    docs = _documents(_with(False, listener="PERMISSIVE"), tmp_path)
    imported = adapter.import_resources(docs)
    assert imported.spec is not None
    client = [d for d in imported.diagnostics if d.code == "MS3204"]
    assert client and "PERMISSIVE" in client[0].message and "encrypted" in client[0].hint
    assert not [d for d in imported.diagnostics if d.severity is Severity.ERROR]
    model = AppMeshModel([d.data for d in docs], Topology.of(imported.spec))
    verdict = model.decide(Request("shop/cart", "/", source="shop/frontend"))
    assert (verdict.outcome, verdict.transport) == (Outcome.FORWARDED, Transport.PLAINTEXT)
