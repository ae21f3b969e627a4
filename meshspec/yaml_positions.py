"""Where each value of a document was written, found only when someone asks.

A finding needs the line and column of one field; a valid spec needs none.
Recording a position for each of the million values of a 5,000-service mesh
cost more memory than the spec itself, so a document keeps only its text's
span and reads it again, once, when the first finding about it is located.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

PathKey = tuple[str | int, ...]
Position = tuple[int, int]
#: reads the positions of one document: (text, document index, start, end, first line)
Reader = Callable[[str, int, int, int, int], dict[PathKey, Position]]


class LazyPositions(Mapping[PathKey, Position]):
    """1-based (line, column) of every key and list item of one document, by path."""

    __slots__ = ("_end", "_index", "_line", "_map", "_read", "_root", "_start", "_text")

    def __init__(
        self, read: Reader, text: str, index: int, span: tuple[int, int], root: Position
    ) -> None:
        self._read = read
        self._text = text
        self._index = index
        self._start, self._end = span
        self._root = root
        self._line = root[0]
        self._map: dict[PathKey, Position] | None = None

    def _positions(self) -> dict[PathKey, Position]:
        if self._map is None:
            found = self._read(self._text, self._index, self._start, self._end, self._line)
            found[()] = self._root
            self._map = found
        return self._map

    def __getitem__(self, path: PathKey) -> Position:
        if path == ():
            return self._root
        return self._positions()[path]

    def __contains__(self, path: object) -> bool:
        return path == () or path in self._positions()

    def __iter__(self) -> Iterator[PathKey]:
        return iter(self._positions())

    def __len__(self) -> int:
        return len(self._positions())

    def __repr__(self) -> str:
        return f"LazyPositions(document {self._index}, line {self._line})"


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
