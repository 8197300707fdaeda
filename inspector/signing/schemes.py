"""Signature schemes shared by all providers: each scheme can `sign` a message and `verify` it.

A provider entry only picks a scheme and fills in its parameters (header names, template,
algorithm, encoding, key reading, tolerance); the crypto lives here, once.

Errors raised by `verify` (all subclasses of `SignatureError`)::

    SignatureError                 base class; `.debug` holds a dict for the debugger panel
    ├── MissingSignatureError      the signature (or its timestamp/id header) is absent
    ├── MalformedSignatureError    present but not parseable (prefix, base64, timestamp)
    ├── SecretFormatError          the stored secret cannot be read the way the scheme needs
    ├── TimestampError             the signature matches but its timestamp is outside tolerance
    ├── SignatureMismatchError     well-formed, but no signature matches this secret
    └── UnverifiableError          a scheme Hookloupe cannot check offline (certificates, JWKs)

Rules: bodies are `bytes`; time is always the `at=` argument; digests are compared with
`hmac.compare_digest`; the secret never appears in an error or debug value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from inspector.headers import first_header

PREVIEW_CHARS = 200


# --- errors ---------------------------------------------------------------------------------


class SignatureError(Exception):
    """Base of every verification failure; `debug` is safe to show (never holds the secret)."""

    def __init__(self, message: str, **debug: Any):
        super().__init__(message)
        self.debug = debug


class MissingSignatureError(SignatureError):
    """The signature, or a header it depends on, is absent (`debug["missing"]` names it)."""


class MalformedSignatureError(SignatureError):
    """A signature or timestamp is present but cannot be parsed."""


class SecretFormatError(SignatureError):
    """The secret cannot be read as this scheme requires (e.g. `whsec_` not base64)."""


class TimestampError(SignatureError):
    """The signature matches but the timestamp is too far from `at`; `match` is the match."""

    def __init__(self, message: str, match: Match, **debug: Any):
        super().__init__(message, **debug)
        self.match = match


class SignatureMismatchError(SignatureError):
    """The signature is well formed but was not made with this secret over this content."""


class UnverifiableError(SignatureError):
    """The scheme needs something Hookloupe does not have offline (a certificate, a JWK)."""


# --- the message being signed or verified -----------------------------------------------------


@dataclass(frozen=True)
class Message:
    """What a scheme sees of a request: method, the full URL the sender called, header pairs
    in order, and the raw body bytes."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None when absent."""
        return first_header(self.headers, name)

    def with_header(self, name: str, value: str) -> Message:
        """A copy with header `name` set to `value` (replacing earlier values)."""
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return replace(self, headers=(*kept, (name, value)))

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (parsed at most once)."""
        return parse_json(self.body)

    @cached_property
    def form(self) -> list[tuple[str, str]] | None:
        """The body as form pairs when the request is form-encoded, else None."""
        content_type = (self.header("Content-Type") or "").lower()
        if "x-www-form-urlencoded" not in content_type:
            return None
        return parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def field(self, path: str) -> Any:
        """Value at dotted `path` in the JSON body (list indexes allowed), or in the form body
        for a one-part path; None when absent."""
        value = dig(self.json, path)
        if value is None and self.form is not None and "." not in path:
            value = next((v for k, v in self.form if k == path), None)
        return value


def parse_json(body: bytes) -> Any:
    """`body` parsed as JSON, or None when it is not JSON."""
    stripped = body.lstrip()
    if not stripped or stripped[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def dig(data: Any, path: str) -> Any:
    """Follow a dotted path (`a.b.0.c`) through dicts and lists; None when any step is absent."""
    for step in path.split("."):
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


def _as_text(value: Any) -> str:
    """A body field as the text a sender signs (JSON scalars as they print)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _set_field(body: bytes, path: str, value: Any) -> bytes:
    """`body` (a JSON object) with `path` set to `value`, re-serialized compactly."""
    data = json.loads(body) if body.strip() else {}
    node = data
    steps = path.split(".")
    for step in steps[:-1]:
        node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
    last = steps[-1]
    node[int(last) if isinstance(node, list) else last] = value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


# --- where a signature, timestamp or id is found ---------------------------------------------


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
        found, skipped = [], []
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
        return _as_text(value)

    def signatures(self, msg: Message) -> list[str]:
        return [self.value(msg)]


Locator = Header | Fields | BodyField


