"""The application behind each live instance: an echo that can fail or answer late.

It answers like the reference echo app (service, version, the request it
received) and obeys three request headers set by the conformance target:
`x-conformance-id` names the request across retries, `x-conformance-fail`
= `<status>x<times>[@<instances>]` fails that many tries (only on the
instances numbered below `<instances>`; `resetx<times>` resets the connection
without answering), `x-conformance-delay` = seconds
waits before answering, `x-conformance-group` names requests whose peak
concurrency the app records (how many of them it was serving at once).
Every answer carries how many tries it has seen.
"""

from __future__ import annotations

import http.server
import json
import socket
import struct
import threading
import time
from collections import Counter
from typing import Any

ID_HEADER = "x-conformance-id"
FAIL_HEADER = "x-conformance-fail"
DELAY_HEADER = "x-conformance-delay"
GROUP_HEADER = "x-conformance-group"
CONTROL_HEADERS = (ID_HEADER, FAIL_HEADER, DELAY_HEADER, GROUP_HEADER)


class FaultApp:
    """One instance's application on 127.0.0.1, in a thread of this process."""

    def __init__(self, service: str, version: str | None, index: int = 0) -> None:
        self.service = service
        self.version = version
        #: which instance of its version this is (a fault may hit the first few only)
        self.index = index
        self.tries: Counter[str] = Counter()
        self.serving: Counter[str] = Counter()
        #: per group: the most requests of it served at once
        self.peaks: Counter[str] = Counter()
        self.lock = threading.Lock()
        #: a crowd's arrivals, for requests held until their group goes quiet
        self.changed = threading.Condition(threading.Lock())
        self.last_arrival: dict[str, float] = {}
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the
            # body waits for the peer's delayed ACK (40 ms) on a kept-alive connection.
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                app.answer(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> FaultApp:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def _hold(self, group: str, quiet: float) -> None:
        """Keeps a crowd's request until `quiet` seconds pass with no new request of its
        group, counting how many are held at once.

        Holding until the group goes quiet, not for a fixed time, makes the peak
        the number the sidecar let through, however slowly a loaded machine
        delivers the crowd: a request that arrived late is still held beside
        the first ones instead of finding them already answered."""
        with self.changed:
            self.serving[group] += 1
            self.peaks[group] = max(self.peaks[group], self.serving[group])
            self.last_arrival[group] = time.monotonic()
            self.changed.notify_all()
            while (left := self.last_arrival[group] + quiet - time.monotonic()) > 0:
                self.changed.wait(left)
            self.serving[group] -= 1

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        if length:
            handler.rfile.read(length)
        request_id = handler.headers.get(ID_HEADER, "")
        with self.lock:
            self.tries[request_id] += 1
            tries = self.tries[request_id]
        status = 200
        fail = handler.headers.get(FAIL_HEADER)
        if fail:
            fail, _, only = fail.partition("@")
            code, _, times = fail.partition("x")
            if tries <= int(times or 1) and (not only or self.index < int(only)):
                if code == "reset":
                    _reset(handler)
                    return None
                status = int(code)
        group = handler.headers.get(GROUP_HEADER)
        delay = handler.headers.get(DELAY_HEADER)
        if group:
            self._hold(group, float(delay or 0))
        elif delay:
            time.sleep(float(delay))
        headers: dict[str, str] = {}
        for name, value in handler.headers.items():
            key = name.lower()
            if key not in CONTROL_HEADERS:
                headers[key] = f"{headers[key]},{value}" if key in headers else value
        body = json.dumps(
            {
                "service": self.service,
                "version": self.version,
                "attempts": tries,
                "request": {"method": handler.command, "path": handler.path, "headers": headers},
            },
            sort_keys=True,
        ).encode()
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return None


class _QuietServer(http.server.ThreadingHTTPServer):
    """A sidecar closing a pooled connection is no error worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


def _reset(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Drop the connection with a TCP reset (linger 0), answering nothing.

    The request was read first, so the try is counted, and Envoy's
    `reset-before-request` condition (the retry of Istio's inbound route,
    pilot/pkg/networking/core/route/route.go BuildDefaultHTTPInboundRoute)
    does not apply: the inbound sidecar answers 503 and only the client's
    route decides whether to retry."""
    handler.close_connection = True
    sock = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
