"""Conformance cases as data: a spec, probes, and hand-written expectations.

A case file holds one neutral spec (YAML text) and the cases that run over
it, so targets that have to start real processes start them once per file.
Expectations are written from the spec's documented meaning, never computed
by a target: that is what lets every target, the oracle included, fail.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from conformance.features import Profile
from meshspec.durations import parse_duration
from meshspec.features import Feature
from meshspec.semantics import Outcome, Transport, host_parts
from meshspec.spec import MtlsMode

NAME = r"^[a-z0-9]([-a-z0-9]{0,78}[a-z0-9])?$"


class CaseModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class RetriesExpect(CaseModel):
    """Only the fields written are compared."""

    attempts: int | None = None
    per_try_timeout: str | None = None
    retry_on: tuple[str, ...] | None = None
    status_codes: tuple[int, ...] | None = None


class Fault(CaseModel):
    """What the backend does to the probe: fail `times` tries with `status`, reset the
    connection on `times` tries without answering (`reset: true`), or answer late."""

    status: int | None = Field(default=None, ge=500, le=599)
    times: int = Field(default=1, ge=1, le=20)
    delay: str | None = None
    reset: bool = False
    #: only this many of each backend version's instances misbehave; the others answer
    instances: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Fault:
        kinds = (self.status is not None) + (self.delay is not None) + self.reset
        if kinds != 1:
            raise ValueError("a fault sets exactly one of 'status', 'delay' or 'reset'")
        if self.instances is not None and self.status is None:
            raise ValueError("'instances' goes with a 'status' fault")
        if self.delay is not None:
            parse_duration(self.delay)
        return self

    @property
    def delay_seconds(self) -> float:
        return 0.0 if self.delay is None else parse_duration(self.delay)


class Expect(CaseModel):
    """What must be observed for a probe. Only the fields written are checked."""

    status: int | None = None
    outcome: Outcome | None = None
    route: str | None = None
    #: the one version of the addressed service that answers
    version: str | None = None
    #: the one backend that answers: `ns/name` or `ns/name:version`
    backend: str | None = None
    #: share of requests per backend: a version of the addressed service, or `ns/name[:version]`
    weights: dict[str, float] | None = None
    #: allowed absolute deviation of each observed share (sampling targets)
    tolerance: float = Field(default=0.05, ge=0, le=0.5)
    authz: Literal["allow", "deny"] | None = None
    #: the rule that decided; null means "the default decided"
    authz_rule: str | None = None
    mtls: MtlsMode | None = None
    transport: Transport | None = None
    #: whole-request timeout: a duration, or "none" when disabled
    timeout: str | None = None
    retries: RetriesExpect | None = None
    #: headers the backend receives (after request edits)
    headers: dict[str, str] | None = None
    absent_headers: tuple[str, ...] | None = None
    outlier_detection: dict[str, Any] | None = None
    connection_limits: dict[str, Any] | None = None
    #: tries the backend saw for the request (first try plus retries), under a `fault`
    attempts: int | None = Field(default=None, ge=1)
    #: how many of the probe's `count` requests end with a 5xx answer
    failed: int | None = Field(default=None, ge=0)

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and value != "none":
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _something(self) -> Expect:
        written = self.model_fields_set - {"tolerance"}
        if not written:
            raise ValueError("an expectation checks at least one thing")
        if len(written & {"version", "backend", "weights"}) > 1:
            raise ValueError("write one of 'version', 'backend' or 'weights'")
        return self

    @property
    def written(self) -> frozenset[str]:
        return frozenset(self.model_fields_set - {"tolerance"})


class Probe(CaseModel):
    """Requests sent by one service (or by a client outside the mesh)."""

    name: str | None = None
    from_: str | None = Field(default=None, alias="from")
    unauthenticated: bool = False
    to: str
    method: str = "GET"
    path: str = "/"
    #: a list sends the header once per value, in order
    headers: dict[str, str | list[str]] = Field(default_factory=dict)
    port: int | None = None
    count: int = Field(default=1, ge=1, le=2000)
    fault: Fault | None = None
    expect: Expect

    @model_validator(mode="after")
    def _one_sender(self) -> Probe:
        if (self.from_ is None) == (not self.unauthenticated):
            raise ValueError("a probe is sent either 'from' a service or 'unauthenticated: true'")
        if "attempts" in self.expect.written and self.fault is None:
            raise ValueError("'attempts' is observed under a 'fault'; add one")
        return self

    @property
    def destination_key(self) -> str:
        """`ns/name` of the addressed service, read from a name, `ns/name` or host name."""
        if "/" in self.to:
            return self.to
        parts = host_parts(self.to.strip().lower().rstrip("."), lambda _suffix: True)
        assert parts is not None  # every suffix is accepted
        name, namespace = parts
        return f"{namespace or 'default'}/{name}"

    def label(self, index: int) -> str:
        return self.name or f"probe-{index + 1}"


class Case(CaseModel):
    name: str = Field(pattern=NAME)
    description: str = Field(min_length=1)
    features: tuple[Feature, ...] = Field(min_length=1)
    probes: tuple[Probe, ...] = Field(min_length=1)


class CaseFile(CaseModel):
    """One spec and the cases that run over it, all in one profile."""

    profile: Profile
    spec: str = Field(min_length=1)
    #: instances a live target runs per service version (a fault may hit only some)
    instances: int = Field(default=1, ge=1, le=4)
    cases: tuple[Case, ...] = Field(min_length=1)


class LoadedCase(BaseModel):
    """A case with the file, profile and spec it came from."""

    model_config = ConfigDict(frozen=True)

    case: Case
    profile: Profile
    spec_text: str
    source: str
    instances: int = 1

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def features(self) -> tuple[Feature, ...]:
        return self.case.features