# --- shared helpers ----------------------------------------------------------------------------


def read_key(secret: str, reading: str) -> bytes | None:
    """The key bytes for `secret` read as `text`, `base64`, `hex` or `whsec`; None when the
    secret cannot be read that way."""
    try:
        if reading == "text":
            return secret.encode()
        if reading == "base64":
            return base64.b64decode(secret.strip(), validate=True) or None
        if reading == "hex":
            return bytes.fromhex(secret.strip()) or None
        if reading == "whsec":
            raw = secret.strip()
            raw = raw[len("whsec_") :] if raw.startswith("whsec_") else raw
            return base64.b64decode(raw, validate=True) or None
    except (ValueError, binascii.Error):
        return None
    raise ValueError(f"unknown key reading {reading!r}")


KEY_READING_NAMES = {
    "text": "the secret as UTF-8 text",
    "base64": "the secret base64-decoded",
    "hex": "the secret hex-decoded",
    "whsec": "the base64 part after whsec_ decoded",
}


def encode(digest: bytes, encoding: str) -> str:
    """`digest` as `hex` or standard `base64` text."""
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def decode(signature: str, encoding: str) -> bytes | None:
    """A received signature's bytes, or None when it is not valid `encoding`."""
    try:
        if encoding == "hex":
            return bytes.fromhex(signature)
        return base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return None


def parse_timestamp(value: str, fmt: str) -> datetime:
    """A timestamp header value as an aware datetime (`unix` s, `ms`, or `iso` RFC 3339);
    raises MalformedSignatureError."""
    try:
        if fmt == "unix":
            return datetime.fromtimestamp(float(value), UTC)
        if fmt == "ms":
            return datetime.fromtimestamp(float(value) / 1000, UTC)
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        head, dot, rest = text.partition(".")
        if dot:  # Python reads at most 6 fractional digits; Twitch sends nanoseconds
            digits = "".join(itertools.takewhile(str.isdigit, rest))
            text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedSignatureError(f"timestamp {value[:40]!r} is not a {fmt} time") from None


def format_timestamp(at: datetime, fmt: str) -> str:
    """`at` written the way a sender writes a timestamp of format `fmt`."""
    if fmt == "unix":
        return str(int(at.timestamp()))
    if fmt == "ms":
        return str(int(at.timestamp() * 1000))
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def body_variant(msg: Message, variant: str) -> bytes | None:
    """The body as signed under `variant`; None when the variant does not apply."""
    body = msg.body
    if variant == "raw":
        return body
    if variant == "strip-newline":
        stripped = body.rstrip(b"\r\n")
        return stripped if stripped != body else None
    if variant == "add-newline":
        return body + b"\n"
    if variant == "compact-json":
        if msg.json is None:
            return None
        compact = json.dumps(msg.json, separators=(",", ":"), ensure_ascii=False).encode()
        return compact if compact != body else None
    raise ValueError(f"unknown body variant {variant!r}")


BODY_VARIANT_NAMES = {
    "raw": "the raw body",
    "strip-newline": "the body without its trailing newline",
    "add-newline": "the body with a trailing newline added",
    "compact-json": "the body re-serialized as compact JSON",
}


def url_variant(url: str, variant: str) -> str | None:
    """`url` under `variant` (port toggled, scheme swapped, query dropped...); None if moot."""
    if variant == "as-sent":
        return url
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if variant == "toggle-port":
        if parts.port is not None and parts.port == default:
            return urlunsplit(parts._replace(netloc=parts.hostname or ""))
        if parts.port is None and default and parts.hostname:
            return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{default}"))
        return None
    if variant == "swap-scheme":
        other = {"https": "http", "http": "https"}.get(parts.scheme)
        return urlunsplit(parts._replace(scheme=other)) if other else None
    if variant == "no-query":
        return urlunsplit(parts._replace(query="")) if parts.query else None
    if variant == "toggle-slash":
        path = parts.path[:-1] if parts.path.endswith("/") else parts.path + "/"
        return urlunsplit(parts._replace(path=path))
    raise ValueError(f"unknown URL variant {variant!r}")


URL_VARIANT_NAMES = {
    "as-sent": "the URL as called",
    "toggle-port": "the URL with the default port added or removed",
    "swap-scheme": "the URL with http and https swapped",
    "no-query": "the URL without its query string",
    "toggle-slash": "the URL with a trailing slash added or removed",
}


