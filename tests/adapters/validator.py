"""Table-test helpers: one neutral fragment against the expected output of every target.

`assert_compiles(fragment, write={"istio": EXPECTED})` loads the fragment,
compiles it for each target named, checks every object against the target's
real CRD schema, and compares the objects of the kinds that EXPECTED lists
(all of them, so an extra object of such a kind fails too). A target that
cannot express the fragment at all is written `Unsupported`. Later adapters
add a column to the same tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from meshspec.adapter import CompileResult
from meshspec.api import compile as compile_spec
from meshspec.loader import load_texts
from meshspec.spec import Spec
from tests.fixtures.realservers import gateway_api_crds

REPO_ROOT = Path(__file__).resolve().parents[2]


class _Unsupported:
    """The target cannot express the fragment: compiling must report an error."""

    def __repr__(self) -> str:
        return "Unsupported"


Unsupported = _Unsupported()


def upstream_root() -> Path:
    """Real upstream CRDs and examples (never copied into the repository)."""
    env = os.environ.get("MESHSPEC_UPSTREAM")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "upstream"


#: The CRD folders a target's output is checked against (default: the folder of its name).
CRD_FOLDERS = {
    "linkerd": ("linkerd", "gateway-api/standard"),
    "gateway-api": ("gateway-api/standard",),
    "vpc-lattice": ("vpc-lattice", "gateway-api/standard"),
}


@cache
def crd_schemas(mesh: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every CRD version published for `mesh`."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    folders = CRD_FOLDERS.get(mesh, (mesh,))
    paths = [p for f in folders for p in sorted((upstream_root() / "crds" / f).rglob("*.yaml"))]
    if "gateway-api/standard" in folders:
        paths += gateway_api_crds(required=False)
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                api = f"{spec['group']}/{version['name']}"
                found[(api, spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return found


def _unknown_fields(obj: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    """Fields the schema does not declare: what `kubectl apply --validate=strict` rejects."""
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        out = []
        for k, v in obj.items():
            if props is not None and k in props:
                out += _unknown_fields(v, props[k], f"{where}.{k}")
            elif isinstance(extra, dict):
                out += _unknown_fields(v, extra, f"{where}.{k}")
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                out.append(f"{where}.{k}")
        return out
    if isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [
            e
            for i, v in enumerate(obj)
            for e in _unknown_fields(v, schema["items"], f"{where}[{i}]")
        ]
    return []


#: targets whose CRDs are published under another mesh's name
CRD_MESH = {"consul-k8s": "consul"}
#: kinds whose CRD the shared upstream data does not carry (vpc-lattice's Gateway): checked
#: against the CRD the real-server install fetches; outside CI, without it, not checked
UNPUBLISHED = {("gateway.networking.k8s.io/v1", "Gateway")}
#: targets whose output is not Kubernetes objects (Consul's config entries)
NO_CRDS = {"consul"}


def crd_problems(resource: Mapping[str, Any], mesh: str) -> list[str]:
    """Why `resource` would not be accepted by the mesh's CRD (empty when it would)."""
    mesh = CRD_MESH.get(mesh, mesh)
    key = (str(resource.get("apiVersion")), str(resource.get("kind")))
    if key[0] == "v1":  # a core kind: the API server's own schema (checked with real servers)
        return []
    schema = crd_schemas(mesh).get(key)
    if schema is None and key in UNPUBLISHED:
        return []
    if schema is None:
        return [f"no CRD for {key[0]} {key[1]}"]
    body = {k: v for k, v in resource.items() if k not in ("apiVersion", "kind", "metadata")}
    validator = jsonschema.Draft7Validator(schema)
    problems = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]
    problems += _unknown_fields(body, schema, "")
    meta = resource.get("metadata") or {}
    if not meta.get("name"):
        problems.append("metadata.name is missing")
    return problems


def assert_valid_crds(resources: Iterable[Mapping[str, Any]], mesh: str) -> None:
    for r in resources:
        problems = crd_problems(r, mesh)
        meta = r.get("metadata") or {}
        assert not problems, f"{r.get('kind')} {meta.get('name')}: {problems}"


FRAGMENT_NAME = "fragment.yaml"


def load_fragment(fragment: str) -> Spec:
    result = load_texts([(FRAGMENT_NAME, fragment)])
    errors = [d.render() for d in result.diagnostics if d.severity == "error"]
    assert result.spec is not None and not errors, errors
    return result.spec


def compile_fragment(fragment: str, target: str, allow_lossy: Sequence[str] = ()) -> CompileResult:
    return compile_spec(load_fragment(fragment), target, allow_lossy)


def _identity(r: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = r.get("metadata") or {}
    name = meta.get("name", r.get("Name"))  # a Consul config entry has its own `Name`
    return (str(r.get("kind")), str(meta.get("namespace", "")), str(name))


def _comparable(r: Mapping[str, Any]) -> dict[str, Any]:
    """The object without annotations (a config entry without `Meta`): tables state
    meaning, goldens state bytes."""
    if "metadata" not in r:
        return {k: v for k, v in r.items() if k != "Meta"}
    meta = dict(r.get("metadata") or {})
    meta.pop("annotations", None)
    return {**r, "metadata": meta}


def assert_compiles(
    fragment: str,
    write: Mapping[str, str | _Unsupported],
    diagnostics: Mapping[str, Sequence[str]] | None = None,
    allow_lossy: Sequence[str] = (),
) -> None:
    """`write[target]` is YAML of the expected objects (kinds it lists are compared whole)."""
    for target, expected in write.items():
        result = compile_fragment(fragment, target, allow_lossy)
        codes = sorted(d.code for d in result.diagnostics)
        if diagnostics is not None and target in diagnostics:
            assert codes == sorted(diagnostics[target]), (target, codes)
        if isinstance(expected, _Unsupported):
            assert any(d.severity == "error" for d in result.diagnostics), (target, codes)
            continue
        if target not in NO_CRDS:
            assert_valid_crds(result.resources, target)
        want = [d for d in yaml.safe_load_all(expected) if d]
        kinds = {str(d["kind"]) for d in want}
        got = {_identity(r): _comparable(r) for r in result.resources if r["kind"] in kinds}
        wanted = {_identity(d): _comparable(d) for d in want}
        assert sorted(got) == sorted(wanted), f"{target}: objects differ"
        for ident, obj in wanted.items():
            assert got[ident] == obj, f"{target} {ident}:\n{yaml.safe_dump(got[ident])}"
