"""What most non-HMAC schemes share: their name, when they apply, when they are present."""

from __future__ import annotations

from typing import Protocol

from inspector.signing.schemes.locators import BodyField, Header
from inspector.signing.schemes.message import Message


class _Signed(Protocol):
    """A scheme whose signature sits in one header or body field."""

    @property
    def signature(self) -> Header | BodyField: ...


class SchemeDefaults:
    """What most schemes share: named by their label, in use for every message of their
    provider, present when their signature header (or body field) is."""

    # Every subclass is a dataclass with a `label` field.
    label: str

    @property
    def name(self) -> str:
        return self.label

    def applies(self, msg: Message) -> bool:
        return True

    def is_present(self: _Signed, msg: Message) -> bool:
        # AdyenItems has no single signature place and overrides this.
        return self.signature.is_present(msg)