def _preview(content: bytes) -> str:
    text = content.decode("utf-8", "replace")
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


def _short(value: str) -> str:
    return value if len(value) <= 100 else value[:100] + "…"


# --- result of a successful verification ---------------------------------------------------


@dataclass(frozen=True)
class Match:
    """A signature that matched: which one, how the key was read, what was signed."""

    scheme: str
    index: int = 0
    key_reading: str = "text"
    variant: str = ""
    inferred: bool = False
    debug: dict = field(default_factory=dict)


def _check_time(match: Match, stamp: datetime | None, tolerance: int | None, at: datetime):
    """Return `match` with the skew recorded, or raise TimestampError outside `tolerance`."""
    if stamp is None:
        return match
    skew = round((at - stamp).total_seconds(), 3)
    debug = {**match.debug, "timestamp_skew_seconds": skew, "tolerance_seconds": tolerance}
    match = replace(match, debug=debug)
    if tolerance is not None and abs(skew) > tolerance:
        direction = "old" if skew > 0 else "in the future"
        raise TimestampError(
            f"timestamp is {abs(skew):.0f} s {direction}; the window is {tolerance} s",
            match,
            **debug,
        )
    return match


# --- schemes -------------------------------------------------------------------------------


class SchemeDefaults:
    """What most schemes share: named by their label, in use for every message of their
    provider, present when their signature header (or body field) is."""

    @property
    def name(self) -> str:
        return self.label

    def applies(self, msg: Message) -> bool:
        return True

    def is_present(self, msg: Message) -> bool:
        return self.signature.is_present(msg)


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
                out.append(self.id.value(msg).encode())
            elif name == "url":
                out.append(url.encode())
            elif name == "method":
                out.append(msg.method.upper().encode())
            elif name == "params":
                pairs = sorted(msg.form or [])
                out.append("".join(k + v for k, v in pairs).encode())
            elif name.startswith("field:"):
                out.append(_as_text(msg.field(name[6:])).encode())
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
        keys = [(r, read_key(secret, r)) for r in self.keys]
        keys = [(r, k) for r, k in keys if k]
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
                msg = replace(msg, body=_set_field(msg.body, locator.path, value))
                ts = _as_text(msg.field(locator.path))
        key = self._keys(secret)[0][1]
        content = self.content(msg, msg.body, msg.url, ts)
        signature = encode(self.digest(key, content), self.encoding)
        if isinstance(self.signature, BodyField):
            return replace(msg, body=_set_field(msg.body, self.signature.path, signature))
        for name, value in self.signature.render(signature, ts):
            msg = msg.with_header(name, value)
        return msg

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        """The match for `secret`, or raise a SignatureError (see module docstring)."""
        received = self.signature.signatures(msg)
        locator = self._timestamp_locator()
        ts = locator.value(msg) if locator is not None else None
        stamp = parse_timestamp(ts, self.timestamp_format) if ts is not None else None
        decoded = [decode(r, self.encoding) for r in received]
        if all(d is None for d in decoded):
            raise MalformedSignatureError(
                f"the signature is not valid {self.encoding}", received=[_short(r) for r in received]
            )
        first_content = None
        first_expected = None
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
                    return _check_time(match, stamp, self.tolerance, at)
        debug = self._debug(first_content or b"", first_expected or "", received, self.keys[0])
        if stamp is not None:
            debug["timestamp_skew_seconds"] = round((at - stamp).total_seconds(), 3)
            debug["tolerance_seconds"] = self.tolerance
        raise SignatureMismatchError("no signature matches this secret", **debug)

    def _debug(self, content: bytes, expected: str, received: list[str], reading: str) -> dict:
        return {
            "signed_preview": _preview(content),
            "algorithm": f"{'HMAC' if self.mac == 'hmac' else 'hash'}-{self.algorithm.upper()}",
            "encoding": self.encoding,
            "expected": _short(expected),
            "received": [_short(r) for r in received],
            "key_reading": reading,
        }


_TEMPLATE_PART = re.compile(r"\{([^{}]+)\}")


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


