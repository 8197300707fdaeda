"""Handshake replies: Slack, Zoom, Meta, Microsoft Graph, Twitch; never HTML."""

import hmac
import json
from datetime import UTC, datetime

import pytest

from inspector.capture.handshakes import handshake_reply
from inspector.capture.request import CapturedRequest
from inspector.signing import providers
from inspector.signing.verify import SecretValue

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def cap(headers=(), body=b"", method="POST", query=""):
    headers = tuple(headers)
    return CapturedRequest(
        method=method,
        path="",
        query_string=query,
        headers=headers,
        body=body,
        body_size=len(body),
        body_truncated=False,
        remote_addr="203.0.113.9",
        received_at=AT,
        content_type="application/json",
    )


def reply_for(capture, secrets=()):
    return handshake_reply(capture, providers.detect(capture), list(secrets))


def content_type(reply):
    return dict(reply.headers)["Content-Type"]


def test_slack_url_verification_echoes_challenge_as_json():
    c = cap(
        [("X-Slack-Signature", "v0=ab"), ("X-Slack-Request-Timestamp", "1")],
        b'{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}',
    )
    r = reply_for(c)
    assert r.status == 200 and content_type(r) == "application/json"
    assert json.loads(r.body) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_slack_event_callback_is_not_a_handshake():
    c = cap([("X-Slack-Signature", "v0=ab")], b'{"type":"event_callback","event":{}}')
    assert reply_for(c) is None


def test_zoom_url_validation_uses_zoom_secret():
    c = cap(
        [("x-zm-signature", "v0=ab")],
        b'{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}',
    )
    r = reply_for(c, [SecretValue(1, "other", "github", "nope"), SecretValue(2, "zoom", "zoom", "zoom-secret")])
    expected = hmac.new(b"zoom-secret", b"qgg8vlvZRS6UYooatFL8Aw", "sha256").hexdigest()
    assert json.loads(r.body) == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def test_zoom_without_secret_gets_no_reply():
    c = cap([], b'{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}')
    assert reply_for(c) is None


def test_meta_hub_challenge():
    c = cap(method="GET", query="hub.mode=subscribe&hub.verify_token=mine&hub.challenge=1158201444")
    r = reply_for(c)
    assert r.body == b"1158201444" and content_type(r).startswith("text/plain")


def test_graph_validation_token_is_echoed_as_text():
    c = cap(query="validationToken=Validation%3A+Testing+client+application+reachability")
    r = reply_for(c)
    assert r.body == b"Validation: Testing client application reachability"
    assert content_type(r).startswith("text/plain")


def test_twitch_callback_verification():
    c = cap(
        [
            ("Twitch-Eventsub-Message-Id", "m1"),
            ("Twitch-Eventsub-Message-Type", "webhook_callback_verification"),
            ("Twitch-Eventsub-Message-Signature", "sha256=ab"),
        ],
        b'{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{}}',
    )
    r = reply_for(c)
    assert r.body == b"pogchamp-kappa-360noscope-vohiyo" and content_type(r).startswith("text/plain")


@pytest.mark.parametrize(
    "capture",
    [
        cap(method="GET", query="hub.mode=subscribe&hub.challenge=%3Cscript%3Ealert(1)%3C/script%3E"),
        cap(query="validationToken=%3Cb%3Ehi%3C/b%3E"),
    ],
)
def test_echo_is_never_html(capture):
    r = reply_for(capture)
    assert "html" not in content_type(r) and ("X-Content-Type-Options", "nosniff") in r.headers


def test_oversized_challenge_is_not_echoed():
    c = cap(method="GET", query="hub.mode=subscribe&hub.challenge=" + "a" * 5000)
    assert reply_for(c) is None


def test_no_detection_no_reply():
    assert handshake_reply(cap(body=b'{"type":"url_verification","challenge":"x"}'), None, []) is None
