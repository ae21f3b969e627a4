"""Opt-in: the suite against a real cluster with a mesh installed.

For each case file it creates the spec's namespaces (labelled for sidecar
injection), a ServiceAccount, Service and one echo Deployment per service
version, one client pod per sending service (same ServiceAccount, so the
same identity) and one client outside the mesh; applies the adapter's
compiled resources; runs every probe as `curl` inside the client pod; and
deletes what it created. Probes observe status and the answering pod (its
name carries the version); policy fields stay unchecked here.

It needs a kubeconfig (and optionally a context) and images the cluster can
pull; the defaults are public images and can be overridden.
"""

from __future__ import annotations

import importlib
import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from conformance.case import Probe
from conformance.observation import Observation
from conformance.targets.base import NotSupported, Session, TargetUnavailable
from meshspec.adapter import Adapter, CompileOptions, Injection
from meshspec.errors import UnknownTarget
from meshspec.registry import get_adapter
from meshspec.spec import Spec

ECHO_IMAGE = "registry.k8s.io/gateway-api/echo-basic:v20240412-v1.0.0-394-g40c666fd"
CLIENT_IMAGE = "docker.io/curlimages/curl:8.10.1"
OUTSIDE_NAMESPACE = "meshspec-outside"
RUN_LABEL = "conformance.meshspec.io/run"
#: the echo image's own HTTP port, for a service that declares none
ECHO_PORT = 3000
#: where the echo containers' h2c listeners start (above the usual service ports)
H2C_PORTS = 40000
READY_TIMEOUT = 300.0
LIVE_FIELDS = frozenset({"status", "outcome", "backends"})
OUTCOME_OF_STATUS = {200: "forwarded", 400: "bad_request", 403: "denied", 404: "no_route"}


@dataclass(frozen=True)
class Images:
    echo: str = ECHO_IMAGE
    client: str = CLIENT_IMAGE


def _meta(name: str, namespace: str | None, run: str, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {RUN_LABEL: run, **labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _pod_spec(sa: str, container: dict[str, Any]) -> dict[str, Any]:
    return {"serviceAccountName": sa, "containers": [container]}


def echo_containers(ports: list[int], images: Images = Images()) -> list[dict[str, Any]]:
    """One echo server per workload port (a Service's `targetPort`, the port itself when
    the spec sets none), so each service port lands where the spec says it does.

    The echo image listens for HTTP on $HTTP_PORT (default 3000) and always also for
    h2c on $H2C_PORT (default 3001): gateway-api conformance/echo-basic/echo-basic.go.
    Containers of a pod share its network, so each gets an h2c port of its own that
    no workload port uses.
    """
    listening = ports or [ECHO_PORT]
    spare = (port for port in range(H2C_PORTS, 65536) if port not in listening)
    return [
        {
            "name": f"echo-{port}",
            "image": images.echo,
            "ports": [{"containerPort": port}],
            "env": [
                {"name": "HTTP_PORT", "value": str(port)},
                {"name": "H2C_PORT", "value": str(next(spare))},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {
                    "name": "NAMESPACE",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                },
            ],
        }
        for port in listening
    ]


def workload_manifests(
    spec: Spec, injection: Injection, run: str, images: Images = Images()
) -> list[dict[str, Any]]:
    """The platform objects a spec runs on: namespaces (in the mesh as `injection` says,
    and one outside it), accounts, services, deployments."""
    namespaces = sorted({svc.metadata.namespace for svc in spec.services.values()})
    out: list[dict[str, Any]] = []
    for ns in namespaces:
        meta = _meta(ns, None, run, **injection.labels)
        if injection.annotations:
            meta["annotations"] = dict(injection.annotations)
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    out.append(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _meta(OUTSIDE_NAMESPACE, None, run, **injection.outside),
        }
    )
    for key, svc in spec.services.items():
        name, ns = svc.metadata.name, svc.metadata.namespace
        sa = spec.service_account(key)
        out.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(sa, ns, run)})
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(name, ns, run),
                "spec": {
                    "selector": {"app": name},
                    "ports": [
                        {
                            "name": p.name or f"{p.protocol}-{p.port}",
                            "port": p.port,
                            "targetPort": p.workload_port,
                            "appProtocol": str(p.protocol),
                        }
                        for p in svc.spec.ports
                    ],
                },
            }
        )
        versions: list[tuple[str | None, dict[str, str]]] = [
            (v.name, v.selector) for v in svc.spec.versions
        ] or [(None, {})]
        for version, selector in versions:
            pod_labels = {"app": name, **selector}
            deploy = f"{name}-{version}" if version else name
            echoes = echo_containers(sorted({p.workload_port for p in svc.spec.ports}), images)
            pod = {"serviceAccountName": sa, "containers": echoes}
            out.append(_deployment(deploy, ns, run, pod_labels, pod))
        client = {
            "name": "client",
            "image": images.client,
            "command": ["sleep", "infinity"],
        }
        out.append(
            _deployment(f"{name}-client", ns, run, {"client-of": name}, _pod_spec(sa, client))
        )
    outside = {"name": "client", "image": images.client, "command": ["sleep", "infinity"]}
    out.append(
        _deployment(
            "outside-client",
            OUTSIDE_NAMESPACE,
            run,
            {"client-of": "outside"},
            {"containers": [outside]},
        )
    )
    return out


