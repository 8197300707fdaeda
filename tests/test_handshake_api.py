"""Handshake replies through /h/: answered, stored, shown as such; off when the bin says so."""

import json

import pytest

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
