"""The meshspec commands end to end on large meshes, against libyaml's floor.

Run with `python -m bench.compile`.
"""
