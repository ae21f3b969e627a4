"""The stream between control plane and sidecars: one JSON object per line, over TLS.

Newline-delimited JSON keeps the protocol readable and needs no schema
compiler; each message names its `type`. Sidecar to control plane: `hello`
(its bootstrap secret, where its inbound listener is, the last snapshot version
it holds), `csr` (a certificate signing request for a key that never leaves the
sidecar), `ack`/`nack` (with the version), `bye` (deregister now). Control plane
to sidecar: `snapshot`, `credentials` (a certificate, never a key), `renew`
(send a new CSR now: the workload's identity changed) and `error`.

Every message is bounded before it is parsed (line length) and checked after
(nesting depth, the type of every field it reads): a peer that sends anything
else gets an `error` and the stream is closed, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

MAX_LINE = 64 * 1024 * 1024  # what a sidecar reads: a snapshot of a large spec is one line
MAX_REQUEST_LINE = 64 * 1024  # what the control plane reads: hello, csr, ack, nack, bye
MAX_DEPTH = 64  # a spec document nests far less; deeper is an attack on the parser
MAX_TEXT = 16 * 1024  # any one string field of a sidecar's message (a CSR is ~500 bytes)
MAX_VERSION = 2**63 - 1

HELLO, CSR, ACK, NACK, BYE = "hello", "csr", "ack", "nack", "bye"
SNAPSHOT, CREDENTIALS, RENEW, ERROR = "snapshot", "credentials", "renew", "error"


class ProtocolError(ValueError):
    """The peer sent something that is not a message of this protocol."""


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _no_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not a JSON number")


def decode(line: bytes, max_depth: int | None = MAX_DEPTH) -> dict[str, Any]:
    """One message; ProtocolError for anything that is not a bounded JSON object with a type.

    The parser itself stops at the interpreter's recursion limit; `max_depth`
    bounds it further (None skips the walk, for large messages from a trusted peer).
    """
    try:
        message = json.loads(line, parse_constant=_no_constant)
    except RecursionError:
        raise ProtocolError("message nests too deeply") from None
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a message is a JSON object with a string 'type'")
    if max_depth is not None and _depth(message) > max_depth:
        raise ProtocolError(f"message nests deeper than {max_depth} levels")
    return message


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (the parser already bounded it by the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


async def read_message(
    reader: asyncio.StreamReader, max_depth: int | None = MAX_DEPTH
) -> dict[str, Any] | None:
    """The next message, or None when the peer closed the stream."""
    try:
        line = await reader.readline()
    except (ConnectionError, asyncio.IncompleteReadError):
        return None
    except ValueError:  # longer than the reader's limit
        raise ProtocolError("message longer than this end accepts") from None
    if not line:
        return None
    return decode(line, max_depth)


async def send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(encode(message))
    await writer.drain()


# -- reading fields: every field a handler uses goes through one of these ----------------------


def text(message: dict[str, Any], name: str, *, limit: int = MAX_TEXT) -> str:
    value = message.get(name)
    if not isinstance(value, str):
        raise ProtocolError(f"{name!r} must be a string")
    if len(value) > limit:
        raise ProtocolError(f"{name!r} is longer than {limit} characters")
    return value


def optional_text(message: dict[str, Any], name: str, *, limit: int = MAX_TEXT) -> str | None:
    return None if message.get(name) is None else text(message, name, limit=limit)


def version(message: dict[str, Any], name: str = "version") -> int:
    """A snapshot version: an integer (not a float, not a bool) in 0..2**63-1."""
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{name!r} must be an integer")
    if not 0 <= value <= MAX_VERSION:
        raise ProtocolError(f"{name!r} is out of range")
    return value


def optional_version(message: dict[str, Any], name: str) -> int | None:
    return None if message.get(name) is None else version(message, name)


def port(message: dict[str, Any], name: str) -> int:
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ProtocolError(f"{name!r} must be a port number")
    return value


def timestamp(message: dict[str, Any], name: str) -> float:
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(f"{name!r} must be a finite number")
    return float(value)


def obj(message: dict[str, Any], name: str) -> dict[str, Any]:
    value = message.get(name)
    if not isinstance(value, dict):
        raise ProtocolError(f"{name!r} must be an object")
    return value
