"""The meshspec commands end to end on large meshes, against libyaml's floor (`python -m bench.compile`)."""
