"""YAML reading that remembers where every value was written.

libyaml (through PyYAML's C composer) parses the text into nodes that carry
their line and column; we turn those into plain Python data plus a map from
path to (line, column), both 1-based, so any later finding can point at the
source. libyaml is 20-40 times faster than a pure-Python parser, which is
what makes a mesh of thousands of services quick to check.

What the work is bounded by, rather than by the size of the file: values that
aliases add to a document (a "billion laughs" file fails at once), nesting
depth (libyaml itself stops at 1,000 levels, we at `MAX_DEPTH`) and aliases
that refer to themselves. Duplicate keys are an error, not "last one wins".

Plain scalars are read by the YAML 1.2 core schema, the way meshspec always
read them. Where a YAML 1.1 reader (kubectl, the API server, PyYAML) would
read the same text differently (`on`, `yes`, `n` as booleans; `010` as 8;
`0o17`, `1e3`, `12:30`, `2001-12-14` as something else than YAML 1.2 does),
the value is kept as YAML 1.2 reads it and noted in `RawDocument.ambiguous`,
so the loader can warn: the file would mean something else to other tools.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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


PathKey = tuple[str | int, ...]
#: values that aliases may add to one document
MAX_ALIAS_VALUES = 200_000
MAX_DEPTH = 64


class YamlProblem(Exception):
    """The text is not YAML we accept; carries a 1-based position when known."""

    def __init__(self, message: str, line: int = 0, column: int = 0, too_large: bool = False):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.too_large = too_large


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


@dataclass
class RawDocument:
    data: Any
    index: int
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    ambiguous: list[Ambiguous] = field(default_factory=list)


# -- reading plain scalars: YAML 1.2 core schema, compared with YAML 1.1 ------
# Tags the resolver hands the composer. Ambiguous scalars get "?" + the YAML
# 1.2 tag + "|" + what YAML 1.1 reads.
STR, INT, FLOAT, BOOL, NULL, MERGE = "str", "int", "float", "bool", "null", "merge"
_NAMES = {STR: "string", INT: "integer", FLOAT: "number", BOOL: "boolean", NULL: "null"}
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")
_WORDS: dict[str, str] = {w: BOOL for w in (*_TRUE, *_FALSE)}
_WORDS.update({w: NULL for w in ("", "~", "null", "Null", "NULL")})
for _w in ("y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO"):
    _WORDS[_w] = "?str|a boolean"
for _w in ("on", "On", "ON", "off", "Off", "OFF"):
    _WORDS[_w] = "?str|a boolean"
_WORDS["="] = "?str|the 'value' type"
_WORDS["<<"] = MERGE
_NUMERIC_START = frozenset("0123456789+-.")

_INT12 = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT12 = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
# YAML 1.1 (https://yaml.org/type/int.html, float.html, timestamp.html)
_INT11 = re.compile(
    r"[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
)
_FLOAT11 = re.compile(
    r"[-+]?(?:[0-9][0-9_]*)?\.[0-9.]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_TIMESTAMP11 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
)


def _int11(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    digits = digits.lstrip("+-")
    if ":" in digits:
        value = 0
        for part in digits.split(":"):
            value = value * 60 + int(part)
        return sign * value
    if digits.startswith("0b"):
        return sign * int(digits[2:], 2)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if digits != "0" and digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


def _float11(text: str) -> float | None:
    digits = text.replace("_", "").lower()
    sign = -1.0 if digits.startswith("-") else 1.0
    digits = digits.lstrip("+-")
    if digits == ".inf":
        return sign * math.inf
    if digits == ".nan":
        return math.nan
    if ":" in digits:
        value = 0.0
        for part in digits.split(":"):
            value = value * 60 + float(part)
        return sign * value
    try:
        return sign * float(digits)
    except ValueError:  # "1.2.3" fits YAML 1.1's loose pattern but is no number
        return None


def int12(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def float12(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a == b or (a != a and b != b))


def numeric_tag(text: str) -> str:
    """The tag of a plain scalar that starts like a number, both readings compared."""
    value12: Any
    if _INT12.fullmatch(text):
        kind12, value12 = INT, int12(text)
    elif _FLOAT12.fullmatch(text):
        kind12, value12 = FLOAT, float12(text)
    else:
        kind12, value12 = STR, text
    value11: Any = text
    kind11 = STR
    if _INT11.fullmatch(text):
        kind11, value11 = INT, _int11(text)
    elif _FLOAT11.fullmatch(text):
        number = _float11(text)
        if number is not None:
            kind11, value11 = FLOAT, number
    elif _TIMESTAMP11.fullmatch(text):
        kind11, value11 = "timestamp", None
    if kind11 == kind12 and _same(value11, value12):
        return kind12
    read11 = "a timestamp" if kind11 == "timestamp" else f"the {_NAMES[kind11]} {value11!r}"
    return f"?{kind12}|{read11}"


def plain_tag(text: str) -> str:
    """The tag of a plain (unquoted) scalar."""
    word = _WORDS.get(text)
    if word is not None:
        return word
    if text[0] in _NUMERIC_START:
        if text.isdigit() and (text[0] != "0" or len(text) == 1):
            return INT  # the common case: both read the same decimal integer
        return numeric_tag(text)
    return STR


_EventLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STANDARD_TAGS = {
    "tag:yaml.org,2002:str": STR,
    "tag:yaml.org,2002:int": INT,
    "tag:yaml.org,2002:float": FLOAT,
    "tag:yaml.org,2002:bool": BOOL,
    "tag:yaml.org,2002:null": NULL,
}


class _Reader(_Parser):
    """libyaml's parser and composer with our own scalar resolution."""

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return plain_tag(value or "") if implicit[0] else STR
        return "seq" if kind is SequenceNode else "map"

    def descend_resolver(self, parent: Node | None, index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


def _scalar_value(tag: str, text: str) -> Any:
    if tag == STR:
        return text
    if tag == INT:
        return int12(text)
    if tag == BOOL:
        return text in _TRUE
    if tag == NULL:
        return None
    if tag == FLOAT:
        return float12(text)
    if tag == MERGE:
        return text
    explicit = _STANDARD_TAGS.get(tag)
    if explicit is None or explicit == STR:
        return text  # other tags (!!binary, !custom): the text as written
    try:
        if explicit == INT:
            return int(text.replace("_", ""), 0)
        if explicit == FLOAT:
            return float12(text.replace("_", ""))
    except ValueError:
        raise _Bad(f"{tag} value {text!r} is not a number") from None
    if explicit == BOOL:
        return text.lower() in ("true", "yes", "on", "y")
    return None


class _Bad(Exception):
    """A problem found while converting; the converter adds the position."""


class _Converter:
    """Nodes of one document to plain data, positions and ambiguous scalars."""

    def __init__(self) -> None:
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.ambiguous: list[Ambiguous] = []
        self._done: dict[int, bool] = {}  # id(node) -> finished (False while converting)
        self._sizes: dict[int, int] = {}
        self._added = 0
        self._copying = 0
        self._intern = sys.intern

    def document(self, node: Node) -> Any:
        mark = node.start_mark
        self.positions[()] = (mark.line + 1, 1)
        return self.value(node, (), 0)

    def value(self, node: Node, path: PathKey, depth: int) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            tag = node.tag
            if tag[0] == "?":
                return self._ambiguous(node, path)
            try:
                return _scalar_value(tag, node.value)
            except _Bad as exc:
                raise _problem(str(exc), node) from None
        if depth >= MAX_DEPTH:
            raise _Deep(path)
        ident = id(node)
        done = self._done.get(ident)
        if done is False:
            raise _problem("an alias refers to the value that contains it", node)
        if done:  # an alias: its values are copied again, and counted once
            if not self._copying:
                self._added += self._size(node)
                if self._added > MAX_ALIAS_VALUES:
                    raise _AliasBudget(path)
            self._copying += 1
        self._done[ident] = False
        if cls is MappingNode:
            out: Any = self._mapping(node, path, depth)
        else:
            out = []
            positions = self.positions
            for i, item in enumerate(node.value):
                child = (*path, i)
                mark = item.start_mark
                positions[child] = (mark.line + 1, mark.column + 1)
                out.append(self.value(item, child, depth + 1))
        self._done[ident] = True
        if done:
            self._copying -= 1
        return out

    def _mapping(self, node: Node, path: PathKey, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        where: dict[Any, Node] = {}
        merges: list[Node] = []
        positions = self.positions
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                raise _problem(
                    "a mapping key must be a plain value, not a list or mapping", key_node
                )
            if key_node.tag == MERGE:
                merges.append(value_node)
                continue
            key = self._key(key_node)
            if key in where:
                first = where[key].start_mark
                raise _problem(
                    f"duplicate key {key!r} (the first is at line {first.line + 1}, "
                    f"column {first.column + 1})",
                    key_node,
                )
            where[key] = key_node
            child = (*path, key)
            mark = key_node.start_mark
            positions[child] = (mark.line + 1, mark.column + 1)
            out[key] = self.value(value_node, child, depth + 1)
        for merged in merges:
            self._merge(out, merged, path, depth)
        return out

    def _merge(self, out: dict[Any, Any], source: Node, path: PathKey, depth: int) -> None:
        """`<<: *base` (or a list of them): keys not written here come from the base."""
        sources = source.value if isinstance(source, SequenceNode) else [source]
        level = len(path)
        for base in sources:
            if not isinstance(base, MappingNode):
                raise _problem("'<<' merges mappings: give it an alias of a mapping", base)
            positions, ambiguous = self.positions, self.ambiguous
            self.positions, self.ambiguous = {}, []
            try:
                data = self.value(base, path, depth)
                merged_positions, merged_ambiguous = self.positions, self.ambiguous
            finally:
                self.positions, self.ambiguous = positions, ambiguous
            taken = {key for key in data if key not in out}
            for key in taken:
                out[key] = data[key]
            positions.update(
                (p, at)
                for p, at in merged_positions.items()
                if len(p) > level and p[level] in taken
            )
            ambiguous.extend(
                a for a in merged_ambiguous if len(a.path) > level and a.path[level] in taken
            )

    def _key(self, node: Node) -> str | int:
        tag = node.tag
        if tag[0] == "?":  # keys are the spec's own field names, or ports: not noted
            tag = tag[1:].split("|", 1)[0]
        try:
            key = _scalar_value(tag, node.value)
        except _Bad as exc:
            raise _problem(str(exc), node) from None
        if isinstance(key, str):
            return self._intern(key)
        if isinstance(key, int) and not isinstance(key, bool):
            return key
        return str(key)

    def _ambiguous(self, node: Node, path: PathKey) -> Any:
        kind12, read11 = node.tag[1:].split("|", 1)
        value = _scalar_value(kind12, node.value)
        mark = node.start_mark
        self.ambiguous.append(
            Ambiguous(
                path=path,
                line=mark.line + 1,
                column=mark.column + 1,
                text=node.value,
                kind=_NAMES[kind12],
                yaml12=f"the {_NAMES[kind12]} {value!r}",
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


class _Deep(Exception):
    def __init__(self, path: PathKey) -> None:
        self.path = path


class _AliasBudget(Exception):
    def __init__(self, path: PathKey) -> None:
        self.path = path


def _problem(message: str, node: Node) -> YamlProblem:
    mark = node.start_mark
    return YamlProblem(message, mark.line + 1, mark.column + 1)


def _position_of(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _deep_value_start(text: str) -> tuple[int, int]:
    """Where the top-level value that nests too deeply starts (as `_outermost` says).

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


def load_documents(text: str) -> list[RawDocument]:
    """Every document in `text`, as plain data with positions."""
    try:
        parser = _Reader(text)
    except UnicodeEncodeError as exc:
        line, col = _position_of(text, exc.start)
        raise YamlProblem("text that is not valid Unicode", line, col) from None
    docs: list[RawDocument] = []
    try:
        while parser.check_node():
            node = parser.get_node()
            if node is None:  # check_node said there is one
                break
            converter = _Converter()
            try:
                data = converter.document(node)
            except _Deep as deep:
                line, col = _outermost(node, deep.path)
                raise YamlProblem(
                    f"document is nested deeper than {MAX_DEPTH} levels", line, col, too_large=True
                ) from None
            except _AliasBudget as over:
                line, col = converter.positions.get(over.path[:1], converter.positions[()])
                raise YamlProblem(
                    f"aliases add more than {MAX_ALIAS_VALUES} values to the document",
                    line,
                    col,
                    too_large=True,
                ) from None
            docs.append(
                RawDocument(
                    data=data,
                    index=len(docs),
                    positions=converter.positions,
                    ambiguous=converter.ambiguous,
                )
            )
    except yaml.YAMLError as exc:
        raise _syntax_problem(text, exc) from None
    except RecursionError:  # only without libyaml, which stops at 1,000 levels itself
        raise YamlProblem("document is nested too deeply", too_large=True) from None
    finally:
        parser.dispose()
    return docs


def _outermost(root: Node, path: PathKey) -> tuple[int, int]:
    """Start of the top-level value that holds the too deep nesting."""
    node = root
    if path and isinstance(root, MappingNode):
        node = next((v for k, v in root.value if k.value == str(path[0])), root)
    elif path and isinstance(root, SequenceNode) and isinstance(path[0], int):
        node = root.value[path[0]]
    mark = node.start_mark
    return mark.line + 1, mark.column + 1
