"""`python -m reference_impl up | call | sidecar | control-plane`."""

from reference_impl.cli import main

main()
