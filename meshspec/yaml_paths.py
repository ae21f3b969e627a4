"""Where a path of a document was written, read from its composed nodes.

A finding names a path (`spec.routes[0].timeout`); its line and column are
those of the key (in a mapping) or of the item (in a list) libyaml composed.
Walking the nodes along the asked path alone costs microseconds; converting
the document again to learn every position cost ten times the composing,
and keeping all of them cost more memory than the spec's models.

The paths are those the converter (`yaml_nodes`) gives the values: a merge
key (`<<: *base`) lends the keys the mapping does not write itself, in the
order the merges are written, and an alias is its anchor's nodes again.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from meshspec.yaml_nodes import MAX_DEPTH, mapping_key
from meshspec.yaml_positions import PathKey, Position
from meshspec.yaml_scalars import MERGE, STR, plain_tag

#: the tag of a plain scalar when composing for positions: resolved only where a key is compared
PLAIN = "\0plain"
Entry = tuple[Node, Node]  #: (key node, value node) of one mapping entry


class ComposedDocument:
    """One document's root node, with the lines before the text it was composed from."""

    __slots__ = ("line_offset", "root")

    def __init__(self, root: Node, line_offset: int = 0) -> None:
        self.root = root
        self.line_offset = line_offset

    def position_at(self, path: PathKey) -> Position | None:
        return position_at(self.root, path, self.line_offset)

    def all_positions(self) -> dict[PathKey, Position]:
        return all_positions(self.root, self.line_offset)


def position_at(root: Node, path: PathKey, line_offset: int = 0) -> Position | None:
    """1-based (line, column) of `path` below `root`; None where no such path is written."""
    if not path:
        return None
    node: Node = root
    last = len(path) - 1
    for depth, key in enumerate(path):
        cls = node.__class__
        if cls is MappingNode:
            entry = _entry(node, key, 0)
            if entry is None:
                return None
            at, node = entry
        elif cls is SequenceNode:
            items = node.value
            if key.__class__ is not int or not 0 <= key < len(items):
                return None
            at = node = items[key]
        else:
            return None
        if depth == last:
            mark = at.start_mark
            return mark.line + 1 + line_offset, mark.column + 1
    return None  # pragma: no cover - the loop returns at its last key


def all_positions(root: Node, line_offset: int = 0) -> dict[PathKey, Position]:
    """Every key and list item of the document, by path (the root's own is not included)."""
    out: dict[PathKey, Position] = {}
    _walk(root, (), out, line_offset, 0)
    return out


def _entry(mapping: Node, key: str | int, merges_deep: int) -> Entry | None:
    """The entry that gives `mapping` its `key`: its own, else the first merge that has it."""
    merges: list[Node] = []
    is_str = key.__class__ is str
    for key_node, value_node in mapping.value:
        if key_node.__class__ is not ScalarNode:
            continue
        tag = key_node.tag
        if tag == PLAIN:
            tag = plain_tag(key_node.value)
        if tag == STR:
            if is_str and key_node.value == key:
                return key_node, value_node
        elif tag == MERGE:
            merges.append(value_node)
        elif _same_key(mapping_key(key_node, tag), key):
            return key_node, value_node
    if merges_deep > MAX_DEPTH:  # only a mapping merged into itself; the reader refuses those
        return None
    for base in _bases(merges):
        found = _entry(base, key, merges_deep + 1)
        if found is not None:
            return found
    return None


def _entries(mapping: Node, merges_deep: int) -> dict[str | int, Entry]:
    """Every entry of `mapping` by key, merged ones after its own, as the converter takes them."""
    out: dict[str | int, Entry] = {}
    merges: list[Node] = []
    for key_node, value_node in mapping.value:
        if key_node.__class__ is not ScalarNode:
            continue
        tag = key_node.tag
        if tag == PLAIN:
            tag = plain_tag(key_node.value)
        if tag == MERGE:
            merges.append(value_node)
        else:
            out.setdefault(mapping_key(key_node, tag), (key_node, value_node))
    if merges_deep <= MAX_DEPTH:
        for base in _bases(merges):
            for key, entry in _entries(base, merges_deep + 1).items():
                out.setdefault(key, entry)
    return out


def _bases(merges: list[Node]) -> list[Node]:
    """The mappings `<<` values name, in order (one alias, or a list of them)."""
    out: list[Node] = []
    for merge in merges:
        for base in merge.value if isinstance(merge, SequenceNode) else [merge]:
            if isinstance(base, MappingNode):
                out.append(base)
    return out


def _same_key(written: str | int, asked: str | int) -> bool:
    return written.__class__ is asked.__class__ and written == asked


def _walk(
    node: Node, path: PathKey, out: dict[PathKey, Position], line_offset: int, depth: int
) -> None:
    if depth > MAX_DEPTH:  # only an alias inside its own anchor; the reader refuses those
        return
    if isinstance(node, MappingNode):
        for key, (key_node, value_node) in _entries(node, 0).items():
            here = (*path, key)
            mark = key_node.start_mark
            out[here] = (mark.line + 1 + line_offset, mark.column + 1)
            _walk(value_node, here, out, line_offset, depth + 1)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            here = (*path, i)
            mark = item.start_mark
            out[here] = (mark.line + 1 + line_offset, mark.column + 1)
            _walk(item, here, out, line_offset, depth + 1)
