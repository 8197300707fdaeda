"""Providers' own SDKs as oracles: they accept what our schemes sign, and we accept theirs.

Each test skips when its SDK is not installed (they are in the `[test]` extra). SDKs check
time against the real clock, so these samples are signed as of now.
"""

import base64
import json
from datetime import UTC, datetime

import pytest

from inspector.signing import providers, samples
from inspector.signing.schemes import Message


def now():
    return datetime.now(UTC).replace(microsecond=0)


def headers_of(sample):
    return {k: v for k, v in sample.headers}


def test_standardwebhooks_accepts_our_signature():
    sw = pytest.importorskip("standardwebhooks")
    key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    s = samples.build_sample("standard-webhooks", secret=key, at=now())
    sw.Webhook(key).verify(s.body, headers_of(s))


def test_we_accept_standardwebhooks_signature():
    sw = pytest.importorskip("standardwebhooks")
    key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    at = now()
    body = b'{"type":"x"}'
    sig = sw.Webhook(key).sign("msg_1", at, body.decode())
    msg = Message(
        "POST",
        "",
        (("webhook-id", "msg_1"), ("webhook-timestamp", str(int(at.timestamp()))), ("webhook-signature", sig)),
        body,
    )
    assert providers.get("standard-webhooks").schemes[0].verify(msg, key, at=at)


def test_svix_accepts_our_signature():
    svix = pytest.importorskip("svix.webhooks")
    key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    s = samples.build_sample("svix", secret=key, at=now())
    svix.Webhook(key).verify(s.body, headers_of(s))


def test_stripe_accepts_our_signature_and_we_accept_stripes():
    stripe = pytest.importorskip("stripe")
    at = now()
    s = samples.build_sample("stripe", secret="whsec_test", at=at)
    assert stripe.WebhookSignature.verify_header(s.body.decode(), headers_of(s)["Stripe-Signature"], "whsec_test", 300)
    header = stripe.WebhookSignature.generate_signature_header(s.body.decode(), "whsec_test", int(at.timestamp()))
    msg = Message("POST", "", (("Stripe-Signature", header),), s.body)
    assert providers.get("stripe").schemes[0].verify(msg, "whsec_test", at=at)


def test_slack_sdk_accepts_our_signature():
    sig = pytest.importorskip("slack_sdk.signature")
    s = samples.build_sample("slack", secret="slack-secret", at=now())
    h = headers_of(s)
    assert sig.SignatureVerifier("slack-secret").is_valid(
        s.body, h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"]
    )


def test_twilio_accepts_our_signature():
    rv = pytest.importorskip("twilio.request_validator")
    from urllib.parse import parse_qsl

    url = "https://hooks.example.com/h/bin1/sms?x=1"
    s = samples.build_sample("twilio", secret="auth-token", at=now(), url=url)
    params = dict(parse_qsl(s.body.decode(), keep_blank_values=True))
    assert rv.RequestValidator("auth-token").validate(url, params, headers_of(s)["X-Twilio-Signature"])


def test_we_accept_twilio_signature():
    rv = pytest.importorskip("twilio.request_validator")
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1", "Digits": "1234"}
    sig = rv.RequestValidator("12345").compute_signature(url, params)
    msg = Message(
        "POST",
        url,
        (("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", sig)),
        b"CallSid=CA1&Digits=1234",
    )
    assert providers.get("twilio").schemes[1].verify(msg, "12345", at=now())


def test_razorpay_accepts_our_signature():
    razorpay = pytest.importorskip("razorpay")
    s = samples.build_sample("razorpay", secret="rzp", at=now())
    razorpay.Utility(None).verify_webhook_signature(s.body.decode(), headers_of(s)["X-Razorpay-Signature"], "rzp")


def test_square_accepts_our_signature():
    helper = pytest.importorskip("square.utils.webhooks_helper")
    url = "https://hooks.example.com/h/bin1"
    s = samples.build_sample("square", secret="sq-key", at=now(), url=url)
    assert helper.verify_signature(
        request_body=s.body.decode(),
        signature_header=headers_of(s)["x-square-hmacsha256-signature"],
        signature_key="sq-key",
        notification_url=url,
    )


def test_sendgrid_accepts_our_ecdsa_signature():
    ew = pytest.importorskip("sendgrid.helpers.eventwebhook")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    priv = base64.b64encode(
        private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    ).decode()
    pub = base64.b64encode(
        private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    scheme = providers.get("sendgrid").schemes[0]
    signed = scheme.sign(Message("POST", "", (), b'[{"event":"open"}]\r\n'), priv, at=now())
    hook = ew.EventWebhook()
    key = hook.convert_public_key_to_ecdsa(pub)
    assert hook.verify_signature(
        signed.body.decode(),
        signed.header("X-Twilio-Email-Event-Webhook-Signature"),
        signed.header("X-Twilio-Email-Event-Webhook-Timestamp"),
        key,
    )


def test_paddle_accepts_our_signature():
    notifications = pytest.importorskip("paddle_billing.Notifications")
    s = samples.build_sample("paddle", secret="pdl_ntfset_x", at=now())
    assert notifications.PaddleSignature().verify(
        headers_of(s)["Paddle-Signature"], s.body.decode(), notifications.Secret("pdl_ntfset_x")
    )


def test_adyen_accepts_our_item_signature():
    util = pytest.importorskip("Adyen.util")
    key = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
    s = samples.build_sample("adyen", secret=key, at=now())
    item = json.loads(s.body)["notificationItems"][0]["NotificationRequestItem"]
    assert util.is_valid_hmac_notification(item, key)


def test_box_accepts_our_signature():
    webhooks = pytest.importorskip("box_sdk_gen.managers.webhooks")
    s = samples.build_sample("box", secret="box-key", at=now())
    headers = {k.lower(): v for k, v in s.headers}
    assert webhooks.WebhooksManager.validate_message(s.body.decode(), headers, "box-key")


def test_hubspot_accepts_our_v3_signature():
    signature = pytest.importorskip("hubspot.utils.signature")
    url = "https://hooks.example.com/h/bin1/hubspot"
    s = samples.build_sample("hubspot", secret="hs-secret", at=now(), url=url)
    h = headers_of(s)
    assert signature.Signature.is_valid(
        h["X-HubSpot-Signature-v3"], "hs-secret", s.body.decode(), url, "POST", "v3", h["X-HubSpot-Request-Timestamp"]
    )


def test_coinbase_commerce_accepts_our_signature():
    webhook = pytest.importorskip("coinbase_commerce.webhook")
    s = samples.build_sample("coinbase-commerce", secret="cc", at=now())
    webhook.WebhookSignature.verify_sig_header(s.body.decode(), headers_of(s)["X-CC-Webhook-Signature"], "cc")


def test_mailgun_accepts_our_signature():
    security = pytest.importorskip("mailgun.security")
    s = samples.build_sample("mailgun", secret="mg-key", at=now())
    sig = json.loads(s.body)["signature"]
    assert security.SecurityGuard.verify_webhook("mg-key", sig["token"], sig["timestamp"], sig["signature"])
