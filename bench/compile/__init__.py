"""How compiling to Istio scales with the number of services (`python -m bench.compile`)."""
