"""Answer providers' endpoint-verification handshakes (Slack, Zoom, Meta, Microsoft Graph, Twitch).

Echoed challenges are hostile input: they are only ever served as `text/plain` or inside a
JSON document, with `X-Content-Type-Options: nosniff`, never as HTML.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass

from inspector.signing.schemes import parse_json

# Challenges longer than this are not echoed (no provider sends one anywhere near it).
MAX_CHALLENGE = 2048


@dataclass(frozen=True)
class Reply:
    """The response to send instead of the bin's configured one."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _text(value: str) -> Reply:
    return Reply(
        200, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")], value.encode()
    )


def _json(value: dict) -> Reply:
    return Reply(
        200, [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")], json.dumps(value).encode()
    )


def _challenge(value) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_CHALLENGE:
        return value
    return None


def handshake_reply(capture, detection, secrets: Sequence) -> Reply | None:
    """The reply a provider's handshake expects for `capture`, or None when it is not a
    handshake (or, for Zoom, when the bin holds no secret to answer with).

    `detection` is the capture's Detection (or None); `secrets` are SecretValue items, of
    which only those unscoped or scoped to the provider are used.
    """
    provider = detection.provider_id if detection else None
    query = dict(capture.query)
    if provider == "microsoft-graph" and _challenge(query.get("validationToken")):
        return _text(query["validationToken"])
    if provider == "meta" and capture.method == "GET" and query.get("hub.mode") == "subscribe":
        challenge = _challenge(query.get("hub.challenge"))
        return _text(challenge) if challenge else None
    body = parse_json(capture.body) if capture.method == "POST" else None
    if not isinstance(body, dict):
        return None
    if provider == "slack" and body.get("type") == "url_verification":
        challenge = _challenge(body.get("challenge"))
        return _json({"challenge": challenge}) if challenge else None
    if provider == "twitch" and (capture.header("Twitch-Eventsub-Message-Type") == "webhook_callback_verification"):
        challenge = _challenge(body.get("challenge"))
        return _text(challenge) if challenge else None
    if provider == "zoom" and body.get("event") == "endpoint.url_validation":
        return _zoom(body, secrets)
    return None


def _zoom(body: dict, secrets: Sequence) -> Reply | None:
    """Zoom wants `{plainToken, encryptedToken}` = HMAC-SHA256 hex of plainToken with the app's
    Secret Token; the first secret scoped to Zoom wins, else the first unscoped one."""
    plain = _challenge((body.get("payload") or {}).get("plainToken"))
    usable = sorted((s for s in secrets if s.provider in (None, "zoom")), key=lambda s: s.provider != "zoom")
    if plain is None or not usable:
        return None
    encrypted = hmac.new(usable[0].value.encode(), plain.encode(), "sha256").hexdigest()
    return _json({"plainToken": plain, "encryptedToken": encrypted})
