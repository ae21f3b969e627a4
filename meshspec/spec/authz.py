"""Authorization: DENY rules first, then ALLOW rules, then the default."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from meshspec.spec._base import DNS_LABEL, SpecModel
from meshspec.spec.matches import HeaderMatch, PathMatch
from meshspec.spec.routes import HTTPMethod


class AuthzAction(StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"


class DefaultAction(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class Source(SpecModel):
    """Exactly one kind of peer: services, namespaces, identities, or (un)authenticated."""

    services: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    identities: tuple[str, ...] = Field(default=(), description="SPIFFE IDs, spiffe://td/...")
    authenticated: bool | None = None
    unauthenticated: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        kinds = [
            bool(self.services),
            bool(self.namespaces),
            bool(self.identities),
            self.authenticated is not None,
            self.unauthenticated is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "a source sets exactly one of 'services', 'namespaces', 'identities', "
                "'authenticated' or 'unauthenticated'"
            )
        if self.authenticated is False or self.unauthenticated is False:
            raise ValueError("'authenticated' and 'unauthenticated' can only be true")
        for ident in self.identities:
            if not ident.startswith("spiffe://"):
                raise ValueError(f"identity '{ident}' is not a SPIFFE ID (spiffe://...)")
        return self


class Operation(SpecModel):
    """Methods are ORed, paths are ORed, headers are ANDed; omitted = any."""

    methods: tuple[HTTPMethod, ...] = ()
    paths: tuple[PathMatch, ...] = ()
    headers: tuple[HeaderMatch, ...] = ()


class AuthzRule(SpecModel):
    name: str = Field(pattern=DNS_LABEL)
    action: AuthzAction
    from_: tuple[Source, ...] = Field(default=(), alias="from")
    to: Operation | None = None


class Authorization(SpecModel):
    default: DefaultAction = DefaultAction.ALLOW
    rules: tuple[AuthzRule, ...] = ()
