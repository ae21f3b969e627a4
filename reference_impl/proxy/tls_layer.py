"""TLS over a plain transport: an `ssl.SSLObject` between two memory buffers.

Why not the event loop's own TLS (`ssl=` on create_connection)? Measured on
this code's traffic (one small request and answer per round trip), uvloop's
TLS protocol cost about 44 µs of CPU per round trip over plain TCP, both ends
together; this layer, which does per direction one `SSLObject.write` or a few
`read`s and one transport write, costs about 9 µs (`bench/proxy/README.md`).
The security work is OpenSSL's either way: the same `SSLContext` (chain
verified against the mesh's bundle, a client certificate required inbound)
runs the handshake, and the caller checks the peer's SPIFFE ID on
`get_extra_info("ssl_object")` as before.

`TlsLayer` is the protocol of the plain transport and hands the application
protocol a transport of its own (`TlsTransport`) once the handshake is done;
the application protocol never sees a byte before that. A failed or timed-out
handshake closes the connection and is reported to `failed` (and to
`handshake`, for a caller that awaits it); the application protocol is then
never called at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import Any, cast

_READ = 256 * 1024
#: what a `read` of the SSLObject raises when it has nothing more until bytes arrive
_WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError)


class TlsLayer(asyncio.Protocol):
    def __init__(
        self,
        context: ssl.SSLContext,
        server_side: bool,
        app: asyncio.Protocol,
        *,
        handshake_timeout: float | None = None,
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side)
        self._context = context
        self._app = app
        self._failed = failed
        self._timeout = handshake_timeout
        self._timer: asyncio.TimerHandle | None = None
        self._raw: asyncio.Transport | None = None
        self._transport: TlsTransport | None = None
        self._closing = False
        self._lost = False
        loop = asyncio.get_running_loop()
        #: the application's transport once the handshake is done (else the exception)
        self.handshake: asyncio.Future[TlsTransport] = loop.create_future()

    # -- the plain transport's callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        if self._timeout is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._timeout, self._handshake_timed_out)
        self._shake()

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        if self._transport is None:
            self._shake()
            if self._transport is None:
                return
        read = self._ssl.read
        first = b""
        more: list[bytes] | None = None
        ended = False
        try:
            while True:
                chunk = read(_READ)
                if not chunk:
                    ended = True
                    break
                if not first:
                    first = chunk
                elif more is None:
                    more = [first, chunk]
                else:
                    more.append(chunk)
        except _WANT:
            pass
        except ssl.SSLZeroReturnError:
            ended = True
        except ssl.SSLError as exc:
            self._abort(exc)
            return
        self._flush()  # a read may have produced an answer (a key update, an alert)
        if first and not self._closing:
            self._app.data_received(first if more is None else b"".join(more))
        if ended:
            self.eof_received()

    def eof_received(self) -> bool | None:
        """The peer ended the stream (its close_notify or a plain EOF): the application
        hears it as an end of stream, and the connection closes."""
        if self._transport is None:
            self._fail(ConnectionResetError("connection closed during the TLS handshake"))
            return None
        if not self._closing:
            self._app.eof_received()
        self._close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._closing = True
        self._cancel_timer()
        if self._transport is None:
            self._fail(exc or ConnectionResetError("connection closed during the TLS handshake"))
            return
        self._app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._app.resume_writing()

    # -- the handshake

    def _shake(self) -> None:
        try:
            self._ssl.do_handshake()
        except _WANT:
            self._flush()
            return
        except (ssl.SSLError, OSError) as exc:
            self._flush()  # the alert that tells the peer why
            self._fail(exc)
            return
        self._flush()
        self._cancel_timer()
        transport = self._transport = TlsTransport(self)
        self._app.connection_made(transport)
        if not self.handshake.done():
            self.handshake.set_result(transport)
        # Application data that came with the handshake is read by `data_received`.

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._transport is None:
            self._fail(TimeoutError("TLS handshake timed out"))

    def _fail(self, exc: BaseException) -> None:
        """The handshake did not complete: close, and tell whoever waits (once)."""
        self._cancel_timer()
        self._closing = True
        if self._raw is not None and not self._lost:
            self._raw.close()
        if not self.handshake.done():
            self.handshake.set_exception(exc)
            self.handshake.exception()  # retrieved: nobody may be awaiting it
            if self._failed is not None:
                self._failed(exc)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- what TlsTransport does

    def _flush(self) -> None:
        if self._outgoing.pending and self._raw is not None and not self._lost:
            self._raw.write(self._outgoing.read())

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[self._ssl.write(view) :]
        except ssl.SSLError as exc:
            self._abort(exc)
            return
        self._flush()

    def _close(self) -> None:
        """Say close_notify, then close once what was written has gone out."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(ssl.SSLError, OSError):
            self._ssl.unwrap()  # writes our close_notify; the peer's is not waited for
        self._flush()
        if self._raw is not None:
            self._raw.close()

    def _abort(self, exc: BaseException | None = None) -> None:
        self._closing = True
        if self._raw is not None:
            self._raw.abort()

    def _extra(self, name: str, default: Any) -> Any:
        if name == "ssl_object":
            return self._ssl
        if name == "sslcontext":
            return self._context
        if name == "peercert":
            return self._ssl.getpeercert()
        if name == "cipher":
            return self._ssl.cipher()
        return default if self._raw is None else self._raw.get_extra_info(name, default)


class TlsTransport(asyncio.Transport):
    """What the application protocol writes to: plaintext in, TLS records out."""

    def __init__(self, layer: TlsLayer) -> None:
        super().__init__()
        self._layer = layer

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._layer._write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._layer._write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return False  # TLS has no half close

    def write_eof(self) -> None:
        raise NotImplementedError("TLS has no half close")

    def close(self) -> None:
        self._layer._close()

    def abort(self) -> None:
        self._layer._abort()

    def is_closing(self) -> bool:
        layer = self._layer
        return layer._closing or layer._raw is None or layer._raw.is_closing()

    def pause_reading(self) -> None:
        if self._layer._raw is not None:
            self._layer._raw.pause_reading()

    def resume_reading(self) -> None:
        if self._layer._raw is not None:
            self._layer._raw.resume_reading()

    def is_reading(self) -> bool:
        raw = self._layer._raw
        return raw is not None and raw.is_reading()

    def get_write_buffer_size(self) -> int:
        raw = self._layer._raw
        return 0 if raw is None else raw.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._layer._raw is not None:
            self._layer._raw.set_write_buffer_limits(high, low)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._layer._extra(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._layer._app = cast(asyncio.Protocol, protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._layer._app
