"""Read deadlines for client connections, enforced by one sweep instead of a timer per read.

Each served connection registers its `MessageReader`; a sweep every fraction of
the shortest timeout looks at how far each connection has come (which message,
head complete or not, waiting on the proxy or on the client) and acts on one
that stayed put too long: an idle connection is closed, a head or request still
arriving gets 408 and is closed. A request costs nothing here beyond the
parser's own bookkeeping, and a deadline fires at most one sweep late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from reference_impl.proxy.http1 import LINGER_SECONDS, MessageReader, ReadTimeouts, local_reply

log = logging.getLogger("meshspec.sidecar")

_State = tuple[int, bool, bool, bool]
#: what a watched connection writes to: a stream's writer or a protocol's transport
Writer = asyncio.StreamWriter | asyncio.WriteTransport


class _Watched:
    __slots__ = ("messages", "since", "state", "writer")

    def __init__(self, messages: MessageReader, writer: Writer, now: float) -> None:
        self.messages = messages
        self.writer = writer
        self.state: _State | None = None
        self.since = now


class Deadlines:
    def __init__(self, timeouts: ReadTimeouts) -> None:
        self.timeouts = timeouts
        self._watched: dict[int, _Watched] = {}
        self.expired = 0
        shortest = min(timeouts.idle, timeouts.head, timeouts.request)
        #: how often the sweep runs: a deadline fires at most this late
        self.interval = min(1.0, max(0.02, shortest / 5))

    def watch(self, messages: MessageReader, writer: Writer) -> None:
        now = asyncio.get_running_loop().time()
        self._watched[id(messages)] = _Watched(messages, writer, now)

    def forget(self, messages: MessageReader) -> None:
        self._watched.pop(id(messages), None)

    def sweep(self, now: float) -> None:
        t = self.timeouts
        for key, w in list(self._watched.items()):
            m = w.messages
            state = (m.begun, m.in_message, m.head_done, m.busy)
            if state != w.state:
                w.state, w.since = state, now
                continue
            if m.busy:
                continue
            if not m.in_message:
                limit, what = t.idle, None
            elif not m.head_done:
                limit, what = t.head, "request headers not received in time"
            else:
                limit, what = t.request, "request not received in time"
            if now - w.since < limit:
                continue
            del self._watched[key]
            self.expired += 1
            self._expire(w.writer, what)

    @staticmethod
    def _expire(writer: Writer, what: str | None) -> None:
        """Answer 408 (or nothing, when idle), stop writing, and close a moment later: a
        client still sending then reads the answer before the close resets the connection."""
        with contextlib.suppress(OSError, RuntimeError):
            if writer.is_closing():
                return
            if what is not None:
                writer.write(local_reply(408, what, keep_alive=False))
            if what is None or not writer.can_write_eof():
                writer.close()
                return
            writer.write_eof()
            asyncio.get_running_loop().call_later(LINGER_SECONDS, writer.close)

    async def run(self) -> None:
        """Sweep until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            self.sweep(loop.time())
