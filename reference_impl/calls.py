"""`meshspec call`: requests sent through a service's sidecar, as that service would send them.

The URL's host names the destination service; the request goes to the sending
service's outbound listener, which routes it by that host (plain HTTP/1.1 with
keep-alive, one connection for all `-n` requests).
"""

from __future__ import annotations

import http.client
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class CallError(RuntimeError):
    """The call could not be made (unknown sender, bad URL, nothing listening)."""


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def answered_by(self) -> str | None:
        """The version the echo application reports, if it answered."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        version = data.get("version") if isinstance(data, dict) else None
        return None if version is None else str(version)


@dataclass
class Tally:
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_version: Counter[str] = field(default_factory=Counter)

    def add(self, reply: Reply) -> None:
        self.requests += 1
        self.by_status[str(reply.status)] += 1
        version = reply.answered_by
        if version is not None:
            self.by_version[version] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": dict(sorted(self.by_status.items())),
            "by_version": dict(sorted(self.by_version.items())),
        }


def outbound_port(state: dict[str, Any], sender: str) -> int:
    """The outbound port of the first instance of `sender` (name or ns/name)."""
    for inst in state.get("instances", []):
        service = str(inst["service"])
        if sender in (service, service.split("/", 1)[1]):
            return int(inst["outboundPort"])
    known = sorted({str(i["service"]) for i in state.get("instances", [])})
    raise CallError(f"no running service {sender!r}; running: {', '.join(known) or 'none'}")


def split_url(url: str) -> tuple[str, str]:
    """(destination host, request target) of an http URL."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.netloc:
        raise CallError(f"{url!r} is not an http://SERVICE/PATH URL")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.netloc, target


class Caller:
    """Sends requests over one kept-alive connection, reopening it when the server closes."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def send(self, method: str, host: str, target: str, headers: dict[str, str]) -> Reply:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=self.timeout
                )
            try:
                self._conn.request(method, target, headers={"Host": host, **headers})
                response = self._conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
                continue
            except ConnectionRefusedError:
                self.close()
                raise CallError(f"nothing listens on 127.0.0.1:{self.port}") from None
            if response.will_close:
                self.close()
            return Reply(response.status, response.getheaders(), body)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
