"""HTTP/1.1 messages from protocols or streams: httptools parses, this module frames and encodes.

One parser lives as long as its connection, so pipelined and keep-alive
messages are read in order. Bodies are buffered whole (the reference sidecar
favours clarity over streaming) and re-sent with a Content-Length, which
also drops any ambiguity between Content-Length and chunked framing (a GET
or HEAD request without a body goes with no framing header: it has none).

Limits, with Envoy's defaults as the anchor: a head (request line and header
lines) of at most 60 KiB and 100 header lines (`max_request_headers_kb`,
`max_headers_count` in envoy.config.core.v3.HttpProtocolOptions), else 431.
Trailers are read and dropped: they never become headers, so neither
authorization nor the application sees them. A request must carry exactly one
Host (RFC 9112 §3.2; HTTP/1.0 may omit it), else 400.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import httptools

MAX_HEAD = 60 * 1024
MAX_HEADERS = 100
MAX_BODY = 16 * 1024 * 1024
_READ_CHUNK = 64 * 1024
_OWS = b" \t"
#: a head's bytes beyond its names and values: ": " and CRLF on each line, at most 100 lines
_HEAD_BUDGET = MAX_HEAD - 4 * MAX_HEADERS

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

_HOP_BY_HOP_BYTES = frozenset(name.encode() for name in HOP_BY_HOP)
#: `Connection` values that name no header beyond the hop-by-hop ones
_PLAIN_CONNECTION = frozenset({"keep-alive", "close"})
#: names only the mesh sets, lowercased as the parser compares them
_MESH_PREFIX = b"x-meshspec-"
_XFCC = b"x-forwarded-client-cert"

# What a header line is to the proxy, by its name; the kinds below `_HOP` are forwarded.
_FORWARDED = 0  # end to end: forwarded
_HOST = 1  # forwarded, and counted (exactly one per request)
_MESH = 2  # forwarded only after the mesh's own names are dropped
_HOP = 3  # hop by hop: not forwarded
_CONNECTION = 4  # hop by hop, and its values name more such headers


def _kind(lowered: bytes) -> int:
    """What a header line is to the proxy, from its lower-case name."""
    if lowered == b"connection":
        return _CONNECTION
    if lowered in _HOP_BY_HOP_BYTES:
        return _HOP
    if lowered == b"host":
        return _HOST
    if lowered[: len(_MESH_PREFIX)] == _MESH_PREFIX or lowered == _XFCC:
        return _MESH
    return _FORWARDED


def _known_names() -> dict[bytes, tuple[str, int]]:
    """Common header names, in lower case and as usually capitalised, each with its text
    and `_kind`: a line with one of them is sorted with one look-up instead of a decode,
    a lower-casing and the comparisons. A fixed table: never grown from what peers send."""
    names = (
        *sorted(HOP_BY_HOP),
        "host",
        "accept",
        "accept-encoding",
        "accept-language",
        "authorization",
        "cache-control",
        "content-encoding",
        "content-type",
        "cookie",
        "date",
        "etag",
        "location",
        "server",
        "set-cookie",
        "traceparent",
        "user-agent",
        "vary",
        "x-forwarded-client-cert",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-request-id",
    )
    table: dict[bytes, tuple[str, int]] = {}
    for name in names:
        for spelling in (name, "-".join(part.capitalize() for part in name.split("-"))):
            raw = spelling.encode("latin-1")
            table[raw] = (spelling, _kind(raw.lower()))
    return table


_KNOWN_NAMES = _known_names()

Headers = tuple[tuple[str, str], ...]


class HttpError(Exception):
    """The peer sent something that is not acceptable HTTP/1.1; `status` is the answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class HttpMessage:
    """One request or response; slotted, as four are made and read per proxied request."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    keep_alive: bool = True
    method: str = ""
    target: str = ""
    status: int = 0
    #: filled by the parser: the headers a proxy forwards (not hop-by-hop, not named by
    #: `Connection`), and `Connection`'s values
    forward: list[tuple[str, str]] | None = None
    connection: list[str] = field(default_factory=list)
    #: whether a header has a name only the mesh sets (`x-meshspec-*`,
    #: `x-forwarded-client-cert`): set by the parser; whoever forwards a message
    #: not parsed here must look
    mesh_named: bool = True

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def end_to_end_headers(self) -> Headers:
        """Headers a proxy forwards: hop-by-hop ones (and those `Connection` names) removed."""
        if self.forward is not None:
            return tuple(self.forward)  # sorted out while parsing
        named = [v for k, v in self.headers if k.lower() == "connection"]
        dropped = HOP_BY_HOP.union(connection_tokens(named)) if named else HOP_BY_HOP
        return tuple((k, v) for k, v in self.headers if k.lower() not in dropped)


def connection_tokens(values: list[str]) -> set[str]:
    """The header names `Connection` values list (RFC 9110 §7.6.1), lowercased."""
    return {t.strip().lower() for v in values for t in v.split(",")}


class _Collector:
    """httptools callbacks: assemble whole messages into a queue."""

    def __init__(self) -> None:
        self.current = HttpMessage()
        self.done: deque[HttpMessage] = deque()
        #: messages whose head is complete, in order (kept only when someone reads heads)
        self.heads: deque[HttpMessage] | None = None
        self.in_message = False
        self.head_done = False
        self.begun = 0  # messages begun so far: tells a new head from one still arriving
        self._url = bytearray()
        self._size = 0
        self._head_size = 0
        self._hosts = 0
        self.parser: httptools.HttpRequestParser | httptools.HttpResponseParser | None = None
        #: the parser again when it parses requests: told apart once, not per message
        self._requests: httptools.HttpRequestParser | None = None

    def attach(self, parser: httptools.HttpRequestParser | httptools.HttpResponseParser) -> None:
        """The parser calling back: what it can tell (method or status) depends on its kind."""
        self.parser = parser
        if isinstance(parser, httptools.HttpRequestParser):
            self._requests = parser

    def on_message_begin(self) -> None:
        # positional: the generated __init__ then calls no default factories
        self.current = HttpMessage([], b"", True, "", "", 0, [], [], False)
        self.in_message = True
        self.head_done = False
        self.begun += 1
        if self._url:  # a response's stays empty
            self._url.clear()
        self._size = 0
        self._head_size = 0
        self._hosts = 0

    def on_url(self, url: bytes) -> None:
        self._url.extend(url)
        if len(self._url) > MAX_HEAD:
            raise HttpError("request line too long", 431)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer: dropped, never a header
        # Sizes are checked once the head is complete; until then `MessageReader.feed`
        # bounds what a head still arriving may take.
        self._head_size += len(name) + len(value)
        known = _KNOWN_NAMES.get(name)
        if known is None:
            known = (name.decode("latin-1"), _kind(name.lower()))
        text, kind = known
        # RFC 9110 §5.5: whitespace around a value is not part of it (the parser keeps
        # trailing whitespace; Envoy's codec strips it too).
        pair = (text, value.strip(_OWS).decode("latin-1"))
        message = self.current
        message.headers.append(pair)
        if kind < _HOP:
            message.forward.append(pair)  # type: ignore[union-attr]  # set at message begin
            if kind == _HOST:
                self._hosts += 1
            elif kind == _MESH:
                message.mesh_named = True
        elif kind == _CONNECTION:
            message.connection.append(pair[1])

    def on_headers_complete(self) -> None:
        parser = self.parser
        assert parser is not None
        self.head_done = True
        message = self.current
        if len(message.headers) > MAX_HEADERS or self._head_size + len(self._url) > _HEAD_BUDGET:
            raise HttpError("request header fields too large", 431)
        connection = message.connection
        if connection and (len(connection) > 1 or connection[0].lower() not in _PLAIN_CONNECTION):
            named = connection_tokens(connection) - HOP_BY_HOP
            if named:
                assert message.forward is not None
                message.forward = [(k, v) for k, v in message.forward if k.lower() not in named]
        message.keep_alive = parser.should_keep_alive()  # a bool already, as the status is an int
        requests = self._requests
        if requests is not None:
            message.target = self._url.decode("latin-1")
            message.method = requests.get_method().decode("latin-1")
            if self._hosts != 1:
                if self._hosts > 1:
                    raise HttpError("more than one Host header", 400)
                if requests.get_http_version() != "1.0":
                    raise HttpError("HTTP/1.1 request without a Host header", 400)
        else:
            message.status = parser.get_status_code()  # type: ignore[union-attr]  # a response's
        if self.heads is not None:
            self.heads.append(message)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            raise HttpError("body too large", 413)
        self.current.body += body

    def on_message_complete(self) -> None:
        self.done.append(self.current)
        self.in_message = False


@dataclass(frozen=True)
class ReadTimeouts:
    """How long a client may take (seconds), anchored on Envoy's HTTP connection manager.

    `idle`: no request under way on a kept-alive connection (Envoy's `idle_timeout` is
    1 h; 5 min here, Envoy's `stream_idle_timeout`, because the sidecar's connection
    budget is small). `head`: from a request's first byte to the end of its headers
    (Envoy's `request_headers_timeout`, off by default; 10 s here so a client sending
    a byte a second cannot hold a connection). `request`: from a request's first byte
    to its last (Envoy's `request_timeout`, off by default; 5 min here, what Envoy's
    edge best practice sets). An expired head or request gets 408; an idle connection
    is closed.
    """

    idle: float = 300.0
    head: float = 10.0
    request: float = 300.0


DEFAULT_TIMEOUTS = ReadTimeouts()


class MessageReader:
    """Reads successive requests (or responses) from one connection."""

    def __init__(
        self, reader: asyncio.StreamReader | None, *, responses: bool = False, heads: bool = False
    ) -> None:
        """`heads`: the caller reads each request's head first (`next_head`, then `rest`).

        `reader` None: the caller feeds the bytes (`feed`) and takes messages (`pop`).
        """
        self._reader = reader
        self._collector = _Collector()
        if heads:
            self._collector.heads = deque()
        parser_type = httptools.HttpResponseParser if responses else httptools.HttpRequestParser
        self._parser = parser_type(self._collector)
        self._collector.attach(self._parser)
        self._head_pending = 0
        #: set while the connection waits on the proxy (forwarding), not on its client
        self.busy = False

    def has_pending(self) -> bool:
        """Bytes of a further message were already read (a whole one, or its start)."""
        return bool(self._collector.done) or self._collector.in_message

    async def next(self) -> HttpMessage | None:
        """The next whole message; None at a clean end of stream between messages."""
        collector = self._collector
        done = collector.done
        assert self._reader is not None, "a MessageReader without a stream is fed"
        while not done:
            data = await self._reader.read(_READ_CHUNK)
            if not data:
                if collector.in_message:
                    raise HttpError("connection closed in the middle of a message", 400)
                return None
            self.feed(data)
        return done.popleft()

    async def next_head(self) -> HttpMessage | None:
        """The next message as soon as its head is complete (its body may still be arriving).

        Only for a reader made with `heads=True`; finish the message with `rest`.
        """
        heads = self._collector.heads
        assert heads is not None, "MessageReader(heads=True) reads heads"
        while not heads:
            if not await self._read_some():
                return None
        return heads.popleft()

    def complete(self, message: HttpMessage) -> bool:
        """Whether `message` (from `next_head`) has arrived whole."""
        return bool(self._collector.done) and self._collector.done[0] is message

    async def rest(self, message: HttpMessage) -> None:
        """Read until `message` (from `next_head`) is whole."""
        done = self._collector.done
        while not done:
            if not await self._read_some():
                raise HttpError("connection closed in the middle of a message", 400)
        finished = done.popleft()
        assert finished is message, "messages are finished in the order their heads came"

    # What `Deadlines` watches: which message, and how far it has come.

    @property
    def begun(self) -> int:
        return self._collector.begun

    @property
    def head_done(self) -> bool:
        return self._collector.head_done

    async def _read_some(self) -> bool:
        """Read and parse one chunk; False at a clean end of stream between messages."""
        assert self._reader is not None, "a MessageReader without a stream is fed"
        data = await self._reader.read(_READ_CHUNK)
        if not data:
            if self._collector.in_message:
                raise HttpError("connection closed in the middle of a message", 400)
            return False
        self.feed(data)
        return True

    def feed(self, data: bytes) -> None:
        """Parse bytes that arrived by other means; HttpError when they are not acceptable."""
        collector = self._collector
        begun = collector.begun
        in_head = collector.in_message and not collector.head_done
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise HttpError("protocol upgrades are not supported", 501) from None
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HttpError):
                raise exc.__context__ from None
            raise HttpError(f"malformed HTTP/1.1: {exc}", 400) from None
        if collector.in_message and not collector.head_done:
            # The parser holds a header line until it ends: count what a head still
            # arriving has taken, so one endless line cannot grow without bound.
            if in_head and begun == collector.begun:
                self._head_pending += len(data)
                if self._head_pending > MAX_HEAD:
                    raise HttpError("request header fields too large", 431)
            else:
                self._head_pending = 0

    @property
    def in_head(self) -> bool:
        """A message has begun and its head is not complete yet."""
        return self._collector.in_message and not self._collector.head_done

    @property
    def in_message(self) -> bool:
        return self._collector.in_message

    def pop(self) -> HttpMessage | None:
        """The oldest whole message parsed so far, if any."""
        return self._collector.done.popleft() if self._collector.done else None

    def pop_head(self) -> HttpMessage | None:
        """The oldest message whose head is complete and not taken yet (`heads=True`)."""
        heads = self._collector.heads
        assert heads is not None, "MessageReader(heads=True) reads heads"
        return heads.popleft() if heads else None


#: after an answer that leaves input unread, what is still read and dropped (bounded)
LINGER_SECONDS = 1.0
LINGER_BYTES = 1 << 20


def linger(transport: asyncio.Transport) -> None:
    """Stop writing and close a moment later: a client still sending (a refused body,
    an oversized head) then reads the answer before the close resets the connection.
    The caller drops what arrives meanwhile, and stops reading after LINGER_BYTES."""
    loop = asyncio.get_running_loop()
    if transport.can_write_eof():
        try:
            transport.write_eof()
        except (OSError, RuntimeError):
            transport.close()
            return
    loop.call_later(LINGER_SECONDS, transport.close)


async def read_response_head(reader: asyncio.StreamReader) -> HttpMessage:
    """Status line and headers only: what answers a HEAD request, whatever its Content-Length."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        raise HttpError("connection closed before a response", 502) from None
    except asyncio.LimitOverrunError:
        raise HttpError("response head too large", 502) from None
    return parse_response_head(head)


