"""App Mesh import: one configuration in every form App Mesh keeps it in (CloudFormation,
Terraform, AWS CLI JSON, controller resources) reads to the same neutral spec, and that
spec says what App Mesh does: priority order kept, the hidden default retries written out,
listener TLS and declared backends carried as mTLS and authorization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.appmesh import adapter
from meshspec.codecs import dump_yaml
from meshspec.diagnostics import Diagnostic, Severity
from meshspec.semantics import Request, decide

FORMS = Path(__file__).with_name("forms")
EACH_FORM = ["cloudformation.yaml", "terraform.tf", "cli", "crds.yaml"]


def imported(*paths: str | Path) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    docs, problems = adapter.files.read([str(p) for p in paths])  # type: ignore[union-attr]
    result = adapter.import_resources(docs)
    return result.documents, [*problems, *result.diagnostics]


def service(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d["spec"] for d in docs if d["metadata"]["name"] == name)


@pytest.mark.parametrize("form", EACH_FORM)
def test_each_form_imports_to_the_same_neutral_spec(form: str) -> None:
    reference, _ = imported(FORMS / "cli")
    docs, diagnostics = imported(FORMS / form)
    assert not [d.render() for d in diagnostics if d.severity is Severity.ERROR]
    assert dump_yaml(docs) == dump_yaml(reference)


@pytest.mark.parametrize("form", EACH_FORM)
def test_each_form_reports_the_same_findings(form: str) -> None:
    _, reference = imported(FORMS / "cli")
    _, diagnostics = imported(FORMS / form)
    assert sorted(d.code for d in diagnostics) == sorted(d.code for d in reference)


def test_the_neutral_spec_says_what_app_mesh_does() -> None:
    docs, diagnostics = imported(FORMS / "cloudformation.yaml")
    cart = service(docs, "cart")
    routes = {r["name"]: r for r in cart["routes"]}
    assert list(routes) == ["canary", "api", "default"]
    # App Mesh's first match, by priority, is what the neutral spec decides
    spec = adapter.import_resources(
        adapter.files.read([str(FORMS / "cloudformation.yaml")])[0]  # type: ignore[union-attr]
    ).spec
    assert spec is not None
    expected = {
        ("/api/cart", "yes"): "canary",  # priority 0 wins over the longer prefix
        ("/api/cart", None): "api",
        ("/api", None): "default",  # App Mesh's prefix /api/ does not take /api
        ("/apix", None): "default",
        ("/", "yes"): "canary",
        ("/", None): "default",
    }
    for (path, canary), route in expected.items():
        headers = {"x-canary": canary} if canary else {}
        request = Request("shop/cart", path, headers=headers, source="shop/frontend")
        assert decide(spec, request).route == route, (path, canary)
    # the hidden default retry policy, written out
    assert routes["default"]["retries"] == {
        "attempts": 2,
        "retryOn": ["connect-failure", "refused-stream"],
        "statusCodes": [503],
    }
    assert routes["api"]["retries"]["perTryTimeout"] == "500ms"
    assert routes["api"]["timeout"] == "5s"
    assert cart["mtls"] == {"mode": "STRICT"}
    rules = {r["name"]: r for r in cart["authorization"]["rules"]}
    assert rules["listener-sans"]["from"] == [{"identities": ["spiffe://shop/ns/shop/sa/frontend"]}]
    assert rules["declared-backends"]["from"] == [{"services": ["frontend"]}]
    assert cart["authorization"]["default"] == "deny"
    codes = {d.code for d in diagnostics}
    assert {"MS3106", "MS3202", "MS3302"} <= codes


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def routes_json(tmp_path: Path, *routes: tuple[str, int | None, dict[str, Any]]) -> list[Path]:
    import json

    files = [
        write(
            tmp_path,
            "vs.json",
            json.dumps(
                {
                    "virtualService": {
                        "meshName": "m",
                        "virtualServiceName": "api.prod.svc.cluster.local",
                        "spec": {"provider": {"virtualRouter": {"virtualRouterName": "r"}}},
                    }
                }
            ),
        ),
        write(
            tmp_path,
            "r.json",
            json.dumps(
                {
                    "virtualRouter": {
                        "meshName": "m",
                        "virtualRouterName": "r",
                        "spec": {"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]},
                    }
                }
            ),
        ),
    ]
    for node in ("api-v1", "api-v2"):
        files.append(
            write(
                tmp_path,
                f"{node}.json",
                json.dumps(
                    {
                        "virtualNode": {
                            "meshName": "m",
                            "virtualNodeName": node,
                            "spec": {
                                "listeners": [{"portMapping": {"port": 80, "protocol": "http"}}],
                                "serviceDiscovery": {"dns": {"hostname": f"{node}.prod"}},
                            },
                        }
                    }
                ),
            )
        )
    for name, priority, match in routes:
        spec: dict[str, Any] = {
            "httpRoute": {
                "match": match,
                "action": {
                    "weightedTargets": [
                        {"virtualNode": "api-v1" if name == "a" else "api-v2", "weight": 1}
                    ]
                },
                "retryPolicy": {
                    "maxRetries": 0,
                    "perRetryTimeout": {"unit": "s", "value": 1},
                    "httpRetryEvents": ["server-error"],
                },
            }
        }
        if priority is not None:
            spec["priority"] = priority
        files.append(
            write(
                tmp_path,
                f"route-{name}.json",
                json.dumps(
                    {
                        "route": {
                            "meshName": "m",
                            "virtualRouterName": "r",
                            "routeName": name,
                            "spec": spec,
                        }
                    }
                ),
            )
        )
    return files


def test_a_later_route_app_mesh_never_chooses_is_dropped_with_the_request(tmp_path: Path) -> None:
    """semantics.md case A: prefix / (priority 0) before prefix /api: App Mesh never takes
    the second; the neutral spec would, so it goes, and MS3102 names a request."""
    files = routes_json(tmp_path, ("a", 0, {"prefix": "/"}), ("b", 1, {"prefix": "/api"}))
    docs, diagnostics = imported(*files)
    assert [r["name"] for r in service(docs, "api")["routes"]] == ["a"]
    [order] = [d for d in diagnostics if d.code == "MS3102"]
    assert "GET /api" in order.message and order.file.endswith("route-b.json")


def test_app_mesh_prefixes_are_string_prefixes(tmp_path: Path) -> None:
    files = routes_json(tmp_path, ("a", 0, {"prefix": "/usrv"}), ("b", 1, {"prefix": "/"}))
    _, diagnostics = imported(*files)
    [prefix] = [d for d in diagnostics if d.code == "MS3103"]
    assert "/usrvx" in prefix.message


def test_routes_without_priority_are_reported(tmp_path: Path) -> None:
    files = routes_json(tmp_path, ("a", None, {"prefix": "/x"}), ("b", None, {"prefix": "/y"}))
    docs, diagnostics = imported(*files)
    assert "MS3101" in {d.code for d in diagnostics}
    assert [r["name"] for r in service(docs, "api")["routes"]] == ["a", "b"]


def test_inverted_and_range_header_matches_are_reported(tmp_path: Path) -> None:
    files = routes_json(
        tmp_path,
        (
            "a",
            0,
            {
                "prefix": "/",
                "headers": [
                    {"name": "x-a", "invert": True, "match": {"exact": "1"}},
                    {"name": "x-b", "match": {"range": {"start": 1, "end": 5}}},
                    {"name": "x-c", "match": {"suffix": ".json"}},
                ],
            },
        ),
    )
    docs, diagnostics = imported(*files)
    dropped = [d.message for d in diagnostics if d.code == "MS3104"]
    assert len(dropped) == 2 and "x-a" in dropped[0] + dropped[1] and "1..4" in " ".join(dropped)
    [route] = service(docs, "api")["routes"]
    assert route["matches"] == [{"headers": [{"name": "x-c", "regex": ".*\\.json"}]}]


def test_a_jq_template_names_its_variables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "vn.json",
        '{"spec": {"serviceDiscovery": {"dns": {"hostname": $DNS_HOSTNAME}}, "x": $MESH}}\n',
    )
    docs, diagnostics = imported(path)
    [error] = diagnostics
    assert error.code == "MS3002" and error.severity is Severity.ERROR
    assert "$DNS_HOSTNAME" in error.message and "$MESH" in error.message
    assert "--arg DNS_HOSTNAME" in error.hint and docs == []


def test_cloudformation_reports_what_it_cannot_resolve_and_unknown_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        """\
Parameters:
  Domain: {Type: String}
