"""TLS run by the sidecar over a plain uvloop connection, with the `ssl` module's memory BIOs.

uvloop's own TLS transport (`ssl=` on `create_connection` and friends) wraps
each record in a general state machine: flow control of its own, a shutdown
that waits for the peer, a Python call for each `read`, `write` and `pending`
of the `ssl` module's wrappers, and a 256 KiB read buffer per connection (or,
for a plain protocol, a 256 KiB bytes object per read). A sidecar needs less:
one session carries one HTTP/1.1 connection and records are small. Here each
batch of bytes from the socket goes into the session's incoming BIO and the
records it completes are decrypted at once into one buffer shared by every
session; each write is one `SSLObject.write`, whose records leave in one
socket write. What a request costs in user space is about 1.5 % less with mTLS
(`python -m bench.proxy.instructions`), and idle connections hold no buffers.

`TlsSession` is the protocol of the plain connection and the transport of
the connection's own protocol, which sees it as uvloop's TLS transport:
`connection_made` once the handshake is done, `data_received` with the
plaintext, `get_extra_info("ssl_object")` for the peer's certificate.
A half-closed TLS connection cannot be written to, so `can_write_eof` is
False, as for uvloop's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any

#: the plaintext of one TLS record at most (RFC 8446 section 5.1)
PLAINTEXT_BYTES = 16 * 1024
# One plaintext buffer for every session of the process: a record's plaintext is
# copied out of it before any other code runs, so no two sessions use it at once.
_PLAINTEXT = bytearray(PLAINTEXT_BYTES)
_PLAINTEXT_VIEW = memoryview(_PLAINTEXT)


class TlsSession(asyncio.Protocol):
    """One TLS connection: the handshake, then records both ways for `protocol`.

    `handshake` resolves when the handshake is done (the protocol then has its
    `connection_made`), or fails with the `ssl.SSLError`, `TimeoutError` or
    `ConnectionError` that ended it; the connection is then closed.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        protocol: asyncio.BaseProtocol,
        *,
        server_side: bool,
        handshake_timeout: float,
    ) -> None:
        self._context = context
        self._protocol: Any = protocol
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side)
        self._handshake_timeout = handshake_timeout
        self._raw: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._established = False
        self._closing = False
        self._reading_paused = False
        #: the peer closed (close_notify or end of stream) while reading was paused
        self._eof_pending = False
        #: what broke the session, for the protocol's `connection_lost`
        self._error: Exception | None = None

    # -- the plain connection's protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = transport  # type: ignore[assignment]  # uvloop's is no subclass
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._handshake_timeout, self._handshake_timed_out)
        self._continue_handshake()

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        if self._established:
            if not self._reading_paused and not self._closing:
                self._read_records()
            return
        self._continue_handshake()
        if (
            self._established
            and not (self._reading_paused or self._closing)
            and self._incoming.pending
        ):
            self._read_records()  # records sent right behind the handshake

    def eof_received(self) -> bool | None:
        if not self._established:
            self._fail_handshake(ConnectionResetError("connection closed during the TLS handshake"))
            return None
        if self._records_buffered() and not (self._reading_paused or self._closing):
            self._read_records()  # what came before the end is read before it
        if self._reading_paused:
            self._eof_pending = True  # told once reading resumes and the records are read
            return True
        if self._closing or self._protocol_eof():
            return True
        self._closing = True  # the plain connection closes itself
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._cancel_timer()
        if not self._established:
            lost = ConnectionResetError("connection closed during the TLS handshake")
            self._fail_handshake(exc or lost)
            return
        self._protocol.connection_lost(exc or self._error)

    def pause_writing(self) -> None:
        if self._established:
            self._protocol.pause_writing()

    def resume_writing(self) -> None:
        if self._established:
            self._protocol.resume_writing()

    # -- the transport of the connection's protocol ----------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        raw = self._raw
        if self._closing or raw is None or not data:
            return
        try:
            self._tls.write(data)
        except ssl.SSLError as exc:
            self._fatal(exc)
            return
        raw.write(self._outgoing.read())

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def close(self) -> None:
        """Say close_notify, then close the connection once what was written is sent."""
        if self._closing:
            return
        self._closing = True
        if self._established:
            # close_notify is written; the peer's is not waited for
            with contextlib.suppress(ssl.SSLError, ValueError):
                self._tls.unwrap()
            self._flush()
        if self._raw is not None:
            self._raw.close()

    def abort(self) -> None:
        self._closing = True
        if not self.handshake.done():
            self.handshake.cancel()
        if self._raw is not None:
            self._raw.abort()

    def is_closing(self) -> bool:
        return self._closing

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a TLS connection is not half-closed")

    def pause_reading(self) -> None:
        if not self._reading_paused:
            self._reading_paused = True
            if self._raw is not None:
                self._raw.pause_reading()

    def resume_reading(self) -> None:
        if not self._reading_paused:
            return
        self._reading_paused = False
        if self._raw is not None and not self._closing:
            self._raw.resume_reading()
        if self._records_buffered() or self._eof_pending:
            asyncio.get_running_loop().call_soon(self._read_buffered)

    def is_reading(self) -> bool:
        return not self._reading_paused

    def get_write_buffer_size(self) -> int:
        return 0 if self._raw is None else self._raw.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._raw is not None:
            self._raw.set_write_buffer_limits(high, low)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol  # type: ignore[no-any-return]

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._tls
        if name == "sslcontext":
            return self._context
        if name == "peercert":
            return self._tls.getpeercert()
        if name == "cipher":
            return self._tls.cipher()
        return default if self._raw is None else self._raw.get_extra_info(name, default)

    # -- records ------------------------------------------------------------------------------

    def _read_records(self) -> None:
        """Hand over the plaintext of every whole record received, while reading is wanted.

        A read that leaves the buffer short has emptied its record (OpenSSL returns
        one record's data at most per read), so the session holds no more plaintext
        then, and only bytes still in the incoming BIO can make another record.
        """
        tls = self._tls
        incoming = self._incoming
        protocol = self._protocol
        while True:
            try:
                count: int = tls.read(PLAINTEXT_BYTES, _PLAINTEXT)  # type: ignore[assignment]
            except ssl.SSLWantReadError:
                break  # the rest of a record is still on its way
            except ssl.SSLError as exc:
                self._fatal(exc)
                return
            if not count:  # close_notify
                if not self._protocol_eof():
                    self.close()
                    return
                break
            protocol.data_received(bytes(_PLAINTEXT_VIEW[:count]))
            if self._reading_paused or self._closing:
                break
            if count < PLAINTEXT_BYTES and not incoming.pending:
                break
        outgoing = self._outgoing
        if outgoing.pending:  # what reading made OpenSSL say (a KeyUpdate's answer, an alert)
            self._flush()

    def _read_buffered(self) -> None:
        if self._reading_paused or self._closing:
            return
        self._read_records()
        if self._eof_pending and not self._reading_paused and not self._records_buffered():
            self._eof_pending = False
            if not self._protocol_eof():
                self.close()

    def _records_buffered(self) -> bool:
        return bool(self._incoming.pending) or bool(self._tls.pending())

    def _protocol_eof(self) -> bool:
        return bool(self._protocol.eof_received())

    def _flush(self) -> None:
        if self._outgoing.pending and self._raw is not None:
            self._raw.write(self._outgoing.read())

    def _fatal(self, exc: Exception) -> None:
        self._flush()  # the alert that says why, if OpenSSL made one
        self._closing = True
        self._error = exc
        if self._raw is not None:
            self._raw.abort()  # the protocol hears of it in connection_lost

    # -- the handshake ------------------------------------------------------------------------

    def _continue_handshake(self) -> None:
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError as exc:
            self._flush()
            self._fail_handshake(exc)
            return
        self._flush()
        self._established = True
        self._cancel_timer()
        if not self.handshake.done():
            self.handshake.set_result(None)
        self._protocol.connection_made(self)

    def _handshake_timed_out(self) -> None:
        self._timer = None
        self._fail_handshake(TimeoutError("TLS handshake timed out"))

    def _fail_handshake(self, exc: BaseException) -> None:
        self._cancel_timer()
        self._closing = True
        if not self.handshake.done():
            self.handshake.set_exception(exc)
        if self._raw is not None and not self._raw.is_closing():
            self._raw.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def accept_tls(
    sock: socket.socket, context: ssl.SSLContext, protocol: asyncio.BaseProtocol, timeout: float
) -> TlsSession:
    """The server's side of a TLS connection on an accepted socket, handshake done."""
    session = TlsSession(context, protocol, server_side=True, handshake_timeout=timeout)
    await asyncio.get_running_loop().connect_accepted_socket(lambda: session, sock)
    return await _handshake(session)


async def connect_tls(
    host: str, port: int, context: ssl.SSLContext, protocol: asyncio.BaseProtocol, timeout: float
) -> TlsSession:
    """The client's side of a TLS connection to `host:port`, handshake done."""
    session = TlsSession(context, protocol, server_side=False, handshake_timeout=timeout)
    await asyncio.get_running_loop().create_connection(lambda: session, host, port)
    return await _handshake(session)


async def _handshake(session: TlsSession) -> TlsSession:
    try:
        await session.handshake
    except BaseException:
        session.abort()  # a cancelled wait leaves no connection behind
        raise
    return session
