"""What the sidecar tests share: the start of every spec, and raw bytes over a real
socket (what an attacker sends, and what comes back)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from reference_impl.proxy.http1 import HttpError, MessageReader

#: The mesh (trust domain test.local) and the calling service ns/client every sidecar
#: test's spec starts with; each test appends its own services after it.
PREAMBLE = """\
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: m}
spec: {trustDomain: test.local}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client, namespace: ns}
spec: {}
---
"""


@dataclass
class RawAnswer:
    """The first response to raw bytes; status None when the peer closed without one."""

    status: int | None
    headers: dict[str, str]
    body: bytes


async def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> RawAnswer:
    """Send `data` as is and read one response (or the close that replaces it)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(data)
        await writer.drain()
        messages = MessageReader(reader, responses=True)
        try:
            message = await asyncio.wait_for(messages.next(), timeout)
        except (HttpError, ConnectionError):
            return RawAnswer(None, {}, b"")
        if message is None:
            return RawAnswer(None, {}, b"")
        headers: dict[str, str] = {}
        for name, value in message.headers:
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        return RawAnswer(message.status, headers, message.body)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await writer.wait_closed()


def request_bytes(target: str, lines: list[str], method: str = "GET", body: bytes = b"") -> bytes:
    """A request written line by line (headers exactly as given, no normalising)."""
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{line}\r\n" for line in lines)
    return head.encode("latin-1") + b"\r\n" + body
