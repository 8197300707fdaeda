"""The errors a scheme raises when a signature does not verify (tree in the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspector.signing.schemes.match import Match


class SignatureError(Exception):
    """Base of every verification failure; `debug` is safe to show (never holds the secret)."""

    def __init__(self, message: str, **debug: Any) -> None:
        super().__init__(message)
        self.debug = debug


class MissingSignatureError(SignatureError):
    """The signature, or a header it depends on, is absent (`debug["missing"]` names it)."""


class MalformedSignatureError(SignatureError):
    """A signature or timestamp is present but cannot be parsed."""


class SecretFormatError(SignatureError):
    """The secret cannot be read as this scheme requires (e.g. `whsec_` not base64)."""


class TimestampError(SignatureError):
    """The signature matches but the timestamp is too far from `at`; `match` is the match."""

    def __init__(self, message: str, match: Match, **debug: Any) -> None:
        super().__init__(message, **debug)
        self.match = match


class SignatureMismatchError(SignatureError):
    """The signature is well formed but was not made with this secret over this content."""


class SdkRejectionError(SignatureError):
    """The signature matches only under a reading the provider's SDK refuses (upper-case hex,
    a body that is not UTF-8, an entry the SDK's parser never reaches...). The verdict follows
    the SDK (`invalid`); `what` says how it matched, `why` why the SDK rejects it."""

    def __init__(self, what: str, why: str, **debug: Any) -> None:
        super().__init__(f"matches {what}, but {why}", **debug)
        self.what = what
        self.why = why


class UnverifiableError(SignatureError):
    """The scheme needs something Hookloupe does not have offline (a certificate, a JWK)."""
