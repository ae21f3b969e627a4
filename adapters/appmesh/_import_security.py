"""Listener TLS -> mTLS modes; SAN allow-lists and declared backends -> authorization.

App Mesh has TLS off unless a listener sets it (user guide `tls.md`): a listener
`tls.mode` STRICT accepts TLS only, PERMISSIVE TLS or plaintext, DISABLED
plaintext. Client certificates are asked for only with `tls.validation` (user
guide `mutual-tls.md`), so STRICT without validation is one-way TLS: the neutral
STRICT (mutual TLS) is stricter, MS3203 says so.

App Mesh has no request authorization (semantics: no authorization resource).
What limits callers is (a) a listener's `validation.subjectAlternativeNames`,
checked on each connection, and (b) with the mesh's `egressFilter` DROP_ALL
(the default), a node reaches only the virtual services it declares as
`backends` (API reference `EgressFilter`, `Backend`). Both become ALLOW rules
with default deny; MS3202 says what that means and what it does not add.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.appmesh import codes as C
from adapters.appmesh.resources import TARGET, ClientTls, VirtualNode

if TYPE_CHECKING:
    from adapters.appmesh.importer import Context, ServiceDraft

#: strictest first
_ORDER = {"STRICT": 0, "PERMISSIVE": 1, "DISABLE": 2}


def listener_mode(node: VirtualNode, port: int | None = None) -> str:
    """The neutral mode a node's listener gives (the strictest of its listeners)."""
    modes = []
    for li in node.listeners:
        if port is not None and li.port != port:
            continue
        tls = li.tls
        mode = "DISABLE" if tls is None or tls.mode == "DISABLED" else tls.mode
        modes.append(mode if mode in _ORDER else "DISABLE")
    return min(modes, key=_ORDER.__getitem__) if modes else "DISABLE"


def import_security(ctx: Context) -> None:
    for draft in ctx.services.values():
        nodes = [n for n in (ctx.node(name) for name in draft.nodes()) if n is not None]
        if not nodes:
            continue
        _mtls(ctx, draft, nodes)
        _authorization(ctx, draft, nodes)


def _mtls(ctx: Context, draft: ServiceDraft, nodes: list[VirtualNode]) -> None:
    modes = {n.name: listener_mode(n) for n in nodes}
    mode = min(modes.values(), key=_ORDER.__getitem__)
    per_node = {n.name: tuple(listener_mode(n, li.port) for li in n.listeners) for n in nodes}
    if len(set(per_node.values())) > 1:
        ctx.diagnostics.append(
            C.MTLS_MIXED(
                f"{draft.key}: its virtual nodes differ in listener TLS ("
                + ", ".join(f"{n} {m}" for n, m in sorted(modes.items()))
                + f"); the neutral service takes the strictest, {mode}",
                location=nodes[0].where,
                target=TARGET,
            )
        )
    for node in nodes:
        for li in node.listeners:
            if li.tls is not None and li.tls.mode == "STRICT" and not li.tls.validates_clients:
                ctx.diagnostics.append(
                    C.TLS_ONE_WAY(
                        f"virtual node {node.name} port {li.port}: TLS without client "
                        "certificate validation; the neutral STRICT also requires the client's "
                        "certificate",
                        location=node.where,
                        target=TARGET,
                        hint="clients of the new mesh get certificates from it; nothing to do "
                        "unless a client outside the mesh called this port over TLS",
                    )
                )
    # a listener per port: where ports differ, the neutral service keeps a mode per port
    by_port: dict[int, str] = {}
    for node in nodes:
        for li in node.listeners:
            port_mode = listener_mode(node, li.port)
            known = by_port.get(li.port, port_mode)
            by_port[li.port] = min(known, port_mode, key=_ORDER.__getitem__)
    service_ports = {port for port, _ in draft.ports}
    ports = {p: m for p, m in by_port.items() if p in service_ports}
    if len(set(ports.values())) > 1:
        common = max(set(ports.values()), key=lambda m: (list(ports.values()).count(m), -_ORDER[m]))
        mode = common
        draft.mtls = {"mode": mode, "ports": {p: m for p, m in sorted(ports.items()) if m != mode}}
    elif mode != "DISABLE":
        draft.mtls = {"mode": mode}
    _client_side(ctx, draft, mode)


def _client_tls(caller: VirtualNode, service: str) -> ClientTls | None:
    for backend in caller.backends:
        if backend.virtual_service == service and backend.tls is not None:
            return backend.tls
    return caller.default_tls


