"""Verify a capture's signature against a bin's secrets and say, in one sentence, why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from inspector.signing import providers
from inspector.signing.schemes import (
    KEY_READING_NAMES,
    BodyField,
    Fields,
    Header,
    Hmac,
    MalformedSignatureError,
    Match,
    Message,
    MissingSignatureError,
    Scheme,
    SdkRejectionError,
    SecretFormatError,
    SignatureError,
    SignatureMismatchError,
    TimestampError,
    Unverifiable,
    diagnose,
)

if TYPE_CHECKING:
    from inspector.capture.request import CapturedRequest
    from inspector.signing.providers.model import Provider

STATUSES = ("valid", "invalid", "expired", "unsigned", "no_secret", "unverifiable", "none")


@dataclass(frozen=True)
class SecretValue:
    """A stored secret as the verifier needs it; `provider` None means "any provider"."""

    id: int
    label: str
    provider: str | None
    value: str


@dataclass(frozen=True)
class Verification:
    """The verdict on one capture (see DESIGN §4 `signature`). `secret` is the matching
    secret's label, never its value; `debug` feeds the signature-debugger panel."""

    status: str
    scheme: str | None = None
    secret: str | None = None
    detail: str = ""
    inferred: bool = False
    warnings: tuple[str, ...] = ()
    debug: dict[str, Any] = field(default_factory=dict)


# The verdict on a capture no provider claims.
NO_PROVIDER = Verification("none", detail="No known provider was detected, so no signature was checked.")


def verification_to_json(v: Verification) -> dict[str, Any]:
    """The DESIGN §4 `signature` object plus `inferred`, `warnings` and `debug`."""
    return {
        "status": v.status,
        "scheme": v.scheme,
        "secret": v.secret,
        "detail": v.detail,
        "inferred": v.inferred,
        "warnings": list(v.warnings),
        "debug": v.debug,
    }


def verify_signature(
    capture: CapturedRequest,
    secrets: Sequence[SecretValue],
    *,
    public_url: str,
    detection: providers.Detection | None = None,
) -> Verification:
    """Verify `capture` (a CapturedRequest) as of `capture.received_at` with every secret that
    is unscoped or scoped to the detected provider. `public_url` is the full URL the sender
    called (base + `/h/<bin>` + path + `?query`), used by URL-signing providers.

    Never raises for bad input: every failure comes back as a status and a sentence.
    """
    detection = detection or providers.detect(capture)
    entry = providers.get(detection.provider_id) if detection else None
    if entry is None:  # a shared header alone names candidates: say which, check nothing
        undecided = detection.could_be if detection else ""
        return Verification("none", detail=f"{undecided}, so no signature was checked.") if undecided else NO_PROVIDER
    if not entry.schemes:
        note = entry.unsigned or f"{entry.name} does not sign its webhooks"
        return Verification("unsigned", detail=f"{note}.")
    msg = Message(method=capture.method, url=public_url, headers=capture.headers, body=capture.body)
    present = [s for s in entry.schemes if s.is_present(msg)]
    if not present:
        unmet = _unmet_condition(entry, msg)
        if unmet is not None:
            return unmet
        where = _signature_place(entry.schemes[0])
        return Verification(
            "unsigned",
            scheme=entry.schemes[0].name,
            detail=f"{entry.name} signs with {where}, but this request carries none.",
        )
    scheme = present[0]
    if isinstance(scheme, Unverifiable):
        return Verification("unverifiable", scheme=scheme.name, detail=f"{scheme.reason}.")
    usable = [s for s in secrets if s.provider in (None, entry.id)]
    if not usable:
        return Verification(
            "no_secret",
            scheme=scheme.name,
            detail=f"This {entry.name} request is signed, but the bin holds no "
            f"secret for {entry.name} to check it with.",
        )
    if capture.body_incomplete:
        return Verification(
            "unverifiable",
            scheme=scheme.name,
            detail="The body ended before the sender finished it (short of its Content-Length or "
            "chunked framing), so its signature cannot be checked.",
        )
    if capture.body_truncated:
        return Verification(
            "unverifiable",
            scheme=scheme.name,
            detail="The body was cut at the size limit, so its signature cannot be checked.",
        )
    # The first signature place present is authoritative (GitHub's X-Hub-Signature-256 over the
    # legacy X-Hub-Signature, Square's SHA-256 header over its SHA-1 one), as the providers'
    # verifiers check it alone; the others only explain a failure.
    authoritative = [s for s in present if _signature_place(s) == _signature_place(scheme)]
    shadowed = [s for s in present if s not in authoritative]
    return _try_all(entry, authoritative, usable, msg, capture.received_at, shadowed=shadowed)


