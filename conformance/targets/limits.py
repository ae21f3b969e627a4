"""Connection limits seen live: many slow requests at once, counted by when they end.

The client sidecar opens at most `maxConnections` connections to a backend;
a request that finds none free waits, unless `maxPendingRequests` already
wait, in which case the sidecar answers 503 at once (overflow). So with
`CROWD` requests sent together to an app that answers each after `DELAY`
seconds: the overflow is the answers that are 503, the first wave (ended
before `DELAY` * 1.5) is `maxConnections`, and the rest served is
`maxPendingRequests`. One wave and no overflow shows no limit at all (up
to `CROWD`: limits above that look like none).
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from typing import Any

from conformance.targets.fault_app import DELAY_HEADER, ID_HEADER

#: requests sent together; more than any limit a conformance case writes
CROWD = 24
#: how long the app takes with each; long enough that sending them all takes less
DELAY = 1.0
WAVE_END = DELAY * 1.5
OVERFLOW_STATUS = 503
LOCAL_REPLY_HEADER = "x-meshspec-local-reply"


@dataclass(frozen=True)
class Ending:
    status: int | None
    local: bool
    after: float


def crowd(port: int, host: str, path: str, tag: str) -> list[Ending]:
    """Sends `CROWD` slow requests at once, each on its own connection; how each ended."""
    endings: list[Ending | None] = [None] * CROWD
    start = threading.Barrier(CROWD)
    began = time.monotonic()

    def send(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DELAY * CROWD + 10)
        try:
            conn.connect()
            start.wait()
            conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            conn.putheader(ID_HEADER, f"{tag}-{index}")
            conn.putheader(DELAY_HEADER, str(DELAY))
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            local = response.getheader(LOCAL_REPLY_HEADER) == "1"
            endings[index] = Ending(response.status, local, time.monotonic() - began)
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError):
            endings[index] = Ending(None, False, time.monotonic() - began)
        finally:
            conn.close()

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(CROWD)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [e if e is not None else Ending(None, False, 0.0) for e in endings]


def limits_seen(endings: list[Ending]) -> dict[str, Any] | None:
    """The limits the endings show, in the spec's field names; None when nothing was held back."""
    overflow = [e for e in endings if e.status == OVERFLOW_STATUS and e.local]
    served = [e for e in endings if e.status == 200]
    first_wave = [e for e in served if e.after < WAVE_END]
    if not overflow and len(first_wave) == len(served) == len(endings):
        return None
    seen: dict[str, Any] = {"maxConnections": len(first_wave)}
    if overflow:
        seen["maxPendingRequests"] = len(served) - len(first_wave)
    return seen
