"""Writing resources as deterministic multi-document YAML or JSON."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML


def _yaml() -> YAML:
    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    y.width = 4096
    y.explicit_start = True
    y.indent(mapping=2, sequence=4, offset=2)
    # Shared sub-objects must be written out in full: kubectl users read this.
    y.representer.ignore_aliases = lambda *_: True
    y.allow_unicode = True
    return y


def dump_yaml(documents: Sequence[Any]) -> str:
    """`---`-separated YAML, keys in the order the producer gave them."""
    buf = io.StringIO()
    _yaml().dump_all(list(documents), buf)
    return buf.getvalue()


def dump_json(documents: Sequence[Any]) -> str:
    return json.dumps(list(documents), indent=2) + "\n"