Resources:
  Node:
    Type: AWS::AppMesh::VirtualNode
    Properties:
      MeshName: m
      VirtualNodeName: !Sub "web.${Domain}"
      Spec:
        Listeners: [{PortMapping: {Port: 80, Protocol: http}, Colour: blue}]
""",
    )
    _, diagnostics = imported(path)
    [unresolved] = [d for d in diagnostics if d.code == "MS3003"]
    assert "Domain" in unresolved.message and unresolved.line == 8
    [unknown] = [d for d in diagnostics if d.code == "MS3004"]
    assert "'colour'" in unknown.message and unknown.line == 10


def test_a_san_allow_list_that_is_not_spiffe_is_an_authorization_error(tmp_path: Path) -> None:
    import json

    path = write(
        tmp_path,
        "vn.json",
        json.dumps(
            {
                "virtualNode": {
                    "meshName": "m",
                    "virtualNodeName": "db",
                    "spec": {
                        "listeners": [
                            {
                                "portMapping": {"port": 5432, "protocol": "http"},
                                "tls": {
                                    "mode": "STRICT",
                                    "certificate": {
                                        "file": {"certificateChain": "c", "privateKey": "k"}
                                    },
                                    "validation": {
                                        "trust": {"file": {"certificateChain": "ca"}},
                                        "subjectAlternativeNames": {
                                            "match": {"exact": ["web.local"]}
                                        },
                                    },
                                },
                            }
                        ],
                        "serviceDiscovery": {"dns": {"hostname": "db.prod"}},
                    },
                }
            }
        ),
    )
    mesh = write(
        tmp_path,
        "mesh.json",
        json.dumps({"mesh": {"meshName": "m", "spec": {"egressFilter": {"type": "ALLOW_ALL"}}}}),
    )
    _, diagnostics = imported(path, mesh)
    [error] = [d for d in diagnostics if d.code == "MS3201"]
    assert error.severity is Severity.ERROR and error.area == "authz"


def test_plan_reads_cloudformation_through_the_adapter(tmp_path: Path) -> None:
    """`plan --from appmesh` reads the template's short-form tags as the import does."""
    from click.testing import CliRunner

    from meshspec.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--from",
            "appmesh",
            "-f",
            str(FORMS / "cloudformation.yaml"),
            "--to",
            "istio",
            "--output-dir",
            str(tmp_path / "plan"),
        ],
    )
    assert result.exit_code == 0, result.output
    dangling = [line for line in result.output.splitlines() if "MS3007" in line]
    assert dangling == [] and "Move 2 service(s) to istio" in result.stdout


