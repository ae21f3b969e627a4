"""A real program of the live Istio target, in its own process group.

Every program (etcd, kube-apiserver, istiod, each pilot-agent with its Envoy)
runs in a new session, so stopping it kills its whole group: pilot-agent's
Envoy child included. Each also gets SIGTERM from the kernel when the process
that started it dies (Linux `PR_SET_PDEATHSIG`), so a run killed before its
clean-up leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    """A program exited or did not become ready in time; the message ends with its log."""


def _load_libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _die_with_parent() -> None:
    if _LIBC is not None and hasattr(_LIBC, "prctl"):
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that was free a moment ago."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "0.0.0.0") -> list[int]:
    """`count` different TCP ports free a moment ago on every address (held
    together while chosen, so they differ from each other)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


class Process:
    """A program with its output in a log file, stopped by its process group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if _LIBC is not None else None,
        )
        self.pid = self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the process group, then SIGKILL what is left of it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        # Children that outlived the leader (Envoy under pilot-agent) are still in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._log.close()

    def rss_bytes(self) -> int:
        """Resident memory of the whole process group (Linux /proc), 0 when unknown."""
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != self.pid:
                    continue
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except (OSError, ValueError):
                continue
        return total

    def wait_until(
        self,
        what: str,
        ready: Callable[[], bool],
        timeout: float,
        fatal: tuple[type[Exception], ...] = (),
    ) -> float:
        """Poll `ready` until true; seconds it took. StartupError with the log if
        the program exits or the timeout passes; the `fatal` exceptions of `ready`
        end the wait at once, the others count as "not yet"."""
        began = time.monotonic()
        last_error = ""
        while True:
            if not self.running():
                raise StartupError(
                    f"{self.name} exited with {self.proc.returncode} before {what}:\n"
                    f"{' '.join(self.argv)}\n{self.log_tail()}"
                )
            try:
                if ready():
                    return time.monotonic() - began
            except fatal:
                raise
            except Exception as exc:  # not up yet: connection refused, not found, ...
                last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - began > timeout:
                raise StartupError(
                    f"{self.name}: no {what} after {timeout:.0f}s ({last_error})\n{self.log_tail()}"
                )
            time.sleep(0.05)
