"""Handshake replies through /h/: answered, stored, shown as such; off when the bin says so;
a capture that only looks like a handshake gets the bin's own response."""

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from inspector.capture.handshakes import MAX_CHALLENGE, might_be_handshake
from inspector.capture.request import CapturedRequest

VECTORS = Path(__file__).parent / "vectors"

SLACK = json.dumps(
    {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
)


@pytest.fixture(params=["sqlite"])
def backend(request):
    return request.param


def newest(client, bin_id):
    summary = client.get(f"/api/bins/{bin_id}/requests?limit=1").json["requests"][0]
    return client.get(f"/api/bins/{bin_id}/requests/{summary['id']}").json


def slack_headers():
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=00",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def test_slack_url_verification_is_answered_and_stored(client, bin_id):
    response = client.post(f"/h/{bin_id}", data=SLACK, headers=slack_headers())
    assert response.status_code == 200
    assert response.json == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    got = newest(client, bin_id)
    assert got["provider"]["id"] == "slack"
    assert "handshake" in got["handshake"]


def test_handshakes_can_be_turned_off(client, bin_id):
    assert client.patch(f"/api/bins/{bin_id}", json={"handshakes": False}).json["handshakes"] is False
    response = client.post(f"/h/{bin_id}", data=SLACK, headers=slack_headers())
    assert response.json["ok"] is True
    assert newest(client, bin_id)["handshake"] is None


def test_graph_validation_token_is_echoed_as_plain_text(client, bin_id):
    response = client.post(f"/h/{bin_id}?validationToken=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.data == b"<script>alert(1)</script>"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_zoom_validation_needs_the_bins_secret(client, bin_id):
    import hashlib
    import hmac

    body = json.dumps(
        {
            "event": "endpoint.url_validation",
            "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
            "event_ts": 1654503849680,
        }
    )
    headers = {"Content-Type": "application/json", "x-zm-request-timestamp": "1654503849", "x-zm-signature": "v0=00"}
    assert "encryptedToken" not in client.post(f"/h/{bin_id}", data=body, headers=headers).json
    client.post(f"/api/bins/{bin_id}/secrets", json={"label": "zoom", "value": "zoom-secret-token", "provider": "zoom"})
    answer = client.post(f"/h/{bin_id}", data=body, headers=headers).json
    expected = hmac.new(b"zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def handshake_cases():
    return [
        pytest.param(data["provider"], case, id=data["provider"])
        for data in (json.loads(path.read_text()) for path in sorted(VECTORS.glob("*.json")))
        for case in data.get("handshakes", [])
    ]


@pytest.mark.parametrize("provider_id,case", handshake_cases())
def test_handshake_vector_is_answered_through_the_app(client, bin_id, provider_id, case):
    if case["secret"]:
        client.post(f"/api/bins/{bin_id}/secrets", json={"label": "main", "value": case["secret"]})
    query = urlsplit(case["url"]).query
    response = client.open(
        f"/h/{bin_id}" + (f"?{query}" if query else ""),
        method=case["method"],
        headers=[tuple(h) for h in case["headers"]],
        data=case["body"].encode(),
    )
    expected = case["reply"]
    assert response.status_code == 200 and response.mimetype == expected["content_type"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if "json" in expected:
        assert response.json == expected["json"]
    else:
        assert response.data == expected["text"].encode()
    got = newest(client, bin_id)
    assert got["provider"]["id"] == provider_id
    assert got["handshake"] == f"answered the {got['provider']['name']} endpoint-verification handshake"


def captured(method, query, headers, body):
    return CapturedRequest(
        method=method,
        path="",
        query_string=query,
        headers=tuple(headers.items()),
        body=body,
        body_size=len(body),
        body_truncated=False,
        remote_addr="203.0.113.9",
        received_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        content_type=headers.get("Content-Type", ""),
    )


# Captures whose handshake probe fires but which are not (answerable) handshakes.
LOOKALIKES = [
    pytest.param(
        "slack",
        "POST",
        "",
        slack_headers(),
        b'{"type":"event_callback","event":{"type":"message","text":"what is url_verification?"}}',
        id="slack-message-mentioning-url_verification",
    ),
    pytest.param(
        "zoom",
        "POST",
        "",
        {"Content-Type": "application/json", "x-zm-signature": "v0=00"},
        b'{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}',
        id="zoom-without-a-secret",
    ),
    pytest.param("meta", "POST", "hub.mode=subscribe&hub.challenge=1158201444", {}, b"", id="meta-subscribe-by-post"),
    pytest.param("microsoft-graph", "POST", "validationToken=", {}, b"", id="graph-empty-token"),
    pytest.param(
        "twitch",
        "POST",
        "",
        {
            "Content-Type": "application/json",
            "Twitch-Eventsub-Message-Id": "m1",
            "Twitch-Eventsub-Message-Type": "webhook_callback_verification",
        },
        json.dumps({"challenge": "a" * (MAX_CHALLENGE + 1)}).encode(),
        id="twitch-oversized-challenge",
    ),
]


@pytest.mark.parametrize("provider_id,method,query,headers,body", LOOKALIKES)
def test_probe_without_a_reply_gets_the_bins_response(client, bin_id, provider_id, method, query, headers, body):
    assert might_be_handshake(captured(method, query, headers, body))
    client.patch(f"/api/bins/{bin_id}", json={"response": {"status": 202, "body": "bin's own answer"}})
    response = client.open(f"/h/{bin_id}" + (f"?{query}" if query else ""), method=method, headers=headers, data=body)
    assert response.status_code == 202 and response.data == b"bin's own answer"
    got = newest(client, bin_id)
    assert got["provider"]["id"] == provider_id and got["handshake"] is None
