"""Throughput, added latency and CPU cost of a proxy hop: direct, haproxy, meshspec sidecars."""
