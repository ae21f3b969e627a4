"""What a conformance target is: features it supports, things it observes, sessions.

A session is opened once per case file (one spec) and answers probes; a
target that starts real processes starts them when the session opens and
stops them when it closes.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from conformance.case import Probe
from conformance.observation import Observation
from meshspec.spec import Spec


class NotSupported(Exception):
    """The target cannot run this spec (e.g. its compiler reports an error)."""


class TargetUnavailable(Exception):
    """The target cannot run at all here (its package is missing, no cluster, ...)."""


@runtime_checkable
class Session(Protocol):
    def probe(self, probe: Probe) -> Observation: ...


@runtime_checkable
class Target(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def features(self) -> frozenset[str]: ...

    @property
    def feature_gaps(self) -> Mapping[str, str]:
        """Why it lacks a feature it does not have, where it knows (feature -> reason)."""
        ...

    @property
    def observes(self) -> frozenset[str]:
        """Observation fields this target can show (see `conformance.observation`)."""
        ...

    def check_available(self) -> None:
        """Raise TargetUnavailable with the reason when the target cannot run here."""

    def open(
        self, spec: Spec, spec_text: str, instances: int = 1
    ) -> AbstractContextManager[Session]:
        """A session over `spec`; a live target runs `instances` instances per version."""
        ...
