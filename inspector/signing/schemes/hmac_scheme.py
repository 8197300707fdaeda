"""The keyed-digest scheme most providers use (`Hmac`), and Standard Webhooks built from it."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from inspector.signing.schemes.display import preview, short
from inspector.signing.schemes.encoding import (
    KEY_READING_NAMES,
    decode,
    encode,
    format_timestamp,
    parse_timestamp,
    read_key,
    whole_seconds,
)
from inspector.signing.schemes.errors import (
    MalformedSignatureError,
    MissingSignatureError,
    SdkRejectionError,
    SecretFormatError,
    SignatureError,
    SignatureMismatchError,
)
from inspector.signing.schemes.locators import GRAMMARS, BodyField, Fields, Header, Locator, SdkSignatures
from inspector.signing.schemes.match import Match, Window, check_time
from inspector.signing.schemes.message import Message, as_text, set_field
from inspector.signing.schemes.sdk_rules import SdkRules, When
from inspector.signing.schemes.variants import BODY_VARIANT_NAMES, body_variant, url_variant

_TEMPLATE_PART = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Hmac:
    """A keyed digest over a template of request parts (covers most providers).

    `template` names the signed parts: `{body}`, `{ts}`, `{id}`, `{url}`, `{method}`,
    `{params}` (form parameters sorted by name, name+value), `{field:a.b}` (a body field);
    anything else is literal text. `mac` is `hmac`, or a plain hash of secret+content
    (`hash-secret-first`) or content+secret (`hash-secret-last`) for HubSpot v1/v2 style.
    `when`: the scheme applies only to requests where that condition holds.
    `keys`, `bodies` and `urls` are the readings tried in order; a match on any but the first
    key or body reading is reported as inferred (unless the SDK in `sdk` tries it too).
    `tolerance` is a window of that many seconds either way; `window` states one exactly
    (Stripe accepts any future time). `body_hash` names a URL query parameter carrying the hex
    SHA-256 of the body (Twilio's `bodySHA256`): the body must match it, and no form
    parameters are signed then. `sdk`: the provider's SDK decides (see `SdkRules`).
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
    when: When | None = None
    inferred: bool = False
    label: str = ""
    window: Window | None = None
    body_hash: str = ""
    sdk: SdkRules | None = None

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
        return self.when is None or self.when.holds(msg)

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
            elif name == "params":  # each name+value once, sorted (as Twilio's SDK does)
                pairs = [] if self._body_hash_sent(msg) is not None else sorted(set(msg.form or []))
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
        """The match for `secret`, or raise a SignatureError (see the package docstring).
        With `sdk`, the SDK's reading decides; the lenient one only explains a rejection."""
        if self.sdk is None:
            return self._lenient(msg, secret, at=at)
        found = self._sdk_match(msg, secret, self.sdk, at=at)
        if isinstance(found, Match):
            return found
        match = self._lenient(msg, secret, at=at)
        what, why = self._rejection(msg, match, found, self.sdk)
        raise SdkRejectionError(what, why, **match.debug)

    def _lenient(self, msg: Message, secret: str, *, at: datetime) -> Match:
        """Hookloupe's own reading: entries trimmed, hex in any case, base64 decoded."""
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
                        inferred=self.inferred or (b_i > 0 and self.sdk is None) or k_i > 0,
                        debug=self._debug(content, encode(digest, self.encoding), received, reading)
                        | {"matched_index": index, "body_variant": body_name, "url_variant": url_name},
                    )
                    self._check_body_hash(msg, match, exact=False)
                    return check_time(match, stamp, self.tolerance, at, window=self.window)
        debug = self._debug(first_content or b"", first_expected or "", received, self.keys[0])
        if stamp is not None:
            debug["timestamp_skew_seconds"] = round((at - stamp).total_seconds(), 3)
            debug["tolerance_seconds"] = self.window.past if self.window else self.tolerance
        raise SignatureMismatchError("no signature matches this secret", **debug)

    def _body_hash_sent(self, msg: Message) -> str | None:
        """The `body_hash` query parameter's first value, None when the URL has none."""
        if not self.body_hash:
            return None
        values = parse_qs(urlsplit(msg.url).query).get(self.body_hash)
        return values[0] if values else None

    def _body_hash_problem(self, msg: Message, *, exact: bool) -> str:
        """Why the body does not match the hash in the URL ("" when it does or none is sent)."""
        sent = self._body_hash_sent(msg)
        if sent is None:
            return ""
        try:  # Twilio's SDK hashes the body as text: one that is not UTF-8 cannot match
            digest = hashlib.sha256(msg.body.decode().encode()).hexdigest()
        except UnicodeDecodeError:
            return f"the body is not valid UTF-8, so it cannot match {self.body_hash} in the URL"
        if hmac.compare_digest(digest.encode(), sent.encode()) or (not exact and digest == sent.lower()):
            return ""
        if digest == sent.lower():
            return f"{self.body_hash} in the URL is upper-case hex, and the SDK compares the lower-case text"
        return f"the body's SHA-256 differs from {self.body_hash} in the URL: the body changed after it was signed"

    def _check_body_hash(self, msg: Message, match: Match, *, exact: bool) -> None:
        """Raise SignatureMismatchError when the URL signature matched but the body hash does not."""
        problem = self._body_hash_problem(msg, exact=exact)
        if problem:
            raise SignatureMismatchError(problem, **match.debug | {"body_hash_mismatch": problem})

    def _sdk_read(self, msg: Message, rules: SdkRules) -> tuple[SdkSignatures, str | None]:
        """The signatures, signed timestamp text and id as the SDK reads them; raises
        SignatureError with the reason when the SDK would refuse the request before comparing."""
        problem = rules.body_problem(msg.body) or rules.header_problem(msg)
        read = self.signature.sdk_signatures(msg)
        if problem or not read.signatures:
            unread = f"{rules.library} reads it as written ({_grammar_of(self.signature)}) and finds no signature"
            raise SignatureError(problem or read.problem or unread)
        ts = read.timestamp if isinstance(self.signature, Fields) else self._sdk_timestamp(msg)
        if ts is not None:
            parse_timestamp(ts, self.timestamp_format)  # MalformedSignatureError when unreadable
            ts = whole_seconds(ts, self.timestamp_format) if rules.signed_ts == "whole" else ts
        for part in _TEMPLATE_PART.findall(self.template):
            if part.startswith("field:") and not isinstance(msg.field(part[6:]), str):
                raise SignatureError(f"body field {part[6:]} is not a string, and {rules.library} needs one")
        if "{id}" in self.template and not (self.id and self.id.value(msg)):
            raise SignatureError("the id is missing or empty")
        return read, ts

    def _sdk_timestamp(self, msg: Message) -> str | None:
        """The timestamp text the SDK signs, None when the scheme has none; raises
        SignatureError when it is absent, empty or of a JSON type the SDK refuses."""
        locator = self._timestamp_locator()
        if locator is None:
            return None
        raw: Any
        if isinstance(locator, BodyField):
            raw = msg.field(locator.path)
            if isinstance(raw, bool) or not isinstance(raw, (str, int)):
                raise SignatureError("the timestamp is not a string or a whole number")
        else:
            raw = locator.raw(msg) if isinstance(locator, Header) else locator.value(msg)
        if raw is None or str(raw) == "":
            raise SignatureError("the timestamp is missing or empty")
        return str(raw)

    def _sdk_match(self, msg: Message, secret: str, rules: SdkRules, *, at: datetime) -> Match | str:
        """The match as the SDK finds it (its readings, its comparison, its window), or why
        it finds none. Raises TimestampError for a match outside the window."""
        try:
            read, ts = self._sdk_read(msg, rules)
            keys = self._keys(secret)
        except SignatureError as error:
            return str(error)
        stamp = parse_timestamp(ts, self.timestamp_format) if ts is not None else None
        for body_name, (reading, key), url_name in itertools.product(self.bodies, keys, self.urls):
            body, url = body_variant(msg, body_name), url_variant(msg.url, url_name)
            if body is None or url is None:
                continue
            content = self.content(msg, body, url, ts)
            digest = self.digest(key, content)
            expected = encode(digest, self.encoding)
            for index, got in enumerate(read.signatures):
                same = rules.equal(digest, expected, got)
                if same is None:
                    return f"its v1 entry {got[:24]!r} is not base64 Python can decode, and {rules.library} stops there"
                if not same:
                    continue
                problem = self._body_hash_problem(msg, exact=True)
                if problem:
                    return problem
                debug = self._debug(content, expected, list(read.signatures), reading)
                match = Match(
                    scheme=self.name,
                    index=index,
                    key_reading=reading,
                    variant="" if body_name == self.bodies[0] else BODY_VARIANT_NAMES[body_name],
                    inferred=self.inferred,
                    debug=debug | {"matched_index": index, "body_variant": body_name, "url_variant": url_name},
                )
                return check_time(match, stamp, self.tolerance, at, window=self.window)
        return read.problem or ""

    def _rejection(self, msg: Message, match: Match, problem: str, rules: SdkRules) -> tuple[str, str]:
        """(how the lenient reading matched, why the SDK rejects it) for SdkRejectionError."""
        if problem:
            return "when Hookloupe reads the request leniently", problem
        received = self.signature.signatures(msg)[match.index]
        if self.encoding == "hex" and received != received.lower():
            return "in upper-case hex", f"{rules.library} compares the exact lower-case hex text"
        if received != match.debug.get("expected", received):
            return f"as {self.encoding} written differently", f"{rules.library} compares the exact {self.encoding} text"
        return (
            "when Hookloupe reads the header leniently",
            f"{rules.library} reads it as written ({_grammar_of(self.signature)}) and finds no matching signature",
        )

    def _debug(self, content: bytes, expected: str, received: list[str], reading: str) -> dict[str, Any]:
        return {
            "signed_preview": preview(content),
            "algorithm": f"{'HMAC' if self.mac == 'hmac' else 'hash'}-{self.algorithm.upper()}",
            "encoding": self.encoding,
            "expected": short(expected),
            "received": [short(r) for r in received],
            "key_reading": reading,
        }


