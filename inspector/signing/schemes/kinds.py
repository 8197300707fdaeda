"""`Scheme`: the union of every kind of scheme a provider entry can use."""

from __future__ import annotations

from inspector.signing.schemes.adyen import AdyenItems
from inspector.signing.schemes.asymmetric import Ecdsa, Ed25519
from inspector.signing.schemes.hmac_scheme import Hmac
from inspector.signing.schemes.jws import JwtBodyHash
from inspector.signing.schemes.rsa_cert import RsaCertificate
from inspector.signing.schemes.shared_token import Token
from inspector.signing.schemes.unverifiable import Unverifiable

Scheme = Hmac | Ed25519 | Ecdsa | Token | AdyenItems | Unverifiable | JwtBodyHash | RsaCertificate
