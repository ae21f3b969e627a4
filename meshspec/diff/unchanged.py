"""Services whose answers cannot differ between two specs, so they need not be asked.

The oracle's answer for a request to service D reads: the mesh settings, which
services exist and their identities (for resolving names and matching peers),
D's own document, and the documents of the services D's routes send to. When
all of these are equal on both sides, every request to D gets the same answer
from both, whoever sends it. A pull request that touches three services of
five hundred is then checked on the three.
"""

from __future__ import annotations

from meshspec.spec import Spec


def unchanged_services(old: Spec, new: Spec) -> set[str]:
    if old.mesh != new.mesh or set(old.services) != set(new.services):
        return set()
    if any(old.identity(k) != new.identity(k) for k in old.services):
        return set()
    same = {k for k in old.services if old.services[k] == new.services[k]}
    out = set()
    for key in same:
        if all(dep in same for dep in _backends(old, key)):
            out.add(key)
    return out


def _backends(spec: Spec, key: str) -> set[str]:
    doc = spec.services[key]
    out = set()
    for route in doc.spec.routes:
        for b in route.backends:
            if b.service is not None:
                found = spec.resolve(b.service, doc.metadata.namespace)
                out.add(found if found is not None else b.service)
    return out
