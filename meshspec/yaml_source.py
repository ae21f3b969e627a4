"""YAML reading that remembers where every value was written.

ruamel.yaml's round-trip loader keeps line and column for each key and list
item; we turn its nodes into plain Python data plus a map from path to
(line, column), both 1-based, so any later finding can point at the source.
Aliases are expanded with a budget so a "billion laughs" file fails fast.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

PathKey = tuple[str | int, ...]
MAX_NODES = 200_000
MAX_DEPTH = 64


class YamlProblem(Exception):
    """The text is not YAML we accept; carries a 1-based position when known."""

    def __init__(self, message: str, line: int = 0, column: int = 0, too_large: bool = False):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.too_large = too_large


@dataclass
class RawDocument:
    data: Any
    index: int
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def _near(pos: dict[PathKey, tuple[int, int]], path: PathKey) -> tuple[int, int]:
    """The recorded position of `path` or of its closest ancestor."""
    probe = path
    while probe:
        if probe in pos:
            return pos[probe]
        probe = probe[:-1]
    return pos.get((), (1, 1))


def _plain(node: Any, path: PathKey, pos: dict[PathKey, tuple[int, int]], budget: _Budget) -> Any:
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        # Deeper positions point into the anchors being expanded; the top-level
        # key is what the reader has to look at.
        line, col = _near(pos, path[:1])
        raise YamlProblem(
            f"document has more than {MAX_NODES} values (are aliases expanding it?)",
            line,
            col,
            too_large=True,
        )
    if len(path) > MAX_DEPTH:
        line, col = _near(pos, path)
        raise YamlProblem(
            f"document is nested deeper than {MAX_DEPTH} levels", line, col, too_large=True
        )
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            k = key if isinstance(key, str | int) and not isinstance(key, bool) else str(key)
            k = str(k) if isinstance(k, str) else int(k)
            child = (*path, k)
            try:
                line, col = node.lc.key(key)
                pos[child] = (line + 1, col + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            out[k] = _plain(value, child, pos, budget)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            child = (*path, i)
            try:
                line, col = node.lc.item(i)
                pos[child] = (line + 1, col + 1)
            except (KeyError, TypeError, AttributeError, IndexError):
                pass
            items.append(_plain(value, child, pos, budget))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, dt.date | dt.datetime):
        return node.isoformat()
    return str(node)


# A run of this many opening brackets makes ruamel's recursive parser slow long
# before it fails; no spec needs it, so it is refused before parsing.
_DEEP_FLOW = re.compile(r"[\[{](?:[ \t\r\n]*[\[{]){" + str(MAX_DEPTH) + "}")


def _position_of(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _document_start(text: str, index: int) -> tuple[int, int]:
    """Where document `index` starts, for scalar documents ruamel keeps no line for."""
    starts = [m.start() for m in re.finditer(r"^---", text, re.M)]
    if starts and starts[0] != 0 and text[: starts[0]].strip(" \t\r\n") == "":
        starts[0] = 0
    if starts and text[: starts[0]].strip(" \t\r\n") and not text.lstrip().startswith("%"):
        starts.insert(0, 0)
    if index < len(starts):
        return _position_of(text, starts[index])[0], 1
    return 1, 1


def load_documents(text: str) -> list[RawDocument]:
    """Every document in `text`, as plain data with positions."""
    deep = _DEEP_FLOW.search(text)
    if deep:
        line, col = _position_of(text, deep.start())
        raise YamlProblem(
            f"document is nested deeper than {MAX_DEPTH} levels", line, col, too_large=True
        )
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    docs: list[RawDocument] = []
    try:
        for index, node in enumerate(yaml.load_all(text)):
            pos: dict[PathKey, tuple[int, int]] = {}
            start = getattr(getattr(node, "lc", None), "line", None)
            pos[()] = (start + 1, 1) if start is not None else _document_start(text, index)
            data = _plain(node, (), pos, _Budget())
            docs.append(RawDocument(data=data, index=index, positions=pos))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(str(problem).strip(), line, col) from None
    except YAMLError as exc:
        where = getattr(exc, "position", None)
        line, col = _position_of(text, where) if isinstance(where, int) else (1, 1)
        text_of = str(exc).strip()
        raise YamlProblem(
            text_of.splitlines()[0] if text_of else "invalid YAML", line, col
        ) from None
    except RecursionError:
        raise YamlProblem("document is nested too deeply", too_large=True) from None
    return docs
