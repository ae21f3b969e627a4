"""`--appmesh-default-retries on|off`: App Mesh's hidden default retry policy depends on
the account's age, which its resources do not show ("Envoy defaults set by App Mesh"
in the user guide); `import` and `plan` take it from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from meshspec.cli import cli

CLOUDFORMATION = str(Path(__file__).parent / "forms" / "cloudformation.yaml")


def _import(*options: str) -> tuple[list[dict[str, object]], str]:
    result = CliRunner().invoke(
        cli, ["import", "--from", "appmesh", *options, "--allow-lossy", "all", CLOUDFORMATION]
    )
    assert result.exit_code == 0, result.output
    return list(yaml.safe_load_all(result.stdout)), result.stderr


def _retries(documents: list[dict[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for doc in documents:
        spec = doc.get("spec") or {}
        assert isinstance(spec, dict)
        for route in spec.get("routes") or []:
            out[route["name"]] = route.get("retries")
    return out


@pytest.mark.parametrize("options", [(), ("--appmesh-default-retries", "on")])
def test_on_writes_the_hidden_default_out(options: tuple[str, ...]) -> None:
    documents, stderr = _import(*options)
    assert "MS3106" in stderr
    assert _retries(documents)["default"] == {
        "attempts": 2,
        "retryOn": ["connect-failure", "refused-stream"],
        "statusCodes": [503],
    }


def test_off_leaves_routes_without_a_policy_without_retries() -> None:
    on, _ = _import("--appmesh-default-retries", "on")
    off, stderr = _import("--appmesh-default-retries", "off")
    assert "MS3106" not in stderr
    assert _retries(off)["default"] is None
    # a route with its own policy keeps it either way
    assert _retries(off)["api"] == _retries(on)["api"] is not None


def test_the_plan_compares_with_the_model_of_that_account(tmp_path: Path) -> None:
    """With `off`, App Mesh's own model retries nothing on a route without a policy, and the
    imported spec agrees: on a request App Mesh forwards, the plan finds no retry
    difference either way (a model left at the default would differ under `off`)."""
    answers = {}
    for value in ("on", "off"):
        out = tmp_path / value
        result = CliRunner().invoke(
            cli,
            [
                "plan",
                "--from",
                "appmesh",
                "--to",
                "reference",
                "--allow-lossy",
                "all",
                "--appmesh-default-retries",
                value,
                "--output-dir",
                str(out),
                CLOUDFORMATION,
            ],
        )
        assert result.exit_code == 0, result.output
        answers[value] = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert answers["on"] != answers["off"]
    for plan in answers.values():
        retries = [
            d
            for d in plan["comparison"]["differences"]
            if "retries" in d["changes"] and d["old"].startswith("forwarded")
        ]
        assert retries == []


def test_another_source_refuses_the_option() -> None:
    result = CliRunner().invoke(
        cli, ["import", "--from", "istio", "--appmesh-default-retries", "off", CLOUDFORMATION]
    )
    assert result.exit_code == 2
    assert "--from istio takes no --appmesh-default-retries" in result.output
