"""The text forms schemes read and write: secrets as key bytes, digests as hex/base64, timestamps."""

from __future__ import annotations

import base64
import binascii
import itertools
from datetime import UTC, datetime

from inspector.signing.schemes.errors import MalformedSignatureError


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