def _deployment(
    name: str, ns: str, run: str, pod_labels: dict[str, str], pod_spec: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, ns, run),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(pod_labels)},
            "template": {"metadata": {"labels": {**pod_labels, RUN_LABEL: run}}, "spec": pod_spec},
        },
    }


def curl_command(probe: Probe, host: str) -> list[str]:
    """What the client pod runs: the body, then the status on its own last line."""
    port = f":{probe.port}" if probe.port is not None else ""
    url = f"http://{host}{port}{probe.path}"
    cmd = ["curl", "-s", "--path-as-is", "-X", probe.method, "-w", "\\n%{http_code}"]
    for name, value in probe.headers.items():
        for line in [value] if isinstance(value, str) else value:
            cmd += ["-H", f"{name}: {line}"]
    return [*cmd, url]


def parse_curl(output: str) -> tuple[int | None, dict[str, Any] | None]:
    body, _, code = output.rstrip("\n").rpartition("\n")
    status = int(code) if code.isdigit() and code != "000" else None
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    return status, data if isinstance(data, dict) else None


def version_of_pod(pod: str, service: str, versions: list[str]) -> str | None:
    """`<service>-<version>-<hash>-<id>`: the Deployment name tells the version."""
    for v in sorted(versions, key=len, reverse=True):
        if pod.startswith(f"{service}-{v}-"):
            return v
    return None


class KubernetesSession:
    def __init__(self, target: KubernetesTarget, spec: Spec, core: Any) -> None:
        self.target = target
        self.spec = spec
        self.core = core

    def _client_pod(self, probe: Probe) -> tuple[str, str]:
        if probe.from_ is None:
            return OUTSIDE_NAMESPACE, "outside"
        key = probe.from_ if "/" in probe.from_ else f"default/{probe.from_}"
        ns, name = key.split("/", 1)
        return ns, name

    def probe(self, probe: Probe) -> Observation:
        stream: Any = importlib.import_module("kubernetes.stream").stream

        ns, owner = self._client_pod(probe)
        pods = self.core.list_namespaced_pod(ns, label_selector=f"client-of={owner}").items
        if not pods:
            raise LookupError(f"no client pod for {owner} in {ns}")
        pod = pods[0].metadata.name
        dest = probe.destination_key
        host = probe.to if "/" not in probe.to else "{1}.{0}".format(*dest.split("/", 1))
        svc_name = dest.split("/", 1)[1]
        versions = (
            [v.name for v in self.spec.service(dest).spec.versions]
            if dest in self.spec.services
            else []
        )
        statuses: Counter[int | None] = Counter()
        answered: Counter[tuple[str, str | None]] = Counter()
        for _ in range(probe.count):
            out = stream(
                self.core.connect_get_namespaced_pod_exec,
                pod,
                ns,
                container="client",
                command=curl_command(probe, host),
                stderr=False,
                stdin=False,
                stdout=True,
                tty=False,
            )
            status, data = parse_curl(str(out))
            statuses[status] += 1
            if status == 200 and data is not None:
                pod_name = str(data.get("pod", ""))
                svc_ns = str(data.get("namespace", ""))
                answered[
                    (f"{svc_ns}/{svc_name}", version_of_pod(pod_name, svc_name, versions))
                ] += 1
        status, _ = statuses.most_common(1)[0]
        total = sum(answered.values())
        return Observation(
            outcome="mtls_refused" if status is None else OUTCOME_OF_STATUS.get(status),
            status=status,
            backends={k: v / total for k, v in answered.items()} if total else {},
            samples=probe.count,
            sampled=True,
        )


