"""The keyed-digest scheme most providers use (`Hmac`), and Standard Webhooks built from it."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from inspector.signing.schemes.display import preview, short
from inspector.signing.schemes.encoding import (
    KEY_READING_NAMES,
    decode,
    encode,
    format_timestamp,
    parse_timestamp,
    read_key,
)
from inspector.signing.schemes.errors import (
    MalformedSignatureError,
    MissingSignatureError,
    SecretFormatError,
    SignatureMismatchError,
)
from inspector.signing.schemes.locators import BodyField, Fields, Header, Locator
from inspector.signing.schemes.match import Match, check_time
from inspector.signing.schemes.message import Message, as_text, set_field
from inspector.signing.schemes.variants import BODY_VARIANT_NAMES, body_variant, url_variant

_TEMPLATE_PART = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Hmac:
    """A keyed digest over a template of request parts (covers most providers).

    `template` names the signed parts: `{body}`, `{ts}`, `{id}`, `{url}`, `{method}`,
    `{params}` (form parameters sorted by name, name+value), `{field:a.b}` (a body field);
    anything else is literal text. `mac` is `hmac`, or a plain hash of secret+content
    (`hash-secret-first`) or content+secret (`hash-secret-last`) for HubSpot v1/v2 style.
    `when` = (header, text): the scheme applies only when that header contains the text.
    `keys`, `bodies` and `urls` are the readings tried in order; a match on any but the first
    key or body reading is reported as inferred.
    """

    signature: Locator
    template: str = "{body}"
    algorithm: str = "sha256"
    encoding: str = "hex"
    mac: str = "hmac"
    keys: tuple[str, ...] = ("text",)
    bodies: tuple[str, ...] = ("raw",)
    urls: tuple[str, ...] = ("as-sent",)
    timestamp: Locator | None = None
    timestamp_format: str = "unix"
    tolerance: int | None = None
    id: Locator | None = None
    when: tuple[str, str] | None = None
    inferred: bool = False
    label: str = ""

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        kind = "HMAC" if self.mac == "hmac" else "hash"
        return f"{kind}-{self.algorithm.upper()} {self.encoding}"

    def describe(self) -> str:
        """Plain words: `HMAC-SHA256 in hex`."""
        kind = "HMAC" if self.mac == "hmac" else "a plain hash"
        return f"{kind}-{self.algorithm.upper()} in {self.encoding}"

    def applies(self, msg: Message) -> bool:
        """Whether this scheme is the one in use for `msg` (its `when` header matches)."""
        if self.when is None:
            return True
        name, wanted = self.when
        return wanted.lower() in (msg.header(name) or "").lower()

    def is_present(self, msg: Message) -> bool:
        return self.applies(msg) and self.signature.is_present(msg)

    def _timestamp_locator(self) -> Locator | None:
        if self.timestamp is not None:
            return self.timestamp
        return self.signature if isinstance(self.signature, Fields) else None

    def content(self, msg: Message, body: bytes, url: str, ts: str | None) -> bytes:
        """The exact bytes signed under this template; raises MissingSignatureError when a
        part (timestamp, id header) is absent."""
        out = []
        for i, piece in enumerate(_TEMPLATE_PART.split(self.template)):
            if i % 2 == 0:  # literal text between parts
                out.append(piece.encode())
                continue
            name = piece
            if name == "body":
                out.append(body)
            elif name == "ts":
                if ts is None:
                    raise MissingSignatureError("timestamp is missing", missing="timestamp")
                out.append(ts.encode())
            elif name == "id":
                if self.id is None:  # a registry entry's mistake, not the request's
                    raise ValueError("template part {id} needs an id locator")
                out.append(self.id.value(msg).encode())
            elif name == "url":
                out.append(url.encode())
            elif name == "method":
                out.append(msg.method.upper().encode())
            elif name == "params":
                pairs = sorted(msg.form or [])
                out.append("".join(k + v for k, v in pairs).encode())
            elif name.startswith("field:"):
                out.append(as_text(msg.field(name[6:])).encode())
            else:
                raise ValueError(f"unknown template part {name!r}")
        return b"".join(out)

    def digest(self, key: bytes, content: bytes) -> bytes:
        if self.mac == "hmac":
            return hmac.new(key, content, self.algorithm).digest()
        if self.mac == "hash-secret-first":
            return hashlib.new(self.algorithm, key + content).digest()
        return hashlib.new(self.algorithm, content + key).digest()

    def _keys(self, secret: str) -> list[tuple[str, bytes]]:
        readings = [(r, read_key(secret, r)) for r in self.keys]
        keys = [(r, k) for r, k in readings if k]
        if not keys:
            wanted = " or ".join(KEY_READING_NAMES[r] for r in self.keys)
            raise SecretFormatError(f"the secret cannot be read as {wanted}")
        return keys

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        """`msg` with its signature (and timestamp, where the scheme has one) added as of `at`."""
        ts = None
        locator = self._timestamp_locator()
        if locator is not None:
            ts = format_timestamp(at, self.timestamp_format)
            if isinstance(locator, Header):
                msg = msg.with_header(locator.name, ts)
            elif isinstance(locator, BodyField):
                value = int(ts) if self.timestamp_format in ("unix", "ms") else ts
                msg = replace(msg, body=set_field(msg.body, locator.path, value))
                ts = as_text(msg.field(locator.path))
        key = self._keys(secret)[0][1]
        content = self.content(msg, msg.body, msg.url, ts)
        signature = encode(self.digest(key, content), self.encoding)
        if isinstance(self.signature, BodyField):
            return replace(msg, body=set_field(msg.body, self.signature.path, signature))
        for name, header_value in self.signature.render(signature, ts):
            msg = msg.with_header(name, header_value)
        return msg

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        """The match for `secret`, or raise a SignatureError (see the package docstring)."""
        received = self.signature.signatures(msg)
        locator = self._timestamp_locator()
        ts = locator.value(msg) if locator is not None else None
        stamp = parse_timestamp(ts, self.timestamp_format) if ts is not None else None
        decoded = [decode(r, self.encoding) for r in received]
        if all(d is None for d in decoded):
            raise MalformedSignatureError(
                f"the signature is not valid {self.encoding}", received=[short(r) for r in received]
            )
        first_content: bytes | None = None
        first_expected: str | None = None
        for (b_i, body_name), (k_i, (reading, key)), url_name in itertools.product(
            enumerate(self.bodies), enumerate(self._keys(secret)), self.urls
        ):
            body = body_variant(msg, body_name)
            url = url_variant(msg.url, url_name)
            if body is None or url is None:
                continue
            content = self.content(msg, body, url, ts)
            digest = self.digest(key, content)
            if first_content is None:
                first_content, first_expected = content, encode(digest, self.encoding)
            for index, got in enumerate(decoded):
                if got is not None and hmac.compare_digest(digest, got):
                    variant = "" if b_i == 0 else BODY_VARIANT_NAMES[body_name]
                    match = Match(
                        scheme=self.name,
                        index=index,
                        key_reading=reading,
                        variant=variant,
                        inferred=self.inferred or b_i > 0 or k_i > 0,
                        debug=self._debug(content, encode(digest, self.encoding), received, reading)
                        | {"matched_index": index, "body_variant": body_name, "url_variant": url_name},
                    )
                    return check_time(match, stamp, self.tolerance, at)
        debug = self._debug(first_content or b"", first_expected or "", received, self.keys[0])
        if stamp is not None:
            debug["timestamp_skew_seconds"] = round((at - stamp).total_seconds(), 3)
            debug["tolerance_seconds"] = self.tolerance
        raise SignatureMismatchError("no signature matches this secret", **debug)

    def _debug(self, content: bytes, expected: str, received: list[str], reading: str) -> dict[str, Any]:
        return {
            "signed_preview": preview(content),
            "algorithm": f"{'HMAC' if self.mac == 'hmac' else 'hash'}-{self.algorithm.upper()}",
            "encoding": self.encoding,
            "expected": short(expected),
            "received": [short(r) for r in received],
            "key_reading": reading,
        }


def standard_webhooks(prefix: str = "webhook", *, label: str = "Standard Webhooks") -> Hmac:
    """The Standard Webhooks scheme (`{id}.{ts}.{body}`, `v1,<base64>`, `whsec_` key) with
    headers `<prefix>-id`, `<prefix>-timestamp`, `<prefix>-signature` (Svix: `svix`)."""
    return Hmac(
        signature=Header(f"{prefix}-signature", separator=" ", item_prefix="v1,"),
        template="{id}.{ts}.{body}",
        encoding="base64",
        keys=("whsec",),
        timestamp=Header(f"{prefix}-timestamp"),
        id=Header(f"{prefix}-id"),
        tolerance=300,
        label=label,
    )
