"""Encrypt bin secrets at rest with a key derived from SECRET_KEY, and hint at them safely."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Fixed context: the derived key is used for secrets and nothing else.
_INFO = b"hookloupe bin secrets v1"


class SecretKeyChangedError(Exception):
    """A stored secret cannot be decrypted: SECRET_KEY changed since it was saved."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret_key: str, value: str) -> bytes:
    """The ciphertext of `value` (authenticated; a fresh IV each time)."""
    return _fernet(secret_key).encrypt(value.encode("utf-8"))


def decrypt(secret_key: str, token: bytes) -> str:
    """The plain value; SecretKeyChangedError when `token` was made with another key."""
    try:
        return _fernet(secret_key).decrypt(token).decode("utf-8")
    except InvalidToken:
        raise SecretKeyChangedError("this secret was saved under another SECRET_KEY") from None


def hint(value: str) -> str:
    """At most the last 4 characters, fewer for short values, so a hint never gives most of a
    secret away: 16+ chars show 4, 8-15 show 2, shorter show none."""
    shown = 4 if len(value) >= 16 else 2 if len(value) >= 8 else 0
    return "…" + value[-shown:] if shown else "…"
