"""What the oracle is asked about: one HTTP request and who sent it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One request, as the source application sent it.

    `source` is the sending service (a name or `namespace/name`), or None for
    a client outside the mesh. `destination` is the addressed service or its
    host name. `target` is the raw request target: path, optional `?query`.
    Header names are matched case-insensitively; a header sent several times
    is seen as its values joined with `,` (as Envoy joins them).
    """

    destination: str
    target: str = "/"
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    source: str | None = None

    def header_map(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}
