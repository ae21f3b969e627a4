"""What istio-live needs from the Kubernetes API (the server itself: `local_kube`).

`KubeClient`: server-side apply that reports each rejection with the server's
text, delete, tokens, and ConfigMaps.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FIELD_MANAGER = "meshspec-istio-live"


class ApplyRejected(Exception):
    """The API server refused objects; the message has each refusal's text."""


class KubeClient:
    """The API calls istio-live makes, over one kubeconfig."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        config: Any = importlib.import_module("kubernetes.config")
        dynamic: Any = importlib.import_module("kubernetes.dynamic")

        workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = kubeconfig
        self.api: Any = config.new_client_from_config(config_file=str(kubeconfig))
        # A discovery cache of its own: the default one in /tmp is shared by every
        # server that ever listened on the same port.
        self.dynamic: Any = dynamic.DynamicClient(
            self.api, cache_file=str(workdir / "discovery.json")
        )

    def _resource(self, api_version: str, kind: str, timeout: float = 30) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
                self.dynamic.resources.invalidate_cache()

    def apply(self, docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Server-side apply each object; the stored objects. ApplyRejected lists
        every refusal with the server's text (the others are applied)."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        stored: list[dict[str, Any]] = []
        refused: list[str] = []
        for doc in docs:
            resource = self._resource(doc["apiVersion"], doc["kind"])
            meta = doc.get("metadata") or {}
            ns = (meta.get("namespace") or "default") if resource.namespaced else None
            try:
                answer = self.dynamic.server_side_apply(
                    resource,
                    body=doc,
                    namespace=ns,
                    field_manager=FIELD_MANAGER,
                    force_conflicts=True,
                )
            except DynamicApiError as exc:
                refused.append(f"{doc['kind']} {ns}/{meta.get('name')}: {_message(exc)}")
                continue
            stored.append(answer.to_dict())
        if refused:
            raise ApplyRejected("the API server refused:\n" + "\n".join(refused))
        return stored

    def delete(self, doc: dict[str, Any]) -> None:
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self._resource(doc["apiVersion"], doc["kind"])
        meta = doc.get("metadata") or {}
        ns = (meta.get("namespace") or "default") if resource.namespaced else None
        with contextlib.suppress(NotFoundError):
            resource.delete(name=meta["name"], namespace=ns)

    def wait_established(self, crd_names: Iterable[str], timeout: float = 120) -> None:
        crd_api = self._resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        pending = set(crd_names)
        deadline = time.monotonic() + timeout
        while pending:
            for name in sorted(pending):
                crd = crd_api.get(name=name).to_dict()
                conditions = {
                    c["type"]: c["status"]
                    for c in (crd.get("status") or {}).get("conditions") or []
                }
                if conditions.get("Established") == "True":
                    pending.discard(name)
            if pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRDs not Established after {timeout:.0f}s: {pending}")
                time.sleep(0.2)

    def token(self, service_account: str, namespace: str, audience: str) -> str:
        """A service-account token from the TokenRequest API."""
        from kubernetes import client

        body = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[audience], expiration_seconds=86400)
        )
        answer: Any = client.CoreV1Api(self.api).create_namespaced_service_account_token(
            service_account, namespace, body
        )
        return str(answer.status.token)

    def config_map_value(self, name: str, namespace: str, key: str) -> str | None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            cm = client.CoreV1Api(self.api).read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return (cm.data or {}).get(key)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        status = json.loads(body) if body else {}
    except ValueError:
        return str(body or exc)
    return str(status.get("message") or exc)
