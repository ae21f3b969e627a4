"""Which kind of change a difference is: security, traffic or resilience.

Security: a request gets through that did not (or reaches more of its
backends), or a port's mTLS is weaker, or a connection that was mTLS is now
plaintext. Resilience: only timeouts, retries or breakers moved. Everything
else that changes an answer (route, backends and shares, status, a request
now refused, the deciding rule, header edits) is traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from meshspec.adapter import Verdict
from meshspec.semantics import Transport
from meshspec.spec import MtlsMode

RESILIENCE_FIELDS = frozenset({"timeout", "retries", "breakers"})

#: how far a request gets: refused outright, through to some backends, through
_REACH = {"forwarded": 2, "partially_denied": 1}
_MTLS_STRENGTH = {MtlsMode.STRICT: 2, MtlsMode.PERMISSIVE: 1, MtlsMode.DISABLE: 0}


class Category(StrEnum):
    SECURITY = "security"
    TRAFFIC = "traffic"
    RESILIENCE = "resilience"

    def rank(self) -> int:
        """0 is the most serious."""
        return list(Category).index(self)

    def at_least(self, threshold: Category) -> bool:
        return self.rank() <= threshold.rank()


def classify(old: Verdict, new: Verdict, fields: Mapping[str, tuple[Any, Any]]) -> Category:
    if newly_allowed(old, new) or mtls_weakened(old, new):
        return Category.SECURITY
    if set(fields) <= RESILIENCE_FIELDS:
        return Category.RESILIENCE
    return Category.TRAFFIC


def newly_allowed(old: Verdict, new: Verdict) -> bool:
    if old.outcome == "unknown_service":
        return False
    if _REACH.get(new.outcome, 0) > _REACH.get(old.outcome, 0):
        return True
    return old.authz == "deny" and new.authz == "allow"


def mtls_weakened(old: Verdict, new: Verdict) -> bool:
    if (
        old.mtls is not None
        and new.mtls is not None
        and _MTLS_STRENGTH.get(new.mtls, 0) < _MTLS_STRENGTH.get(old.mtls, 0)
    ):
        return True
    return old.transport is Transport.MTLS and new.transport is Transport.PLAINTEXT
