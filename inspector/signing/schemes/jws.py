"""`JwtBodyHash`: a JWT in a header whose claims carry the SHA-256 of the body (Netlify, Plaid, Vonage)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from inspector.safejson import loads_bounded
from inspector.signing.schemes.defaults import SchemeDefaults
from inspector.signing.schemes.display import short
from inspector.signing.schemes.errors import MalformedSignatureError, SecretFormatError, SignatureMismatchError
from inspector.signing.schemes.jwk import EcKey, b64url_decode, b64url_encode, read_ec_jwk
from inspector.signing.schemes.locators import Header
from inspector.signing.schemes.match import Match, check_time
from inspector.signing.schemes.message import Message

ALGORITHMS = ("HS256", "ES256")


@dataclass(frozen=True)
class ParsedJwt:
    """A compact JWS taken apart: the signed `header.payload` bytes, both parts decoded, and
    the signature bytes."""

    signing_input: bytes
    header: dict[str, Any]
    claims: dict[str, Any]
    signature: bytes


@dataclass(frozen=True)
class JwtBodyHash(SchemeDefaults):
    """A JWT in header `signature` (after its `prefix`, e.g. `Bearer `) signed with `algorithm`:
    `HS256` keyed with the secret as text (Netlify, Vonage) or `ES256` with a P-256 JWK stored
    as the secret (Plaid). Claim `hash_claim` must be the hex SHA-256 of the raw body; claim
    `iss` must equal `issuer` when one is set; with `tolerance`, claim `iat` must be within
    that many seconds of `at`. Signing with ES256 needs the private JWK (with `d`)."""

    signature: Header
    algorithm: str = "HS256"
    hash_claim: str = "sha256"
    issuer: str | None = None
    tolerance: int | None = None
    label: str = "JWT"
    inferred: bool = False

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:  # a registry entry's mistake, not the request's
            raise ValueError(f"JwtBodyHash algorithm is one of {ALGORITHMS}")

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        """`msg` with a fresh JWT (issued at `at`) over its body in the signature header."""
        key: EcKey | None = read_ec_jwk(secret) if self.algorithm == "ES256" else None
        header: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if key is not None and key.kid is not None:
            header["kid"] = key.kid
        claims: dict[str, Any] = {"iat": int(at.timestamp())}
        if self.issuer is not None:
            claims["iss"] = self.issuer
        claims[self.hash_claim] = hashlib.sha256(msg.body).hexdigest()
        signing_input = f"{_part(header)}.{_part(claims)}".encode()
        if key is None:
            signature = hmac.new(secret.encode(), signing_input, "sha256").digest()
        elif key.private is None:
            raise SecretFormatError('signing needs the private JWK (with "d"); a public JWK only verifies')
        else:
            r, s = decode_dss_signature(key.private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        token = f"{signing_input.decode()}.{b64url_encode(signature)}"
        return msg.with_header(self.signature.name, self.signature.prefix + token)

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        """The match for `secret`, or raise: MalformedSignatureError (not a JWT, another
        `alg`), SecretFormatError (ES256 secret not a P-256 JWK), SignatureMismatchError
        (wrong secret or key, wrong issuer, body altered; `debug["diagnosis"]` says which),
        TimestampError (`iat` outside the tolerance)."""
        received = self.signature.signatures(msg)[0]
        token = parse_token(received)
        debug: dict[str, Any] = {
            "algorithm": f"JWT {self.algorithm}",
            "encoding": "JWS compact (base64url)",
            "received": [short(received)],
            "key_reading": "text" if self.algorithm == "HS256" else "JWK",
            "claims": short(json.dumps(token.claims, sort_keys=True)),
        }
        if token.header.get("alg") != self.algorithm:
            raise MalformedSignatureError(
                f"the JWT is signed with alg {token.header.get('alg')!r}; only {self.algorithm} is accepted", **debug
            )
        self._check_signature(token, secret, debug)
        self._check_claims(token.claims, msg.body, debug)
        match = Match(scheme=self.name, key_reading=debug["key_reading"], debug=debug)
        if self.tolerance is None:
            return match
        return check_time(match, _issued_at(token.claims), self.tolerance, at)

    def _check_signature(self, token: ParsedJwt, secret: str, debug: dict[str, Any]) -> None:
        """Raise SignatureMismatchError unless the JWT's signature verifies with `secret`."""
        if self.algorithm == "HS256":
            expected = hmac.new(secret.encode(), token.signing_input, "sha256").digest()
            if not hmac.compare_digest(expected, token.signature):
                diagnosis = "the JWT's HMAC does not match this secret: a different secret signed it"
                raise SignatureMismatchError("the JWT was not signed with this secret", **debug, diagnosis=diagnosis)
            return
        key = read_ec_jwk(secret)
        if len(token.signature) != 64:
            raise MalformedSignatureError("an ES256 signature is 64 bytes (r and s)", **debug)
        der = encode_dss_signature(
            int.from_bytes(token.signature[:32], "big"), int.from_bytes(token.signature[32:], "big")
        )
        try:
            key.public.verify(der, token.signing_input, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            kid = token.header.get("kid")
            diagnosis = "the JWT does not verify with this key"
            if kid is not None and key.kid is not None and kid != key.kid:
                diagnosis = f"the JWT names key {kid!r} but the stored JWK is {key.kid!r}: store the key it names"
            raise SignatureMismatchError(
                "the JWT does not verify with this key", **debug, diagnosis=diagnosis
            ) from None

    def _check_claims(self, claims: dict[str, Any], body: bytes, debug: dict[str, Any]) -> None:
        """Raise SignatureMismatchError when the (authentic) claims do not fit this body."""
        if self.issuer is not None and claims.get("iss") != self.issuer:
            diagnosis = f"the JWT verifies but its issuer is {claims.get('iss')!r}, not {self.issuer!r}"
            raise SignatureMismatchError("the JWT was issued by someone else", **debug, diagnosis=diagnosis)
        digest = hashlib.sha256(body).hexdigest()
        debug["body_sha256"] = digest
        claimed = claims.get(self.hash_claim)
        if not isinstance(claimed, str) or not hmac.compare_digest(claimed.lower().encode(), digest.encode()):
            diagnosis = (
                f"the JWT verifies, but its {self.hash_claim} claim is not the SHA-256 of this body: "
                "the body was altered after signing"
            )
            raise SignatureMismatchError("the body does not match the signed hash", **debug, diagnosis=diagnosis)


def parse_token(text: str) -> ParsedJwt:
    """`text` as a compact JWS; raises MalformedSignatureError when it is not three base64url
    parts whose first two are JSON objects."""
    parts = text.split(".")
    if len(parts) != 3:
        raise MalformedSignatureError("the signature is not a JWT (three base64url parts joined by '.')")
    try:
        header, claims = (loads_bounded(b64url_decode(part)) for part in parts[:2])
        signature = b64url_decode(parts[2])
    except ValueError:
        raise MalformedSignatureError("the JWT's parts are not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise MalformedSignatureError("the JWT's header or claims are not JSON objects")
    return ParsedJwt(signing_input=f"{parts[0]}.{parts[1]}".encode(), header=header, claims=claims, signature=signature)


def _part(data: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(data, separators=(",", ":")).encode())


def _issued_at(claims: dict[str, Any]) -> datetime:
    """The `iat` claim as a time; raises MalformedSignatureError when it is absent or not a number."""
    iat = claims.get("iat")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        raise MalformedSignatureError("the JWT has no numeric iat (issued-at) claim to check its age")
    try:
        return datetime.fromtimestamp(iat, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedSignatureError("the JWT's iat claim is not a time") from None
