"""Signature schemes shared by all providers: each scheme can `sign` a message and `verify` it.

A provider entry only picks a scheme and fills in its parameters (header names, template,
algorithm, encoding, key reading, tolerance); the crypto lives here, once. Import from this
package; the modules behind it are:

    errors        the error tree below
    message       `Message` (what a scheme sees of a request) and body-field reading
    locators      where a signature, timestamp or id is found (`Header`, `Fields`, `BodyField`)
    encoding      key readings, hex/base64, timestamp formats
    variants      body and URL readings a sender may have signed instead
    display       shortening signed content for the debugger panel
    match         `Match`, the result of a successful verification
    defaults      what most non-HMAC schemes share
    hmac_scheme   `Hmac` and `standard_webhooks`
    asymmetric    `Ed25519`, `Ecdsa`
    shared_token  `Token`
    adyen         `AdyenItems`
    jws, jwk      `JwtBodyHash` (Netlify, Plaid, Vonage) and the JWK it reads
    rsa_cert      `RsaCertificate` (PayPal)
    unverifiable  `Unverifiable`
    sdk_rules     `SdkRules` (how a provider's own SDK reads a request) and `When`
    kinds         the `Scheme` union
    diagnostics   `diagnose`: the nearest variant that would have matched

Errors raised by `verify` (all subclasses of `SignatureError`)::

    SignatureError                 base class; `.debug` holds a dict for the debugger panel
    ├── MissingSignatureError      the signature (or its timestamp/id header) is absent
    ├── MalformedSignatureError    present but not parseable (prefix, base64, timestamp)
    ├── SecretFormatError          the stored secret cannot be read the way the scheme needs
    ├── TimestampError             the signature matches but its timestamp is outside tolerance
    ├── SignatureMismatchError     well-formed, but no signature matches this secret
    ├── SdkRejectionError          matches only under a reading the provider's SDK refuses
    └── UnverifiableError          a scheme Hookloupe cannot check offline (certificates, JWKs)

Rules: bodies are `bytes`; time is always the `at=` argument; digests are compared with
`hmac.compare_digest`; the secret never appears in an error or debug value.
"""

from __future__ import annotations

from inspector.signing.schemes.adyen import AdyenItems
from inspector.signing.schemes.asymmetric import Ecdsa, Ed25519
from inspector.signing.schemes.defaults import SchemeDefaults
from inspector.signing.schemes.diagnostics import diagnose
from inspector.signing.schemes.display import PREVIEW_CHARS
from inspector.signing.schemes.encoding import (
    KEY_READING_NAMES,
    decode,
    encode,
    format_timestamp,
    parse_timestamp,
    read_key,
)
from inspector.signing.schemes.errors import (
    MalformedSignatureError,
    MissingSignatureError,
    SdkRejectionError,
    SecretFormatError,
    SignatureError,
    SignatureMismatchError,
    TimestampError,
    UnverifiableError,
)
from inspector.signing.schemes.hmac_scheme import Hmac, standard_webhooks
from inspector.signing.schemes.jws import JwtBodyHash
from inspector.signing.schemes.kinds import Scheme
from inspector.signing.schemes.locators import BodyField, Fields, Header, Locator
from inspector.signing.schemes.match import Match, Window
from inspector.signing.schemes.message import Message, dig, parse_json
from inspector.signing.schemes.rsa_cert import RsaCertificate
from inspector.signing.schemes.sdk_rules import SdkRules, When
from inspector.signing.schemes.shared_token import Token
from inspector.signing.schemes.unverifiable import Unverifiable
from inspector.signing.schemes.variants import (
    BODY_VARIANT_NAMES,
    URL_VARIANT_NAMES,
    body_variant,
    url_variant,
)

__all__ = [
    "BODY_VARIANT_NAMES",
    "KEY_READING_NAMES",
    "PREVIEW_CHARS",
    "URL_VARIANT_NAMES",
    "AdyenItems",
    "BodyField",
    "Ecdsa",
    "Ed25519",
    "Fields",
    "Header",
    "Hmac",
    "JwtBodyHash",
    "Locator",
    "MalformedSignatureError",
    "Match",
    "Message",
    "MissingSignatureError",
    "RsaCertificate",
    "Scheme",
    "SchemeDefaults",
    "SdkRejectionError",
    "SdkRules",
    "SecretFormatError",
    "SignatureError",
    "SignatureMismatchError",
    "TimestampError",
    "Token",
    "Unverifiable",
    "UnverifiableError",
    "When",
    "Window",
    "body_variant",
    "decode",
    "diagnose",
    "dig",
    "encode",
    "format_timestamp",
    "parse_json",
    "parse_timestamp",
    "read_key",
    "standard_webhooks",
    "url_variant",
]
