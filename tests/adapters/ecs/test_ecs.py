"""ECS Service Connect: what each neutral setting becomes (a table of small specs), the
import of each ECS form, the model's answers, and `plan --from appmesh`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.ecs import adapter
from meshspec.adapter import CompileOptions, NativeDocument, Topology
from meshspec.cli import cli
from meshspec.diagnostics import Severity
from meshspec.loader import load_texts
from meshspec.semantics import Outcome, Request, Transport, decide
from meshspec.spec import MtlsMode, Origin, Spec
from tests.fixtures.realservers import upstream_dir

PLAIN = """
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: shop}
spec: {mtls: {mode: DISABLE}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client, namespace: web}
"""


def spec_of(service: str, mesh: str = PLAIN) -> Spec:
    text = mesh + "---\napiVersion: meshspec.io/v1alpha1\nkind: Service\n" + service
    loaded = load_texts([("mesh.yaml", text)])
    assert loaded.ok and loaded.spec is not None, [d.render() for d in loaded.diagnostics]
    return loaded.spec


def compiled(spec: Spec, **options: Any) -> tuple[list[dict[str, Any]], dict[str, Severity]]:
    result = adapter.compile(spec, CompileOptions(**options))
    return result.resources, {d.code: d.severity for d in result.diagnostics}


def entries(resources: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    service = next(r for r in resources if r.get("serviceName") == name)
    return list(service["serviceConnectConfiguration"]["services"])


# --- compile: one row a setting -------------------------------------------------------

LOSSES = [
    # (service document, code, severity)
    (
        "metadata: {name: api}\nspec:\n  routes: [{name: a, matches: [{path: {prefix: /a}}]}]",
        "MS7501",
        Severity.WARNING,
    ),
    (
        "metadata: {name: api}\nspec:\n  versions: [{name: v1}, {name: v2}]\n"
        "  routes: [{name: a, backends: [{version: v1, weight: 90}, {version: v2, weight: 10}]}]",
        "MS7502",
        Severity.WARNING,
    ),
    (
        "metadata: {name: api}\nspec:\n  routes: [{name: a, retries: {attempts: 2}}]",
        "MS7503",
        Severity.WARNING,
    ),
    (
        "metadata: {name: api}\nspec:\n  routes:\n"
        "  - {name: a, matches: [{path: {prefix: /a}}], timeout: 3s}\n"
        "  - {name: b, timeout: 20s}",
        "MS7504",
        Severity.WARNING,
    ),
    (
        "metadata: {name: api}\nspec:\n  routes: [{name: a, timeout: 1500ms}]",
        "MS7505",
        Severity.WARNING,
    ),
    (
        "metadata: {name: api}\nspec:\n  authorization: {default: deny, rules: "
        "[{name: r, action: ALLOW, from: [{namespaces: [web]}]}]}",
        "MS7506",
        Severity.ERROR,
    ),
    ("metadata: {name: api}\nspec:\n  mtls: {mode: STRICT}", "MS7507", Severity.ERROR),
    ("metadata: {name: api}\nspec:\n  mtls: {mode: PERMISSIVE}", "MS7507", Severity.ERROR),
    (
        "metadata: {name: api}\nspec:\n  resilience: {outlierDetection: {consecutive5xxErrors: 3}}",
        "MS7508",
        Severity.WARNING,
    ),
    (
        "metadata: {name: api}\nspec:\n  routes: [{name: a, requestHeaders: {set: {x-a: b}}}]",
        "MS7509",
        Severity.WARNING,
    ),
    (f"metadata: {{name: {'a' * 60}}}", "MS7512", Severity.ERROR),
]


@pytest.mark.parametrize(("service", "code", "severity"), LOSSES)
def test_each_loss_is_reported_with_its_code(service: str, code: str, severity: Severity) -> None:
    _, found = compiled(spec_of(service))
    assert found.get(code) is severity
    if severity is Severity.ERROR and code in ("MS7506", "MS7507"):
        _, allowed = compiled(spec_of(service), allow_lossy=frozenset({"all"}))
        assert allowed[code] is Severity.WARNING


def test_a_plain_service_loses_nothing() -> None:
    resources, found = compiled(spec_of("metadata: {name: api, namespace: shop}"))
    assert {c for c, s in found.items() if s is not Severity.INFO} == set()
    [entry] = entries(resources, "api-shop")
    assert entry == {
        "portName": "http-80",
        "discoveryName": "api-shop",
        "clientAliases": [{"port": 80, "dnsName": "api.shop"}],
        "timeout": {"perRequestTimeoutSeconds": 15},
    }
    service = next(r for r in resources if r.get("serviceName") == "api-shop")
    assert service["serviceConnectConfiguration"]["namespace"] == "shop"


@pytest.mark.parametrize(
    ("timeouts", "seconds"),
    [
        ((None,), 15),
        (("3s",), 3),
        (("0s",), 0),
        (("2500ms",), 3),
        (("3s", "20s"), 20),
        (("3s", "0s"), 0),
    ],
)
def test_the_port_timeout_is_the_longest_route_timeout(
    timeouts: tuple[str | None, ...], seconds: int
) -> None:
    routes = [
        {
            "name": f"r{i}",
            **({"timeout": t} if t else {}),
            **({"matches": [{"path": {"prefix": f"/{i}"}}]} if i else {}),
        }
        for i, t in enumerate(timeouts)
    ]
    resources, _ = compiled(
        spec_of("metadata: {name: api}\nspec:\n  routes: " + json.dumps(routes))
    )
    [entry] = entries(resources, "api-default")
    assert entry["timeout"] == {"perRequestTimeoutSeconds": seconds}


def test_ports_tls_and_tcp() -> None:
    """Each port an entry; TCP has no per-request timeout; a PERMISSIVE port gets TLS."""
    spec = spec_of(
        "metadata: {name: api}\nspec:\n  ports: [{port: 80, name: web}, "
        "{port: 5432, name: db, protocol: tcp}, "
        "{port: 9090, protocol: grpc, targetPort: 19090}]\n  mtls: {ports: {9090: PERMISSIVE}}"
    )
    resources, found = compiled(spec, allow_lossy=frozenset({"mtls"}), workloads=True)
    web, db, grpc = entries(resources, "api-default")
    assert (web["portName"], db["portName"], grpc["portName"]) == ("web", "db", "grpc-9090")
    assert [e["discoveryName"] for e in (web, db, grpc)] == [
        "api-default",
        "api-default-db",
        "api-default-grpc-9090",
    ]
    assert "timeout" not in db and "tls" not in web and "tls" not in db
    assert grpc["tls"]["issuerCertificateAuthority"]["awsPcaAuthorityArn"].startswith(
        "arn:aws:acm-pca"
    )
    assert "MS7510" in found
    task = next(
        r for r in resources if r["kind"] == "TaskDefinition" and r["family"] == "api-default"
    )
    mappings = task["containerDefinitions"][0]["portMappings"]
    assert [(m["name"], m["containerPort"], m.get("appProtocol")) for m in mappings] == [
        ("web", 80, "http"),
        ("db", 5432, None),
        ("grpc-9090", 19090, "grpc"),
    ]


# --- import ---------------------------------------------------------------------------


def _docs(*data: dict[str, Any]) -> list[NativeDocument]:
    return [NativeDocument(d, Origin("in.json", i)) for i, d in enumerate(data)]


def test_compiled_output_imports_back_to_the_same_output() -> None:
    spec = spec_of(
        "metadata: {name: api, namespace: shop}\nspec:\n"
        "  ports: [{port: 80, name: web}, {port: 9090, protocol: grpc}]\n"
        "  routes: [{name: slow, timeout: 40s}]"
    )
    first, _ = compiled(spec, workloads=True)
    back = adapter.import_resources(_docs(*first))
    assert back.spec is not None
    assert not [d for d in back.diagnostics if d.severity is Severity.ERROR]
    again, _ = compiled(back.spec, workloads=True)
    assert [r for r in again if r["kind"] == "Service" and r["serviceName"] == "api-shop"] == [
        r for r in first if r["kind"] == "Service" and r["serviceName"] == "api-shop"
    ]
    api = back.spec.service("shop/api").spec
    assert [(p.port, p.protocol.value) for p in api.ports] == [(80, "http"), (9090, "grpc")]
    assert [(r.name, r.timeout) for r in api.routes] == [("slow", 40.0)]


def test_describe_services_output_reads_the_primary_deployment() -> None:
    configuration = {
        "enabled": True,
        "namespace": "arn:aws:servicediscovery:eu-west-1:1:namespace/ns-1",
        "services": [
            {
                "portName": "api",
                "discoveryName": "orders",
                "clientAliases": [{"port": 8080, "dnsName": "orders.shop"}],
                "timeout": {"perRequestTimeoutSeconds": 0, "idleTimeoutSeconds": 60},
                "tls": {"issuerCertificateAuthority": {"awsPcaAuthorityArn": "arn:x"}},
                "retries": 3,
            }
        ],
    }
    described = {
        "services": [
            {
                "serviceName": "orders",
                "deployments": [
                    {"status": "ACTIVE", "serviceConnectConfiguration": {"enabled": False}},
                    {"status": "PRIMARY", "serviceConnectConfiguration": configuration},
                ],
            }
        ]
    }
    result = adapter.import_resources(_docs(described))
    codes = {d.code: d for d in result.diagnostics}
    assert result.spec is not None
    orders = result.spec.service("shop/orders").spec
    assert orders.mtls is not None and orders.mtls.mode is MtlsMode.STRICT
    assert [(r.name, r.timeout) for r in orders.routes] == [("service-connect", 0.0)]
    assert {"MS7010", "MS7009", "MS7002"} <= set(codes)
    dropped = codes["MS7002"]
    assert dropped.location is not None and "retries" in dropped.message
    assert dropped.path == "services.0.deployments.1.serviceConnectConfiguration.services.0.retries"


def test_what_is_not_service_connect_is_said() -> None:
    result = adapter.import_resources(
        _docs({"serviceName": "batch"}, {"apiVersion": "v1", "kind": "ConfigMap"})
    )
    assert result.spec is None
    assert {d.code for d in result.diagnostics} == {"MS7005", "MS7003", "MS7006"}


# --- model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "request_", "outcome", "timeout", "transport"),
    [
        (
            "metadata: {name: api}",
            Request("api", source="web/client"),
            Outcome.FORWARDED,
            15.0,
            Transport.PLAINTEXT,
        ),
        (
            "metadata: {name: api}\nspec:\n  routes: [{name: a, timeout: 0s}]",
            Request("api", source="web/client"),
            Outcome.FORWARDED,
            None,
            Transport.PLAINTEXT,
        ),
        (
            "metadata: {name: api}\nspec:\n  routes: [{name: a, timeout: 7s}]",
            Request("api"),
            Outcome.FORWARDED,
            None,
            Transport.PLAINTEXT,
        ),
        (
            "metadata: {name: api}\nspec:\n  mtls: {mode: PERMISSIVE}",
            Request("api", source="web/client"),
            Outcome.FORWARDED,
            15.0,
            Transport.MTLS,
        ),
        (
            "metadata: {name: api}\nspec:\n  mtls: {mode: PERMISSIVE}",
            Request("api"),
            Outcome.MTLS_REFUSED,
            None,
            Transport.REFUSED,
        ),
        (
            "metadata: {name: api}\nspec:\n  ports: [{port: 5432, protocol: tcp}]",
            Request("api", source="web/client"),
            Outcome.NOT_HTTP,
            None,
            None,
        ),
    ],
)
def test_the_model_answers_from_the_ecs_inputs(
    service: str,
    request_: Request,
    outcome: Outcome,
    timeout: float | None,
    transport: Transport | None,
) -> None:
    spec = spec_of(service)
    resources, _ = compiled(spec, allow_lossy=frozenset({"all"}))
    verdict = adapter.model(resources, Topology.of(spec)).decide(request_)
    assert (verdict.outcome, verdict.timeout, verdict.transport) == (outcome, timeout, transport)
    if outcome is Outcome.FORWARDED:
        assert dict(verdict.backends) == {("default/api", None): 1.0}


def test_the_model_differs_from_the_spec_exactly_where_the_compile_said() -> None:
    """A route with matches is lost (MS7501): the spec answers 404 where Service Connect
    forwards, and the fuzzer is told to skip the whole answer for such a spec."""
    spec = spec_of(
        "metadata: {name: api}\nspec:\n  routes: [{name: a, matches: [{path: {exact: /a}}]}]"
    )
    result = adapter.compile(spec, CompileOptions())
    request = Request("api", target="/b", source="web/client")
    verdict = adapter.model(result.resources, Topology.of(spec)).decide(request)
    assert decide(spec, request).outcome is Outcome.NO_ROUTE
    assert verdict.outcome is Outcome.FORWARDED
    assert adapter.known_differences(result.diagnostics, spec, request) is None


# --- plan from App Mesh ---------------------------------------------------------------

FORMS = Path(__file__).parents[1] / "appmesh" / "forms"


@pytest.mark.parametrize("source", ["cloudformation.yaml", "terraform.tf", "crds.yaml", "cli"])
def test_plan_from_appmesh_names_the_security_losses_then_reports_every_loss(
    source: str, tmp_path: Path
) -> None:
    path = str(FORMS / source)
    refused = CliRunner().invoke(
        cli, ["plan", "--from", "appmesh", "--to", "ecs-service-connect", path]
    )
    assert refused.exit_code != 0
    assert "--allow-lossy" in refused.output and not list(tmp_path.iterdir())
    out = tmp_path / "plan"
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--from",
            "appmesh",
            "--to",
            "ecs-service-connect",
            "--allow-lossy",
            "all",
            "--output-dir",
            str(out),
            path,
        ],
    )
    assert result.exit_code == 0, result.output
    report = (out / "plan.md").read_text(encoding="utf-8")
    assert "MS7506" in report or "MS7507" in report
    assert "MS7501" in report or "MS7502" in report


def test_plan_from_appmesh_published_examples() -> None:
    """App Mesh's own examples: a plan or a clear refusal, never a traceback."""
    folder = upstream_dir() / "examples" / "appmesh"
    files = sorted(folder.rglob("*.yaml"))[:12]
    assert files, f"no App Mesh examples in {folder}"
    planned = 0
    for path in files:
        result = CliRunner().invoke(
            cli,
            [
                "plan",
                "--from",
                "appmesh",
                "--to",
                "ecs-service-connect",
                "--allow-lossy",
                "all",
                str(path),
            ],
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), path
        planned += result.exit_code == 0
    assert planned >= 1