def parse_response_head(head: bytes) -> HttpMessage:
    """A status line and headers ending in an empty line, parsed alone (the answer to HEAD)."""
    collector = _Collector()
    parser = httptools.HttpResponseParser(collector)
    collector.attach(parser)
    collector.on_message_begin()
    try:
        parser.feed_data(head)
    except httptools.HttpParserError as exc:
        raise HttpError(f"malformed HTTP/1.1: {exc}", 502) from None
    message = collector.done.popleft() if collector.done else collector.current
    message.body = b""
    return message


#: methods whose requests carry no content unless they say so: without a body, such a
#: request goes without `Content-Length` (RFC 9110 §8.6: a user agent SHOULD NOT send one;
#: RFC 9112 §6.3: a request without framing headers has no body), as Envoy forwards it
_NO_CONTENT_METHODS = frozenset({"GET", "HEAD"})


def _encode_head(start: str, headers: Headers, length: str, keep_alive: bool) -> str:
    """A start line, the header lines and the framing the proxy sets, joined by C code
    (`map`, `join`): no Python call per header line. `length`: the framing line(s)."""
    lines = "\r\n".join(map(": ".join, headers))
    close = "" if keep_alive else "connection: close\r\n"
    if lines:
        return f"{start}\r\n{lines}\r\n{length}{close}\r\n"
    return f"{start}\r\n{length}{close}\r\n"


