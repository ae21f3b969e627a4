"""Writing resources as deterministic multi-document YAML or JSON.

YAML goes through libyaml's C emitter (PyYAML's `CSafeDumper`): writing tens
of thousands of resources is a matter of seconds, not minutes. Whatever reads
our output must read the same data, whether it speaks YAML 1.1 (kubectl and
the API server, PyYAML) or YAML 1.2: so a string is written plain only when
both read it as that string. `yes`, `on`, `n`, `~`, `010`, `0o17`, `1e3`,
`12:30`, `2001-12-14` and the like are quoted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from meshspec.gcpause import cyclic_gc_paused
from meshspec.yaml_scalars import BOOL, FLOAT, INT, NULL, NUMERIC_START, STR, WORDS, plain_tag

try:
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # PyYAML built without libyaml: slower, same text
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _TAG + "seq", _TAG + "map"
_FULL = {STR: _STR, INT: _INT, FLOAT: _FLOAT, BOOL: _BOOL, NULL: _NULL}
#: what a plain scalar resolves to when YAML 1.1 and 1.2 readers disagree: no
#: value's own tag, so the emitter quotes strings that would resolve to it
_DISPUTED = "tag:meshspec.io,2026:read-differently"
_word = WORDS.get


class _Dumper(_BaseDumper):
    """libyaml's emitter, deciding plain or quoted by both YAML versions.

    The objects written are plain JSON-like data, so they become nodes through
    one short function rather than PyYAML's general representer (which looks
    up a representer per object and tracks every object for aliases): writing
    is then about as fast as libyaml's own floor. Shared sub-objects are
    written out in full, never as anchors: people and kubectl read this.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is not ScalarNode:
            return _SEQ if kind is SequenceNode else _MAP
        if not implicit[0]:
            return _STR
        # "would this text, written plain, read back as this tag?" (common cases inline)
        word = _word(value)
        if word is None:
            if value[0] not in NUMERIC_START:
                return _STR
            word = plain_tag(value)
        return _FULL.get(word, _DISPUTED)

    def represent(self, data: Any) -> None:
        self.serialize(self._node(data))

    def _node(self, data: Any) -> Node:
        kind = type(data)
        if kind is str:
            return ScalarNode(_STR, data)
        if kind is dict:
            to_node = self._node
            pairs = [(to_node(k), to_node(v)) for k, v in data.items()]
            return MappingNode(_MAP, pairs, flow_style=False)
        if kind is list:
            return SequenceNode(_SEQ, [self._node(v) for v in data], flow_style=False)
        if kind is int:
            return ScalarNode(_INT, str(data))
        if kind is bool:
            return ScalarNode(_BOOL, "true" if data else "false")
        if data is None:
            return ScalarNode(_NULL, "null")
        if kind is float:
            node: Node = self.represent_float(data)
            return node
        self.alias_key = None
        other: Node = self.represent_data(data)  # anything else, as PyYAML writes it
        return other

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(documents: Sequence[Any]) -> str:
    """`---`-separated YAML, keys in the order the producer gave them."""
    with cyclic_gc_paused():
        return yaml.dump_all(
            list(documents),
            Dumper=_Dumper,
            default_flow_style=False,
            sort_keys=False,
            explicit_start=True,
            allow_unicode=True,
            width=4096,
        )


def dump_json(documents: Sequence[Any]) -> str:
    return json.dumps(list(documents), indent=2) + "\n"
