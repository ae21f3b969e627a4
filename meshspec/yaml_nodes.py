"""libyaml's nodes to plain Python data, with the limits that keep the work bounded.

What bounds the work is not the size of the file but what a small file can
make a reader do: values that aliases add to a document (a "billion laughs"
file fails at once, before anything is copied), nesting depth (`MAX_DEPTH`;
libyaml itself stops at 1,000 levels) and an alias inside its own anchor.
A mapping key written twice is an error, not "the last one wins".

The converter runs once per document and records no positions: a finding
that needs a line and column finds it in the document's nodes composed again
(`yaml_paths`), without converting any value.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from meshspec.yaml_positions import PathKey
from meshspec.yaml_scalars import MERGE, NAMES, STR, BadScalar, scalar_value

#: values that aliases may add to one document
MAX_ALIAS_VALUES = 200_000
MAX_DEPTH = 64

# A path while converting is a chain of (parent, key) pairs ending in (): cheap
# to extend; flattened to a tuple only when a position or a finding needs it.
Chain = tuple[Any, ...]


def flatten(chain: Chain) -> PathKey:
    keys: list[str | int] = []
    while chain:
        chain, key = chain
        keys.append(key)
    keys.reverse()
    return tuple(keys)


@dataclass(frozen=True)
class Ambiguous:
    """A plain scalar that YAML 1.1 and YAML 1.2 readers read differently."""

    path: PathKey
    line: int
    column: int
    text: str
    kind: str  #: what YAML 1.2 (and meshspec) reads: "string", "integer", "number"
    yaml12: str  #: the value YAML 1.2 reads, in words: "the integer 10"
    yaml11: str  #: the value YAML 1.1 readers read, in words: "the integer 8"


class NodeProblem(Exception):
    """A document libyaml accepted but we do not; `node` says where."""

    def __init__(self, message: str, node: Node) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


class TooDeep(Exception):
    def __init__(self, chain: Chain) -> None:
        self.path = flatten(chain)


class TooManyAliasedValues(Exception):
    def __init__(self, chain: Chain) -> None:
        self.path = flatten(chain)


class Converter:
    """Nodes of one document to plain data."""

    def __init__(self) -> None:
        self.ambiguous: list[Ambiguous] = []
        self._done: dict[int, bool] = {}  # id(collection node) -> finished converting
        self._sizes: dict[int, int] = {}
        self._added = 0
        self._copying = 0
        self._intern = sys.intern

    def value(self, node: Node, chain: Chain = (), depth: int = 0) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            tag = node.tag
            if tag == STR:
                return node.value
            if tag[0] == "?":
                return self._ambiguous(node, chain)
            try:
                return scalar_value(tag, node.value)
            except BadScalar as exc:
                raise NodeProblem(str(exc), node) from None
        if depth >= MAX_DEPTH:
            raise TooDeep(chain)
        ident = id(node)
        done = self._done.get(ident)
        if done is False:
            raise NodeProblem("an alias refers to the value that contains it", node)
        if done:  # an alias: its values are copied again, and counted once
            if not self._copying:
                self._added += self._size(node)
                if self._added > MAX_ALIAS_VALUES:
                    raise TooManyAliasedValues(chain)
            self._copying += 1
        self._done[ident] = False
        out = (
            self._mapping(node, chain, depth + 1)
            if cls is MappingNode
            else self._sequence(node, chain, depth + 1)
        )
        self._done[ident] = True
        if done:
            self._copying -= 1
        return out

    def _sequence(self, node: Node, chain: Chain, depth: int) -> list[Any]:
        value = self.value
        return [value(item, (chain, i), depth) for i, item in enumerate(node.value)]

    def _mapping(self, node: Node, chain: Chain, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merges: list[Node] = []
        value, intern = self.value, self._intern
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                raise NodeProblem(
                    "a mapping key must be a plain value, not a list or mapping", key_node
                )
            tag = key_node.tag
            if tag == STR:
                key: Any = intern(key_node.value)
            elif tag == MERGE:
                merges.append(value_node)
                continue
            else:
                key = self._key(key_node)
            if key in out:
                raise self._duplicate(node, key_node, key)
            out[key] = value(value_node, (chain, key), depth)
        for merged in merges:
            self._merge(out, merged, chain, depth - 1)
        return out

    def _duplicate(self, node: Node, second: Node, key: Any) -> NodeProblem:
        first = second
        for k, _ in node.value:
            if k is second:
                break
            if k.__class__ is ScalarNode and k.tag != MERGE and self._key(k) == key:
                first = k
                break
        mark = first.start_mark
        return NodeProblem(
            f"duplicate key {key!r} (the first is at line {mark.line + 1}, "
            f"column {mark.column + 1})",
            second,
        )

    def _merge(self, out: dict[Any, Any], source: Node, chain: Chain, depth: int) -> None:
        """`<<: *base` (or a list of them): keys not written here come from the base."""
        sources = source.value if isinstance(source, SequenceNode) else [source]
        level = len(flatten(chain))
        for base in sources:
            if not isinstance(base, MappingNode):
                raise NodeProblem("'<<' merges mappings: give it an alias of a mapping", base)
            ambiguous = self.ambiguous
            self.ambiguous = []
            try:
                data = self.value(base, chain, depth)
                merged_ambiguous = self.ambiguous
            finally:
                self.ambiguous = ambiguous
            taken = {key for key in data if key not in out}
            for key in taken:
                out[key] = data[key]
            ambiguous.extend(
                a for a in merged_ambiguous if len(a.path) > level and a.path[level] in taken
            )

    def _key(self, node: Node) -> str | int:
        return mapping_key(node)

    def _ambiguous(self, node: Node, chain: Chain) -> Any:
        kind12, read11 = node.tag[1:].split("|", 1)
        value = scalar_value(kind12, node.value)
        mark = node.start_mark
        self.ambiguous.append(
            Ambiguous(
                path=flatten(chain),
                line=mark.line + 1,
                column=mark.column + 1,
                text=node.value,
                kind=NAMES[kind12],
                yaml12=f"the {NAMES[kind12]} {value!r}",
                yaml11=read11,
            )
        )
        return value

    def _size(self, node: Node) -> int:
        """How many values `node` stands for once every alias in it is expanded."""
        ident = id(node)
        size = self._sizes.get(ident)
        if size is None:
            if isinstance(node, ScalarNode):
                size = 1
            elif isinstance(node, SequenceNode):
                size = 1 + sum(self._size(item) for item in node.value)
            else:
                size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            self._sizes[ident] = size
        return size


def mapping_key(node: Node, tag: str | None = None) -> str | int:
    """The key a scalar key node stands for: a string, an integer (a port), or its text."""
    if tag is None:
        tag = node.tag
    if tag == STR:
        return sys.intern(node.value)
    if tag[0] == "?":  # keys are the spec's own field names, or ports: not noted
        tag = tag[1:].split("|", 1)[0]
    try:
        key = scalar_value(tag, node.value)
    except BadScalar as exc:
        raise NodeProblem(str(exc), node) from None
    if isinstance(key, str):
        return sys.intern(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    return str(key)


def top_level_start(root: Node, path: PathKey, key: bool = False) -> tuple[int, int]:
    """Where the top-level value (or its key) that `path` starts in begins, 1-based."""
    node = root
    if path and isinstance(root, MappingNode):
        for k, v in root.value:
            if k.value == str(path[0]):
                node = k if key else v
                break
    elif path and isinstance(root, SequenceNode) and isinstance(path[0], int):
        node = root.value[path[0]]
    mark = node.start_mark
    return mark.line + 1, mark.column + 1
