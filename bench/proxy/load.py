"""Load generators: wrk when installed, else a small asyncio client.

Both keep `connections` keep-alive connections busy for `duration` seconds and
report requests per second and the 50th and 99th latency percentiles. With
`unique_ids` every request carries an `x-request-id` no other request had (as
traffic with tracing does), so nothing a proxy remembers per exact request helps.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import subprocess
import tempfile
import time
import uuid
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


#: wrk's per-request hook (LuaJIT): a run-unique prefix and a counter make each ID new
_UNIQUE_IDS_LUA = """
local n = 0
request = function()
  n = n + 1
  wrk.headers["x-request-id"] = "%s-" .. n
  return wrk.format()
end
"""


def run_wrk(
    url: str, host: str, connections: int, duration: float, unique_ids: bool = False
) -> LoadResult:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration:.0f}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if unique_ids:
            script.write(_UNIQUE_IDS_LUA % uuid.uuid4().hex)
            script.flush()
            args += ["-s", script.name]
        out = subprocess.run(
            [*args, "-H", f"Host: {host}", url],
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


def request_bytes(host: str, request_id: str | None = None) -> bytes:
    """`GET /` for `host`, with an `x-request-id` when one is given."""
    rid = "" if request_id is None else f"x-request-id: {request_id}\r\n"
    return f"GET / HTTP/1.1\r\nHost: {host}\r\n{rid}\r\n".encode()


#: a run-unique prefix and a process-wide counter: IDs for `unique_ids`
_RUN = uuid.uuid4().hex
_IDS = itertools.count()


def next_id() -> str:
    return f"{_RUN}-{next(_IDS)}"


async def _client(
    port: int, host: str, until: float, lat: list[float], errs: list[int], unique_ids: bool
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    same = request_bytes(host)
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request_bytes(host, next_id()) if unique_ids else same)
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


def run_asyncio(
    port: int, host: str, connections: int, duration: float, unique_ids: bool = False
) -> LoadResult:
    latencies: list[float] = []
    errors: list[int] = []

    async def drive() -> float:
        start = time.perf_counter()
        until = start + duration
        await asyncio.gather(
            *(_client(port, host, until, latencies, errors, unique_ids) for _ in range(connections))
        )
        return time.perf_counter() - start

    seconds = asyncio.run(drive())
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1e6
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6
    return LoadResult(len(latencies), len(errors), seconds, p50, p99, "asyncio client")


def generate(
    port: int, host: str, connections: int, duration: float, unique_ids: bool = False
) -> LoadResult:
    if shutil.which("wrk"):
        return run_wrk(f"http://127.0.0.1:{port}/", host, connections, duration, unique_ids)
    return run_asyncio(port, host, connections, duration, unique_ids)
