"""The catalogue of diagnostic codes: meshspec's own, and each adapter's block.

A code, once published, keeps its meaning forever; retired codes stay here
marked retired so they are never handed out again. Each adapter owns a block
of 1000 numbers (MS1000-MS1999 is Istio's), declares it as its `codes`
(a `CodeBlock`), registers its codes in its package through `register()`, and
emits no code outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshspec.diagnostics import Diagnostic, Location, Severity


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    title: str
    area: str = ""
    retired: bool = False

    def __call__(
        self,
        message: str,
        *,
        location: Location | None = None,
        path: str = "",
        target: str = "",
        hint: str = "",
        severity: Severity | None = None,
        extra: dict[str, object] | None = None,
    ) -> Diagnostic:
        return Diagnostic(
            code=self.code,
            severity=severity or self.severity,
            message=message,
            location=location,
            path=path,
            target=target,
            hint=hint,
            area=self.area,
            extra=extra or {},
        )


CATALOGUE: dict[str, Code] = {}


def register(
    code: str, severity: Severity, title: str, area: str = "", *, retired: bool = False
) -> Code:
    if code in CATALOGUE:
        raise ValueError(f"diagnostic code {code} is already registered")
    entry = Code(code, severity, title, area, retired)
    CATALOGUE[code] = entry
    return entry


def number(code: str) -> int:
    """`MS1505` -> 1505; -1 for anything that is not an `MS` code."""
    digits = code[2:]
    return int(digits) if code.startswith("MS") and digits.isdigit() else -1


@dataclass(frozen=True)
class CodeBlock:
    """The code numbers an adapter owns (`first` to `last`, inclusive)."""

    first: int
    last: int

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.first <= number(code) <= self.last

    def __str__(self) -> str:
        return f"MS{self.first}-MS{self.last}"

    def registered(self) -> list[Code]:
        """The block's codes registered so far (its modules must be imported first)."""
        return sorted(
            (c for c in CATALOGUE.values() if c.code in self), key=lambda c: number(c.code)
        )


E, W = Severity.ERROR, Severity.WARNING

# MS1xx: reading input
READ_FAILED = register("MS101", E, "file cannot be read")
YAML_SYNTAX = register("MS102", E, "not valid YAML")
NO_DOCUMENTS = register("MS103", E, "no meshspec document in the input")
NOT_A_MAPPING = register("MS104", E, "document is not a mapping")
FOREIGN_DOCUMENT = register("MS105", W, "document of another kind or apiVersion skipped")
UNKNOWN_KIND = register("MS106", E, "unknown meshspec kind")
TOO_LARGE = register("MS107", E, "input too large or too deeply nested")
DUPLICATE_KEY = register("MS108", E, "duplicate key in a mapping")
AMBIGUOUS_VALUE = register("MS109", W, "plain value that YAML 1.1 and YAML 1.2 read differently")

# MS2xx: spec validation
SCHEMA = register("MS201", E, "value does not fit the schema")
UNKNOWN_FIELD = register("MS202", E, "unknown field")
DUPLICATE_NAME = register("MS203", E, "duplicate name")
DANGLING_SERVICE = register("MS204", E, "reference to a service that does not exist")
DANGLING_VERSION = register("MS205", E, "reference to a version that does not exist")
BAD_WEIGHTS = register("MS206", E, "weights are negative or all zero")
BAD_REGEX = register("MS207", E, "regex outside the RE2-compatible subset")
BAD_DURATION = register("MS208", E, "duration malformed or out of range")
SHADOWED_MATCH = register("MS209", W, "match can never be selected")
DUPLICATE_MESH = register("MS210", E, "more than one Mesh document")
RETRY_TIMEOUT = register("MS211", W, "per-try timeout longer than the request timeout")
BAD_PATH = register("MS212", E, "path value is not a clean absolute path")
AMBIGUOUS_SERVICE = register("MS213", E, "service reference is ambiguous")
UNREACHABLE_AUTHZ_RULE = register("MS214", W, "authorization rule can never decide", "authz")
BAD_PORT = register("MS215", E, "port reference does not exist")
TCP_ROUTE = register("MS216", W, "HTTP routes do not apply to a TCP-only service")
TARGET_PORT_CONFLICT = register(
    "MS217", E, "service ports share a target port but differ in protocol or mTLS mode"
)

# MS3xx, MS4xx: retired, never handed out again. They were meant as generic compile
# losses and import findings; every loss is reported by the adapter that knows it, with
# a code of its own block, so these were never emitted.
for _code, _severity, _title, _area in (
    ("MS301", W, "target cannot express a field", ""),
    ("MS302", E, "target cannot express a security setting", "authz"),
    ("MS303", W, "target expresses a field only approximately", ""),
    ("MS304", E, "target cannot express an mTLS setting", "mtls"),
    ("MS401", W, "source field has no neutral equivalent", ""),
    ("MS402", W, "imported meaning differs for some requests", ""),
    ("MS403", E, "source object cannot be read", ""),
    ("MS404", W, "source kind is not imported", ""),
    ("MS405", E, "source security setting cannot be kept", "authz"),
    ("MS406", W, "source object refers to something absent", ""),
):
    register(_code, _severity, _title, _area, retired=True)
