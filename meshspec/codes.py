"""The catalogue of meshspec's own diagnostic codes.

A code, once published, keeps its meaning forever; retired codes stay here
marked retired so they are never handed out again. Adapters keep their own
blocks (MS1000+) in their packages and register them through `register()`.
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


def register(code: str, severity: Severity, title: str, area: str = "") -> Code:
    if code in CATALOGUE:
        raise ValueError(f"diagnostic code {code} is already registered")
    entry = Code(code, severity, title, area)
    CATALOGUE[code] = entry
    return entry


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

# MS3xx: compile losses (generic across targets)
UNSUPPORTED_FIELD = register("MS301", W, "target cannot express a field")
UNSUPPORTED_SECURITY = register("MS302", E, "target cannot express a security setting", "authz")
APPROXIMATED = register("MS303", W, "target expresses a field only approximately")
UNSUPPORTED_MTLS = register("MS304", E, "target cannot express an mTLS setting", "mtls")

# MS4xx: import findings (generic across sources)
IMPORT_UNSUPPORTED_FIELD = register("MS401", W, "source field has no neutral equivalent")
IMPORT_BEHAVIOUR_CHANGE = register("MS402", W, "imported meaning differs for some requests")
IMPORT_UNREADABLE = register("MS403", E, "source object cannot be read")
IMPORT_UNSUPPORTED_KIND = register("MS404", W, "source kind is not imported")
IMPORT_SECURITY_LOSS = register("MS405", E, "source security setting cannot be kept", "authz")
IMPORT_DANGLING = register("MS406", W, "source object refers to something absent")
