"""How a request's header fields are read, defined once for routing and authorization.

1. Names compare case-insensitively.
2. A field line's value excludes its leading and trailing whitespace (SP and
   HTAB; RFC 9110 §5.5): `x-debug: 1 ` and `x-debug:\t1\t` carry the value `1`.
3. Field lines of one name combine, in order, into one value joined with `,`
   (RFC 9110 §5.3 allows the combination; `,` without a space is how Envoy
   joins them for matching since CVE-2020-25017). Two lines `1` and `1` are
   `1,1`, the same as one line `1,1`.

Route matches and ALLOW rules test the combined value, so repeating a header
never widens an ALLOW. A DENY rule's header condition also holds when it holds
for any comma-separated element of the combined value (whitespace around the
element removed): a DENY on `exact: "1"` denies `1`, `1 `, `1,1`, `2, 1`, so
no padding or repetition dodges a DENY. Only the combined value is needed to
answer, so a proxy that combines lines as above reads every request alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

#: what RFC 9110 §5.6.3 calls optional whitespace
OWS = " \t"

HeaderInput = Mapping[str, str | Sequence[str]]


def combine(lines: Iterable[str]) -> str:
    """One value for the field lines of one name: each stripped, joined with `,`."""
    return ",".join(line.strip(OWS) for line in lines)


def header_values(headers: HeaderInput) -> dict[str, str]:
    """Lower-case names to combined values; a sequence stands for repeated field lines.

    Names that differ only in case are separate lines of one field, in the order given.
    """
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        joined = value.strip(OWS) if isinstance(value, str) else combine(value)
        out[key] = f"{out[key]},{joined}" if key in out else joined
    return out


def field_lines_values(lines: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names to combined values, from (name, value) field lines as received."""
    out: dict[str, str] = {}
    for name, value in lines:
        key = name.lower()
        stripped = value.strip(OWS)
        out[key] = f"{out[key]},{stripped}" if key in out else stripped
    return out


def deny_candidates(value: str) -> tuple[str, ...]:
    """The values a DENY condition is tested against: the combined value and its elements."""
    if "," not in value:
        return (value,)
    return (value, *(element.strip(OWS) for element in value.split(",")))
