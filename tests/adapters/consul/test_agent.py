"""Compiled config entries against a real Consul agent: every entry of every example (and of
the table fragments) is accepted and read back equal, the HCL files are accepted by
`consul config write`, and the discovery chains Consul compiles from them send each route
where the Consul model says."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from adapters.consul._model_chain import Chain
from adapters.consul.entries import config_entry
from adapters.consul.files import render
from adapters.consul.model import as_entries
from meshspec.api import compile as compile_spec
from meshspec.api import load
from meshspec.durations import parse_duration
from tests.adapters.consul import test_tables
from tests.adapters.validator import REPO_ROOT, load_fragment
from tests.fixtures.realservers import ConsulAgent, require_binary

pytestmark = pytest.mark.realservers

CALLERS = ", ".join(f"caller-{i:03d}" for i in range(120))
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*/mesh.yaml"))
FRAGMENTS = {
    "ordered": test_tables.routes_table.ORDERED,
    "split": test_tables.splits_table.SPLIT,
    "deny-header": test_tables.DENY_HEADER,
    "l7": test_tables.authz_table.L7,
    # Consul refuses a permissive proxy-defaults before the mesh entry allows it
    "mesh-permissive": """
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: m}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web}
""",
    # most services share one setting (the callers' Defaults); one without limits overrides
    # them with an empty Limits, which Consul must keep (else the defaults' limits stay)
    "shared-resilience": "\n---\n".join(
        [
            "apiVersion: meshspec.io/v1alpha1\nkind: Mesh\nmetadata: {name: m}",
            *(
                f"apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {{name: {n}}}\n"
                "spec: {resilience: {outlierDetection: {consecutive5xxErrors: 3}, "
                "connectionLimits: {maxConnections: 9}}}"
                for n in ("a", "b", "c")
            ),
            "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {name: d}\n"
            "spec: {resilience: {outlierDetection: {consecutive5xxErrors: 2}}}",
        ]
    ),
    # so many named permissions that their neutral names need more than Consul's 64 Meta
    # values written plainly: they are written compressed, and Consul must accept them
    "many-names": "\n---\n".join(
        [
            "apiVersion: meshspec.io/v1alpha1\nkind: Mesh\nmetadata: {name: m}",
            *(
                "apiVersion: meshspec.io/v1alpha1\nkind: Service\n"
                f"metadata: {{name: caller-{i:03d}}}"
                for i in range(120)
            ),
            "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {name: web}\n"
            "spec:\n  authorization:\n    default: deny\n    rules:\n"
            + "".join(
                f"      - name: allow-reads-of-path-number-{j}-from-every-caller-of-this-mesh\n"
                "        action: ALLOW\n"
                f"        from: [{{services: [{CALLERS}]}}]\n"
                f"        to: {{methods: [GET], paths: [{{prefix: /p{j}}}]}}\n"
                for j in range(6)
            ),
        ]
    ),
}
#: fields Consul reads as durations and writes back in Go's spelling (`1m` -> `1m0s`)
DURATIONS = {"RequestTimeout", "Interval", "BaseEjectionTime"}


def _compiled(name: str) -> list[dict[str, Any]]:
    if name in FRAGMENTS:
        spec = load_fragment(FRAGMENTS[name])
    else:
        spec = load(str(REPO_ROOT / "examples" / name / "mesh.yaml"))
    # allowing the security losses changes severities, never the entries
    return compile_spec(spec, "consul", ["all"]).resources


CASES = [*(p.parent.name for p in EXAMPLES), *FRAGMENTS]


def _go_seconds(text: str) -> float:
    """Go's duration spelling (`1m0s`, `1.5s`, `-1s`) in seconds."""
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("-")
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    i = 0
    while i < len(text):
        if text[i].isdigit() or text[i] == ".":
            number += text[i]
            i += 1
            continue
        unit = "ms" if text[i : i + 2] == "ms" else text[i]
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    return sign * total


