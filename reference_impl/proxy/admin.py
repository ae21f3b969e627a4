"""The admin listener: `/metrics` (Prometheus text) and `/ready` (200 once configured)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST

from reference_impl.metrics import SidecarMetrics
from reference_impl.proxy.deadlines import Deadlines
from reference_impl.proxy.http1 import (
    HttpError,
    MessageReader,
    encode_response,
    local_reply,
)


class AdminHandler:
    def __init__(
        self,
        metrics: SidecarMetrics,
        ready: Callable[[], bool],
        deadlines: Deadlines | None = None,
    ) -> None:
        self._metrics = metrics
        self._ready = ready
        self._deadlines = deadlines

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        messages = MessageReader(reader)
        if self._deadlines is not None:
            self._deadlines.watch(messages, writer)
        try:
            while True:
                try:
                    request = await messages.next()
                except HttpError as exc:
                    writer.write(local_reply(exc.status, str(exc), keep_alive=False))
                    break
                if request is None:
                    break
                writer.write(self._answer(request.target.partition("?")[0], request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            if self._deadlines is not None:
                self._deadlines.forget(messages)
            writer.close()

    def _answer(self, path: str, keep_alive: bool) -> bytes:
        if path == "/metrics":
            headers = (("content-type", CONTENT_TYPE_LATEST),)
            return encode_response(200, headers, self._metrics.render(), keep_alive)
        if path == "/ready":
            if self._ready():
                return local_reply(200, "ready", keep_alive)
            return local_reply(503, "not ready: waiting for a snapshot and credentials", keep_alive)
        return local_reply(404, "admin endpoints: /metrics, /ready", keep_alive)
