"""Benchmarks: runnable scripts, not tests (`python -m bench.<name>`)."""
