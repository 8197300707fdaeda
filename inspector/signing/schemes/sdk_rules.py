"""How a provider's own SDK reads a request, where it is stricter (or looser) than the scheme.

A provider with an official verifier gets `SdkRules` on its scheme; the scheme then decides
exactly as that SDK does (tests/test_differential.py holds every one to its SDK) and keeps its
lenient reading only to explain a rejection ("matches in upper-case hex, but stripe compares
the lower-case text"). `When` selects which of a provider's schemes applies to a request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from inspector.signing.schemes.message import Message


@dataclass(frozen=True)
class SdkRules:
    """What the SDK named `library` demands beyond the scheme's template and algorithm.

    `compare`: `text`, the received signature must be exactly the encoded digest (lower-case
    hex, canonical base64: most SDKs compare strings); `base64-lenient`, it is decoded the way
    Python's `base64.b64decode` does without validation (stray characters skipped, bad padding
    stops the check), then compared as bytes (standardwebhooks, sendgrid).
    `utf8_body`: the SDK takes the body as text, so a body that is not UTF-8 never verifies.
    `nonempty_body`: an empty body is rejected (Square). `signed_ts`: `raw`, the timestamp is
    signed as sent; `whole`, as its integer value (`t=0123` signs `123`: Stripe, Paddle,
    Standard Webhooks). `requires`: headers that must hold exactly these values for the SDK to
    check anything (Box's version and algorithm headers). `refuses`: why the SDK never
    accepts this scheme at all (Square's SDK knows no legacy SHA-1 header); a match is then
    reported, and rejected, with that reason.
    """

    library: str
    compare: str = "text"
    utf8_body: bool = True
    nonempty_body: bool = False
    signed_ts: str = "raw"
    requires: tuple[tuple[str, str], ...] = ()
    refuses: str = ""

    def body_problem(self, body: bytes) -> str:
        """Why the SDK refuses this body before hashing it; "" when it does not."""
        if self.nonempty_body and not body:
            return f"the body is empty, and {self.library} rejects an empty body"
        if self.utf8_body:
            try:
                body.decode()
            except UnicodeDecodeError:
                return f"the body is not valid UTF-8, and {self.library} decodes it as UTF-8 before checking it"
        return ""

    def header_problem(self, msg: Message) -> str:
        """Why the SDK refuses these headers (a required value differs, or it knows no such
        scheme); "" when it does not."""
        if self.refuses:
            return self.refuses
        for name, wanted in self.requires:
            got = msg.header(name)
            if got != wanted:
                shown = "missing" if got is None else f"{got[:40]!r}"
                return f"{name} is {shown}, and {self.library} only checks a signature when it is {wanted!r}"
        return ""

    def equal(self, digest: bytes, expected: str, received: str) -> bool | None:
        """Whether `received` matches as the SDK compares; None when the SDK would stop here
        (a `base64-lenient` signature that Python cannot decode raises inside the SDK)."""
        if self.compare == "base64-lenient":
            try:
                got = base64.b64decode(received)
            except (binascii.Error, ValueError):
                return None
            return hmac.compare_digest(digest, got)
        return hmac.compare_digest(expected.encode(), received.encode())


@dataclass(frozen=True)
class When:
    """A scheme applies only when header `header` holds `value` (exactly, or ignoring case
    with `ignore_case`). With `key`, the header is a `,`-separated list of `key=value` pairs
    and the first pair named `key` is compared (Twilio's signature-settings header).
    `if_absent`: the scheme also applies when the header (or its `key`) is absent or empty."""

    header: str
    value: str
    key: str = ""
    ignore_case: bool = False
    if_absent: bool = False

    def read(self, msg: Message) -> str:
        """The value compared (the header, or its `key=` pair), "" when absent."""
        raw = msg.header(self.header) or ""
        if not self.key:
            return raw
        for part in raw.split(","):
            name, sep, value = part.partition("=")
            if sep and name.strip() == self.key and value.strip():
                return value.strip()
        return ""

    def holds(self, msg: Message) -> bool:
        got = self.read(msg)
        if not got:
            return self.if_absent
        return got.lower() == self.value.lower() if self.ignore_case else got == self.value

    def describe(self, msg: Message) -> str:
        """`X-HubSpot-Signature-Version is 'v9'`, for a request no scheme applies to."""
        got = self.read(msg)
        where = f"{self.header}'s {self.key}" if self.key else self.header
        return f"{where} is {got[:40]!r}" if got else f"{where} is absent"
