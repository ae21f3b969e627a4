"""Positions as an independent reader finds them: ruamel.yaml's round-trip loader.

ruamel.yaml is pure Python and keeps a (line, column) for every key and list
item; meshspec reads with libyaml and finds positions its own way, so the two
agreeing is evidence, not a tautology. ruamel.yaml keeps no position for keys
a merge (`<<`) lends, so documents with merges need their own table.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

Positions = dict[tuple[str | int, ...], tuple[int, int]]


def ruamel_positions(text: str) -> list[Positions]:
    """1-based (line, column) of every key and list item, by path, per document."""
    out = []
    for doc in YAML(typ="rt").load_all(text):
        found: Positions = {}
        _walk(doc, (), found)
        out.append(found)
    return out


def _walk(node: Any, path: tuple[str | int, ...], found: Positions) -> None:
    if isinstance(node, CommentedMap):
        for key in node:
            line, column = node.lc.key(key)
            found[(*path, key)] = (line + 1, column + 1)
            _walk(node[key], (*path, key), found)
    elif isinstance(node, CommentedSeq):
        for i, item in enumerate(node):
            line, column = node.lc.item(i)
            found[(*path, i)] = (line + 1, column + 1)
            _walk(item, (*path, i), found)
