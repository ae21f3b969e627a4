"""The consul target on the command line: one file per entry in JSON or HCL, imported back
from the directory, and a live agent read through its HTTP API."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from adapters.consul.entries import config_entry, meta_key
from meshspec.adapter import Verdict
from meshspec.api import compile as compile_spec
from meshspec.api import load
from meshspec.cli import main
from meshspec.semantics import Request, decide
from tests.adapters.validator import REPO_ROOT
from tests.fixtures.realservers import ConsulAgent, free_port

CANARY = str(REPO_ROOT / "examples" / "canary" / "mesh.yaml")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("fmt", ["json", "hcl"])
def test_one_file_per_entry_in_apply_order_and_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    out_dir = tmp_path / "entries"
    code, _, err = _run(
        capsys, "compile", "-t", "consul", CANARY, "--format", fmt, "--output-dir", str(out_dir)
    )
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir() if not p.name.startswith("."))
    assert names[0].startswith("01-mesh-mesh.") and names[1].startswith("02-proxy-defaults-global")
    assert all(n.endswith("." + fmt) for n in names)
    kinds = [n.split("-", 1)[1] for n in names]
    assert kinds.index(next(k for k in kinds if k.startswith("service-router"))) > kinds.index(
        next(k for k in kinds if k.startswith("service-splitter"))
    )
    code, out, err = _run(capsys, "import", "--from", "consul", str(out_dir))
    assert code == 0, err
    assert "name: checkout" in out


def test_stdout_holds_the_entries_one_after_another(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "compile", "-t", "consul", CANARY)
    assert code == 0
    entries = [json.loads(chunk) for chunk in out.replace("}\n{", "}\n\x00{").split("\x00")]
    assert entries[1] == {"Kind": "proxy-defaults", "Name": "global", "MutualTLSMode": "strict"}
    assert {e["Kind"] for e in entries} >= {"service-router", "service-resolver", "mesh"}


def test_a_format_the_target_does_not_have_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(capsys, "compile", "-t", "consul", CANARY, "--format", "xml")
    assert code == 2 and "json, hcl" in err
    code, _, err = _run(capsys, "compile", "-t", "istio", CANARY, "--format", "hcl")
    assert code == 2


def test_an_agent_that_does_not_answer_is_a_finding(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, "import", "--from", "consul", "--consul-addr", f"127.0.0.1:{free_port()}"
    )
    assert code == 1 and "MS4511" in err and "nothing written" in err


def _put(agent: ConsulAgent, path: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{agent.http_url}{path}", data=json.dumps(body).encode(), method="PUT"
    )
    with urllib.request.urlopen(req, timeout=10) as answer:
        assert answer.status == 200


@pytest.mark.realservers
def test_import_from_a_live_agent_keeps_every_decision(
    clean_agent: ConsulAgent, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    consul_agent = clean_agent
    spec = load(CANARY)
    for resource in compile_spec(spec, "consul", ["all"]).resources:
        _put(consul_agent, "/v1/config", config_entry(resource))
    for svc in spec:
        for i, version in enumerate(svc.spec.versions or [None]):
            name = svc.metadata.name
            _put(
                consul_agent,
                "/v1/agent/service/register",
                {
                    "ID": f"{name}-{i}",
                    "Name": name,
                    "Port": svc.spec.ports[0].port,
                    "Meta": {}
                    if version is None
                    else {meta_key(k): v for k, v in version.selector.items()},
                },
            )
    code, _, err = _run(
        capsys,
        "import",
        "--from",
        "consul",
        "--consul-addr",
        consul_agent.http_addr,
        "--output-dir",
        str(tmp_path / "imported"),
    )
    assert code == 0, err
    back = load(str(tmp_path / "imported" / "mesh.yaml"))
    checkout = next(s for s in back if s.metadata.name == "checkout")
    assert [p.port for p in checkout.spec.ports] == [
        spec.service("shop/checkout").spec.ports[0].port
    ]
    for source in ("frontend", "checkout"):
        for target in ("/", "/cart", "/beta/x"):
            request = Request(destination="checkout", target=target, source=source)
            before, after = decide(spec, request), decide(back, request)
            assert (before.outcome, before.route) == (after.outcome, after.route), target
            shares = {
                (k.replace("shop/", "default/"), v): x
                for (k, v), x in Verdict.of(before).backends.items()
            }
            assert shares == dict(Verdict.of(after).backends), target


def test_apply_points_config_entries_to_consul_not_to_kubernetes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(capsys, "apply", "--target", "consul", CANARY, "--dry-run=server")
    assert code == 2 and "consul-k8s" in err
