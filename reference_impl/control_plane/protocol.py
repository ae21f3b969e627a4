"""The stream between control plane and sidecars: one JSON object per line over TCP.

Newline-delimited JSON keeps the protocol readable with `nc` and needs no
schema compiler; each message names its `type`. Sidecar to control plane:
`hello` (who I am, the last snapshot version I hold), `ack`/`nack` (with the
version), `bye` (deregister now). Control plane to sidecar: `snapshot`,
`credentials`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

MAX_LINE = 64 * 1024 * 1024  # a snapshot of a large spec is one line

HELLO, ACK, NACK, BYE = "hello", "ack", "nack", "bye"
SNAPSHOT, CREDENTIALS, ERROR = "snapshot", "credentials", "error"


class ProtocolError(ValueError):
    """The peer sent something that is not a message of this protocol."""


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a message is a JSON object with a string 'type'")
    return message


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None when the peer closed the stream."""
    try:
        line = await reader.readline()
    except (ConnectionError, asyncio.IncompleteReadError):
        return None
    except ValueError as exc:  # line longer than the reader's limit
        raise ProtocolError(str(exc)) from None
    if not line:
        return None
    return decode(line)


async def send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(encode(message))
    await writer.drain()
