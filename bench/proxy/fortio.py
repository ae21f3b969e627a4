"""Latency at a fixed request rate, measured by fortio (what Istio's own latency benchmarks run).

wrk keeps every connection busy, so its latency is queueing at saturation.
Added latency at a fixed, moderate rate (1,000 req/s over 8 connections, the
load of Istio's published sidecar latency) is what a user feels. fortio paces
each connection to its share of the rate and reports the percentiles of its
latency histogram; its achieved rate tells whether it kept up (on a busy
machine it falls behind and the percentiles are then the machine's).

fortio is a Go program: when it is missing, `go install` builds the pinned
version into the cache (`$MESHSPEC_CACHE`, default `~/.cache/meshspec`), as
`tools/realservers/install` does for the real servers; nothing is committed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: pinned: a newer fortio may bucket its histogram differently
FORTIO_MODULE = "fortio.org/fortio"
FORTIO_VERSION = "v1.68.2"
#: the percentiles reported; Istio's anchor is a p90
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class RateResult:
    rate: float
    #: what fortio achieved: below `rate`, it fell behind and the latencies are suspect
    actual_rate: float
    requests: int
    errors: int
    p50_us: float
    p90_us: float
    p99_us: float

    @property
    def kept_up(self) -> bool:
        return self.actual_rate >= 0.98 * self.rate


def _cache_dir() -> Path:
    root = os.environ.get("MESHSPEC_CACHE") or str(Path.home() / ".cache" / "meshspec")
    return Path(root) / "fortio" / FORTIO_VERSION


def _go() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    return "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None


def fortio_binary(install: bool = True) -> str | None:
    """The pinned fortio from the cache, built there with `go install` when missing."""
    binary = _cache_dir() / "fortio"
    if os.access(binary, os.X_OK):
        return str(binary)
    go = _go()
    if not install or go is None:
        return None
    print(f"fortio is missing; go install {FORTIO_MODULE}@{FORTIO_VERSION} ...", file=sys.stderr)
    binary.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [go, "install", f"{FORTIO_MODULE}@{FORTIO_VERSION}"],
        env={**os.environ, "GOBIN": str(binary.parent)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not os.access(binary, os.X_OK):
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    return str(binary)


def parse_result(report: dict[str, object], rate: float) -> RateResult:
    """fortio's JSON report (`-json`): the percentiles of the durations, in µs."""
    histogram = report["DurationHistogram"]
    assert isinstance(histogram, dict)
    found = {int(p["Percentile"]): float(p["Value"]) * 1e6 for p in histogram["Percentiles"]}
    codes = report.get("RetCodes") or {}
    assert isinstance(codes, dict)
    requests = int(histogram["Count"])
    ok = int(codes.get("200", 0))
    actual = report["ActualQPS"]
    assert isinstance(actual, (int, float))
    return RateResult(rate, float(actual), requests, requests - ok, found[50], found[90], found[99])


def fixed_rate(
    binary: str,
    port: int,
    host: str,
    rate: float = 1000.0,
    seconds: float = 10.0,
    connections: int = 8,
) -> RateResult:
    """`rate` requests per second of `GET /` with `Host: host`, for `seconds`."""
    with tempfile.TemporaryDirectory(prefix="meshspec-fortio-") as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run(
            [
                binary,
                "load",
                "-quiet",
                "-qps",
                f"{rate:g}",
                "-c",
                str(connections),
                "-t",
                f"{seconds:g}s",
                "-p",
                ",".join(str(p) for p in PERCENTILES),
                "-H",
                f"Host: {host}",
                "-json",
                str(out),
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            timeout=seconds + 60,
            check=True,
        )
        report = json.loads(out.read_text())
    return parse_result(report, rate)
