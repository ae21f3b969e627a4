"""Which intention decides a request, and what it says (service-intentions reference;
intentions overview, "Precedence and match order").

Exactly one source decides a caller/destination pair: the most precise one. In Consul CE
every name lives in namespace `default`, so of the precedence table's rows these remain:
an exact destination before `*`, and for each an exact source name before `*`. A source's
`Action` decides every request (L4); its `Permissions` are tried in order and the first
whose `HTTP` holds decides; a request no permission matches falls to `acl.default_policy`,
as does a pair no intention names. Intentions apply only to mTLS callers: a plaintext
request that a permissive service accepts is not checked (service-defaults reference,
`MutualTLSMode`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.consul._model_match import Lines, http_holds
from adapters.consul._model_paths import Target

ANY = "*"


@dataclass(frozen=True)
class Authz:
    allowed: bool
    #: native name of what decided: `<destination>/<source>` or `<destination>/<source>#<i>`;
    #: None when acl.default_policy did
    rule: str | None


def decide_intention(
    entries: Mapping[tuple[str, str], Mapping[str, Any]],
    destination: str,
    caller: str,
    method: str,
    target: Target,
    lines: Lines,
    default_allow: bool,
) -> Authz:
    for dest in (destination, ANY):
        entry = entries.get(("service-intentions", dest))
        if entry is None:
            continue
        sources = [s for s in entry.get("Sources") or [] if isinstance(s, Mapping)]
        for want in (caller, ANY):
            for src in sources:
                if str(src.get("Name", "")) != want or src.get("Peer") or src.get("SamenessGroup"):
                    continue
                where = f"{dest}/{want}"
                if "Action" in src and not src.get("Permissions"):
                    return Authz(str(src["Action"]) == "allow", where)
                for i, perm in enumerate(src.get("Permissions") or []):
                    if http_holds(perm.get("HTTP") or {}, method, target, lines):
                        return Authz(str(perm.get("Action")) == "allow", f"{where}#{i}")
                return Authz(default_allow, None)
    return Authz(default_allow, None)
