"""The reference implementation: a control plane and sidecars that run a spec for real."""
