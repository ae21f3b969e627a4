"""`meshspec up` and `meshspec call` as a user runs them: real processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.loopback

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, name: http}]
  versions: [{name: v1}]
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  ports: [{port: 80, name: http}]
  versions: [{name: v1}, {name: v2}]
  routes:
  - name: split
    backends: [{version: v1, weight: 75}, {version: v2, weight: 25}]
"""

STARTUP = 60.0


def meshspec(*args: str) -> list[str]:
    return [sys.executable, "-c", "from meshspec.cli import cli; cli()", *args]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers signal 0; it has exited all the same
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_up_runs_the_split_and_stops_every_child_on_sigterm(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_text(SPEC)
    state_file = tmp_path / "state.json"
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen(
            meshspec("up", str(spec), "--state-file", str(state_file)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + STARTUP
        while not state_file.exists():
            assert up.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "meshspec up did not start in time"
            time.sleep(0.1)
        state = json.loads(state_file.read_text())
        pids = [state["controlPlane"]["pid"], *(i["pid"] for i in state["instances"])]
        assert len(pids) == 4
        assert {(i["service"], i["version"]) for i in state["instances"]} == {
            ("shop/web", "v1"),
            ("shop/cart", "v1"),
            ("shop/cart", "v2"),
        }
        assert all(alive(pid) for pid in pids)

        one = subprocess.run(
            meshspec(
                "call",
                "--from",
                "web",
                "--state-file",
                str(state_file),
                "-H",
                "x-probe: 1",
                "http://cart/items?id=3",
            ),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert one.stdout.startswith("HTTP 200")
        body = json.loads(one.stdout.split("\n\n", 1)[1])
        assert body["service"] == "shop/cart"
        assert body["request"]["path"] == "/items?id=3"
        assert body["request"]["headers"]["x-probe"] == "1"

        n = 400
        many = subprocess.run(
            meshspec(
                "call",
                "--from",
                "shop/web",
                "--state-file",
                str(state_file),
                "-n",
                str(n),
                "-o",
                "json",
                "http://cart/",
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        tally = json.loads(many.stdout)
        assert tally["requests"] == n
        assert tally["by_status"] == {"200": n}
        # 75/25 over 400 requests: the standard deviation is 8.7, allow 4 of them
        assert abs(tally["by_version"]["v1"] - 300) <= 35
        assert tally["by_version"]["v1"] + tally["by_version"]["v2"] == n
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(20)
        finally:
            if up.poll() is None:
                up.kill()
                up.wait()
    assert up.returncode == 0, log.read_text()
    assert "cart-v2-0" in log.read_text()  # the table
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if alive(pid)] == []
    assert not state_file.exists()


def test_up_refuses_a_spec_with_errors(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_text(SPEC.replace("weight: 25", "weight: -25"))
    result = subprocess.run(
        meshspec("up", str(spec), "--state-file", str(tmp_path / "state.json")),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "mesh.yaml:" in result.stderr
    assert not (tmp_path / "state.json").exists()


def test_call_says_when_nothing_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        meshspec(
            "call", "--from", "web", "--state-file", str(tmp_path / "none.json"), "http://cart/"
        ),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "meshspec up" in result.stderr


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_up_restarts_a_dead_control_plane_and_gives_up_when_its_port_is_taken(
    tmp_path: Path,
) -> None:
    """Kill the control plane: `up` says so and starts it again (sidecars keep trusting it:
    the root lives on). Kill it again and hold its port: the sidecars refuse the impostor,
    and `up` stops everything with an error rather than run with spec edits ignored."""
    spec = tmp_path / "mesh.yaml"
    spec.write_text(SPEC)
    state_file = tmp_path / "state.json"
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen(
            meshspec("up", str(spec), "--state-file", str(state_file)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    rogue: socket.socket | None = None
    pids: list[int] = []
    try:
        _wait_for(state_file.exists, STARTUP, f"up did not start: {log.read_text()}")
        state = json.loads(state_file.read_text())
        pids = [i["pid"] for i in state["instances"]]
        first = state["controlPlane"]
        os.kill(first["pid"], signal.SIGKILL)

        def restarted() -> bool:
            current = json.loads(state_file.read_text())["controlPlane"]
            return bool(current["pid"] != first["pid"])

        _wait_for(restarted, 30, f"control plane not restarted: {log.read_text()}")
        second = json.loads(state_file.read_text())["controlPlane"]
        assert second["port"] == first["port"]
        assert f"control plane (pid {first['pid']}) exited with code -9; restarted" in (
            log.read_text()
        )
        call = meshspec("call", "--from", "web", "--state-file", str(state_file), "http://cart/")
        assert subprocess.run(call, capture_output=True, text=True, timeout=30).stdout.startswith(
            "HTTP 200"
        )

        os.kill(second["pid"], signal.SIGKILL)
        rogue = socket.socket()
        rogue.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                rogue.bind(("127.0.0.1", second["port"]))
                break
            except OSError:
                assert time.monotonic() < deadline, "the control plane's port stayed taken"
                time.sleep(0.01)
        rogue.listen(64)
        rogue.settimeout(0.2)
        conns = []
        while up.poll() is None:
            try:
                conn, _ = rogue.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            # an unauthenticated snapshot with nothing in it, then a CA of its own
            conn.sendall(b'{"type": "snapshot", "snapshot": {"version": 1, "documents": []}}\n')
        up.wait(30)
        for conn in conns:
            conn.close()
        assert up.returncode == 1
        said = log.read_text()
        assert f"control plane (pid {second['pid']}) exited with code -9" in said
        assert "could not be restarted" in said
        logs = [p.read_text() for p in (tmp_path / "logs").glob("*-0.log")]
        assert any("is not trusted" in text for text in logs), logs
        assert not any("snapshot 1" in text for text in logs)
    finally:
        if rogue is not None:
            rogue.close()
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            up.wait(20)
    _wait_for(lambda: not any(alive(p) for p in pids), 5, "sidecars outlived up")
    assert not state_file.exists()


def test_a_hung_control_plane_is_killed_and_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alive but not answering (stopped): the handshake probe notices and restarts it."""
    from meshspec.loader import load_paths
    from reference_impl import runner

    monkeypatch.setattr(runner, "PROBE_TIMEOUT", 1.0)
    spec = tmp_path / "mesh.yaml"
    spec.write_text(SPEC)
    loaded = load_paths([str(spec)])
    assert loaded.spec is not None
    mesh = runner.Mesh([str(spec)], loaded.spec, log_dir=tmp_path / "logs")
    mesh.probe_interval = 0.5
    try:
        mesh.start()
        assert mesh.supervise() == []
        first = mesh.state.control_plane["pid"]
        os.kill(first, signal.SIGSTOP)
        events: list[str] = []
        deadline = time.monotonic() + 30
        while mesh.state.control_plane["pid"] == first:
            assert time.monotonic() < deadline, events
            events += mesh.supervise()
            time.sleep(0.1)
        assert "has not answered a TLS handshake" in events[0]
        assert f"control plane (pid {first}) exited with code -9; restarted" in events[1]
        assert not alive(first)
        assert mesh.supervise() == []
    finally:
        mesh.stop()
