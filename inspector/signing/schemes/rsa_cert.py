"""`RsaCertificate`: PayPal's RSA signature over transmission id, time, webhook id and CRC32 of the body.

PayPal signs `{transmission id}|{transmission time}|{webhook id}|{CRC32 of the raw body, unsigned
decimal}` with the key of the certificate named in `PAYPAL-CERT-URL`. Hookloupe never fetches
that URL: the bin's secret holds the certificate (PEM, as downloaded once from that URL) and,
on a line of its own before or after it, the webhook ID from the PayPal developer dashboard.
"""

from __future__ import annotations

import base64
import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from inspector.signing.schemes.defaults import SchemeDefaults
from inspector.signing.schemes.display import preview, short
from inspector.signing.schemes.encoding import decode, format_timestamp, parse_timestamp
from inspector.signing.schemes.errors import MalformedSignatureError, SecretFormatError, SignatureMismatchError
from inspector.signing.schemes.locators import Header
from inspector.signing.schemes.match import Match, check_time
from inspector.signing.schemes.message import Message

# PAYPAL-AUTH-ALGO values and their digests; SHA1withRSA is what PayPal's older deliveries
# (and its SDKs' published test vectors) use.
DIGESTS: dict[str, type[hashes.SHA256] | type[hashes.SHA1]] = {
    "SHA256withRSA": hashes.SHA256,
    "SHA1withRSA": hashes.SHA1,
}
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_WEBHOOK_ID = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class PaypalSecret:
    """A PayPal secret taken apart: the PEM block's label (`CERTIFICATE`, `PUBLIC KEY`,
    `PRIVATE KEY`...), the block itself, and the webhook ID."""

    kind: str
    pem: str
    webhook_id: str


def read_paypal_secret(secret: str) -> PaypalSecret:
    """The PEM block and webhook ID in `secret`; raises SecretFormatError (never quoting the
    secret) when either is missing or anything else is there."""
    found = _PEM.search(secret)
    if found is None:
        raise SecretFormatError("the secret holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    rest = (secret[: found.start()] + secret[found.end() :]).strip()
    if not rest:
        raise SecretFormatError("the secret holds the certificate but no webhook ID: add it on its own line")
    if not _WEBHOOK_ID.fullmatch(rest):
        raise SecretFormatError("besides the PEM block the secret may hold only the webhook ID (letters and digits)")
    return PaypalSecret(kind=found.group(1), pem=found.group(0), webhook_id=rest)


def _public_key(stored: PaypalSecret) -> rsa.RSAPublicKey:
    """The RSA public key of a certificate, public key or private key PEM block."""
    try:
        if stored.kind == "CERTIFICATE":
            key: object = x509.load_pem_x509_certificate(stored.pem.encode()).public_key()
        elif stored.kind == "PUBLIC KEY":
            key = serialization.load_pem_public_key(stored.pem.encode())
        else:
            key = serialization.load_pem_private_key(stored.pem.encode(), password=None).public_key()
    except (ValueError, TypeError):
        raise SecretFormatError(f"the {stored.kind} PEM block cannot be read") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SecretFormatError("the certificate's key is not an RSA key")
    return key


def _private_key(stored: PaypalSecret) -> rsa.RSAPrivateKey:
    """The RSA private key that signing needs; raises SecretFormatError for anything else."""
    if "PRIVATE KEY" not in stored.kind:
        raise SecretFormatError("signing needs an RSA private key PEM; a certificate only verifies")
    try:
        key = serialization.load_pem_private_key(stored.pem.encode(), password=None)
    except (ValueError, TypeError):
        raise SecretFormatError("the private key PEM block cannot be read (encrypted keys are not supported)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SecretFormatError("the private key is not an RSA key")
    return key


@dataclass(frozen=True)
class RsaCertificate(SchemeDefaults):
    """PayPal's transmission signature: RSA PKCS#1 v1.5 (digest from `algorithm`'s header,
    SHA-256 when absent) over `id|time|webhook id|CRC32(body)`, base64. Verify takes the
    secret `webhook id + certificate PEM` (a public or private key PEM also verifies); sign
    takes `webhook id + RSA private key PEM` and signs with SHA256withRSA."""

    signature: Header
    transmission_id: Header
    transmission_time: Header
    algorithm: Header
    cert_url: Header
    label: str = "RSA certificate"
    inferred: bool = False

    def content(self, msg: Message, webhook_id: str) -> bytes:
        """The signed string; raises MissingSignatureError when the id or time header is absent."""
        crc = zlib.crc32(msg.body) & 0xFFFFFFFF
        tid, time = self.transmission_id.value(msg), self.transmission_time.value(msg)
        return f"{tid}|{time}|{webhook_id}|{crc}".encode()

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        """`msg` with a transmission id (kept when present), time `at` and SHA256withRSA signature."""
        stored = read_paypal_secret(secret)
        private = _private_key(stored)
        if msg.header(self.transmission_id.name) is None:
            msg = msg.with_header(self.transmission_id.name, str(uuid.uuid5(uuid.NAMESPACE_URL, at.isoformat())))
        msg = msg.with_header(self.transmission_time.name, format_timestamp(at, "iso"))
        msg = msg.with_header(self.algorithm.name, "SHA256withRSA")
        signature = private.sign(self.content(msg, stored.webhook_id), padding.PKCS1v15(), hashes.SHA256())
        return msg.with_header(self.signature.name, base64.b64encode(signature).decode())

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        """The match for `secret`, or raise Missing/MalformedSignatureError (headers absent,
        unknown algorithm, signature not base64), SecretFormatError (no PEM or webhook ID)
        or SignatureMismatchError (another certificate, webhook ID or body)."""
        received = self.signature.signatures(msg)[0]
        algorithm = msg.header(self.algorithm.name) or "SHA256withRSA"
        if algorithm.strip() not in DIGESTS:
            raise MalformedSignatureError(
                f"{self.algorithm.name} {algorithm[:40]!r} is not one of {', '.join(DIGESTS)}"
            )
        signature = decode(received, "base64")
        if signature is None:
            raise MalformedSignatureError("the signature is not valid base64", received=[short(received)])
        stored = read_paypal_secret(secret)
        content = self.content(msg, stored.webhook_id)
        debug: dict[str, Any] = {
            "signed_preview": preview(content),
            "algorithm": algorithm.strip(),
            "encoding": "base64",
            "received": [short(received)],
            "key_reading": f"{stored.kind.lower()} (PEM)",
        }
        cert_url = msg.header(self.cert_url.name)
        if cert_url:
            debug["certificate_url"] = f"{short(cert_url)} (not fetched: the stored certificate is used)"
        try:
            _public_key(stored).verify(signature, content, padding.PKCS1v15(), DIGESTS[algorithm.strip()]())
        except InvalidSignature:
            diagnosis = (
                "no match over the signed string shown: another certificate, a wrong webhook ID, or an altered body"
            )
            raise SignatureMismatchError(
                "the signature does not verify with this certificate", **debug, diagnosis=diagnosis
            ) from None
        match = Match(scheme=self.name, key_reading=debug["key_reading"], debug=debug)
        return check_time(match, _sent_at(self.transmission_time.value(msg)), None, at)


def _sent_at(value: str) -> datetime | None:
    """The transmission time, for the skew shown in the debugger; None when unreadable (it is
    signed as text, so an odd format is no reason to fail)."""
    try:
        return parse_timestamp(value, "iso")
    except MalformedSignatureError:
        return None
