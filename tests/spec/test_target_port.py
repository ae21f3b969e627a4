"""targetPort: where a service port lands on the workloads."""

from __future__ import annotations

import jsonschema
import pytest

from meshspec.loader import load_texts
from meshspec.schema import document_schema

HEAD = "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata:\n  name: svc\n"


def _doc(port: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": "meshspec.io/v1alpha1",
        "kind": "Service",
        "metadata": {"name": "svc"},
        "spec": {"ports": [port]},
    }


@pytest.mark.parametrize(
    ("port", "valid"),
    [
        ({"port": 80}, True),
        ({"port": 80, "targetPort": 8080}, True),
        ({"port": 80, "targetPort": 65535}, True),
        ({"port": 80, "targetPort": 0}, False),
        ({"port": 80, "targetPort": 65536}, False),
        ({"port": 80, "targetPort": "http"}, False),
    ],
)
def test_schema_and_loader_agree(port: dict[str, object], valid: bool) -> None:
    schema_ok = not list(jsonschema.Draft202012Validator(document_schema()).iter_errors(_doc(port)))
    text = HEAD + "spec:\n  ports:\n    - " + str(port).replace("'", "") + "\n"
    loader_ok = not load_texts([("f.yaml", text)]).diagnostics
    assert (schema_ok, loader_ok) == (valid, valid)


def test_target_port_defaults_to_the_port() -> None:
    text = HEAD + "spec:\n  ports:\n    - {port: 80}\n    - {port: 81, targetPort: 9081}\n"
    spec = load_texts([("f.yaml", text)]).spec
    assert spec is not None
    ports = spec.service("default/svc").spec.ports
    assert [(p.port, p.workload_port) for p in ports] == [(80, 80), (81, 9081)]
