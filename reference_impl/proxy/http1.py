"""HTTP/1.1 messages on asyncio streams: httptools parses, this module frames and encodes.

One parser lives as long as its connection, so pipelined and keep-alive
messages are read in order. Bodies are buffered whole (the reference sidecar
favours clarity over streaming) and re-sent with a Content-Length, which
also drops any ambiguity between Content-Length and chunked framing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import httptools

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
_READ_CHUNK = 64 * 1024

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
    }
)

Headers = tuple[tuple[str, str], ...]


class HttpError(Exception):
    """The peer sent something that is not acceptable HTTP/1.1; `status` is the answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class HttpMessage:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    keep_alive: bool = True
    method: str = ""
    target: str = ""
    status: int = 0

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def end_to_end_headers(self) -> Headers:
        """Headers a proxy forwards: hop-by-hop ones (and those `Connection` names) removed."""
        named = [v for k, v in self.headers if k.lower() == "connection"]
        dropped = HOP_BY_HOP
        if named:
            dropped = HOP_BY_HOP.union(t.strip().lower() for v in named for t in v.split(","))
        return tuple((k, v) for k, v in self.headers if k.lower() not in dropped)


class _Collector:
    """httptools callbacks: assemble whole messages into a queue."""

    def __init__(self) -> None:
        self.current = HttpMessage()
        self.done: deque[HttpMessage] = deque()
        self.in_message = False
        self._url = bytearray()
        self._size = 0
        self.parser: httptools.HttpRequestParser | httptools.HttpResponseParser | None = None

    def on_message_begin(self) -> None:
        self.current = HttpMessage()
        self.in_message = True
        self._url.clear()
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url.extend(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # RFC 9110 §5.5: whitespace around a value is not part of it (the parser keeps
        # trailing whitespace; Envoy's codec strips it too).
        self.current.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.current.target = self._url.decode("latin-1")
        self.current.keep_alive = bool(self.parser.should_keep_alive())
        if isinstance(self.parser, httptools.HttpRequestParser):
            self.current.method = self.parser.get_method().decode("latin-1")
        else:
            self.current.status = int(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            raise HttpError("body too large", 413)
        self.current.body += body

    def on_message_complete(self) -> None:
        self.done.append(self.current)
        self.in_message = False


class MessageReader:
    """Reads successive requests (or responses) from one connection."""

    def __init__(self, reader: asyncio.StreamReader, *, responses: bool = False) -> None:
        self._reader = reader
        self._collector = _Collector()
        parser_type = httptools.HttpResponseParser if responses else httptools.HttpRequestParser
        self._parser = parser_type(self._collector)
        self._collector.parser = self._parser
        self._buffered = 0
        self.received_any = False

    def has_pending(self) -> bool:
        """Bytes of a further message were already read (a whole one, or its start)."""
        return bool(self._collector.done) or self._collector.in_message

    async def next(self) -> HttpMessage | None:
        """The next whole message; None at a clean end of stream between messages."""
        while not self._collector.done:
            data = await self._reader.read(_READ_CHUNK)
            if not data:
                if self._collector.in_message:
                    raise HttpError("connection closed in the middle of a message", 400)
                return None
            self.feed(data)
        return self._collector.done.popleft()

    def feed(self, data: bytes) -> None:
        """Parse bytes that arrived by other means; HttpError when they are not acceptable."""
        self.received_any = True
        if not self._collector.in_message:
            self._buffered = 0
        self._buffered += len(data)
        if self._buffered > MAX_HEAD + MAX_BODY:
            raise HttpError("message too large", 413)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise HttpError("protocol upgrades are not supported", 501) from None
        except httptools.HttpParserError as exc:
            raise HttpError(f"malformed HTTP/1.1: {exc}", 400) from None

    def pop(self) -> HttpMessage | None:
        """The oldest whole message parsed so far, if any."""
        return self._collector.done.popleft() if self._collector.done else None


async def read_response_head(reader: asyncio.StreamReader) -> HttpMessage:
    """Status line and headers only: what answers a HEAD request, whatever its Content-Length."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        raise HttpError("connection closed before a response", 502) from None
    except asyncio.LimitOverrunError:
        raise HttpError("response head too large", 502) from None
    collector = _Collector()
    parser = httptools.HttpResponseParser(collector)
    collector.parser = parser
    collector.on_message_begin()
    try:
        parser.feed_data(head)
    except httptools.HttpParserError as exc:
        raise HttpError(f"malformed HTTP/1.1: {exc}", 502) from None
    message = collector.done.popleft() if collector.done else collector.current
    message.body = b""
    return message


def _encode_headers(headers: Headers, body: bytes, keep_alive: bool) -> bytes:
    lines = [f"{k}: {v}\r\n" for k, v in headers]
    lines.append(f"content-length: {len(body)}\r\n")
    if not keep_alive:
        lines.append("connection: close\r\n")
    return "".join(lines).encode("latin-1")


def encode_request(
    method: str, target: str, headers: Headers, body: bytes = b"", keep_alive: bool = True
) -> bytes:
    head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1")
    return head + _encode_headers(headers, body, keep_alive) + b"\r\n" + body


REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def encode_response(
    status: int, headers: Headers, body: bytes = b"", keep_alive: bool = True
) -> bytes:
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n".encode("latin-1")
    return head + _encode_headers(headers, body, keep_alive) + b"\r\n" + body


def local_reply(status: int, reason: str, keep_alive: bool = True, extra: Headers = ()) -> bytes:
    """A response the sidecar itself makes up, marked so callers can tell it from the app's."""
    body = (reason + "\n").encode()
    headers = (
        ("content-type", "text/plain; charset=utf-8"),
        ("x-meshspec-local-reply", "1"),
        *extra,
    )
    return encode_response(status, headers, body, keep_alive)
