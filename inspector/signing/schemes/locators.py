"""Where a signature, timestamp or id is found: a header, a `key=value` header, a body field.

Each locator reads two ways: `signatures()` leniently (trimmed, every entry, so Hookloupe can
say what is wrong), and `sdk_signatures()` exactly as the provider's SDK parses the header
(its `grammar`), which is what decides the verdict for a scheme with SDK rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspector.signing.schemes.errors import MalformedSignatureError, MissingSignatureError
from inspector.signing.schemes.message import Message, as_text

GRAMMARS = {
    "lenient": "entries trimmed, every entry read",
    "standard-webhooks": "split on single spaces, each entry exactly `version,signature`, "
    "reading stops at the first entry that is not",
    "stripe": "split on ',' then on '=', nothing trimmed, the first t= wins",
    "paddle": "split on ';', each pair exactly `key=value` with key ts or h1, nothing trimmed, the last ts= wins",
}


@dataclass(frozen=True)
class SdkSignatures:
    """The signatures an SDK compares, in its order, and the timestamp it reads; `problem`
    says where its parser gave up (entries after that point are never compared)."""

    signatures: tuple[str, ...]
    timestamp: str | None = None
    problem: str = ""


@dataclass(frozen=True)
class Header:
    """A header carrying a signature (or a timestamp / id when used as such).

    `prefix` must start the value (`sha256=`); with `separator`, the value holds several
    signatures; `item_prefix` selects the entries of our version (`v1,`), others are skipped.
    `alt` lists more headers carrying further signatures (Box secondary, DocuSign `-2`...).
    `fallback` lists headers read when `name` is absent (Svix's SDK reads `webhook-*` then).
    `grammar` is how the provider's SDK splits the value (GRAMMARS).
    """

    name: str
    prefix: str = ""
    separator: str | None = None
    item_prefix: str = ""
    alt: tuple[str, ...] = ()
    optional_prefix: bool = False
    fallback: tuple[str, ...] = ()
    grammar: str = "lenient"

    def raw(self, msg: Message) -> str | None:
        """The value of `name`, else of the first `fallback` header present; None if none is."""
        for name in (self.name, *self.fallback):
            value = msg.header(name)
            if value is not None:
                return value
        return None

    def is_present(self, msg: Message) -> bool:
        return self.raw(msg) is not None or any(msg.header(n) is not None for n in self.alt)

    def value(self, msg: Message) -> str:
        """The header's value; raises MissingSignatureError when absent."""
        value = self.raw(msg)
        if value is None:
            raise MissingSignatureError(f"header {self.name} is missing", missing=self.name)
        return value.strip()

    def signatures(self, msg: Message) -> list[str]:
        """Every signature found, in order; raises Missing/MalformedSignatureError."""
        found: list[str] = []
        skipped: list[str] = []
        raw_values = [self.raw(msg), *(msg.header(n) for n in self.alt)]
        if all(v is None for v in raw_values):
            raise MissingSignatureError(f"header {self.name} is missing", missing=self.name)
        for raw in (v.strip() for v in raw_values if v is not None):
            if self.prefix and raw.startswith(self.prefix):
                raw = raw[len(self.prefix) :]
            elif self.prefix and not self.optional_prefix:
                raise MalformedSignatureError(
                    f"header {self.name} does not start with {self.prefix!r}", received=raw[:120]
                )
            items = raw.split(self.separator) if self.separator else [raw]
            for item in (i.strip() for i in items if i.strip()):
                if self.item_prefix and not item.startswith(self.item_prefix):
                    skipped.append(item)
                    continue
                found.append(item[len(self.item_prefix) :])
        if not found:
            raise MalformedSignatureError(
                f"header {self.name} holds no {self.item_prefix or 'signature'} entry",
                skipped=skipped,
            )
        return found

    def sdk_signatures(self, msg: Message) -> SdkSignatures:
        """The signatures the provider's SDK compares (see `grammar`); never raises."""
        if self.grammar == "standard-webhooks":
            return _standard_webhooks_entries(self.raw(msg) or "", self.item_prefix)
        try:
            return SdkSignatures(tuple(self.signatures(msg)))
        except (MissingSignatureError, MalformedSignatureError) as error:
            return SdkSignatures((), problem=str(error))

    def render(self, signature: str, timestamp: str | None = None) -> list[tuple[str, str]]:
        """Header pairs carrying `signature`."""
        return [(self.name, f"{self.prefix}{self.item_prefix}{signature}")]


def _standard_webhooks_entries(value: str, item_prefix: str) -> SdkSignatures:
    """`v1,<sig> v1,<sig>` as the standardwebhooks library reads it: entries split on single
    spaces; an entry that is not exactly `version,signature` stops the reading (the library
    raises there, even when a later entry would match); other versions are skipped."""
    version = item_prefix.rstrip(",")
    found: list[str] = []
    for n, entry in enumerate(value.split(" "), 1):
        parts = entry.split(",")
        if len(parts) != 2:
            problem = f"entry {n} ({entry[:40]!r}) is not `version,signature`"
            return SdkSignatures(tuple(found), problem=problem)
        if parts[0] == version:
            found.append(parts[1])
    return SdkSignatures(tuple(found))


@dataclass(frozen=True)
class Fields:
    """A header of `key=value` pairs holding the timestamp and signatures
    (Stripe `t=..,v1=..,v1=..`; Paddle `ts=..;h1=..`). `grammar` is how the provider's SDK
    parses it (GRAMMARS)."""

    name: str
    sig_key: str = "v1"
    ts_key: str = "t"
    pair_sep: str = ","
    grammar: str = "lenient"

    def is_present(self, msg: Message) -> bool:
        return msg.header(self.name) is not None

    def _pairs(self, msg: Message) -> list[tuple[str, str]]:
        value = msg.header(self.name)
        if value is None:
            raise MissingSignatureError(f"header {self.name} is missing", missing=self.name)
        pairs = [p.strip().partition("=") for p in value.split(self.pair_sep) if p.strip()]
        return [(k.strip(), v.strip()) for k, _, v in pairs]

    def signatures(self, msg: Message) -> list[str]:
        sigs = [v for k, v in self._pairs(msg) if k == self.sig_key]
        if not sigs:
            raise MalformedSignatureError(f"header {self.name} has no {self.sig_key}= entry")
        return sigs

    def value(self, msg: Message) -> str:
        """The timestamp inside the header."""
        stamps = [v for k, v in self._pairs(msg) if k == self.ts_key]
        if not stamps:
            raise MalformedSignatureError(f"header {self.name} has no {self.ts_key}= entry")
        return stamps[0]

    def sdk_signatures(self, msg: Message) -> SdkSignatures:
        """The signatures and timestamp the provider's SDK reads (see `grammar`); never raises."""
        value = msg.header(self.name)
        if not value:
            return SdkSignatures((), problem=f"header {self.name} is missing or empty")
        if self.grammar == "stripe":
            return self._stripe(value)
        if self.grammar == "paddle":
            return self._paddle(value)
        try:
            return SdkSignatures(tuple(self.signatures(msg)), self.value(msg))
        except MalformedSignatureError as error:
            return SdkSignatures((), problem=str(error))

    def _stripe(self, value: str) -> SdkSignatures:
        """Stripe's SDK: items split on `,`, each on `=` (at most twice, the rest ignored);
        any item named t or v1 without a value makes the header unreadable."""
        items = [item.split("=", 2) for item in value.split(self.pair_sep)]
        try:
            # Every t item is read (a bare `t` anywhere fails, as in the SDK); the first wins.
            stamps = [i[1] for i in items if i[0] == self.ts_key]
            stamp = stamps[0]
            sigs = tuple(i[1] for i in items if i[0] == self.sig_key)
            int(stamp)
        except (IndexError, ValueError):
            return SdkSignatures((), problem=f"{self.name} has no readable {self.ts_key}= and {self.sig_key}= items")
        return SdkSignatures(sigs, stamp)

    def _paddle(self, value: str) -> SdkSignatures:
        """Paddle's SDK: pairs split on `;`; one with `=` must be exactly `ts=…` or `h1=…`
        (anything else makes the header unreadable); the last ts wins, none reads as 0."""
        stamp, sigs = "0", []
        for pair in value.split(self.pair_sep):
            if "=" not in pair:
                continue
            parts = pair.split("=")
            if len(parts) != 2 or parts[0] not in (self.ts_key, self.sig_key):
                return SdkSignatures((), problem=f"{self.name} holds {pair[:40]!r}, which its SDK does not accept")
            if parts[0] == self.ts_key:
                stamp = parts[1]
            else:
                sigs.append(parts[1])
        try:
            int(stamp)
        except ValueError:
            return SdkSignatures((), problem=f"{self.name}'s {self.ts_key}= is not a whole number")
        return SdkSignatures(tuple(sigs), stamp)

    def render(self, signature: str, timestamp: str | None = None) -> list[tuple[str, str]]:
        sep = self.pair_sep
        return [(self.name, f"{self.ts_key}={timestamp}{sep}{self.sig_key}={signature}")]


@dataclass(frozen=True)
class BodyField:
    """A field of the JSON (or form) body: `signature`, `signature.timestamp`..."""

    path: str

    def is_present(self, msg: Message) -> bool:
        return msg.field(self.path) is not None

    def value(self, msg: Message) -> str:
        value = msg.field(self.path)
        if value is None:
            raise MissingSignatureError(f"body field {self.path} is missing", missing=self.path)
        return as_text(value)

    def signatures(self, msg: Message) -> list[str]:
        return [self.value(msg)]

    def sdk_signatures(self, msg: Message) -> SdkSignatures:
        """The field as an SDK takes it: only a JSON string (or form value) is a signature."""
        value: Any = msg.field(self.path)
        if not isinstance(value, str):
            return SdkSignatures((), problem=f"body field {self.path} is not a string")
        return SdkSignatures((value,))


Locator = Header | Fields | BodyField
