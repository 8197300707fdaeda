"""Principals: who a request acts as, and what their scope allows.

Scopes are ordered read < write < admin. A token may be bound to one bin: it then reaches
that bin's routes only, never the server-wide ones (bin list, creating bins, tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = ("read", "write", "admin")
_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}


@dataclass(frozen=True)
class Principal:
    """`kind`: "open" (no access control), "admin" (password, session or trusted SSO header),
    "token" or "share". `actor` names it in the activity log; it never holds a secret."""

    kind: str
    actor: str
    scope: str
    bin_id: str | None = None
    token_id: int | None = None

    def allows(self, needed: str, bin_id: str | None) -> bool:
        """May this principal use a route that needs scope `needed` on bin `bin_id` (None: a
        server-wide route)? A share link reaches nothing through here (views/share.py)."""
        if self.kind == "share" or _RANK[self.scope] < _RANK[needed]:
            return False
        return self.bin_id is None or self.bin_id == bin_id

    @property
    def is_owner(self) -> bool:
        """True for whoever sees a bin as its owner (everyone but a share link)."""
        return self.kind != "share"


OPEN = Principal("open", "anyone (no password is set)", "admin")


def admin(via: str | None = None) -> Principal:
    """The instance's administrator: signed in, HTTP Basic, or named by a trusted proxy."""
    return Principal("admin", f"admin ({via})" if via else "admin", "admin")


def token(token_id: int, label: str, scope: str, bin_id: str | None) -> Principal:
    return Principal("token", f"token “{label}” (#{token_id})", scope, bin_id, token_id)


def check_scope(value: object) -> str:
    """`value` when it names a scope, else ValueError listing them."""
    if value not in _RANK:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    return str(value)
