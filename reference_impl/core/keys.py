"""What a snapshot's rules read of a request: the key its remembered answers are filed under.

The oracle reads a request's method, target, Host and the header fields its
rules name, and nothing else: route matches and authorization conditions test
named headers (`HeaderMatch`), a route's request edits touch named headers
(`HeaderEdits`). So an answer remembered for one request holds for every
request that agrees on those, whatever else it carries (a unique
`x-request-id`, a trace header). The names are collected once per snapshot by
walking the whole spec, so a header condition anywhere in it is never left out.

The key keeps the field lines of the named headers exactly as received: every
line, in order, with its name's case and its value as the parser passed it. It
is finer than what the oracle reads (the combined value, `headers.py`), never
coarser, so two requests the oracle could tell apart never share a key:
repeating a denied header, padding its value or changing its case makes a new
key, never a hit on an allowed one. Trailers never become headers (`http1.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from meshspec.spec import HeaderEdits, HeaderMatch, Spec

HOST = "host"


def read_header_names(spec: Spec) -> frozenset[str]:
    """Lower-case names of every header the spec's rules read or edit, and `host`."""
    names = {HOST}
    for model in (spec.mesh, *spec.services.values()):
        for found in _walk(model):
            if isinstance(found, HeaderMatch):
                names.add(found.name.lower())
            elif isinstance(found, HeaderEdits):
                names.update(n.lower() for n in (*found.set, *found.add, *found.remove))
    return frozenset(names)


def _walk(value: object) -> Iterable[object]:
    """Every model, tuple, list and dict value inside `value` (depth first)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, BaseModel):
            yield item
            stack.extend(getattr(item, name) for name in type(item).model_fields)
        elif isinstance(item, tuple | list | set | frozenset):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


Lines = tuple[tuple[str, str], ...]


def split_lines(headers: Lines, named: frozenset[str]) -> tuple[Lines, Lines, int]:
    """(lines the rules read, the other lines, characters of the first): the first part is
    the headers' share of a request's key, the second passes through unread."""
    read: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    size = 0
    for line in headers:
        name = line[0]
        if name.lower() in named:
            read.append(line)
            size += len(name) + len(line[1])
        else:
            other.append(line)
    return tuple(read), tuple(other), size
