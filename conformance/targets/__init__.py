"""The targets the suite runs against, found by name."""

from __future__ import annotations

from conformance.targets.base import NotSupported, Session, Target, TargetUnavailable
from conformance.targets.discovery import default_target_names, get_target, target_names

__all__ = [
    "NotSupported",
    "Session",
    "Target",
    "TargetUnavailable",
    "default_target_names",
    "get_target",
    "target_names",
]
