"""The placeholder scheme for signatures Hookloupe sees but cannot check offline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inspector.signing.schemes.defaults import SchemeDefaults
from inspector.signing.schemes.errors import UnverifiableError
from inspector.signing.schemes.locators import Header
from inspector.signing.schemes.match import Match
from inspector.signing.schemes.message import Message


@dataclass(frozen=True)
class Unverifiable(SchemeDefaults):
    """A signature Hookloupe sees but cannot check offline (PayPal certificates, Plaid JWKs)."""

    signature: Header
    reason: str
    label: str = "unverifiable"
    inferred: bool = False

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        raise UnverifiableError(self.reason)

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        raise UnverifiableError(self.reason)
