"""Where each value of a document was written, found only when someone asks.

A finding needs the line and column of one field; a valid spec needs none.
Recording a position for each of the million values of a 5,000-service mesh
cost more memory than the spec itself, so a document keeps only its text's
span. When a finding asks for a path, the span is composed again (libyaml's
nodes, no values converted) and only that path is walked (`yaml_paths`).
The nodes of the last few documents asked about are kept, since the findings
about one document usually come together; nothing else is kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

PathKey = tuple[str | int, ...]
Position = tuple[int, int]


class Located(Protocol):
    """A document's nodes, asked for positions by path."""

    def position_at(self, path: PathKey) -> Position | None: ...

    def all_positions(self) -> dict[PathKey, Position]: ...


#: composes one document again: (text, document index, start, end, first line)
Reader = Callable[[str, int, int, int, int], Located]

#: documents whose nodes are kept; composing one again costs about 0.1 ms
KEPT_DOCUMENTS = 8
_kept: deque[LazyPositions] = deque()


class LazyPositions(Mapping[PathKey, Position]):
    """1-based (line, column) of every key and list item of one document, by path."""

    __slots__ = ("_end", "_index", "_last", "_nodes", "_read", "_root", "_start", "_text")

    def __init__(
        self, read: Reader, text: str, index: int, span: tuple[int, int], root: Position
    ) -> None:
        self._read = read
        self._text = text
        self._index = index
        self._start, self._end = span
        self._root = root
        self._nodes: Located | None = None
        self._last: tuple[PathKey, Position | None] | None = None

    def _document(self) -> Located:
        nodes = self._nodes
        if nodes is None:
            nodes = self._read(self._text, self._index, self._start, self._end, self._root[0])
            self._nodes = nodes
            _kept.append(self)
            if len(_kept) > KEPT_DOCUMENTS:
                _kept.popleft()._nodes = None
        return nodes

    def find(self, path: PathKey) -> Position | None:
        """The position of `path`, or None where the document does not write it."""
        if not path:
            return self._root
        last = self._last  # `in` then `[]` asks twice
        if last is not None and last[0] == path:
            return last[1]
        found = self._document().position_at(path)
        self._last = (path, found)
        return found

    def get(self, path: PathKey, default: Position | None = None) -> Position | None:  # type: ignore[override]
        found = self.find(tuple(path))
        return default if found is None else found

    def __getitem__(self, path: PathKey) -> Position:
        found = self.find(tuple(path))
        if found is None:
            raise KeyError(path)
        return found

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and self.find(path) is not None

    def _all(self) -> dict[PathKey, Position]:
        found = self._document().all_positions()
        found[()] = self._root
        return found

    def __iter__(self) -> Iterator[PathKey]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"LazyPositions(document {self._index}, line {self._root[0]})"


class PositionsWithin(Mapping[PathKey, Position]):
    """The positions below `prefix`, with paths relative to it (an item of a `List`)."""

    __slots__ = ("_base", "_prefix")

    def __init__(self, base: Mapping[PathKey, Position], prefix: PathKey) -> None:
        self._base = base
        self._prefix = prefix

    def __getitem__(self, path: PathKey) -> Position:
        return self._base[self._prefix + tuple(path)]

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and self._prefix + path in self._base

    def __iter__(self) -> Iterator[PathKey]:
        size = len(self._prefix)
        return (p[size:] for p in self._base if p[:size] == self._prefix)

    def __len__(self) -> int:
        return sum(1 for _ in self)
