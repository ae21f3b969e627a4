"""YAML reading that remembers where every value was written.

libyaml (through PyYAML's C composer) parses the text into nodes that carry
their line and column; `yaml_nodes` turns them into plain Python data. Each
document can say where each path was written, (line, column), both 1-based,
so any later finding can point at the source; it reads its text again only
when a finding asks (`yaml_positions`, `yaml_paths`). libyaml is 20-40 times
faster than a pure-Python parser, which is what makes a mesh of thousands of
services quick to check.

Plain scalars are read by the YAML 1.2 core schema (`yaml_scalars`), the way
meshspec always read them. Where a YAML 1.1 reader (kubectl, PyYAML) would
read the same text differently, the document lists it in `ambiguous`, so the
loader can warn. There is no limit on the size of a file: what bounds the work
is the depth and the values aliases add (`yaml_nodes`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import Node, SequenceNode

from meshspec.yaml_nodes import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    Ambiguous,
    Converter,
    NodeProblem,
    TooDeep,
    TooManyAliasedValues,
    top_level_start,
)
from meshspec.yaml_paths import PLAIN, ComposedDocument
from meshspec.yaml_positions import LazyPositions, Located
from meshspec.yaml_scalars import NUMERIC_START, STR, WORDS, plain_tag

try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # PyYAML built without libyaml: slower, same results
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


_EventLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_word = WORDS.get

__all__ = ["MAX_ALIAS_VALUES", "MAX_DEPTH", "Ambiguous", "RawDocument", "YamlProblem"]


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
    positions: Any = field(default_factory=dict)  #: Mapping[PathKey, (line, column)]
    ambiguous: list[Ambiguous] = field(default_factory=list)


class _Reader(_Parser):
    """libyaml's parser and composer with our own scalar resolution."""

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        if value is None:
            return "seq" if kind is SequenceNode else "map"
        if not implicit[0]:  # quoted
            return STR
        word = _word(value)  # plain_tag's common cases inline: this runs for every scalar
        if word is not None:
            return word
        return plain_tag(value) if value[0] in NUMERIC_START else STR

    def descend_resolver(self, parent: Node | None, index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


class _NodesOnly(_Reader):
    """Composes for positions only: plain scalars are resolved later, where a key is compared."""

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        if value is None:
            return "seq" if kind is SequenceNode else "map"
        return PLAIN if implicit[0] else STR


def load_documents(text: str) -> list[RawDocument]:
    """Every document in `text`, as plain data with (lazily found) positions."""
    return list(iter_documents(text))


def iter_documents(text: str) -> Iterator[RawDocument]:
    """The documents of `text` one by one (a YAML error comes when it is reached)."""
    for index, node in enumerate(_nodes(text)):
        converter = Converter()
        data = _convert(converter, node)
        mark, end = node.start_mark, node.end_mark
        span = (text.rfind("\n", 0, mark.index) + 1, end.index if end else len(text))
        positions = LazyPositions(_compose_again, text, index, span, (mark.line + 1, 1))
        yield RawDocument(data, index, positions, converter.ambiguous)


def _nodes(text: str, reader: type[_Reader] = _Reader) -> Any:
    """The root node of each document, with libyaml's errors as `YamlProblem`s."""
    try:
        parser = reader(text)
    except UnicodeEncodeError as exc:
        line, col = _position_of(text, exc.start)
        raise YamlProblem("text that is not valid Unicode", line, col) from None
    try:
        while parser.check_node():
            node = parser.get_node()
            if node is None:  # check_node said there is one
                break
            yield node
    except yaml.YAMLError as exc:
        raise _syntax_problem(text, exc) from None
    except RecursionError:  # only without libyaml, which stops at 1,000 levels itself
        raise YamlProblem("document is nested too deeply", too_large=True) from None
    finally:
        parser.dispose()


def _convert(converter: Converter, node: Node) -> Any:
    try:
        return converter.value(node)
    except NodeProblem as exc:
        mark = exc.node.start_mark
        raise YamlProblem(exc.message, mark.line + 1, mark.column + 1) from None
    except TooDeep as deep:
        line, col = top_level_start(node, deep.path)
        raise YamlProblem(
            f"document is nested deeper than {MAX_DEPTH} levels",
            line,
            col,
            too_large=True,
        ) from None
    except TooManyAliasedValues as over:
        line, col = top_level_start(node, over.path, key=True)
        raise YamlProblem(
            f"aliases add more than {MAX_ALIAS_VALUES} values to the document",
            line,
            col,
            too_large=True,
        ) from None


def _compose_again(text: str, index: int, start: int, end: int, first_line: int) -> Located:
    """Document `index` composed again from its own span, else from the whole text."""
    try:
        [node] = list(_nodes(text[start:end], _NodesOnly))
        return ComposedDocument(node, first_line - 1)
    except (YamlProblem, ValueError):  # the span alone is not the document (%TAG, ...)
        nodes = _nodes(text, _NodesOnly)
        return ComposedDocument(next(n for i, n in enumerate(nodes) if i == index))


def _position_of(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _deep_value_start(text: str) -> tuple[int, int]:
    """Where the top-level value that nests too deeply starts (as `top_level_start` says).

    Only for text libyaml refused for its depth, so no node tree exists: the
    events up to the refusal are enough.
    """
    depth, start = 0, (1, 1)
    try:
        for event in yaml.parse(text, Loader=_EventLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                mark = event.start_mark
                if depth == 2 and mark is not None:
                    start = (mark.line + 1, mark.column + 1)
                if depth > MAX_DEPTH:
                    break
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    return start


def _syntax_problem(text: str, exc: yaml.YAMLError) -> YamlProblem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if "maximum nesting depth" in problem:
            line, col = _deep_value_start(text)
            return YamlProblem(
                f"document is nested deeper than {MAX_DEPTH} levels", line, col, too_large=True
            )
        if exc.context and "duplicate anchor" in exc.context and exc.context_mark:
            first = exc.context_mark
            problem = (
                f"anchor defined a second time (the first is at line {first.line + 1}, "
                f"column {first.column + 1})"
            )
        return YamlProblem(problem, line, col)
    where = getattr(exc, "position", None)
    if isinstance(where, int):  # a byte offset into the UTF-8 text
        where = len(text.encode("utf-8")[:where].decode("utf-8", "ignore"))
        line, col = _position_of(text, where)
    else:
        line, col = 1, 1
    reason = getattr(exc, "reason", None) or str(exc).strip().splitlines()[0]
    return YamlProblem(str(reason) or "invalid YAML", line, col)