def _same(sent: Any, read: Any, key: str = "") -> bool:
    """Every field sent is read back with the same value (Consul adds bookkeeping)."""
    if isinstance(sent, dict):
        return isinstance(read, dict) and all(
            k in read and _same(v, read[k], k) for k, v in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(read, list)
            and len(sent) == len(read)
            and all(_same(s, r, key) for s, r in zip(sent, read, strict=True))
        )
    if key in DURATIONS and isinstance(sent, str):
        seconds = -parse_duration(sent[1:]) if sent.startswith("-") else parse_duration(sent)
        # a PassiveHealthCheck reads back in nanoseconds, a route in Go's spelling
        got = read / 1e9 if isinstance(read, int) else _go_seconds(str(read))
        return abs(got - seconds) < 1e-9
    return bool(sent == read)


def _write(agent: ConsulAgent, entry: dict[str, Any]) -> None:
    import urllib.request

    req = urllib.request.Request(
        f"{agent.http_url}/v1/config", data=json.dumps(entry).encode(), method="PUT"
    )
    with urllib.request.urlopen(req, timeout=10) as answer:
        assert answer.read().strip() == b"true", entry


def _read(agent: ConsulAgent, kind: str, name: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(f"{agent.http_url}/v1/config/{kind}/{name}", timeout=10) as r:
        return dict(json.loads(r.read()))


@pytest.mark.parametrize("case", CASES)
def test_every_entry_is_accepted_and_read_back_equal(clean_agent: ConsulAgent, case: str) -> None:
    entries = [config_entry(r) for r in _compiled(case)]
    for e in entries:
        _write(clean_agent, e)
    for e in entries:
        back = _read(clean_agent, e["Kind"], e.get("Name", "mesh"))
        assert _same(e, back), f"{e['Kind']} {e.get('Name')}: sent {e}, read back {back}"


@pytest.mark.parametrize("case", ["bookinfo", "l7"])
def test_consul_config_write_reads_the_hcl_files(
    clean_agent: ConsulAgent, tmp_path: Path, case: str
) -> None:
    consul = require_binary("consul")
    resources = _compiled(case)
    env = dict(os.environ, CONSUL_HTTP_ADDR=clean_agent.http_addr)
    for (name, text), resource in zip(render(resources, "hcl"), resources, strict=True):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [str(consul), "config", "write", str(path)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        sent = config_entry(resource)
        back = _read(clean_agent, sent["Kind"], sent.get("Name", "mesh"))
        assert _same(sent, back), f"{name}: read back {back}"


def _walk(chain: dict[str, Any], node: str, weight: float) -> dict[tuple[str, str | None], float]:
    """Where Consul's compiled chain sends traffic from `node` on: target -> share."""
    n = chain["Nodes"][node]
    out: dict[tuple[str, str | None], float] = {}
    if n["Type"] == "splitter":
        for s in n["Splits"]:
            for k, v in _walk(chain, s["NextNode"], weight * s["Weight"] / 100).items():
                out[k] = out.get(k, 0.0) + v
        return out
    target = chain["Targets"][n["Resolver"]["Target"]]
    key = (target["Service"], target.get("ServiceSubset") or None)
    return {key: weight}


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c not in ("l7", "mesh-permissive", "shared-resilience", "many-names")],
)
def test_each_route_reaches_the_targets_the_model_says(clean_agent: ConsulAgent, case: str) -> None:
    resources = _compiled(case)
    for e in resources:
        _write(clean_agent, config_entry(e))
    entries = as_entries(resources)
    model = Chain({(str(e["kind"]), str(e["Name"])): e for e in entries})
    client = clean_agent.client()
    routers = [e for e in entries if e["kind"] == "service-router"]
    assert routers or case in ("deny-header",)
    for router in routers:
        name = str(router["Name"])
        chain = client.discovery_chain.get(name)["Chain"]
        node = chain["Nodes"][chain["StartNode"]]
        routes = node["Routes"]
        # Consul appends the default route to the service itself
        assert len(routes) == len(router["Routes"]) + 1
        for i, route in enumerate([*router["Routes"], {"Destination": {}}]):
            dest = route.get("Destination") or {}
            legs = model.legs(str(dest.get("Service") or name), dest.get("ServiceSubset"), 1.0)
            want: dict[tuple[str, str | None], float] = {}
            for leg in legs:
                want[(leg.service, leg.subset)] = (
                    want.get((leg.service, leg.subset), 0.0) + leg.weight
                )
            got = _walk(chain, routes[i]["NextNode"], 1.0)
            assert {k: round(v, 4) for k, v in got.items()} == {
                k: round(v, 4) for k, v in want.items()
            }, (name, i)
