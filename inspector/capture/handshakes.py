"""Answer the endpoint-verification handshakes that provider entries declare (`Provider.handshake`).

Echoed challenges are hostile input: they are only ever served as `text/plain` or inside a
JSON document, with `X-Content-Type-Options: nosniff`, never as HTML, and never when longer
than `MAX_CHALLENGE`. Entries only say where the challenge is and which answer they want;
every response is built here, so a new entry cannot weaken this.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.capture.request import CapturedRequest
from inspector.signing import providers
from inspector.signing.providers.model import Context, Handshake, Provider
from inspector.signing.schemes import dig
from inspector.signing.verify import SecretValue

log = logging.getLogger(__name__)

# What detection may raise on a hostile body despite its bounds (a bug, but one capture's):
# the capture is then stored and answered as if no provider had sent it.
_HOSTILE_INPUT_ERRORS = (RecursionError, MemoryError, ValueError, TypeError, KeyError, IndexError, AttributeError)

# Challenges longer than this are not echoed (no provider sends one anywhere near it).
MAX_CHALLENGE = 2048

# Every entry's handshake, gathered once: `might_be_handshake` runs on every capture.
_HANDSHAKES: tuple[Handshake, ...] = tuple(p.handshake for p in providers.REGISTRY if p.handshake is not None)


@dataclass(frozen=True)
class Reply:
    """The response to send instead of the bin's configured one."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def might_be_handshake(captured: CapturedRequest) -> bool:
    """True when some entry's handshake probe holds: a substring or header test per entry, no
    parsing, which rules out almost every capture before detection runs."""
    return any(handshake.probe(captured) for handshake in _HANDSHAKES)


def answer_handshake(
    captured: CapturedRequest, *, enabled: bool, load_secrets: Callable[[], Sequence[SecretValue]]
) -> tuple[providers.Detection | None, Reply | None]:
    """`(detection, reply)` for a capture whose probe held. The detection is always made (the
    row stores it); the reply is None when the bin does not answer handshakes (`enabled`
    False), no provider is detected, the capture is not its handshake, or no secret fits.

    `load_secrets` is called at most once, and only for a handshake whose answer needs a
    secret (Zoom's): no other capture decrypts the bin's secrets.

    Never raises for a hostile body: capture must not depend on reading it, so a failure
    here gives `(None, None)` and the analysis judges the stored row later.
    """
    try:
        detection = providers.detect(captured)
        entry = providers.get(detection.provider_id) if detection and enabled else None
        return detection, (_reply(entry, captured, load_secrets) if entry else None)
    except _HOSTILE_INPUT_ERRORS as error:
        log.warning("handshake detection failed: %r", error)
        return None, None


def handshake_reply(
    captured: CapturedRequest, detection: providers.Detection | None, secrets: Sequence[SecretValue]
) -> Reply | None:
    """The reply the detected provider's handshake expects for `captured`, or None when there is
    no detection, the provider declares no handshake, this is not it, or (for an answer keyed
    with a secret) none of `secrets` is scoped to the provider or unscoped."""
    entry = providers.get(detection.provider_id) if detection else None
    return _reply(entry, captured, lambda: secrets) if entry else None


def _reply(
    entry: Provider, captured: CapturedRequest, load_secrets: Callable[[], Sequence[SecretValue]]
) -> Reply | None:
    handshake = entry.handshake
    if handshake is None or not handshake.probe(captured):
        return None
    if handshake.method is not None and captured.method != handshake.method:
        return None
    ctx = Context(captured.method, captured.headers, captured.query, captured.body)
    if not all(signal.holds(ctx) for signal in handshake.when):
        return None
    challenge = _challenge(_source(ctx, handshake.challenge))
    if challenge is None:
        return None
    if handshake.answer == "text":
        return _text(challenge)
    if handshake.answer == "json":
        return _json({"challenge": challenge})
    secret = _secret_for(entry.id, load_secrets())
    if secret is None:
        return None
    # Zoom: HMAC-SHA256 hex of plainToken keyed with the app's Secret Token.
    encrypted = hmac.new(secret.encode(), challenge.encode(), "sha256").hexdigest()
    return _json({"plainToken": challenge, "encryptedToken": encrypted})


def _source(ctx: Context, source: str) -> Any:
    """The value at `query:name` (first one) or `body:dotted.path` (JSON body only); None when absent."""
    kind, _, name = source.partition(":")
    if kind == "query":
        return ctx.query_value(name)
    return dig(ctx.body_object, name)


def _challenge(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_CHALLENGE:
        return value
    return None


def _secret_for(provider_id: str, secrets: Sequence[SecretValue]) -> str | None:
    """The first secret scoped to the provider, else the first unscoped one; None when neither."""
    for wanted in (provider_id, None):
        for secret in secrets:
            if secret.provider == wanted:
                return secret.value
    return None


def _text(value: str) -> Reply:
    return Reply(
        200, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")], value.encode()
    )


def _json(value: dict[str, str]) -> Reply:
    return Reply(
        200, [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")], json.dumps(value).encode()
    )
