"""How long a spec change takes to reach many connected sidecars."""
