"""Adyen's classic scheme: an HMAC inside every notification item of the body."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from inspector.safejson import loads_bounded
from inspector.signing.schemes.defaults import SchemeDefaults
from inspector.signing.schemes.display import preview
from inspector.signing.schemes.encoding import encode, read_key
from inspector.signing.schemes.errors import (
    MalformedSignatureError,
    MissingSignatureError,
    SdkRejectionError,
    SecretFormatError,
    SignatureMismatchError,
)
from inspector.signing.schemes.match import Match
from inspector.signing.schemes.message import Message, as_text, dig


@dataclass(frozen=True)
class AdyenItems(SchemeDefaults):
    """Adyen classic notifications: each `NotificationRequestItem` carries its own
    `additionalData.hmacSignature` over eight colon-joined fields, key hex-decoded."""

    label: str = "Adyen HMAC (per item)"
    inferred: bool = False
    fields: tuple[str, ...] = (
        "pspReference",
        "originalReference",
        "merchantAccountCode",
        "merchantReference",
        "amount.value",
        "amount.currency",
        "eventCode",
        "success",
    )

    def _items(self, msg: Message) -> list[dict[str, Any]]:
        items = msg.field("notificationItems") or []
        return [i.get("NotificationRequestItem", {}) for i in items if isinstance(i, dict)]

    def is_present(self, msg: Message) -> bool:
        return any(dig(i, "additionalData.hmacSignature") for i in self._items(msg))

    def signed_string(self, item: dict[str, Any], *, python: bool = True) -> bytes:
        """The eight fields joined by `:`, each written as Adyen's SDK writes it (Python's
        `str()`: `True`, `None`), or with `python=False` as JSON spells it (`true`, ``)."""
        write = _python_text if python else as_text
        return ":".join(write(dig(item, f)) if "." in f else write(item.get(f, "")) for f in self.fields).encode()

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        key = read_key(secret, "hex")
        if key is None:
            raise SecretFormatError("the HMAC key is not hex")
        try:
            data = loads_bounded(msg.body)
            for wrapper in data.get("notificationItems", []):
                item = wrapper["NotificationRequestItem"]
                digest = hmac.new(key, self.signed_string(item), "sha256").digest()
                item.setdefault("additionalData", {})["hmacSignature"] = encode(digest, "base64")
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            # A capture (perhaps edited) that is not a notification cannot be signed as one.
            raise MalformedSignatureError(f"the body is not an Adyen notification ({error})") from None
        return replace(msg, body=json.dumps(data, separators=(",", ":")).encode())

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        items = self._items(msg)
        if not items:
            raise MissingSignatureError("no notificationItems in the body", missing="notificationItems")
        key = read_key(secret, "hex")
        if key is None:
            raise SecretFormatError("the HMAC key is not hex")
        for index, item in enumerate(items):
            received = as_text(dig(item, "additionalData.hmacSignature"))
            content = self.signed_string(item)
            expected = encode(hmac.new(key, content, "sha256").digest(), "base64")
            amount = item.get("amount")
            if not (isinstance(amount, dict) and "value" in amount and "currency" in amount) and received:
                # Adyen's SDK reads amount.value and amount.currency unguarded, and fails without them.
                raise MalformedSignatureError(f"item {index} has no amount with value and currency", item=index)
            json_spelled = self.signed_string(item, python=False)
            if received and content != json_spelled and _matches(key, json_spelled, received):
                raise SdkRejectionError(
                    f"item {index} with its fields spelled as JSON (true, empty for null)",
                    "Adyen's SDK writes them with Python's str() (True, None)",
                    item=index,
                )
            debug: dict[str, Any] = {
                "signed_preview": preview(content),
                "algorithm": "HMAC-SHA256",
                "encoding": "base64",
                "expected": expected,
                "received": [received],
                "key_reading": "hex",
                "item": index,
            }
            if not received:
                raise MissingSignatureError(f"item {index} has no hmacSignature", **debug)
            if not hmac.compare_digest(expected.encode(), received.encode()):
                raise SignatureMismatchError(f"item {index} does not match this key", **debug)
        return Match(scheme=self.name, key_reading="hex", debug=debug | {"items": len(items)})


def _python_text(value: Any) -> str:
    """A body field as Python's `str()` writes it (Adyen's SDK joins the fields that way)."""
    return str(value)


def _matches(key: bytes, content: bytes, received: str) -> bool:
    expected = encode(hmac.new(key, content, "sha256").digest(), "base64")
    return hmac.compare_digest(expected.encode(), received.encode())
