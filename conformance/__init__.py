"""One conformance suite for every backend: cases as data, targets as plug-ins.

A case declares what it needs (features) and what must happen (probes and
expectations, written by hand from the spec's documented meaning). A target
declares what it supports and what it can observe. Only the runner decides
whether a case runs, and the report is derived only from recorded results.
"""

from conformance.case import Case, CaseFile, Expect, Probe
from conformance.features import Profile
from conformance.library import builtin_cases, load_cases
from conformance.results import CaseResult, Result, TargetReport
from conformance.runner import run_target
from meshspec.features import Feature

__all__ = [
    "Case",
    "CaseFile",
    "CaseResult",
    "Expect",
    "Feature",
    "Probe",
    "Profile",
    "Result",
    "TargetReport",
    "builtin_cases",
    "load_cases",
    "run_target",
]
