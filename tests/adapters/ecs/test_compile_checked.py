"""Every compiled ECS output is checked by AWS's own descriptions of it: each
`create-service` and `register-task-definition` input by botocore's parameter
validation against the ECS service model (`botocore/data/ecs/2014-11-13`), the
CloudFormation form by cfn-lint with the AWS::ECS resource schemas."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from adapters.ecs import adapter
from adapters.ecs.files import api_input
from conformance.library import builtin_cases
from meshspec.adapter import CompileOptions
from meshspec.loader import load_paths, load_texts
from meshspec.spec import Spec
from tests.adapters.validator import REPO_ROOT

LOSSY = CompileOptions(allow_lossy=frozenset({"all"}), workloads=True)
OPERATION = {"Service": "CreateService", "TaskDefinition": "RegisterTaskDefinition"}


@cache
def corpus() -> tuple[tuple[str, Spec], ...]:
    out = []
    for path in [
        *sorted((REPO_ROOT / "examples").glob("*/mesh.yaml")),
        REPO_ROOT / "tests" / "adapters" / "demanding.yaml",
    ]:
        spec = load_paths([str(path)]).spec
        assert spec is not None, path
        out.append((path.relative_to(REPO_ROOT).as_posix(), spec))
    for case in builtin_cases():
        spec = load_texts([(case.name, case.spec_text)]).spec
        assert spec is not None
        out.append((case.name, spec))
    return tuple(out)


@cache
def _ecs_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecs")


def _problems(resource: dict[str, Any]) -> str:
    """botocore's own validation of the API input (the same a boto3 client runs
    before sending): an empty string when it takes it."""
    from botocore.validate import ParamValidator

    shape = _ecs_model().operation_model(OPERATION[resource["kind"]]).input_shape
    report = ParamValidator().validate(api_input(resource), shape)
    return report.generate_report() if report.has_errors() else ""


def test_every_compiled_input_passes_botocores_validation() -> None:
    kinds = set()
    services = 0
    for name, spec in corpus():
        for resource in adapter.compile(spec, LOSSY).resources:
            assert _problems(resource) == "", (name, resource.get("serviceName"))
            kinds.add(resource["kind"])
            services += resource["kind"] == "Service"
    assert kinds == {"Service", "TaskDefinition"} and services >= 20


def test_the_validation_refuses_what_ecs_refuses() -> None:
    """The check is a real one: a wrong type, an unknown field and a missing required
    member of a compiled input are each refused."""
    spec = corpus()[0][1]
    service = next(r for r in adapter.compile(spec, LOSSY).resources if r["kind"] == "Service")
    entry = service["serviceConnectConfiguration"]["services"][0]
    broken = []
    changes: tuple[Callable[[dict[str, Any]], object], ...] = (
        lambda e: e["clientAliases"][0].update(port="9080"),
        lambda e: e.update(timeouts={"perRequestTimeoutSeconds": 1}),
        lambda e: e.pop("portName"),
        lambda e: e.update(tls={"kmsKey": "k"}),
    )
    for change in changes:
        copied = copy.deepcopy(service)
        change(copied["serviceConnectConfiguration"]["services"][0])
        broken.append(_problems(copied))
    assert all(broken), broken
    assert entry["portName"]


def test_every_compiled_template_passes_cfn_lint() -> None:
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(regions=["eu-west-1"])
    seen = set()
    options = CompileOptions(allow_lossy=frozenset({"all"}), workloads=True, form="cloudformation")
    for name, spec in corpus():
        [template] = adapter.compile(spec, options).resources
        text = json.dumps(template, indent=1, sort_keys=True)
        if text in seen:
            continue
        seen.add(text)
        found = [f"{m.rule.id} {m.message} at {m.path}" for m in lint(text, config=config)]
        assert found == [], name
    assert len(seen) >= 10


@pytest.mark.parametrize("workloads", [False, True])
def test_the_template_holds_the_same_configuration(workloads: bool) -> None:
    """CloudFormation's ServiceConnectConfiguration is the API's, in PascalCase."""
    spec = corpus()[0][1]
    options = CompileOptions(allow_lossy=frozenset({"all"}), workloads=workloads)
    services = [r for r in adapter.compile(spec, options).resources if r["kind"] == "Service"]
    [template] = adapter.compile(
        spec,
        CompileOptions(allow_lossy=frozenset({"all"}), workloads=workloads, form="cloudformation"),
    ).resources
    held = {
        props["ServiceName"]: props["ServiceConnectConfiguration"]
        for res in template["Resources"].values()
        if res["Type"] == "AWS::ECS::Service"
        for props in [res["Properties"]]
    }
    assert sorted(held) == sorted(s["serviceName"] for s in services)
    for service in services:
        config = held[service["serviceName"]]
        api = service["serviceConnectConfiguration"]
        assert config["Namespace"] == api["namespace"] and config["Enabled"] is True
        for cfn, entry in zip(config["Services"], api["services"], strict=True):
            assert cfn["PortName"] == entry["portName"]
            assert cfn["ClientAliases"] == [
                {"Port": a["port"], "DnsName": a["dnsName"]} for a in entry["clientAliases"]
            ]
            timeout = entry.get("timeout", {}).get("perRequestTimeoutSeconds")
            assert cfn.get("Timeout", {}).get("PerRequestTimeoutSeconds") == timeout
