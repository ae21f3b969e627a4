"""Keeping Python's cyclic garbage collector off large, acyclic batch work.

Loading a spec of thousands of services creates millions of small dicts, lists
and models that live until the command ends; so does compiling it. With the
collector on, each collection walks all of them again, and loading and
compiling grow faster than the input (measured with bench/compile: the
collector took a third of `meshspec compile` for 5,000 services). So the
collector pauses during the batch, and on the way out what the batch built is
moved out of its sight (`gc.freeze`): it is the result the caller keeps, and
walking it at the next collection would cost about as much as building it.

This is sound because the batch builds no reference cycles (plain data and
frozen models): reference counting frees all of it when it is dropped, frozen
or not. Only cyclic garbage made inside the batch would stay, and there is none.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused(collect: bool = False) -> Iterator[None]:
    """`collect`: one full collection before freezing, for a batch that leaves a
    little cyclic garbage behind (`json.dumps` with `indent` does, once a call)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collect:
            gc.collect()
        gc.freeze()
        if was_enabled:
            gc.enable()
