"""A small Kubernetes API client for the adapters: kubeconfig, discovery, apply, list.

Built on the `kubernetes` package's ApiClient for configuration, TLS and
authentication, but sending the few requests meshspec needs itself, so each one is
exactly what the Kubernetes docs describe (server-side apply: `PATCH` with
`Content-Type: application/apply-patch+yaml`, `fieldManager`, `force`, `dryRun=All`;
api-concepts "Server-Side Apply"). Every failure is a `KubeError` with a message
meant for a person: no traceback reaches the user.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

FIELD_MANAGER = "meshspec"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
TIMEOUT = 30.0


class KubeError(Exception):
    """A failure to show the user as is."""


@dataclass(frozen=True)
class ResourceType:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def collection(self, namespace: str | None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace is not None:
            return f"{base}/namespaces/{quote(namespace)}/{self.plural}"
        return f"{base}/{self.plural}"


def default_kubeconfig() -> str:
    """kubectl's rule, read at each call (the `kubernetes` package reads $KUBECONFIG once,
    when imported): $KUBECONFIG (files joined by the path separator), else ~/.kube/config."""
    listed = os.environ.get("KUBECONFIG")
    if listed:
        return listed
    default = Path.home() / ".kube" / "config"
    if not default.is_file():
        raise KubeError(f"no kubeconfig: set $KUBECONFIG or --kubeconfig ({default} is missing)")
    return str(default)


class KubeClient:
    """One API server, as a kubeconfig (and optional context) describes it."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        if kubeconfig is not None and not Path(kubeconfig).is_file():
            raise KubeError(f"cannot read the kubeconfig {kubeconfig}: no such file")
        try:
            self.api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig or default_kubeconfig(), context=context
            )
        except ConfigException as exc:
            raise KubeError(f"cannot use the kubeconfig: {exc}") from None
        except OSError as exc:
            raise KubeError(f"cannot read the kubeconfig: {exc}") from None
        self.server = str(self.api.configuration.host)
        self._types: dict[str, dict[str, ResourceType]] = {}

    def close(self) -> None:
        self.api.close()

    def request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: str | None = None,
        content_type: str | None = None,
    ) -> tuple[int, Any]:
        """(status, decoded JSON body); connection problems raise KubeError."""
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            _, url, headers, _, _ = self.api.param_serialize(
                method,
                path,
                query_params=query or [],
                header_params=headers,
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=TIMEOUT
            )
            raw = response.read()
        except HTTPError as exc:
            raise KubeError(
                f"cannot reach the Kubernetes API server at {self.server}: {exc}"
            ) from None
        except OSError as exc:
            raise KubeError(
                f"cannot reach the Kubernetes API server at {self.server}: {exc}"
            ) from None
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        return int(response.status), data

    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        """Discovery of `kind` in `api_version`; KubeError when the server lacks it."""
        if api_version not in self._types:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            status, data = self.request("GET", path)
            if status == 404:
                raise KubeError(
                    f"the API server at {self.server} does not serve {api_version}: "
                    "are the CRDs installed (for Istio: istioctl install, or the Istio base chart)?"
                )
            if status >= 400 or not isinstance(data, Mapping):
                raise KubeError(f"discovery of {api_version} failed: {status} {_message(data)}")
            self._types[api_version] = {
                str(r["kind"]): ResourceType(
                    api_version, str(r["kind"]), str(r["name"]), bool(r.get("namespaced"))
                )
                for r in data.get("resources") or []
                if "/" not in str(r.get("name", ""))
            }
        found = self._types[api_version].get(kind)
        if found is None:
            raise KubeError(f"the API server at {self.server} has no {kind} in {api_version}")
        return found

    def apply(self, obj: Mapping[str, Any], dry_run: bool, force: bool = True) -> Any:
        """Server-side apply of one object; returns the object the server answers with."""
        rtype = self.resource_type(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default") if rtype.namespaced else None
        path = f"{rtype.collection(namespace)}/{quote(str(meta.get('name', '')))}"
        query = [("fieldManager", FIELD_MANAGER)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        status, data = self.request("PATCH", path, query, json.dumps(obj), APPLY_CONTENT_TYPE)
        if status >= 400:
            raise KubeError(f"{_name(obj)} was rejected: {status} {_message(data)}")
        return data

    def list(self, api_version: str, kind: str, label_selector: str | None = None) -> list[Any]:
        """Every object of the kind in all namespaces."""
        rtype = self.resource_type(api_version, kind)
        query = [("labelSelector", label_selector)] if label_selector else []
        status, data = self.request("GET", rtype.collection(None), query)
        if status >= 400 or not isinstance(data, Mapping):
            raise KubeError(f"listing {kind} failed: {status} {_message(data)}")
        items = list(data.get("items") or [])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def delete(self, obj: Mapping[str, Any], dry_run: bool) -> None:
        rtype = self.resource_type(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default") if rtype.namespaced else None
        path = f"{rtype.collection(namespace)}/{quote(str(meta.get('name', '')))}"
        query = [("dryRun", "All")] if dry_run else []
        status, data = self.request("DELETE", path, query)
        if status >= 400 and status != 404:
            raise KubeError(f"deleting {_name(obj)} failed: {status} {_message(data)}")


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def _message(data: Any) -> str:
    if isinstance(data, Mapping):
        return str(data.get("message") or data.get("reason") or data)
    return str(data or "")
