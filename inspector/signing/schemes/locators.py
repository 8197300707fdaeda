"""Where a signature, timestamp or id is found: a header, a `key=value` header, a body field."""

from __future__ import annotations

from dataclasses import dataclass

from inspector.signing.schemes.errors import MalformedSignatureError, MissingSignatureError
from inspector.signing.schemes.message import Message, as_text


@dataclass(frozen=True)
class Header:
    """A header carrying a signature (or a timestamp / id when used as such).

    `prefix` must start the value (`sha256=`); with `separator`, the value holds several
    signatures; `item_prefix` selects the entries of our version (`v1,`), others are skipped.
    `alt` lists more headers carrying further signatures (Box secondary, DocuSign `-2`...).
    """

    name: str
    prefix: str = ""
    separator: str | None = None
    item_prefix: str = ""
    alt: tuple[str, ...] = ()
    optional_prefix: bool = False

    def is_present(self, msg: Message) -> bool:
        return any(msg.header(n) is not None for n in (self.name, *self.alt))

    def value(self, msg: Message) -> str:
        """The header's value; raises MissingSignatureError when absent."""
        value = msg.header(self.name)
        if value is None:
            raise MissingSignatureError(f"header {self.name} is missing", missing=self.name)
        return value.strip()

    def signatures(self, msg: Message) -> list[str]:
        """Every signature found, in order; raises Missing/MalformedSignatureError."""
        found: list[str] = []
        skipped: list[str] = []
        raw_values = [msg.header(n) for n in (self.name, *self.alt)]
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

    def render(self, signature: str, timestamp: str | None = None) -> list[tuple[str, str]]:
        """Header pairs carrying `signature`."""
        return [(self.name, f"{self.prefix}{self.item_prefix}{signature}")]


@dataclass(frozen=True)
class Fields:
    """A header of `key=value` pairs holding the timestamp and signatures
    (Stripe `t=..,v1=..,v1=..`; Paddle `ts=..;h1=..`)."""

    name: str
    sig_key: str = "v1"
    ts_key: str = "t"
    pair_sep: str = ","

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


Locator = Header | Fields | BodyField
