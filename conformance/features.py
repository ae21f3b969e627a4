"""The profiles cases are scored in; the feature vocabulary is `meshspec.features`.

The vocabulary lives in `meshspec` so adapters can declare their features
with the same constants the cases use; it is re-exported here for the case
format's readers.
"""

from __future__ import annotations

from enum import StrEnum

from meshspec.features import ALL_FEATURES, Feature


class Profile(StrEnum):
    """A group of cases a target is scored on as a whole (one row of the matrix)."""

    ROUTING = "routing"
    TRAFFIC_SPLIT = "traffic-split"
    RETRIES_TIMEOUTS = "retries-timeouts"
    MTLS = "mtls"
    AUTHORIZATION = "authorization"
    RESILIENCE = "resilience"
    PATH_NORMALIZATION = "path-normalization"


__all__ = ["ALL_FEATURES", "Feature", "Profile"]