@dataclass(frozen=True)
class Ed25519(SchemeDefaults):
    """Ed25519 over timestamp + body (Discord), hex signature; verify takes the hex public
    key, sign the hex 32-byte private seed."""

    signature: Header
    timestamp: Header
    label: str = "Ed25519"
    inferred: bool = False

    def _content(self, msg: Message) -> bytes:
        return self.timestamp.value(msg).encode() + msg.body

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        try:
            private = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret.strip()))
        except ValueError:
            raise SecretFormatError("the private key is not 32 bytes of hex") from None
        msg = msg.with_header(self.timestamp.name, format_timestamp(at, "unix"))
        return msg.with_header(self.signature.name, private.sign(self._content(msg)).hex())

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        received = self.signature.signatures(msg)[0]
        content = self._content(msg)
        try:
            public = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(secret.strip()))
        except ValueError:
            raise SecretFormatError("the public key is not 32 bytes of hex") from None
        signature = decode(received, "hex")
        if signature is None or len(signature) != 64:
            raise MalformedSignatureError("the signature is not 64 bytes of hex")
        debug = {
            "signed_preview": _preview(content),
            "algorithm": "Ed25519",
            "encoding": "hex",
            "received": [_short(received)],
            "key_reading": "public key (hex)",
        }
        try:
            public.verify(signature, content)
        except InvalidSignature:
            raise SignatureMismatchError("the signature does not verify with this public key", **debug) from None
        return Match(scheme=self.name, key_reading="public key (hex)", debug=debug)


def _load_public(secret: str):
    text = secret.strip()
    if text.startswith("-----"):
        return serialization.load_pem_public_key(text.encode())
    return serialization.load_der_public_key(base64.b64decode(text, validate=True))


def _load_private(secret: str):
    text = secret.strip()
    if text.startswith("-----"):
        return serialization.load_pem_private_key(text.encode(), password=None)
    return serialization.load_der_private_key(base64.b64decode(text, validate=True), None)