class KubernetesTarget:
    name = "kubernetes"
    observes = LIVE_FIELDS

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        mesh: str | None = None,
        images: Images = Images(),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.mesh = mesh
        self.images = images

    @property
    def description(self) -> str:
        return f"a real cluster running {self.mesh or 'a mesh'} (opt-in: --kubeconfig, --mesh)"

    def _adapter(self) -> Adapter | None:
        try:
            return None if self.mesh is None else get_adapter(self.mesh)
        except UnknownTarget:
            return None

    @property
    def features(self) -> frozenset[str]:
        adapter = self._adapter()
        return frozenset() if adapter is None else frozenset(adapter.features)

    @property
    def feature_gaps(self) -> Mapping[str, str]:
        """The mesh's own gaps (its adapter's `unsupported_features`)."""
        adapter = self._adapter()
        return (
            {} if adapter is None else {str(k): v for k, v in adapter.unsupported_features.items()}
        )

    def check_available(self) -> None:
        if not self.kubeconfig:
            raise TargetUnavailable("opt-in target: pass --kubeconfig (and --context) of a cluster")
        if self.mesh is None:
            raise TargetUnavailable("opt-in target: pass --mesh, the mesh the cluster runs")
        try:
            get_adapter(self.mesh)
        except UnknownTarget as exc:
            raise TargetUnavailable(str(exc)) from None

    @property
    def adapter(self) -> Adapter:
        self.check_available()
        assert self.mesh is not None
        return get_adapter(self.mesh)

    @contextmanager
    def open(self, spec: Spec, spec_text: str, instances: int = 1) -> Iterator[Session]:
        client: Any = importlib.import_module("kubernetes.client")
        config: Any = importlib.import_module("kubernetes.config")
        dynamic: Any = importlib.import_module("kubernetes.dynamic")

        adapter = self.adapter
        compiled = adapter.compile(spec, CompileOptions())
        errors = sorted({d.code for d in compiled.diagnostics if d.severity == "error"})
        if errors:
            raise NotSupported(f"{self.mesh} cannot compile the spec ({', '.join(errors)})")
        api = config.new_client_from_config(config_file=self.kubeconfig, context=self.context)
        dyn = dynamic.DynamicClient(api)
        run = f"r{int(time.time())}"
        objects = [
            *workload_manifests(spec, adapter.injection, run, self.images),
            *compiled.resources,
        ]
        applied: list[dict[str, Any]] = []
        try:
            for doc in objects:
                resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
                ns = (doc.get("metadata") or {}).get("namespace") if resource.namespaced else None
                dyn.server_side_apply(
                    resource,
                    body=doc,
                    namespace=ns,
                    field_manager="meshspec-conformance",
                    force_conflicts=True,
                )
                applied.append(doc)
            _wait_ready(client.AppsV1Api(api), objects)
            yield KubernetesSession(self, spec, client.CoreV1Api(api))
        finally:
            for doc in reversed(applied):
                if doc["kind"] == "Namespace" and doc["metadata"]["name"] == "default":
                    continue
                resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
                ns = (doc.get("metadata") or {}).get("namespace") if resource.namespaced else None
                try:
                    resource.delete(name=doc["metadata"]["name"], namespace=ns)
                except Exception:  # already gone: cleanup must go on
                    continue


def _wait_ready(apps: Any, objects: list[dict[str, Any]]) -> None:
    pending = {
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for d in objects
        if d["kind"] == "Deployment"
    }
    deadline = time.monotonic() + READY_TIMEOUT
    while pending:
        for ns, name in sorted(pending):
            status = apps.read_namespaced_deployment_status(name, ns).status
            if (status.ready_replicas or 0) >= 1:
                pending.discard((ns, name))
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"deployments not ready: {sorted(pending)}")
        time.sleep(2)


__all__ = ["KubernetesTarget", "curl_command", "parse_curl", "workload_manifests"]
