"""Per-sidecar metrics registries and JSON-lines decision logs."""

from __future__ import annotations

import io
import json
import logging

from reference_impl.metrics import DECISIONS, SidecarMetrics, json_log_handler, log_decision


def test_each_sidecar_has_its_own_registry() -> None:
    a = SidecarMetrics("ns/a", "a-0")
    b = SidecarMetrics("ns/b", "b-0")
    a.request("outbound", "r", "ns/api@v1", 200)
    a.request("outbound", "r", "ns/api@v1", 200)
    a.overflow.labels("ns/api").inc()
    text_a = a.render().decode()
    text_b = b.render().decode()
    expected = (
        'meshspec_sidecar_requests_total{backend="ns/api@v1",direction="outbound",'
        'route="r",status="200"} 2.0'
    )
    assert expected in text_a
    assert 'meshspec_sidecar_overflow_total{backend="ns/api"} 1.0' in text_a
    assert "meshspec_sidecar_requests_total{" not in text_b
    assert 'meshspec_sidecar_info{instance="b-0",service="ns/b"} 1.0' in text_b


def test_decisions_are_json_lines() -> None:
    stream = io.StringIO()
    handler = json_log_handler(stream)
    previous = DECISIONS.level
    DECISIONS.addHandler(handler)
    DECISIONS.setLevel(logging.INFO)
    try:
        log_decision("outbound", route="r", status=503, endpoint=None)
        log_decision("ejected", endpoint="api-b")
    finally:
        DECISIONS.removeHandler(handler)
        DECISIONS.setLevel(previous)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(d["event"], d.get("status"), d.get("endpoint")) for d in lines] == [
        ("outbound", 503, None),
        ("ejected", None, "api-b"),
    ]
    assert all(d["level"] == "info" and isinstance(d["ts"], float) for d in lines)
