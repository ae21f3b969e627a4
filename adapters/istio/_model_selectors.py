"""Which policies can select a workload, looked up instead of scanned.

A PeerAuthentication or AuthorizationPolicy applies to the pods its
`selector.matchLabels` picks (no selector: every pod of its namespace), from the
workload's own namespace and the root namespace (istio/api
`type/v1beta1/selector.proto`; `_model_authz`, `_model_mtls`). A selector picks a
pod only if the pod carries each of its labels, so one of those labels, chosen
once per policy, files the policy under (namespace, label, value): a workload's
candidates are the policies filed under one of its own labels plus those with no
usable selector. The candidates are a superset, in the input's order; the model's
own reading of the selector decides. Without this, every workload of a namespace
read every policy of it: the square of the namespace's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: the label Istio's policies select workloads by, by convention
APP = "app"


def selector_of(policy: Mapping[str, Any]) -> Any:
    """`spec.selector` of a policy (None when its spec is no map: filed under every pod)."""
    spec = policy.get("spec")
    return spec.get("selector") if isinstance(spec, Mapping) else None


class SelectorIndex(Generic[T]):
    """Items (policies, or the documents holding them) by namespace and selector label."""

    def __init__(self, items: Iterable[tuple[str, Any, T]]) -> None:
        """`items`: (namespace, `spec.selector`, item), in the input's order."""
        self._items: list[T] = []
        #: namespace -> positions of items whose selector picks every pod, or that are
        #: not a label map the index can read (the model reads those itself)
        self._everyone: dict[str, list[int]] = {}
        #: (namespace, label, value) -> positions of items whose selector requires it
        self._by_label: dict[tuple[str, str, str], list[int]] = {}
        #: namespace -> positions of items whose selector names labels but not `app`
        self._without_app: dict[str, list[int]] = {}
        for position, (namespace, selector, item) in enumerate(items):
            self._items.append(item)
            wanted = selector.get("matchLabels") if isinstance(selector, Mapping) else None
            if not wanted or not isinstance(wanted, Mapping):
                self._everyone.setdefault(namespace, []).append(position)
                continue
            if APP in wanted:
                label, value = APP, wanted[APP]
            else:
                label, value = next(iter(wanted.items()))
                self._without_app.setdefault(namespace, []).append(position)
            self._by_label.setdefault((namespace, str(label), str(value)), []).append(position)

    def selecting(self, namespaces: Sequence[str], labels: Mapping[str, str]) -> list[T]:
        """The items of each namespace in turn (input order within one) that can select
        pods with these labels."""
        out: list[T] = []
        for namespace in namespaces:
            found = list(self._everyone.get(namespace, ()))
            for label, value in labels.items():
                found += self._by_label.get((namespace, label, value), ())
            out += [self._items[p] for p in sorted(set(found))]
        return out

    def not_other_app(self, namespaces: Sequence[str], app: str) -> list[T]:
        """The items of each namespace in turn whose selector does not require an `app`
        other than this one."""
        out: list[T] = []
        for namespace in namespaces:
            found = [
                *self._everyone.get(namespace, ()),
                *self._by_label.get((namespace, APP, app), ()),
                *self._without_app.get(namespace, ()),
            ]
            out += [self._items[p] for p in sorted(set(found))]
        return out
