"""The text forms schemes read and write: secrets as key bytes, digests as hex/base64, timestamps."""

from __future__ import annotations

import base64
import binascii
import itertools
import math
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
            # As the standardwebhooks library reads it: padding added, stray characters skipped.
            raw = secret.strip()
            raw = raw[len("whsec_") :] if raw.startswith("whsec_") else raw
            return base64.b64decode(raw + "==") or None
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


TIMESTAMP_FORMATS = {
    "unix": "a unix time in seconds",
    "int": "a whole unix time in seconds, read by Python's int() as the SDKs do",
    "ms": "a unix time in milliseconds",
    "ms-seconds": "a unix time in milliseconds, cut to whole seconds (HubSpot's SDK)",
    "iso": "an RFC 3339 time",
    "iso-python": "an ISO 8601 time as Python's datetime.fromisoformat reads it (Box's SDK)",
}


def parse_timestamp(value: str, fmt: str) -> datetime:
    """A timestamp header value as an aware datetime in one of TIMESTAMP_FORMATS; raises
    MalformedSignatureError. `int`, `ms-seconds` and `iso-python` read exactly as the SDKs
    that use them do (Stripe, Slack, Paddle, Mailgun; HubSpot; Box)."""
    try:
        if fmt == "unix":
            return datetime.fromtimestamp(float(value), UTC)
        if fmt == "int":
            return datetime.fromtimestamp(int(value), UTC)
        if fmt == "ms":
            return datetime.fromtimestamp(float(value) / 1000, UTC)
        if fmt == "ms-seconds":
            return datetime.fromtimestamp(float(value) // 1000, UTC)
        if fmt == "iso-python":
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        head, dot, rest = text.partition(".")
        if dot:  # Python reads at most 6 fractional digits; Twitch sends nanoseconds
            digits = "".join(itertools.takewhile(str.isdigit, rest))
            text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedSignatureError(f"timestamp {value[:40]!r} is not a {fmt} time") from None


def whole_seconds(value: str, fmt: str) -> str:
    """The timestamp as the SDKs that sign its integer value write it (`t=0123` signs `123`;
    Standard Webhooks floors `1.5` to `1`); raises MalformedSignatureError."""
    try:
        number = int(value) if fmt == "int" else math.floor(float(value))
    except (ValueError, OverflowError):
        raise MalformedSignatureError(f"timestamp {value[:40]!r} is not a {fmt} time") from None
    return str(number)


def format_timestamp(at: datetime, fmt: str) -> str:
    """`at` written the way a sender writes a timestamp of format `fmt`."""
    if fmt in ("unix", "int"):
        return str(int(at.timestamp()))
    if fmt in ("ms", "ms-seconds"):
        return str(int(at.timestamp() * 1000))
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
