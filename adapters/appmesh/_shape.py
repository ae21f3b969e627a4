"""Renaming the fields of one form (CloudFormation, Terraform) to the App Mesh API's
camelCase names, keeping each value's source position.

CloudFormation's `AWS::AppMesh::*` properties are the API's names in PascalCase
(`HttpRoute`, `PortMapping`), with acronyms upper case (`TLS`, `DNS`, `ACM`,
`AWSCloudMap`, `HTTP2`). Terraform's `aws_appmesh_*` blocks are snake_case, a
repeated block is written once per item under a singular name (`listener`,
`backend`, `weighted_target`), and Cloud Map attributes are a map. Sources: AWS
CloudFormation template reference `AWS::AppMesh::VirtualNode` and friends; the
Terraform AWS provider docs for `aws_appmesh_virtual_node` and friends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from meshspec.spec.bundle import PathKey

Positions = dict[PathKey, tuple[int, int]]


def pascal_to_camel(key: str) -> str:
    """`HttpRoute` -> `httpRoute`, `TLS` -> `tls`, `AWSCloudMap` -> `awsCloudMap`."""
    if key.upper() == key:
        return key.lower()
    run = re.match(r"[A-Z0-9]+", key)
    if run is None:
        return key
    caps = run.group(0)
    if len(caps) == 1 or len(caps) == len(key):
        return caps.lower() + key[len(caps) :]
    return caps[:-1].lower() + key[len(caps) - 1 :]


#: Terraform block names -> the API's list field names
TERRAFORM_LISTS = {
    "listener": "listeners",
    "backend": "backends",
    "weighted_target": "weightedTargets",
    "header": "headers",
    "query_parameter": "queryParameters",
    "metadata": "metadata",
}
#: Terraform attributes that stay lists (the API's lists of scalars)
TERRAFORM_SCALAR_LISTS = frozenset(
    {
        "http_retry_events",
        "tcp_retry_events",
        "grpc_retry_events",
        "ports",
        "exact",
        "certificate_authority_arns",
    }
)


def snake_to_camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def rename(
    data: Any,
    key_of: Callable[[str], str],
    source: Mapping[PathKey, tuple[int, int]],
    here: PathKey = (),
    there: PathKey = (),
    out: Positions | None = None,
) -> tuple[Any, Positions]:
    """`data` with every mapping key renamed by `key_of`; positions moved along."""
    positions: Positions = {} if out is None else out
    if there in source:
        positions[here] = source[there]
    if isinstance(data, Mapping):
        result = {}
        for key, value in data.items():
            new = key_of(str(key))
            result[new], _ = rename(value, key_of, source, (*here, new), (*there, key), positions)
        return result, positions
    if isinstance(data, list):
        items = [
            rename(v, key_of, source, (*here, i), (*there, i), positions)[0]
            for i, v in enumerate(data)
        ]
        return items, positions
    return data, positions
