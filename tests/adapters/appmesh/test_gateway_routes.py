"""Gateway routes (App Mesh's ingress) are not carried: in every form the import says
which request they sent where (MS3111, with the request), and a TCP route's split is
said with the connection it sends elsewhere (MS3110)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.appmesh import adapter

CRD = """\
apiVersion: appmesh.k8s.aws/v1beta2
kind: GatewayRoute
metadata: {name: to-cart, namespace: shop}
spec:
  httpRoute:
    match: {prefix: /cart}
    action:
      target:
        virtualService:
          virtualServiceRef: {name: cart}
"""
CLOUDFORMATION = {
    "Resources": {
        "ToCart": {
            "Type": "AWS::AppMesh::GatewayRoute",
            "Properties": {
                "MeshName": "shop",
                "VirtualGatewayName": "ingress",
                "GatewayRouteName": "to-cart",
                "Spec": {
                    "HttpRoute": {
                        "Match": {"Prefix": "/cart"},
                        "Action": {
                            "Target": {"VirtualService": {"VirtualServiceName": "cart.shop"}}
                        },
                    }
                },
            },
        }
    }
}
TERRAFORM = """\
resource "aws_appmesh_gateway_route" "to_cart" {
  name                 = "to-cart"
  mesh_name            = "shop"
  virtual_gateway_name = "ingress"
  spec {
    http_route {
      match {
        prefix = "/cart"
      }
      action {
        target {
          virtual_service {
            virtual_service_name = "cart.shop"
          }
        }
      }
    }
  }
}
"""
CLI = {
    "gatewayRoute": {
        "meshName": "shop",
        "virtualGatewayName": "ingress",
        "gatewayRouteName": "to-cart",
        "spec": {
            "httpRoute": {
                "match": {"prefix": "/cart"},
                "action": {"target": {"virtualService": {"virtualServiceName": "cart.shop"}}},
            }
        },
    }
}


@pytest.mark.parametrize(
    ("name", "text", "gateway", "service"),
    [
        ("crd.yaml", CRD, "", "cart"),
        ("template.json", json.dumps(CLOUDFORMATION), "ingress", "cart.shop"),
        ("main.tf", TERRAFORM, "ingress", "cart.shop"),
        ("describe-gateway-route.json", json.dumps(CLI), "ingress", "cart.shop"),
    ],
)
def test_a_gateway_route_is_said_with_its_request(
    name: str, text: str, gateway: str, service: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert adapter.files is not None
    docs, problems = adapter.files.read([str(path)])
    found = [*problems, *adapter.import_resources(docs).diagnostics]
    [finding] = [d for d in found if d.code == "MS3111"]
    assert finding.extra is not None
    assert finding.extra["request"] == {
        "method": "GET",
        "target": "/cart",
        "gateway": gateway,
        "destination": service,
    }
    assert "GET /cart" in finding.message and service in finding.message
    assert finding.location is not None and finding.location.file == str(path)


def test_a_tcp_route_is_said_with_the_connection_it_splits() -> None:
    from tests.fixtures.realservers import upstream_dir

    path = (
        upstream_dir()
        / "examples/appmesh/aws-app-mesh-examples/eks-appmesh-connectivity/deployments/yaml"
        / "mesh/appmesh/yelb-db-mesh.yaml"
    )
    assert adapter.files is not None
    docs, _ = adapter.files.read([str(path)])
    [finding] = [d for d in adapter.import_resources(docs).diagnostics if d.code == "MS3110"]
    assert finding.extra is not None
    assert finding.extra["request"]["protocol"] == "tcp"
    assert "yelb-db-node 100%" in finding.message
    assert "every endpoint of the service" in finding.message
