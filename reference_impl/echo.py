"""The built-in echo application: answers every request with who answered and what it saw.

It stands in for a service that has no application of its own, so routing,
splits and header rewrites can be observed from the outside: the JSON body
names the service, version and instance, and the request's method, path and
headers as they arrived (after the sidecar).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import httptools


@dataclass(frozen=True)
class EchoIdentity:
    service: str
    version: str | None
    instance: str


class _EchoProtocol(asyncio.Protocol):
    def __init__(self, identity: EchoIdentity) -> None:
        self.identity = identity
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[str, str]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._close()
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_message_complete(self) -> None:
        if self.transport is None:
            return
        headers: dict[str, Any] = {}
        for name, value in self.headers:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        body = json.dumps(
            {
                "service": self.identity.service,
                "version": self.identity.version,
                "instance": self.identity.instance,
                "request": {
                    "method": self.parser.get_method().decode(),
                    "path": self.url.decode("latin-1"),
                    "headers": headers,
                },
            },
            sort_keys=True,
        ).encode()
        keep = self.parser.should_keep_alive()
        length = len(body)
        if self.parser.get_method() == b"HEAD":
            body = b""  # RFC 9110 §9.3.2: the length a GET would get, and no body
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {length}\r\n"
            f"x-echo-version: {self.identity.version or ''}\r\n"
            f"connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        if not keep:
            self.transport.close()


async def start_echo(identity: EchoIdentity, host: str, port: int) -> asyncio.Server:
    """Listen on (host, port) (0 picks a free port) and answer every request."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _EchoProtocol(identity), host, port)


def main() -> None:
    """`python -m reference_impl.echo SERVICE VERSION PORT`: one echo app on its own."""
    import sys

    service, version, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

    async def serve() -> None:
        server = await start_echo(
            EchoIdentity(service, version, f"{service}-echo"), "127.0.0.1", port
        )
        print(f"echo listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
