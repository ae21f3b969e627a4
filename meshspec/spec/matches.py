"""String matchers shared by routes and authorization rules.

Path prefixes are segment-aware: `/api` matches `/api`, `/api/` and `/api/x`,
never `/apix`. Regexes must match the whole value (RE2 full match).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from meshspec.spec._base import SpecModel


class PathMatchType(StrEnum):
    EXACT = "Exact"
    PREFIX = "Prefix"
    REGEX = "Regex"


class PathMatch(SpecModel):
    """Exactly one of `exact`, `prefix`, `regex`."""

    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PathMatch:
        given = [v for v in (self.exact, self.prefix, self.regex) if v is not None]
        if len(given) != 1:
            raise ValueError("a path match sets exactly one of 'exact', 'prefix' or 'regex'")
        return self

    @property
    def type(self) -> PathMatchType:
        if self.exact is not None:
            return PathMatchType.EXACT
        if self.prefix is not None:
            return PathMatchType.PREFIX
        return PathMatchType.REGEX

    @property
    def value(self) -> str:
        return next(v for v in (self.exact, self.prefix, self.regex) if v is not None)


class StringMatchType(StrEnum):
    EXACT = "Exact"
    PREFIX = "Prefix"
    REGEX = "Regex"
    PRESENT = "Present"


class HeaderMatch(SpecModel):
    """A header condition; names compare case-insensitively (stored lowercase)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None
    present: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HeaderMatch:
        given = [v for v in (self.exact, self.prefix, self.regex) if v is not None]
        if self.present is not None:
            if self.present is not True:
                raise ValueError("'present' can only be true; to match absence use no match")
            given.append("")
        if len(given) != 1:
            raise ValueError(
                "a header match sets exactly one of 'exact', 'prefix', 'regex' or 'present'"
            )
        object.__setattr__(self, "name", self.name.lower())
        return self

    @property
    def type(self) -> StringMatchType:
        if self.exact is not None:
            return StringMatchType.EXACT
        if self.prefix is not None:
            return StringMatchType.PREFIX
        if self.regex is not None:
            return StringMatchType.REGEX
        return StringMatchType.PRESENT

    @property
    def value(self) -> str:
        for v in (self.exact, self.prefix, self.regex):
            if v is not None:
                return v
        return ""


class QueryParamMatch(SpecModel):
    """A query parameter condition; names are case-sensitive."""

    name: str = Field(min_length=1)
    exact: str | None = None
    regex: str | None = None
    present: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> QueryParamMatch:
        given = [v for v in (self.exact, self.regex) if v is not None]
        if self.present is not None:
            if self.present is not True:
                raise ValueError("'present' can only be true")
            given.append("")
        if len(given) != 1:
            raise ValueError("a query match sets exactly one of 'exact', 'regex' or 'present'")
        return self

    @property
    def type(self) -> StringMatchType:
        if self.exact is not None:
            return StringMatchType.EXACT
        if self.regex is not None:
            return StringMatchType.REGEX
        return StringMatchType.PRESENT

    @property
    def value(self) -> str:
        return self.exact if self.exact is not None else (self.regex or "")
