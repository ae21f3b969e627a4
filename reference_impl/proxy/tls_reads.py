"""Decrypted bytes read into a buffer the connection keeps.

For a plain `asyncio.Protocol`, uvloop's TLS layer reads each batch of
decrypted bytes with `SSLObject.read(256 KiB)`: a 256 KiB bytes object is
allocated and then shrunk to the few hundred bytes a request holds. glibc
serves that size with `mmap`, `mremap` and `munmap` (three system calls per
read) for as long as its dynamic mmap threshold has not been raised by some
earlier large free, which depends on what the process happened to allocate
before. For a buffered protocol (one with `get_buffer` that is no
`asyncio.Protocol`) uvloop reads into the buffer the protocol hands out
instead (uvloop `sslproto.pyx`, `_set_app_protocol` and `_do_read__buffered`),
so a TLS read allocates nothing of that size.
"""

from __future__ import annotations

import asyncio

#: one TLS record's plaintext at most (RFC 8446 section 5.1); uvloop reads on
#: when the buffer fills
READ_BUFFER_BYTES = 16 * 1024


class TlsReads(asyncio.BufferedProtocol):
    """Wraps a connection's Protocol on a TLS transport: reads land in a kept buffer.

    Every callback goes to the wrapped protocol; each read reaches its
    `data_received` as bytes. The buffer is allocated at the first read, so a
    connection that never completes its handshake costs none.
    """

    def __init__(self, protocol: asyncio.Protocol) -> None:
        self.protocol = protocol
        self._view: memoryview | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.protocol.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        self.protocol.pause_writing()

    def resume_writing(self) -> None:
        self.protocol.resume_writing()

    def eof_received(self) -> bool | None:
        return self.protocol.eof_received()

    def get_buffer(self, sizehint: int) -> memoryview:
        view = self._view
        if view is None:
            view = self._view = memoryview(bytearray(READ_BUFFER_BYTES))
        return view

    def buffer_updated(self, nbytes: int) -> None:
        view = self._view
        assert view is not None  # uvloop asks for the buffer before it fills it
        self.protocol.data_received(bytes(view[:nbytes]))