def _try_all(
    entry: Provider,
    schemes: Sequence[Scheme],
    secrets: Sequence[SecretValue],
    msg: Message,
    at: datetime,
    *,
    shadowed: Sequence[Scheme] = (),
) -> Verification:
    """Try every scheme with every secret; a match wins, then an expired match, then the most
    useful failure (a shadowed signature that matches, a match the SDK refuses, malformed,
    secret format, mismatch with diagnostics)."""
    expired: tuple[TimestampError, Scheme, SecretValue] | None = None
    failures: list[tuple[SignatureError, Scheme, SecretValue]] = []
    for scheme in schemes:
        for secret in secrets:
            try:
                match = scheme.verify(msg, secret.value, at=at)
            except TimestampError as error:
                expired = expired or (error, scheme, secret)
            except SignatureError as error:
                failures.append((error, scheme, secret))
            else:
                return _valid(entry, scheme, secret, match)
    if expired:
        late, scheme, secret = expired
        return Verification(
            "expired",
            scheme=scheme.name,
            secret=secret.label,
            detail=f"The signature matches secret '{secret.label}', but its {late}.",
            inferred=late.match.inferred,
            warnings=entry.warnings,
            debug=late.debug,
        )
    return _shadowed_match(entry, schemes[0], shadowed, secrets, msg, at) or _failure(entry, failures, msg, at)


def _shadowed_match(
    entry: Provider,
    scheme: Scheme,
    shadowed: Sequence[Scheme],
    secrets: Sequence[SecretValue],
    msg: Message,
    at: datetime,
) -> Verification | None:
    """When an authoritative signature failed but a shadowed one (a legacy header) matches,
    the verdict stays `invalid`, and says so; None when none matches."""
    for other in shadowed:
        for secret in secrets:
            try:
                other.verify(msg, secret.value, at=at)
            except SignatureError:
                continue
            detail = (
                f"The {other.name} signature ({_signature_place(other)}) matches secret '{secret.label}', but "
                f"{_signature_place(scheme)} is present and does not match; when it is present it is the one "
                f"{entry.name}'s verifiers check, so the request is rejected."
            )
            return Verification("invalid", scheme=scheme.name, detail=detail, debug={"shadowed_match": other.name})
    return None


def _unmet_condition(entry: Provider, msg: Message) -> Verification | None:
    """A signature whose scheme is chosen by another header (HubSpot's version, Twilio's
    algorithm) that names none of the entry's schemes: `invalid`, saying why; else None."""
    for scheme in entry.schemes:
        if isinstance(scheme, Hmac) and scheme.when is not None and scheme.signature.is_present(msg):
            detail = (
                f"This request carries {_signature_place(scheme)}, but {scheme.when.describe(msg)}, "
                f"which names no signing scheme {entry.name} uses, so it cannot verify."
            )
            return Verification("invalid", scheme=scheme.name, detail=detail)
    return None


