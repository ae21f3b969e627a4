"""`bench.compile` measures every installed target, read from the adapter registry.

A target added to the registry must be compiled to and imported from by the
benchmark without editing it; and what it imports must be what compiling to
that target wrote, with the workloads the import needs.
"""

from __future__ import annotations

from pathlib import Path

from bench.compile.run import commands
from meshspec.registry import available_targets


def test_every_installed_target_is_compiled_and_imported(tmp_path: Path) -> None:
    spec_dir, scratch = tmp_path / "spec", tmp_path / "out"
    by_name = {c.name: c for c in commands(spec_dir, scratch)}
    assert available_targets(), "no adapter is installed"
    for target in available_targets():
        compiled = by_name[f"compile --target {target}"]
        # security losses accepted: a target that cannot express the mesh's
        # authorization would otherwise write nothing to measure
        lossy = ["--allow-lossy", "all"]
        assert compiled.args == ["compile", "--target", target, *lossy, str(spec_dir)]
        imported = by_name[f"import --from {target}"]
        assert imported.prepare is not None
        assert imported.prepare[:3] == ["compile", "--target", target]
        assert "--with-workloads" in imported.prepare
        assert imported.prepare[3:5] == lossy
        assert imported.args[:3] == ["import", "--from", target]
        assert imported.args[3] == str(imported.inputs[0])
    assert {"validate", "explain"} <= set(by_name)
    assert len(by_name) == 2 + 2 * len(available_targets())
