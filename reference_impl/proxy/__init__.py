"""The sidecar's asyncio shell: sockets, TLS and HTTP/1.1 around the sans-I/O core."""

from reference_impl.proxy.sidecar import Sidecar, SidecarConfig

__all__ = ["Sidecar", "SidecarConfig"]
