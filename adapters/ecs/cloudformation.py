"""The compiled ECS services as a CloudFormation template: `AWS::ECS::Service` with
`ServiceConnectConfiguration` (and `AWS::ECS::TaskDefinition` when written).

Property names are the API's in PascalCase (AWS CloudFormation template reference,
AWS::ECS::Service ServiceConnectConfiguration, ServiceConnectService,
ServiceConnectClientAlias, TimeoutConfiguration, ServiceConnectTlsConfiguration,
ServiceConnectTlsCertificateAuthority: `AwsPcaAuthorityArn`). The cluster, the tasks'
subnets and security groups (the task definitions use awsvpc) and the Private CA
are the template's parameters; a service names its task definition with
`Ref` when the template has it, else by family.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from adapters.ecs.compiler import PCA_PLACEHOLDER
from adapters.ecs.names import SERVICE, TASK_DEFINITION

#: CloudFormation spells these keys differently from the API's PascalCase
_SPELLING = {"dnsName": "DnsName", "awsPcaAuthorityArn": "AwsPcaAuthorityArn"}
_API_ONLY = {"apiVersion", "kind", "serviceName", "taskDefinition", "family"}


def _pascal(key: str) -> str:
    return _SPELLING.get(key, key[:1].upper() + key[1:])


def _properties(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"key", "value"}:  # a tag
            return {"Key": value["key"], "Value": value["value"]}
        return {_pascal(k): _properties(v) for k, v in value.items() if k not in _API_ONLY}
    if isinstance(value, list):
        return [_properties(v) for v in value]
    if value == PCA_PLACEHOLDER:
        return {"Ref": "PrivateCaArn"}
    return value


def _logical_id(kind: str, name: str) -> str:
    return kind + "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name))


def to_template(resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    families: dict[str, str] = {}
    uses_pca = False
    for res in resources:
        if res.get("kind") == TASK_DEFINITION:
            logical = _logical_id("TaskDefinition", str(res["family"]))
            families[str(res["family"])] = logical
            props = _properties(res)
            props["Family"] = res["family"]
            out[logical] = {"Type": "AWS::ECS::TaskDefinition", "Properties": props}
    for res in resources:
        if res.get("kind") != SERVICE:
            continue
        uses_pca = uses_pca or PCA_PLACEHOLDER in repr(res)
        family = str(res["taskDefinition"])
        props = {
            "Cluster": {"Ref": "Cluster"},
            # the compiled task definitions use awsvpc, which needs subnets and groups
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "Subnets": {"Ref": "Subnets"},
                    "SecurityGroups": {"Ref": "SecurityGroups"},
                }
            },
            "ServiceName": res["serviceName"],
            "TaskDefinition": {"Ref": families[family]} if family in families else family,
            **_properties(res),
        }
        out[_logical_id("Service", str(res["serviceName"]))] = {
            "Type": "AWS::ECS::Service",
            "Properties": props,
        }
    parameters: dict[str, Any] = {
        "Cluster": {"Type": "String", "Description": "the ECS cluster the services run in"},
        "Subnets": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "the subnets of the services' tasks (awsvpc)",
        },
        "SecurityGroups": {
            "Type": "List<AWS::EC2::SecurityGroup::Id>",
            "Description": "the security groups of the services' tasks; they are what limits "
            "callers, Service Connect has no authorization",
        },
    }
    if uses_pca:
        parameters["PrivateCaArn"] = {
            "Type": "String",
            "Description": "the AWS Private CA that issues Service Connect TLS certificates",
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "ECS services with Service Connect (written by meshspec)",
        "Parameters": parameters,
        "Resources": out,
    }
