"""Results written to standard output whole, whatever their size.

With `PYTHONUNBUFFERED` set (as many container images and CI runners set it),
`sys.stdout` writes straight to the file descriptor, and a write that the
system takes only in part loses the rest without an error: one `write(2)`
carries at most 2,147,479,552 bytes on Linux, and a 50,000-service Consul
compile (2.5 GB) arrived cut there. So results go to the binary stream in
pieces, and each piece is written until every byte of it is taken.
"""

from __future__ import annotations

import sys

#: characters per piece: far below what one system call carries, even when
#: every character takes four bytes of UTF-8
PIECE = 64 * 1024 * 1024


def echo_result(text: str, *, piece: int = PIECE) -> None:
    """Write `text` to standard output as it is (no newline added)."""
    out = sys.stdout
    out.flush()
    binary = out.buffer
    encoding = out.encoding or "utf-8"
    for start in range(0, len(text), piece):
        data = memoryview(text[start : start + piece].encode(encoding))
        while data:
            taken = binary.write(data)
            if taken is None:  # a non-blocking descriptor that is full
                raise BlockingIOError("standard output is full and does not block")
            data = data[taken:]
    binary.flush()
