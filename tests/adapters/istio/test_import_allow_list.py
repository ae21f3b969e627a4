"""The VirtualService importer reads through allow-lists: every field it does not know,
at any depth, is a finding that names the field and its file:line, and what it knows
but cannot keep is reported as dropped. Nothing disappears silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.istio.importer import import_istio
from meshspec.diagnostics import Diagnostic
from meshspec.native import read_native

VIRTUAL_SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  exportTo: ["."]
  sparkle: true
  http:
  - name: api
    surprise: 1
    match:
    - uri: {prefix: /api, suffix: x}
      method: {exact: GET, glob: "G*"}
      headers:
        x-env: {exact: canary, fuzzy: "1"}
      queryParams:
        v: {exact: "2", loose: "1"}
      tilt: 3
    route:
    - destination:
        host: web
        port: {number: 80, name: http}
        zone: a
      weight: 100
      color: red
    retries:
      attempts: 2
      jitter: 1s
    headers:
      request:
        set: {x-a: "1"}
        append: {x-b: "2"}
      sideways: {}
"""

#: (field path, line in the file above) of every field the importer does not know
UNKNOWN = [
    ("spec.sparkle", 14),
    ("spec.http.0.surprise", 17),
    ("spec.http.0.match.0.uri.suffix", 19),
    ("spec.http.0.match.0.method.glob", 20),
    ("spec.http.0.match.0.headers.x-env.fuzzy", 22),
    ("spec.http.0.match.0.queryParams.v.loose", 24),
    ("spec.http.0.match.0.tilt", 25),
    ("spec.http.0.route.0.destination.port.name", 29),
    ("spec.http.0.route.0.destination.zone", 30),
    ("spec.http.0.route.0.color", 32),
    ("spec.http.0.retries.jitter", 35),
    ("spec.http.0.headers.request.append", 39),
    ("spec.http.0.headers.sideways", 40),
]


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Diagnostic]:
    file = tmp_path_factory.mktemp("vs") / "web.yaml"
    file.write_text(VIRTUAL_SERVICE)
    documents, problems = read_native([str(file)])
    assert problems == []
    result = import_istio(documents)
    assert result.spec is not None
    return result.diagnostics


@pytest.mark.parametrize(("path", "line"), UNKNOWN)
def test_an_unknown_field_is_named_with_its_file_and_line(
    findings: list[Diagnostic], path: str, line: int
) -> None:
    found = [d for d in findings if d.code == "MS1522" and d.path == path]
    assert len(found) == 1, [d.path for d in findings if d.code == "MS1522"]
    field = path.rsplit(".", 1)[1]
    assert f"`{field}`" in found[0].message
    assert found[0].location is not None
    assert Path(found[0].location.file).name == "web.yaml"
    assert found[0].location.line == line


def test_only_unknown_fields_are_reported_as_unknown(findings: list[Diagnostic]) -> None:
    assert sorted(d.path for d in findings if d.code == "MS1522") == sorted(p for p, _ in UNKNOWN)


def test_export_to_is_known_and_reported_as_not_kept(findings: list[Diagnostic]) -> None:
    (dropped,) = [d for d in findings if d.path == "spec.exportTo"]
    assert dropped.code == "MS1505"
    assert dropped.location is not None and dropped.location.line == 13
