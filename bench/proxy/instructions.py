"""User-space instructions per request of the sidecar pair, counted by valgrind (callgrind).

CPU time on a shared machine moves with everyone else's load; the number of
instructions a request costs does not. Here both sidecars share one process
(as in `bench.proxy.profile`), one connection sends one request at a time (so
no batching differs between runs), and callgrind counts only while the load
runs, after a warm-up that opened and handshook every connection. It counts
user space only (our Python, the interpreter, uvloop, httptools, OpenSSL):
the kernel's share, about 35-45 % of a sidecar's CPU, is not in it. Use it to
compare two builds of the sidecars, or the two modes; the CPU ratio against
Envoy is `python -m bench.proxy`'s.

Run: `python -m bench.proxy.instructions [--mode STRICT|DISABLE|both] [--seconds 8]`
(valgrind must be installed; the process runs some 50 times slower under it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.proxy.load import generate
from bench.proxy.profile import start_pair
from bench.proxy.run import echo_app

#: seconds of load before counting: the handshakes under valgrind take a while
WARM_UP = 3.0


async def _drive(mode: str, app_port: int, seconds: float) -> int:
    """Start the pair, warm it up, count while one connection loads it; the requests sent."""
    client, server = await start_pair(mode, app_port)
    loop = asyncio.get_running_loop()
    port = client.outbound_port
    await loop.run_in_executor(None, generate, port, "server", 1, WARM_UP, False)
    await asyncio.sleep(1.0)
    pid = str(os.getpid())
    subprocess.run(["callgrind_control", "-i", "on", pid], capture_output=True, check=False)
    load = await loop.run_in_executor(None, generate, port, "server", 1, seconds, False)
    subprocess.run(["callgrind_control", "-i", "off", pid], capture_output=True, check=False)
    await client.stop()
    await server.stop()
    return load.requests


def _child(mode: str, seconds: float) -> None:
    import uvloop

    with echo_app() as (app_port, _pid), asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
        requests = r.run(_drive(mode, app_port, seconds))
    print(f"requests {requests}", flush=True)


def count(mode: str, seconds: float) -> tuple[int, int]:
    """(instructions counted, requests) of one run under callgrind."""
    with tempfile.TemporaryDirectory(prefix="meshspec-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "bench.proxy.instructions",
                "--child",
                mode,
                "--seconds",
                str(seconds),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        found = re.search(r"^requests (\d+)$", done.stdout, re.M)
        totals = re.search(r"^totals: (\d+)", out.read_text(), re.M)
        if not found or not totals:
            raise RuntimeError(f"no count from callgrind:\n{done.stdout}\n{done.stderr[-2000:]}")
        return int(totals.group(1)), int(found.group(1))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy.instructions")
    parser.add_argument("--mode", default="both", choices=["STRICT", "DISABLE", "both"])
    parser.add_argument("--seconds", type=float, default=8.0, help="counted load, per mode")
    parser.add_argument("--child", metavar="MODE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.seconds)
        return
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        raise SystemExit("valgrind (with callgrind_control) is not installed")
    modes = ["DISABLE", "STRICT"] if args.mode == "both" else [args.mode]
    per_request: dict[str, float] = {}
    for mode in modes:
        instructions, requests = count(mode, args.seconds)
        per_request[mode] = instructions / requests
        name = "mTLS" if mode == "STRICT" else "plain"
        print(
            f"sidecar pair ({name}): {per_request[mode]:,.0f} user-space instructions per "
            f"request ({requests} requests counted)"
        )
    if len(per_request) == 2:
        ratio = per_request["STRICT"] / per_request["DISABLE"]
        print(f"mTLS / plain: {ratio:.3f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
