"""Providers' own SDKs as oracles: one small adapter per SDK says whether it accepts a request.

Every adapter takes a `Wire` (the request as a receiver's WSGI app sees it: method, the URL the
sender called, header pairs with repeated headers already joined by ",", body bytes), one secret
and `now` (unix seconds), and returns True when the SDK accepts. It hands the SDK what a Flask
receiver hands it — `request.get_data()`, `request.headers`, `request.form` — with the SDK's
clock frozen at `now`. Whatever the SDK raises counts as a rejection (the SDKs raise
TypeError, KeyError, binascii.Error... on inputs they were not written for), and an SDK that
takes the body as text is given it decoded as strict UTF-8, so a body that is not UTF-8 is
rejected: the receiver could not hand it over.

Each adapter documents the choice it makes where the SDK leaves one to the receiver (which
header version to check, which tolerance to pass); docs/providers.md records them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request


@dataclass(frozen=True)
class Wire:
    """A request as the receiving app sees it (repeated headers joined, as gunicorn does)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def join_repeated(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Header pairs as a WSGI app receives them: a repeated header becomes one, its values
    joined by "," in arrival order, at the place (and with the name) of its first occurrence."""
    out: dict[str, tuple[str, str]] = {}
    for name, value in pairs:
        key = name.lower()
        out[key] = (out[key][0], f"{out[key][1]},{value}") if key in out else (name, value)
    return tuple(out.values())


def flask_request(wire: Wire) -> Request:
    """The Werkzeug request a Flask receiver would get for `wire`."""
    parts = urlsplit(wire.url)
    builder = EnvironBuilder(
        method=wire.method,
        base_url=f"{parts.scheme}://{parts.netloc}",
        path=parts.path or "/",
        query_string=parts.query,
        headers=list(wire.headers),
        data=wire.body,
    )
    try:
        return Request(builder.get_environ())
    finally:
        builder.close()


def lower_headers(request: Request) -> dict[str, str]:
    """Header names lower-cased, as SDKs that take a plain dict look them up."""
    return {k.lower(): v for k, v in request.headers.items()}


def _clock(now: float) -> SimpleNamespace:
    """A stand-in for the `time` module whose `time()` is `now`."""
    return SimpleNamespace(time=lambda: now)


def _frozen_datetime(now: float) -> type[datetime]:
    """A `datetime` class whose `now()` is `now` (for SDKs that call `datetime.now`)."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:  # type: ignore[override]
            return cls.fromtimestamp(now, tz)

    return Frozen


@contextlib.contextmanager
def _patched(module_name: str, attribute: str, value: object) -> Iterator[None]:
    with mock.patch.object(importlib.import_module(module_name), attribute, value):
        yield


def _accepts(check: Callable[[], object]) -> bool:
    """True when `check` returns a truthy value; any exception is the SDK rejecting."""
    try:
        return bool(check())
    except Exception:
        return False


def stripe(wire: Wire, secret: str, now: float) -> bool:
    """`stripe.WebhookSignature.verify_header` with 300 s, the tolerance `construct_event` passes."""
    import stripe as sdk

    header = flask_request(wire).headers.get("Stripe-Signature")
    with _patched("stripe._webhook", "time", _clock(now)):
        return _accepts(lambda: sdk.WebhookSignature.verify_header(wire.body, header, secret, 300))


def slack(wire: Wire, secret: str, now: float) -> bool:
    """`slack_sdk.signature.SignatureVerifier.is_valid_request` with its clock at `now`."""
    from slack_sdk.signature import Clock, SignatureVerifier

    class Fixed(Clock):
        def now(self) -> float:
            return now

    headers = dict(flask_request(wire).headers.items())
    return _accepts(lambda: SignatureVerifier(secret, clock=Fixed()).is_valid_request(wire.body, headers))


def standardwebhooks(wire: Wire, secret: str, now: float) -> bool:
    """`standardwebhooks.Webhook.verify` without JSON parsing (parsing is not verification)."""
    from standardwebhooks import Webhook

    headers = dict(flask_request(wire).headers.items())
    with _patched("standardwebhooks.webhooks", "datetime", _frozen_datetime(now)):
        return _accepts(lambda: Webhook(secret).verify(wire.body, headers, json_parse=False) or True)


def svix(wire: Wire, secret: str, now: float) -> bool:
    """`svix.Webhook.verify` (the standardwebhooks check, `svix-*` headers first)."""
    from svix.webhooks import Webhook

    headers = dict(flask_request(wire).headers.items())
    with _patched("standardwebhooks.webhooks", "datetime", _frozen_datetime(now)):
        return _accepts(lambda: Webhook(secret).verify(wire.body, headers) or True)


TWILIO_SETTINGS = "X-Twilio-Webhooks-Signature-Settings"


def twilio(wire: Wire, secret: str, now: float) -> bool:
    """`twilio.request_validator.RequestValidator.validate` as Twilio's docs use it: the raw
    body when the URL carries `bodySHA256` (JSON webhooks), else `request.form`; the algorithm
    from the signature-settings header (`get_signature_algorithm`)."""
    from twilio.request_validator import RequestValidator, get_signature_algorithm

    request = flask_request(wire)
    algorithm = get_signature_algorithm(request.headers.get(TWILIO_SETTINGS))
    signature = request.headers.get("X-Twilio-Signature")

    def check() -> bool:
        json_body = "bodySHA256" in parse_qs(urlsplit(wire.url).query)
        params: Any = wire.body.decode() if json_body else request.form
        return RequestValidator(secret).validate(wire.url, params, signature, algorithm)

    return _accepts(check)


def razorpay(wire: Wire, secret: str, now: float) -> bool:
    """`razorpay.Utility.verify_webhook_signature` (raises on a mismatch)."""
    import razorpay as sdk

    signature = flask_request(wire).headers.get("X-Razorpay-Signature")
    return _accepts(lambda: sdk.Utility(None).verify_webhook_signature(wire.body.decode(), signature, secret))


def square(wire: Wire, secret: str, now: float) -> bool:
    """`square.utils.webhooks_helper.verify_signature` with the URL the sender called."""
    from square.utils.webhooks_helper import verify_signature

    signature = flask_request(wire).headers.get("x-square-hmacsha256-signature")
    return _accepts(
        lambda: verify_signature(
            request_body=wire.body.decode(), signature_header=signature, signature_key=secret, notification_url=wire.url
        )
    )


def sendgrid(wire: Wire, secret: str, now: float) -> bool:
    """`sendgrid.helpers.eventwebhook.EventWebhook(public_key).verify_signature`."""
    from sendgrid.helpers.eventwebhook import EventWebhook

    headers = flask_request(wire).headers
    signature = headers.get("X-Twilio-Email-Event-Webhook-Signature")
    timestamp = headers.get("X-Twilio-Email-Event-Webhook-Timestamp")
    return _accepts(lambda: EventWebhook(secret).verify_signature(wire.body.decode(), signature, timestamp))


def paddle(wire: Wire, secret: str, now: float) -> bool:
    """`paddle_billing.Notifications.Verifier().verify` (5 s either way), with TEST_MODE unset."""
    from paddle_billing.Notifications import Secret, Verifier

    request = SimpleNamespace(body=wire.body, headers=flask_request(wire).headers)
    with (
        _patched("paddle_billing.Notifications.Verifier", "time", lambda: now),
        mock.patch.dict("os.environ", clear=False) as env,
    ):
        env.pop("TEST_MODE", None)
        return _accepts(lambda: Verifier().verify(request, Secret(secret)))


def adyen_items(wire: Wire, secret: str, now: float) -> bool:
    """`Adyen.util.is_valid_hmac_notification` on every item, as Adyen's docs loop over them
    (given the whole body, the SDK would check only the first item)."""
    from Adyen.util import is_valid_hmac_notification

    def check() -> bool:
        items = json.loads(wire.body)["notificationItems"]
        checks = [is_valid_hmac_notification(i["NotificationRequestItem"], secret) for i in items]
        return bool(checks) and all(checks)

    return _accepts(check)


def adyen_header(wire: Wire, secret: str, now: float) -> bool:
    """`Adyen.util.is_valid_hmac_payload` with the HmacSignature header and the body bytes."""
    from Adyen.util import is_valid_hmac_payload

    signature = flask_request(wire).headers.get("HmacSignature")
    return _accepts(lambda: is_valid_hmac_payload(signature, secret, wire.body))


def box(wire: Wire, secret: str, now: float) -> bool:
    """`WebhooksManager.validate_message` (max_age 600), the secret as primary and secondary
    key: a bin's secrets are not labelled primary or secondary."""
    from box_sdk_gen.managers.webhooks import WebhooksManager

    headers = lower_headers(flask_request(wire))
    with _patched("box_sdk_gen.internal.utils", "time", _clock(now)):
        return _accepts(
            lambda: WebhooksManager.validate_message(wire.body.decode(), headers, secret, secondary_key=secret)
        )


def hubspot(wire: Wire, secret: str, now: float) -> bool:
    """`hubspot.utils.signature.Signature.is_valid` as HubSpot's docs pick the version: v3 when
    X-HubSpot-Signature-v3 is present, else X-HubSpot-Signature with its version header."""
    from hubspot.utils.signature import Signature

    headers = flask_request(wire).headers
    v3 = headers.get("X-HubSpot-Signature-v3")

    def check() -> bool:
        body = wire.body.decode()
        if v3 is not None:
            timestamp = headers.get("X-HubSpot-Request-Timestamp")
            return Signature.is_valid(v3, secret, body, wire.url, wire.method, "v3", timestamp)
        version = headers.get("X-HubSpot-Signature-Version")
        return Signature.is_valid(headers["X-HubSpot-Signature"], secret, body, wire.url, wire.method, version)

    with _patched("hubspot.utils.signature", "datetime", _frozen_datetime(now)):
        return _accepts(check)


def coinbase_commerce(wire: Wire, secret: str, now: float) -> bool:
    """`coinbase_commerce.webhook.WebhookSignature.verify_sig_header` (raises on a mismatch)."""
    from coinbase_commerce.webhook import WebhookSignature

    signature = flask_request(wire).headers.get("X-CC-Webhook-Signature")
    return _accepts(lambda: WebhookSignature.verify_sig_header(wire.body.decode(), signature, secret))


def mailgun(wire: Wire, secret: str, now: float) -> bool:
    """`mailgun.security.SecurityGuard.verify_webhook` (max age 900 s) with the token,
    timestamp and signature from the JSON body's `signature` object, or from the form."""
    from mailgun.security import SecurityGuard

    request = flask_request(wire)

    def check() -> bool:
        fields = request.form if request.form else json.loads(wire.body)["signature"]
        return SecurityGuard.verify_webhook(secret, fields["token"], fields["timestamp"], fields["signature"])

    with _patched("mailgun.security", "time", _clock(now)):
        return _accepts(check)
