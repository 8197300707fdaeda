"""Re-sign an outgoing replay as its provider would, with a fresh timestamp, so a receiver that
checks signatures (and their age) accepts an old or edited capture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from inspector.capture.request import CapturedRequest
from inspector.delivery.forward import Outgoing
from inspector.signing import providers
from inspector.signing.schemes import Message, SignatureError
from inspector.signing.verify import SecretValue, Verification


class ResignError(ValueError):
    """Re-signing is impossible for this capture; the message says why in plain words."""


def resign(
    outgoing: Outgoing,
    captured: CapturedRequest,
    verification: Verification,
    secrets: Sequence[SecretValue],
    *,
    at: datetime,
) -> Outgoing:
    """`outgoing` signed afresh as of `at` with the scheme and secret that verified the
    capture (or, failing a match, the provider's first scheme and first usable secret).
    URL-signing schemes sign the target URL, where the request will arrive."""
    detection = providers.detect(captured)
    entry = providers.get(detection.provider_id) if detection else None
    if entry is None:
        raise ResignError("no provider was detected, so there is no scheme to re-sign with")
    if not entry.schemes:
        raise ResignError(f"{entry.name} does not sign its webhooks")
    usable = [s for s in secrets if s.provider in (None, entry.id)]
    if not usable:
        raise ResignError(f"the bin holds no secret for {entry.name}")
    scheme = next((s for s in entry.schemes if s.name == verification.scheme), entry.schemes[0])
    secret = next((s for s in usable if s.label == verification.secret), usable[0])
    message = Message(method=outgoing.method, url=outgoing.url, headers=outgoing.headers, body=outgoing.body)
    try:
        signed = scheme.sign(message, secret.value, at=at)
    except SignatureError as error:
        raise ResignError(f"cannot re-sign with secret '{secret.label}': {error}") from None
    changed = [name for name, value in signed.headers if (name, value) not in message.headers]
    what = ", ".join(dict.fromkeys(changed)) or ("the body" if signed.body != message.body else "nothing")
    note = f"re-signed {what} as {entry.name} ({scheme.name}) with secret '{secret.label}' at {at.isoformat(timespec='seconds')}"
    return replace(
        outgoing,
        headers=tuple(signed.headers),
        body=signed.body,
        note="; ".join(n for n in (outgoing.note, note) if n),
    )
