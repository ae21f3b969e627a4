"""Latency at a constant request rate (what wrk2 measures), with a small asyncio client.

wrk keeps every connection busy, so its latency is queueing at saturation.
Added latency at a fixed, moderate rate (1,000 req/s, the rate Istio's
published sidecar latency uses) is what a user feels. Requests are scheduled
at fixed times; each latency is measured from the time the request was due,
not from when a connection was free to send it, so a stall counts against the
target instead of hiding (no coordinated omission). The number of requests is
bounded: rate x seconds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.proxy.load import next_id, request_bytes


@dataclass(frozen=True)
class RateResult:
    rate: float
    requests: int
    errors: int
    late: int
    p50_us: float
    p99_us: float


async def _worker(
    port: int,
    host: str,
    due: asyncio.Queue[float | None],
    lat: list[float],
    errs: list[int],
    unique_ids: bool,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    same = request_bytes(host)
    try:
        while (when := await due.get()) is not None:
            writer.write(request_bytes(host, next_id()) if unique_ids else same)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - when)
            if not head.startswith(b"HTTP/1.1 200"):
                errs.append(1)
    finally:
        writer.close()


async def _drive(
    port: int, host: str, rate: float, seconds: float, connections: int, unique_ids: bool
) -> RateResult:
    due: asyncio.Queue[float | None] = asyncio.Queue()
    lat: list[float] = []
    errs: list[int] = []
    workers = [
        asyncio.create_task(_worker(port, host, due, lat, errs, unique_ids))
        for _ in range(connections)
    ]
    total = int(rate * seconds)
    late = 0
    start = time.perf_counter() + 0.05
    for i in range(total):
        when = start + i / rate
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.001:
            late += 1  # the client itself fell behind: reported, the result is suspect
        due.put_nowait(when)
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    lat.sort()
    p50 = lat[len(lat) // 2] * 1e6
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6
    return RateResult(rate, len(lat), len(errs), late, p50, p99)


def constant_rate(
    port: int,
    host: str,
    rate: float = 1000.0,
    seconds: float = 5.0,
    connections: int = 16,
    unique_ids: bool = False,
) -> RateResult:
    """`rate` requests per second for `seconds`, over `connections` keep-alive connections;
    `unique_ids`: each request with an `x-request-id` of its own."""
    drive = _drive(port, host, rate, seconds, connections, unique_ids)
    try:
        import uvloop

        return uvloop.run(drive)
    except ImportError:
        return asyncio.run(drive)
