"""Route header conditions against a client that repeats the header.

The spec matches a route's header condition against the header's lines joined
with ',' (docs/spec.md, header values); a real Envoy's route matcher tests each
line and takes the route when any one matches (the live Istio differential,
tests/realservers/test_istio_live_differential.py). The Istio model reads
lines as Envoy does, and the compiler warns (MS1015) exactly where the two
differ: value, prefix and regex conditions, never presence.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.istio.codes import ROUTE_HEADER_LINES
from adapters.istio.model import IstioModel
from meshspec import api
from meshspec.adapter import Topology
from meshspec.diagnostics import Severity
from meshspec.semantics import Request, decide

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: echo}
spec:
  versions: [{name: v1}, {name: v2}]
  routes:
    - name: debug
      matches: [{headers: [{name: x-debug, %s}]}]
      backends: [{version: v2}]
    - {name: rest, backends: [{version: v1}]}
"""

#: (condition, header lines, Istio takes the debug route, the spec takes it)
ROWS: list[tuple[str, str | Sequence[str], bool, bool]] = [
    ('exact: "1"', "1", True, True),
    ('exact: "1"', ["0", "1"], True, False),
    ('exact: "1"', ["1", "0"], True, False),
    ('exact: "1"', "0,1", False, False),
    ('exact: "1"', ["0", "2"], False, False),
    ("prefix: ab", ["x", "abc"], True, False),
    ("prefix: ab", ["abc", "x"], True, True),
    ("regex: 'a+'", ["b", "aa"], True, False),
    ("present: true", ["0", "1"], True, True),
]


@pytest.mark.parametrize(("condition", "lines", "istio", "neutral"), ROWS)
def test_istio_takes_a_header_route_when_any_line_matches(
    condition: str, lines: str | Sequence[str], istio: bool, neutral: bool
) -> None:
    spec = api.load_text(SPEC % condition)
    request = Request(destination="echo", source="client", headers={"x-debug": lines})
    compiled = api.compile(spec, "istio")
    model = IstioModel(compiled.resources, Topology.of(spec))
    assert str(model.decide(request).route).startswith("debug") is istio  # rule `debug.0`
    assert (decide(spec, request).route == "debug") is neutral


@pytest.mark.parametrize(
    ("condition", "warned"),
    [('exact: "1"', True), ("prefix: ab", True), ("regex: 'a+'", True), ("present: true", False)],
)
def test_ms1015_warns_where_lines_and_joined_value_differ(condition: str, warned: bool) -> None:
    result = api.compile(api.load_text(SPEC % condition), "istio")
    found = [d for d in result.diagnostics if d.code == ROUTE_HEADER_LINES.code]
    assert bool(found) is warned
    assert all(d.severity == Severity.WARNING and not d.area for d in found)
    assert all(d.path == "spec.routes[0].matches[0].headers[0]" for d in found)
    assert all(d.line > 0 for d in found)
