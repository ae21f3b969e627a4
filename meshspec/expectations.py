"""Expected answers for `explain --expect` and `meshspec test`: policy as code.

An expectation names a field of the decision and the value it must have
(`status=403`, `route=admin`, `version=v1,v2`). Values are compared as the
oracle reports them, so a check passes or fails exactly when `explain` would
show that value. Unknown field names and malformed values are usage errors,
never silently ignored checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from meshspec.durations import format_duration, parse_duration
from meshspec.semantics import Decision

NONE_WORDS = frozenset({"none", "null", "-", "~"})


class ExpectationError(ValueError):
    """An expectation that cannot be checked: unknown field or bad value."""


def _none(value: object) -> str:
    return "none" if value is None else str(value)


def _status(d: Decision) -> str:
    return _none(d.status)


def _versions(d: Decision) -> str:
    return ",".join(sorted({b.version or "none" for b in d.weighted_backends})) or "none"


def _backends(d: Decision) -> str:
    return ",".join(sorted({b.service for b in d.weighted_backends})) or "none"


def _outcome(d: Decision) -> str:
    return str(d.outcome)


def _authz(d: Decision) -> str:
    return "none" if d.authz is None else str(d.authz.decision)


def _rule(d: Decision) -> str:
    return "none" if d.authz is None or d.authz.rule is None else d.authz.rule


def _timeout(d: Decision) -> str:
    return "none" if d.timeout is None else format_duration(d.timeout)


@dataclass(frozen=True)
class Field:
    name: str
    help: str
    observe: Callable[[Decision], str]
    #: how an expected value is brought to the observed spelling
    normalise: Callable[[str], str] = lambda v: v
    #: comma-separated sets compare without order
    is_set: bool = False


def _lower(v: str) -> str:
    return v.lower()


def _upper(v: str) -> str:
    return v.upper()


def _int(v: str) -> str:
    try:
        return str(int(v))
    except ValueError:
        raise ExpectationError(f"{v!r} is not a whole number") from None


def _duration(v: str) -> str:
    try:
        return format_duration(parse_duration(v))
    except ValueError as exc:
        raise ExpectationError(str(exc)) from None


FIELDS: Mapping[str, Field] = {
    f.name: f
    for f in (
        Field("status", "HTTP status the mesh answers itself; none when forwarded", _status, _int),
        Field("outcome", "forwarded, denied, no_route, mtls_refused, ...", _outcome),
        Field("route", "name of the chosen route", lambda d: _none(d.route)),
        Field("version", "versions that get traffic (comma-separated set)", _versions, is_set=True),
        Field("backend", "services that get traffic, ns/name (set)", _backends, is_set=True),
        Field("authz", "allow or deny", _authz, _lower),
        Field("rule", "authorization rule that decided; none = the default", _rule),
        Field("mtls", "STRICT, PERMISSIVE or DISABLE", lambda d: _none(d.mtls), _upper),
        Field("transport", "mtls or plaintext", lambda d: _none(d.transport), _lower),
        Field("timeout", "request timeout, e.g. 10s", _timeout, _duration),
        Field("retries", "retry attempts", lambda d: str(d.retries.attempts), _int),
    )
}


@dataclass(frozen=True)
class Expectation:
    field: str
    value: str

    def expected(self) -> str:
        spec = FIELDS[self.field]
        raw = self.value.strip()
        if raw.lower() in NONE_WORDS:
            return "none"
        if spec.is_set:
            return ",".join(sorted(spec.normalise(p.strip()) for p in raw.split(",") if p.strip()))
        return spec.normalise(raw)


@dataclass(frozen=True)
class Mismatch:
    field: str
    expected: str
    decided: str

    def __str__(self) -> str:
        return f"{self.field} expected {self.expected}, decided {self.decided}"


def expectation(name: str, value: object) -> Expectation:
    key = name.strip()
    if key not in FIELDS:
        raise ExpectationError(f"cannot expect {key!r}: fields are {', '.join(FIELDS)}")
    if isinstance(value, bool) or not isinstance(value, (str, int, list, type(None))):
        raise ExpectationError(f"{key}: expected a string, number or list, not {value!r}")
    if value is None:
        text = "none"
    elif isinstance(value, list):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    exp = Expectation(key, text)
    exp.expected()  # a malformed value fails now, not at check time
    return exp


def parse_expect_option(texts: Iterable[str]) -> list[Expectation]:
    """`status=403,route=admin` (repeatable). A part without '=' continues the
    previous value, so `version=v1,v2` is one set."""
    pairs: list[list[str]] = []
    for text in texts:
        for part in text.split(","):
            name, found, value = part.partition("=")
            if found:
                pairs.append([name, value])
            elif pairs and part.strip():
                pairs[-1][1] += "," + part
            elif part.strip():
                raise ExpectationError(f"{part!r} is not FIELD=VALUE")
    return [expectation(name, value) for name, value in pairs]


def check(decision: Decision, expectations: Iterable[Expectation]) -> list[Mismatch]:
    out = []
    for exp in expectations:
        decided = FIELDS[exp.field].observe(decision)
        wanted = exp.expected()
        if decided != wanted:
            out.append(Mismatch(exp.field, wanted, decided))
    return out