def encode_request(
    method: str, target: str, headers: Headers, body: bytes = b"", keep_alive: bool = True
) -> bytes:
    if body:
        length = f"content-length: {len(body)}\r\n"
    else:
        length = "" if method in _NO_CONTENT_METHODS else "content-length: 0\r\n"
    head = _encode_head(f"{method} {target} HTTP/1.1", headers, length, keep_alive)
    return head.encode("latin-1") + body if body else head.encode("latin-1")


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
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    504: "Gateway Timeout",
}


def encode_response(
    status: int, headers: Headers, body: bytes = b"", keep_alive: bool = True
) -> bytes:
    start = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"
    head = _encode_head(start, headers, f"content-length: {len(body)}\r\n", keep_alive)
    return head.encode("latin-1") + body if body else head.encode("latin-1")


def local_reply(
    status: int, reason: str, keep_alive: bool = True, extra: Headers = (), head: bool = False
) -> bytes:
    """A response the sidecar itself makes up, marked so callers can tell it from the app's.

    `head`: the answer to a HEAD request, which has no body (RFC 9110 §9.3.2).
    """
    body = b"" if head else (reason + "\n").encode()
    headers = (
        ("content-type", "text/plain; charset=utf-8"),
        ("x-meshspec-local-reply", "1"),
        *extra,
    )
    return encode_response(status, headers, body, keep_alive)
