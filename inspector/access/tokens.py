"""Secrets handed out once and stored only as digests: API tokens and share-link tokens.

Both are 32 random bytes or more, so a plain SHA-256 digest is enough to store them: there
is nothing to guess that a slow hash would protect (slow hashes are for human passwords).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# API tokens start with this, so they are recognisable (secret scanners, logs, a user's eye).
API_PREFIX = "hlt_"


def new_api_token() -> str:
    return API_PREFIX + secrets.token_urlsafe(32)


def new_share_token() -> str:
    """A share link's token: 192 random bits, URL-safe (DESIGN §8 asks for at least 128)."""
    return secrets.token_urlsafe(24)


def digest(token: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def looks_like_api_token(text: str) -> bool:
    return text.startswith(API_PREFIX) and 20 < len(text) < 200


def session_fingerprint(secret_key: str, password: str) -> str:
    """What a signed-in session cookie carries: it changes when the password (or the secret
    key) changes, so changing the password signs every browser out."""
    return hmac.new(secret_key.encode(), b"session\0" + password.encode(), hashlib.sha256).hexdigest()[:32]
