"""Shared pieces of the spec models: strictness, camelCase names, durations."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from meshspec.durations import DURATION_PATTERN, format_duration, parse_duration


class SpecModel(BaseModel):
    """Frozen, unknown fields rejected, camelCase in files, snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )


def _to_seconds(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError("a duration is a string such as '250ms', '10s' or '1m'")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a duration is a string such as '250ms', '10s' or '1m'")
    if isinstance(value, int | float):
        raise ValueError(f"write durations with a unit, e.g. '{value}s'")
    return value


Duration = Annotated[
    float,
    BeforeValidator(_to_seconds),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["250ms", "10s"]}),
]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
