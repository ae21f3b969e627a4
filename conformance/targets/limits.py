"""Connection limits seen live: many slow requests at once, overflow and concurrency counted.

The client sidecar opens at most `maxConnections` connections to a backend
(one request each, HTTP/1.1); a request that finds none free waits, unless
`maxPendingRequests` already wait, in which case the sidecar answers 503 at
once (overflow). So with `CROWD` requests sent together to an app that
holds them until `DELAY` seconds pass with no new one: the most the app
serves at once is `maxConnections`, the answers that are the sidecar's own 503 are the
overflow, and the rest served waited: `maxPendingRequests`. All served at
once and no overflow shows no limit at all (up to `CROWD`: higher limits
look like none).
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.targets.fault_app import DELAY_HEADER, GROUP_HEADER, ID_HEADER

#: requests sent together; more than any limit a conformance case writes
CROWD = 24
#: how long the app holds a crowd after its last request arrived; far longer than
#: opening the sidecar's connections
DELAY = 2.0
OVERFLOW_STATUS = 503
LOCAL_REPLY_HEADER = "x-meshspec-local-reply"


@dataclass(frozen=True)
class Ending:
    status: int | None
    #: the answer was the sidecar's own, not the app's
    local: bool


def crowd(port: int, host: str, path: str, group: str) -> list[Ending]:
    """Sends `CROWD` slow requests at once, each on its own connection; how each ended."""
    endings: list[Ending] = [Ending(None, False)] * CROWD
    #: all connected before any request goes, so they arrive together
    start = threading.Barrier(CROWD)

    def send(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DELAY * CROWD + 10)
        try:
            conn.connect()
            start.wait()
            conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            conn.putheader(ID_HEADER, f"{group}-{index}")
            conn.putheader(GROUP_HEADER, group)
            conn.putheader(DELAY_HEADER, str(DELAY))
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            endings[index] = Ending(response.status, response.getheader(LOCAL_REPLY_HEADER) == "1")
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError):
            endings[index] = Ending(None, False)
        finally:
            conn.close()

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(CROWD)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return endings


def limits_seen(endings: list[Ending], peak: int) -> dict[str, Any] | None:
    """The limits shown by how the crowd ended and the app's peak concurrency.

    None when nothing was held back; otherwise the spec's field names.
    """
    overflow = [e for e in endings if e.status == OVERFLOW_STATUS and e.local]
    served = [e for e in endings if e.status == 200]
    if not overflow and peak == len(served) == len(endings):
        return None
    seen: dict[str, Any] = {"maxConnections": peak}
    if overflow:
        seen["maxPendingRequests"] = len(served) - peak
    return seen


def observe_limits(
    port: int, host: str, path: str, group: str, peak_of: Callable[[str], int]
) -> dict[str, Any] | None:
    endings = crowd(port, host, path, group)
    return limits_seen(endings, peak_of(group))