def test_an_import_that_lets_in_what_app_mesh_refuses_is_an_error(tmp_path: Path) -> None:
    """web declares api but has no client TLS towards api's STRICT listener: App Mesh
    refuses web's requests; the neutral spec (sidecars speak the server's mode) would
    forward them. The check asks both readings and says so, as an mTLS error."""
    import json

    tls = {
        "mode": "STRICT",
        "certificate": {"sds": {"secretName": "spiffe://td/ns/prod/sa/api"}},
        "validation": {"trust": {"sds": {"secretName": "spiffe://td"}}},
    }
    files = {
        "api.json": {
            "virtualNode": {
                "meshName": "m",
                "virtualNodeName": "api",
                "spec": {
                    "listeners": [{"portMapping": {"port": 80, "protocol": "http"}, "tls": tls}],
                    "serviceDiscovery": {"dns": {"hostname": "api.prod.svc.cluster.local"}},
                },
            }
        },
        "web.json": {
            "virtualNode": {
                "meshName": "m",
                "virtualNodeName": "web",
                "spec": {
                    "listeners": [{"portMapping": {"port": 80, "protocol": "http"}}],
                    "backends": [
                        {"virtualService": {"virtualServiceName": "api.prod.svc.cluster.local"}}
                    ],
                    "serviceDiscovery": {"dns": {"hostname": "web.prod.svc.cluster.local"}},
                },
            }
        },
        "vs.json": {
            "virtualService": {
                "meshName": "m",
                "virtualServiceName": "api.prod.svc.cluster.local",
                "spec": {"provider": {"virtualNode": {"virtualNodeName": "api"}}},
            }
        },
    }
    paths = [write(tmp_path, name, json.dumps(data)) for name, data in files.items()]
    _, diagnostics = imported(*paths)
    [widened] = [d for d in diagnostics if d.code == "MS3207"]
    assert widened.severity is Severity.ERROR and widened.area == "mtls"
    assert "prod/web" in widened.message and "prod/api" in widened.message
