"""Read an elliptic-curve JSON Web Key (Plaid's webhook key) stored as a bin's secret."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from inspector.safejson import loads_bounded
from inspector.signing.schemes.errors import SecretFormatError


@dataclass(frozen=True)
class EcKey:
    """A P-256 key read from a JWK: always the public half, the private half when the JWK
    has `d` (only needed to sign), and its `kid` (None when the JWK has none)."""

    public: ec.EllipticCurvePublicKey
    private: ec.EllipticCurvePrivateKey | None
    kid: str | None


def b64url_decode(text: str) -> bytes:
    """Unpadded base64url (RFC 7515) as bytes; raises ValueError when it is not that."""
    if not text or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None


def b64url_encode(data: bytes) -> str:
    """`data` as unpadded base64url, the way JWS writes every part."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def read_ec_jwk(secret: str) -> EcKey:
    """The P-256 key in `secret`: a JWK object, or Plaid's `/webhook_verification_key/get`
    answer (`{"key": {...}}`) pasted whole. Raises SecretFormatError (never echoing the
    secret) when it is not JSON, not an EC P-256 key, or its coordinates are off the curve."""
    jwk = _jwk_object(secret)
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise SecretFormatError('the JWK is not an elliptic-curve P-256 key ("kty": "EC", "crv": "P-256")')
    try:
        x, y = (int.from_bytes(b64url_decode(str(jwk[k])), "big") for k in ("x", "y"))
        public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        private = None
        if "d" in jwk:
            private = ec.derive_private_key(int.from_bytes(b64url_decode(str(jwk["d"])), "big"), ec.SECP256R1())
    except (KeyError, ValueError):
        raise SecretFormatError("the JWK's x, y (or d) are not base64url coordinates of a P-256 key") from None
    kid = jwk.get("kid")
    return EcKey(public=public, private=private, kid=str(kid) if kid is not None else None)


def _jwk_object(secret: str) -> dict[str, Any]:
    """The JWK object inside `secret`; raises SecretFormatError when there is none."""
    try:
        data = loads_bounded(secret)
    except ValueError:
        raise SecretFormatError('the secret is not a JWK (JSON such as {"kty": "EC", ...})') from None
    if isinstance(data, dict) and isinstance(data.get("key"), dict):
        data = data["key"]  # the whole /webhook_verification_key/get answer
    if not isinstance(data, dict):
        raise SecretFormatError("the secret is not a JWK object")
    return data
