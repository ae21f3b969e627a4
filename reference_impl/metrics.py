"""Prometheus metrics and structured decision logs, one set per sidecar.

Each sidecar owns a CollectorRegistry (never the process-global one) so many
sidecars can run in one process, as the tests and `meshspec up` do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import IO, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

DECISIONS = logging.getLogger("meshspec.sidecar.decisions")


class SidecarMetrics:
    def __init__(self, service: str, instance: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = {"service": service, "instance": instance}
        self._const = labels
        self._requests = _RequestCounts()
        self.registry.register(self._requests)
        self.retries = Counter(
            "meshspec_sidecar_retries",
            "Upstream attempts after the first, by backend.",
            ["backend"],
            registry=self.registry,
        )
        self.ejections = Counter(
            "meshspec_sidecar_ejections",
            "Endpoints ejected by outlier detection.",
            ["endpoint_service", "endpoint_instance"],
            registry=self.registry,
        )
        self.overflow = Counter(
            "meshspec_sidecar_overflow",
            "Requests refused by a connection limit (503).",
            ["backend"],
            registry=self.registry,
        )
        self.refused_connections = Counter(
            "meshspec_sidecar_refused_connections",
            "Connections closed at once because their listener was full.",
            ["listener"],
            registry=self.registry,
        )
        self.tls_handshake_failures = Counter(
            "meshspec_sidecar_tls_handshake_failures",
            "TLS handshakes that failed or presented the wrong identity.",
            ["direction"],
            registry=self.registry,
        )
        self.snapshot_version = Gauge(
            "meshspec_sidecar_snapshot_version",
            "Version of the snapshot the sidecar runs on (-1: none yet).",
            registry=self.registry,
        )
        self.snapshot_version.set(-1)
        self.info = Gauge(
            "meshspec_sidecar_info",
            "Constant 1, labelled with the sidecar's service and instance.",
            ["service", "instance"],
            registry=self.registry,
        )
        self.info.labels(**labels).set(1)

    def request(self, direction: str, route: str | None, backend: str | None, status: int) -> None:
        counts = self._requests.counts
        key = (direction, route, backend, status)
        counts[key] = counts.get(key, 0) + 1

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _RequestCounts:
    """`meshspec_sidecar_requests`, counted in a plain dict and read when scraped.

    Every request counts once per sidecar; a prometheus_client child's `inc` costs
    four Python calls and a lock, a dict entry one addition. Calls come from the
    sidecar's event loop, as every call into a sidecar does.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str | None, str | None, int], int] = {}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "meshspec_sidecar_requests",
            "Requests answered, by direction, route, backend and status.",
            labels=["direction", "route", "backend", "status"],
        )
        for (direction, route, backend, status), count in dict(self.counts).items():
            family.add_metric([direction, route or "", backend or "", str(status)], count)
        yield family


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: the message plus the record's `fields` extra."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        return json.dumps(data, sort_keys=True, default=str)


def json_log_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler that writes JSON lines; attach it to DECISIONS (or the root logger)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    return handler


def decisions_logged() -> bool:
    """Whether `log_decision` writes anything: lets a hot path skip building its fields."""
    return DECISIONS.isEnabledFor(logging.INFO)


def log_decision(event: str, **fields: Any) -> None:
    if DECISIONS.isEnabledFor(logging.INFO):
        DECISIONS.info(event, extra={"fields": fields})
