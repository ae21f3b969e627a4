"""The proxy benchmark's fixed rate: fortio sends the asked rate, with the Host the sidecars
route on, and its report is read into percentiles in microseconds that rise with the rank."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from bench.proxy.fortio import fixed_rate, fortio_binary
from tests.bench.ok_server import OkHandler, serving


class _Recorder(OkHandler):
    hosts: list[str | None] = []
    times: list[float] = []

    def seen(self) -> None:
        type(self).hosts.append(self.headers.get("host"))
        type(self).times.append(time.monotonic())
        if len(type(self).hosts) % 10 == 0:
            time.sleep(0.002)  # one request in ten is slow: the p99 must show it


@pytest.fixture
def recorder() -> Iterator[int]:
    _Recorder.hosts, _Recorder.times = [], []
    with serving(_Recorder) as port:
        yield port


@pytest.fixture(scope="module")
def fortio() -> str:
    binary = fortio_binary(install=True)
    if binary is None:
        message = "fortio is not installed and `go install` could not build it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return binary


@pytest.mark.loopback
def test_fortio_sends_the_fixed_rate_with_the_host_and_reports_rising_percentiles(
    recorder: int, fortio: str
) -> None:
    result = fixed_rate(fortio, recorder, "server", rate=200, seconds=2, connections=2)
    hosts, times = _Recorder.hosts, _Recorder.times
    assert result.errors == 0 and result.kept_up, result
    # fortio sends a few warm-up requests of its own besides rate x seconds
    assert 400 <= result.requests <= len(hosts) <= 420, (result.requests, len(hosts))
    assert set(hosts) == {"server"}
    spread = times[-1] - times[len(hosts) - result.requests]
    assert 1.8 < spread < 2.5, spread  # paced over the run, not sent in a burst
    assert 0 < result.p50_us <= result.p90_us <= result.p99_us
    assert result.p99_us > 2000  # the slow tenth of requests (2 ms each) is in the p99
