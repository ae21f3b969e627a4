"""A planned port taken by another process before a part binds it: the runner starts again.

Ports are planned free (bound to port 0, then released) and bound later by the
parts; anything on the machine may take one in between. The taken port is
reproduced here by holding it open, as that other process would.
"""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from meshspec import api
from reference_impl.runner import HOST, Mesh

pytestmark = pytest.mark.loopback

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, name: http}, {port: 9090, name: metrics}]
"""


@pytest.mark.parametrize("which", ["inbound_port", "admin_port", "extra_listener"])
def test_a_start_moves_to_new_ports_when_a_planned_one_is_taken(tmp_path: Path, which: str) -> None:
    spec_file = tmp_path / "mesh.yaml"
    spec_file.write_text(SPEC)
    mesh = Mesh([str(spec_file)], api.load_text(SPEC), log_dir=tmp_path / "logs")
    (planned,) = mesh.state.instances
    port = (
        next(iter(planned.inbound_ports.values()))
        if which == "extra_listener"
        else getattr(planned, which)
    )
    squatter = socket.socket()
    squatter.bind((HOST, port))
    squatter.listen()
    try:
        state = mesh.start()
        (inst,) = state.instances
        used = {inst.inbound_port, inst.admin_port, *inst.inbound_ports.values()}
        assert port not in used
        with urllib.request.urlopen(f"http://{HOST}:{inst.admin_port}/ready", timeout=10) as r:
            assert r.status == 200
    finally:
        mesh.stop()
        squatter.close()
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    # the first start found the port taken and said so
    assert "cannot listen on one of its ports" in logs
    assert "address already in use" in logs.lower()