def _valid(entry: Provider, scheme: Scheme, secret: SecretValue, match: Match) -> Verification:
    extras = []
    received = match.debug.get("received") or []
    if len(received) > 1:
        extras.append(f"signature {match.index + 1} of {len(received)}")
    if isinstance(scheme, Hmac) and match.key_reading != scheme.keys[0]:
        extras.append(f"key read as {KEY_READING_NAMES[match.key_reading]}")
    if match.variant:
        extras.append(f"signed over {match.variant}")
    how = f" ({'; '.join(extras)})" if extras else ""
    sentence = f"The {scheme.name} signature matches secret '{secret.label}'{how}."
    if match.inferred:
        sentence = sentence[:-1] + f"; {entry.name}'s scheme is inferred from its docs, not confirmed."
    return Verification(
        "valid",
        scheme=scheme.name,
        secret=secret.label,
        detail=sentence,
        inferred=match.inferred,
        warnings=entry.warnings,
        debug=match.debug | {"key_interpretation": match.key_reading},
    )


def _failure(
    entry: Provider, failures: list[tuple[SignatureError, Scheme, SecretValue]], msg: Message, at: datetime
) -> Verification:
    """The most useful explanation of a failure: a match the provider's SDK refuses, a
    diagnostic variant that would have matched, else an unreadable signature, an unusable
    secret, or a plain mismatch."""
    for error, scheme, secret in failures:
        if isinstance(error, SdkRejectionError):
            detail = f"The {scheme.name} signature matches secret '{secret.label}' {error.what}, but {error.why}."
            return Verification("invalid", scheme=scheme.name, detail=detail, debug=error.debug | {"sdk": error.why})
        if "body_hash_mismatch" in error.debug:  # the URL's signature matched; the body did not
            detail = f"The {scheme.name} signature of the URL matches secret '{secret.label}', but {error}."
            return Verification("invalid", scheme=scheme.name, detail=detail, debug=error.debug)
    for error, scheme, secret in failures:
        if not isinstance(error, (SignatureMismatchError, MalformedSignatureError)):
            continue
        hint = diagnose(scheme, msg, secret.value, at=at)
        if hint:
            found, expected = hint
            return Verification(
                "invalid",
                scheme=scheme.name,
                detail=f"The signature matches {found} with secret '{secret.label}', but {entry.name} uses {expected}.",
                inferred=scheme.inferred,
                debug=error.debug | {"diagnosis": found},
            )
    for kind in (MissingSignatureError, MalformedSignatureError):
        of_kind = [f for f in failures if isinstance(f[0], kind)]
        if of_kind and len(of_kind) == len(failures):
            error, scheme, _ = of_kind[0]
            return Verification(
                "invalid",
                scheme=scheme.name,
                detail=f"The {entry.name} signature cannot be read: {error}.",
                debug=error.debug,
            )
    mismatches = [f for f in failures if isinstance(f[0], SignatureMismatchError)]
    if not mismatches:
        error, scheme, secret = next((f for f in failures if isinstance(f[0], SecretFormatError)), failures[0])
        return Verification(
            "invalid", scheme=scheme.name, detail=f"Secret '{secret.label}' cannot be used: {error}.", debug=error.debug
        )
    error, scheme, _ = mismatches[0]
    count = len({s.id for _, _, s in mismatches})
    if any(s.inferred for s in entry.schemes):
        detail = (
            f"No candidate scheme matched with {count} secret(s); {entry.name}'s signing "
            "scheme is unconfirmed, so this may be a wrong secret or an unknown scheme."
        )
        return Verification("invalid", scheme=scheme.name, detail=detail, inferred=True, debug=error.debug)
    received = error.debug.get("received") or []
    several = f" (none of its {len(received)} signatures)" if len(received) > 1 else ""
    detail = (
        f"No stored secret matches the {entry.name} signature{several}: wrong secret or "
        f"the body changed (tried {count} secret(s))."
    )
    return Verification("invalid", scheme=scheme.name, detail=detail, debug=error.debug)


def _signature_place(scheme: Scheme) -> str:
    """Where a scheme's signature lives, in words (`header X-Hub-Signature-256`)."""
    locator = getattr(scheme, "signature", None)  # AdyenItems keeps its signatures per item
    if isinstance(locator, (Header, Fields)):
        return f"header {locator.name}"
    if isinstance(locator, BodyField):
        return f"body field {locator.path}"
    return "a signature in the body"
