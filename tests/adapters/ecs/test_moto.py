"""The compiled inputs sent to moto's ECS server (loopback) through boto3 and read back
with describe-task-definition and describe-services.

What moto 5.2.5 keeps (checked against moto/ecs/responses.py `create_service`): task
definitions with their named port mappings and `appProtocol`, services with their task
definition and tags. It drops `serviceConnectConfiguration` (create_service does not
read the parameter), so describe-services has none; the import of that output says so
for every service (MS7005) instead of inventing an empty mesh."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.ecs import adapter
from adapters.ecs.files import api_input
from meshspec.adapter import CompileOptions, NativeDocument
from meshspec.loader import load_paths
from meshspec.spec import Origin
from tests.adapters.appmesh.test_aws_account import moto_account
from tests.adapters.validator import REPO_ROOT

__all__ = ["moto_account"]

#: moto 5.2.5 does not store a service's serviceConnectConfiguration
MOTO_KEEPS_SERVICE_CONNECT = False


@pytest.mark.loopback
def test_compiled_inputs_are_created_in_moto_and_read_back(moto_account: str) -> None:
    import boto3

    spec = load_paths([str(REPO_ROOT / "examples" / "bookinfo" / "mesh.yaml")]).spec
    assert spec is not None
    options = CompileOptions(allow_lossy=frozenset({"all"}), workloads=True)
    compiled = adapter.compile(spec, options).resources
    ecs = boto3.client("ecs", region_name=moto_account)
    ecs.create_cluster(clusterName="mesh")
    for resource in compiled:
        body = api_input(resource)
        if resource["kind"] == "TaskDefinition":
            ecs.register_task_definition(**body)
        else:
            ecs.create_service(cluster="mesh", **body)

    services = [r for r in compiled if r["kind"] == "Service"]
    tasks = [r for r in compiled if r["kind"] == "TaskDefinition"]
    read_tasks = [
        ecs.describe_task_definition(taskDefinition=t["family"])["taskDefinition"] for t in tasks
    ]
    for sent, held in zip(tasks, read_tasks, strict=True):
        mappings = [
            {k: m[k] for k in ("name", "containerPort", "appProtocol") if k in m}
            for c in held["containerDefinitions"]
            for m in c["portMappings"]
        ]
        assert mappings == [
            {k: m[k] for k in ("name", "containerPort", "appProtocol") if k in m}
            for c in sent["containerDefinitions"]
            for m in c["portMappings"]
        ]
    described = ecs.describe_services(
        cluster="mesh", services=[s["serviceName"] for s in services], include=["TAGS"]
    )["services"]
    assert sorted(d["serviceName"] for d in described) == sorted(s["serviceName"] for s in services)
    for service in described:
        held = _primary_configuration(service)
        sent = next(s for s in services if s["serviceName"] == service["serviceName"])
        if MOTO_KEEPS_SERVICE_CONNECT:
            assert held == sent["serviceConnectConfiguration"]
        else:
            assert held is None, "moto keeps serviceConnectConfiguration now: compare it"

    docs = [
        NativeDocument(t, Origin("describe-task-definition", i)) for i, t in enumerate(read_tasks)
    ]
    docs.append(NativeDocument({"services": described}, Origin("describe-services", 0)))
    result = adapter.import_resources(docs)
    skipped = [d for d in result.diagnostics if d.code == "MS7005"]
    assert len(skipped) == (0 if MOTO_KEEPS_SERVICE_CONNECT else len(services))


def _primary_configuration(service: dict[str, Any]) -> Any:
    for deployment in service.get("deployments") or []:
        if deployment.get("status") == "PRIMARY":
            return deployment.get("serviceConnectConfiguration")
    return service.get("serviceConnectConfiguration")