@dataclass(frozen=True)
class Ecdsa(SchemeDefaults):
    """ECDSA P-256 / SHA-256 over `{ts}{body}`, base64 DER signature (SendGrid); verify takes
    the base64 DER (or PEM) public key, sign the base64 DER PKCS#8 (or PEM) private key."""

    signature: Header
    timestamp: Header
    label: str = "ECDSA P-256"
    inferred: bool = False

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        try:
            private = _load_private(secret)
        except (ValueError, TypeError, binascii.Error):
            raise SecretFormatError("the private key is not base64 DER or PEM") from None
        msg = msg.with_header(self.timestamp.name, format_timestamp(at, "unix"))
        content = self.timestamp.value(msg).encode() + msg.body
        signature = private.sign(content, ec.ECDSA(hashes.SHA256()))
        return msg.with_header(self.signature.name, base64.b64encode(signature).decode())

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        received = self.signature.signatures(msg)[0]
        ts = self.timestamp.value(msg)
        content = ts.encode() + msg.body
        signature = decode(received, "base64")
        if signature is None:
            raise MalformedSignatureError("the signature is not valid base64")
        try:
            public = _load_public(secret)
        except (ValueError, TypeError, binascii.Error):
            raise SecretFormatError("the public key is not base64 DER or PEM") from None
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise SecretFormatError("the public key is not an elliptic-curve key")
        debug = {
            "signed_preview": _preview(content),
            "algorithm": "ECDSA P-256 SHA-256",
            "encoding": "base64 DER",
            "received": [_short(received)],
            "key_reading": "public key (base64 DER)",
        }
        try:
            public.verify(signature, content, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise SignatureMismatchError("the signature does not verify with this public key", **debug) from None
        return Match(scheme=self.name, key_reading="public key", debug=debug)


@dataclass(frozen=True)
class Token(SchemeDefaults):
    """A shared secret sent as is (GitLab `X-Gitlab-Token`, Telegram, Okta, Cloudflare):
    the header or body field must equal the secret."""

    signature: Header | BodyField
    label: str = "shared token"
    inferred: bool = False

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        if isinstance(self.signature, BodyField):
            return replace(msg, body=_set_field(msg.body, self.signature.path, secret))
        return msg.with_header(self.signature.name, self.signature.prefix + secret)

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        received = self.signature.signatures(msg)[0]
        # Never echo the token itself: it is the secret.
        debug = {
            "algorithm": "plain comparison",
            "encoding": "text",
            "received": [f"{len(received)} characters"],
            "key_reading": "text",
        }
        if not hmac.compare_digest(received.encode(), secret.encode()):
            raise SignatureMismatchError("the token does not equal this secret", **debug)
        return Match(scheme=self.name, debug=debug)


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

    def _items(self, msg: Message) -> list[dict]:
        items = msg.field("notificationItems") or []
        return [i.get("NotificationRequestItem", {}) for i in items if isinstance(i, dict)]

    def is_present(self, msg: Message) -> bool:
        return any(dig(i, "additionalData.hmacSignature") for i in self._items(msg))

    def signed_string(self, item: dict) -> bytes:
        return ":".join(_as_text(dig(item, f)) for f in self.fields).encode()

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        key = read_key(secret, "hex")
        if key is None:
            raise SecretFormatError("the HMAC key is not hex")
        data = json.loads(msg.body)
        for wrapper in data.get("notificationItems", []):
            item = wrapper["NotificationRequestItem"]
            digest = hmac.new(key, self.signed_string(item), "sha256").digest()
            item.setdefault("additionalData", {})["hmacSignature"] = encode(digest, "base64")
        return replace(msg, body=json.dumps(data, separators=(",", ":")).encode())

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        items = self._items(msg)
        if not items:
            raise MissingSignatureError("no notificationItems in the body", missing="notificationItems")
        key = read_key(secret, "hex")
        if key is None:
            raise SecretFormatError("the HMAC key is not hex")
        for index, item in enumerate(items):
            received = _as_text(dig(item, "additionalData.hmacSignature"))
            content = self.signed_string(item)
            expected = encode(hmac.new(key, content, "sha256").digest(), "base64")
            debug = {
                "signed_preview": _preview(content),
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


Scheme = Hmac | Ed25519 | Ecdsa | Token | AdyenItems | Unverifiable


# --- diagnostics (PROVIDERS.md §0.3 step 5) ---------------------------------------------------

_ALGORITHMS = ("sha256", "sha1", "sha512")


def diagnose(scheme: Scheme, msg: Message, secret: str, *, at: datetime) -> tuple[str, str] | None:
    """When `scheme` did not match `secret`, find the nearest variant that would have: another
    encoding, algorithm, body reading, URL or key reading (fewest changes first).

    Returns `(what matched, what the scheme expects)`, e.g. `("HMAC-SHA256 in base64",
    "HMAC-SHA256 in hex")`, or None when no variant matches. Tolerance is ignored here.
    """
    if not isinstance(scheme, Hmac):
        return None
    loose = replace(scheme, tolerance=None)
    dimensions = {
        "encoding": [e for e in ("hex", "base64") if e != scheme.encoding],
        "algorithm": [a for a in _ALGORITHMS if a != scheme.algorithm],
        "bodies": [b for b in BODY_VARIANT_NAMES if b not in scheme.bodies],
        "keys": [k for k in ("text", "base64", "hex") if k not in scheme.keys],
        "urls": [u for u in URL_VARIANT_NAMES if u not in scheme.urls] if "{url}" in scheme.template else [],
    }
    names = list(dimensions)
    for size in (1, 2):
        for combo in itertools.combinations(names, size):
            for values in itertools.product(*(dimensions[n] for n in combo)):
                changes = dict(zip(combo, values, strict=False))
                variant = replace(
                    loose, **{n: (v,) if n in ("bodies", "keys", "urls") else v for n, v in changes.items()}
                )
                try:
                    variant.verify(msg, secret, at=at)
                except SignatureError:
                    continue
                return _describe_changes(scheme, changes)
    return None


def _describe_changes(scheme: Hmac, changes: dict) -> tuple[str, str]:
    found, expected = [], []
    if "algorithm" in changes or "encoding" in changes:
        alg = changes.get("algorithm", scheme.algorithm).upper()
        found.append(f"HMAC-{alg} in {changes.get('encoding', scheme.encoding)}")
        expected.append(scheme.describe())
    if "bodies" in changes:
        found.append(BODY_VARIANT_NAMES[changes["bodies"]])
        expected.append(BODY_VARIANT_NAMES[scheme.bodies[0]])
    if "keys" in changes:
        found.append(f"with {KEY_READING_NAMES[changes['keys']]}")
        expected.append(KEY_READING_NAMES[scheme.keys[0]])
    if "urls" in changes:
        found.append(URL_VARIANT_NAMES[changes["urls"]])
        expected.append(URL_VARIANT_NAMES[scheme.urls[0]])
    return ", ".join(found), ", ".join(expected)
