"""Public-key schemes: Ed25519 (Discord) and ECDSA P-256 (SendGrid)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from inspector.signing.schemes.defaults import SchemeDefaults
from inspector.signing.schemes.display import preview, short
from inspector.signing.schemes.encoding import decode, format_timestamp
from inspector.signing.schemes.errors import (
    MalformedSignatureError,
    SdkRejectionError,
    SecretFormatError,
    SignatureError,
    SignatureMismatchError,
)
from inspector.signing.schemes.locators import Header
from inspector.signing.schemes.match import Match
from inspector.signing.schemes.message import Message
from inspector.signing.schemes.sdk_rules import SdkRules


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
        debug: dict[str, Any] = {
            "signed_preview": preview(content),
            "algorithm": "Ed25519",
            "encoding": "hex",
            "received": [short(received)],
            "key_reading": "public key (hex)",
        }
        try:
            public.verify(signature, content)
        except InvalidSignature:
            raise SignatureMismatchError("the signature does not verify with this public key", **debug) from None
        return Match(scheme=self.name, key_reading="public key (hex)", debug=debug)


def _load_public(secret: str) -> PublicKeyTypes:
    """A PEM key as pasted, or the bare base64 of a DER key read as SendGrid's SDK reads it:
    wrapped in PEM armour (so line breaks inside it are fine)."""
    text = secret.strip()
    if not text.startswith("-----"):
        text = f"-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----"
    return serialization.load_pem_public_key(text.encode())


def _load_private(secret: str) -> PrivateKeyTypes:
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
    sdk: SdkRules | None = None

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        try:
            private = _load_private(secret)
        except (ValueError, TypeError, binascii.Error):
            raise SecretFormatError("the private key is not base64 DER or PEM") from None
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise SecretFormatError("the private key is not an elliptic-curve key")
        msg = msg.with_header(self.timestamp.name, format_timestamp(at, "unix"))
        content = self.timestamp.value(msg).encode() + msg.body
        signature = private.sign(content, ec.ECDSA(hashes.SHA256()))
        return msg.with_header(self.signature.name, base64.b64encode(signature).decode())

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        """The match, or a SignatureError; with `sdk`, decided as that SDK decides (its
        lenient base64, a UTF-8 body), the strict reading only explaining a rejection."""
        received = self.signature.signatures(msg)[0]
        if self.sdk is None:
            return self._check(msg, secret, received, decode(received, "base64"))
        problem = self.sdk.body_problem(msg.body)
        if not problem:
            try:  # as the SDK decodes it: stray characters skipped, bad padding refused
                signature = base64.b64decode(received)
            except (binascii.Error, ValueError):
                problem = f"the signature is not base64 Python can decode, and {self.sdk.library} stops there"
            else:
                try:
                    return self._check(msg, secret, received, signature)
                except SignatureMismatchError:
                    raise
                except SignatureError as error:
                    problem = str(error)
        match = self._check(msg, secret, received, decode(received, "base64"))
        raise SdkRejectionError("when Hookloupe reads the request leniently", problem, **match.debug)

    def _check(self, msg: Message, secret: str, received: str, signature: bytes | None) -> Match:
        """Verify `signature` (None: not decodable) over the timestamp and body."""
        ts = self.timestamp.value(msg)
        content = ts.encode() + msg.body
        if signature is None:
            raise MalformedSignatureError("the signature is not valid base64")
        try:
            public = _load_public(secret)
        except (ValueError, TypeError, binascii.Error):
            raise SecretFormatError("the public key is not base64 DER or PEM") from None
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise SecretFormatError("the public key is not an elliptic-curve key")
        debug: dict[str, Any] = {
            "signed_preview": preview(content),
            "algorithm": "ECDSA P-256 SHA-256",
            "encoding": "base64 DER",
            "received": [short(received)],
            "key_reading": "public key (base64 DER)",
        }
        try:
            public.verify(signature, content, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise SignatureMismatchError("the signature does not verify with this public key", **debug) from None
        return Match(scheme=self.name, key_reading="public key", debug=debug)