def _client_side(ctx: Context, draft: ServiceDraft, mode: str) -> None:
    """Callers whose client policy cannot reach the server as it listens."""
    if draft.virtual_service is None:
        return
    for caller in ctx.mesh.nodes.values():
        if draft.virtual_service not in [b.virtual_service for b in caller.backends]:
            continue
        policy = _client_tls(caller, draft.virtual_service)
        # a policy that is not enforced sends plaintext (`ClientTls.applies`)
        unenforced = policy is not None and not policy.enforce
        tls = None if unenforced else policy
        plaintext = (
            "does not enforce its client policy TLS (enforce: false), so it sends plaintext"
            if unenforced
            else "sends plaintext"
        )
        problem = ""
        hint = "requests that fail in App Mesh today succeed after the move"
        if mode == "STRICT" and tls is None:
            problem = f"{plaintext} to a STRICT listener (App Mesh refuses it)"
        elif mode == "STRICT" and tls is not None and not tls.has_certificate:
            problem = "presents no client certificate"
        elif mode == "PERMISSIVE" and unenforced:
            problem = f"{plaintext} to a PERMISSIVE listener"
            hint = "the neutral sidecars use mTLS here: the connection is encrypted after the move"
        elif mode == "DISABLE" and tls is not None and tls.enforce:
            problem = "enforces TLS towards a listener without TLS (App Mesh fails it)"
        if problem:
            ctx.diagnostics.append(
                C.CLIENT_TLS(
                    f"virtual node {caller.name} calling {draft.virtual_service} {problem}; "
                    "the neutral spec has no client-side TLS setting: its sidecars always "
                    "speak the server's mode",
                    location=caller.where,
                    target=TARGET,
                    hint=hint,
                )
            )


def _authorization(ctx: Context, draft: ServiceDraft, nodes: list[VirtualNode]) -> None:
    if draft.virtual_service is None and _drop_all(ctx):
        # no virtual service names the node: no node of the mesh has a route to it
        draft.authorization = {"default": "deny"}
        ctx.diagnostics.append(
            C.EGRESS_AUTHZ(
                f"{draft.key}: no virtual service names virtual node {draft.provider_node}, so "
                "with egress filter DROP_ALL no node of the mesh reaches it; the neutral "
                "service denies every caller (a client outside the mesh too)",
                location=nodes[0].where,
                target=TARGET,
                hint="add an ALLOW rule for a client that must reach it",
            )
        )
        return
    rules: list[dict[str, Any]] = []
    sans: set[str] = set()
    for node in nodes:
        for li in node.listeners:
            if li.tls is not None and li.tls.client_sans:
                sans |= set(li.tls.client_sans)
    if sans:
        spiffe = sorted(s for s in sans if s.startswith("spiffe://"))
        other = sorted(sans - set(spiffe))
        if other:
            ctx.diagnostics.append(
                C.SAN_NOT_SPIFFE(
                    f"{draft.key}: listeners accept only clients whose certificate names "
                    + ", ".join(other)
                    + "; the neutral spec names callers by SPIFFE ID or service, so this "
                    "allow-list cannot be kept",
                    location=nodes[0].where,
                    target=TARGET,
                    hint="issue SPIFFE IDs (e.g. with SPIRE) and list those, or allow the loss "
                    "with --allow-lossy authz",
                )
            )
        if spiffe:
            rules.append(
                {"name": "listener-sans", "action": "ALLOW", "from": [{"identities": spiffe}]}
            )
    callers = _declared_callers(ctx, draft)
    everyone = sorted(k for k in ctx.services if k != draft.key)
    if callers == everyone:
        callers = None  # every node may call it: the egress filter restricts nothing here
    if callers is not None and callers:
        names = sorted({ctx.caller_name(c, draft) for c in callers})
        rules.append(
            {"name": "declared-backends", "action": "ALLOW", "from": [{"services": names}]}
        )
        ctx.diagnostics.append(
            C.EGRESS_AUTHZ(
                f"{draft.key}: with egress filter DROP_ALL it is reached only from the nodes "
                f"that declare it as a backend ({', '.join(names)}); the neutral rule "
                "'declared-backends' allows just them. It adds a "
                "check on the server's side, by the caller's identity (App Mesh checked only in "
                "the callers' Envoys), so a client outside the mesh or a gateway is now refused "
                "too; it adds no path, method or header condition (App Mesh has none)",
                location=nodes[0].where,
                target=TARGET,
                hint="add an ALLOW rule for any other client that must keep access",
            )
        )
    if callers == []:
        ctx.diagnostics.append(
            C.EGRESS_AUTHZ(
                f"{draft.key}: no virtual node declares it as a backend, so with egress filter "
                "DROP_ALL no node of the mesh reaches it; the neutral service denies every "
                "caller (a gateway or a client outside the mesh too)",
                location=nodes[0].where,
                target=TARGET,
                hint="add an ALLOW rule for the gateway or client that must reach it",
            )
        )
    if rules or callers == []:
        draft.authorization = {"default": "deny", "rules": rules}


def _drop_all(ctx: Context) -> bool:
    mesh = ctx.mesh.meshes.get(next(iter(ctx.mesh.meshes), ""))
    return mesh is None or mesh.egress_filter == "DROP_ALL"


def _declared_callers(ctx: Context, draft: ServiceDraft) -> list[str] | None:
    """The neutral services whose nodes declare this virtual service as a backend; None
    when the egress filter lets every node reach it."""
    if draft.virtual_service is None:
        return None
    mesh = ctx.mesh.meshes.get(next(iter(ctx.mesh.meshes), ""))
    if mesh is not None and mesh.egress_filter == "ALLOW_ALL":
        return None
    callers: list[str] = []
    for node in ctx.mesh.nodes.values():
        if draft.virtual_service in [b.virtual_service for b in node.backends]:
            callers += [k for k in ctx.by_node.get(node.name, []) if k != draft.key]
    return sorted(set(callers))