def _grammar_of(locator: Locator) -> str:
    """The SDK's way of splitting `locator`'s header, in words."""
    return GRAMMARS.get(getattr(locator, "grammar", "lenient"), "as sent")


def standard_webhooks(
    prefix: str = "webhook", *, label: str = "Standard Webhooks", library: str = "standardwebhooks"
) -> Hmac:
    """The Standard Webhooks scheme (`{id}.{ts}.{body}`, `v1,<base64>`, `whsec_` key) with
    headers `<prefix>-id`, `<prefix>-timestamp`, `<prefix>-signature` (Svix: `svix`), read as
    the `standardwebhooks` library reads them (`library` names the SDK in sentences). The
    `svix` library falls back to the `webhook-*` headers when a `svix-*` one is absent."""
    fallback = prefix != "webhook"
    return Hmac(
        signature=Header(
            f"{prefix}-signature",
            separator=" ",
            item_prefix="v1,",
            fallback=("webhook-signature",) if fallback else (),
            grammar="standard-webhooks",
        ),
        template="{id}.{ts}.{body}",
        encoding="base64",
        keys=("whsec",),
        timestamp=Header(f"{prefix}-timestamp", fallback=("webhook-timestamp",) if fallback else ()),
        id=Header(f"{prefix}-id", fallback=("webhook-id",) if fallback else ()),
        tolerance=300,
        label=label,
        sdk=SdkRules(library, compare="base64-lenient", signed_ts="whole"),
    )
