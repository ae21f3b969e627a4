"""What the oracle is asked about: one HTTP request and who sent it."""

from __future__ import annotations

from dataclasses import dataclass, field

from meshspec.semantics.headers import HeaderInput, header_values


@dataclass(frozen=True)
class Request:
    """One request, as the source application sent it.

    `source` is the sending service (a name or `namespace/name`), or None for
    a client outside the mesh. `destination` is the addressed service or its
    host name. `target` is the raw request target: path, optional `?query`.
    Header names are matched case-insensitively; a sequence of values stands
    for the header sent that many times. How values are read (surrounding
    whitespace dropped, repeated lines joined with `,`) is `headers.py`'s.
    """

    destination: str
    target: str = "/"
    method: str = "GET"
    headers: HeaderInput = field(default_factory=dict)
    port: int | None = None
    source: str | None = None

    def header_map(self) -> dict[str, str]:
        return header_values(self.headers)
