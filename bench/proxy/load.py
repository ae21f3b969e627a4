"""Load generators: wrk when installed, else a small asyncio client.

Both keep `connections` keep-alive connections busy for `duration` seconds and
report requests per second and the 50th and 99th latency percentiles.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_us: float
    p99_us: float
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6}


def _latency(text: str, percentile: str) -> float:
    m = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        raise ValueError(f"wrk printed no {percentile}% latency")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(url: str, host: str, connections: int, duration: float) -> LoadResult:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration:.0f}s",
            "--latency",
            "-H",
            f"Host: {host}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", out)
    if not m:
        raise ValueError(f"unexpected wrk output:\n{out}")
    seconds = float(m.group(2)) * _UNITS[m.group(3)] / 1e6
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return LoadResult(
        int(m.group(1)), errors, seconds, _latency(out, "50"), _latency(out, "99"), "wrk"
    )


async def _client(port: int, host: str, until: float, lat: list[float], errs: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 200"):
                errs.append(1)
    finally:
        writer.close()


def run_asyncio(port: int, host: str, connections: int, duration: float) -> LoadResult:
    latencies: list[float] = []
    errors: list[int] = []

    async def drive() -> float:
        start = time.perf_counter()
        until = start + duration
        await asyncio.gather(
            *(_client(port, host, until, latencies, errors) for _ in range(connections))
        )
        return time.perf_counter() - start

    seconds = asyncio.run(drive())
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1e6
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6
    return LoadResult(len(latencies), len(errors), seconds, p50, p99, "asyncio client")


def generate(port: int, host: str, connections: int, duration: float) -> LoadResult:
    if shutil.which("wrk"):
        return run_wrk(f"http://127.0.0.1:{port}/", host, connections, duration)
    return run_asyncio(port, host, connections, duration)
