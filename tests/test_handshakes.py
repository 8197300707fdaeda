"""Handshake replies: Slack, Zoom, Meta, Microsoft Graph, Twitch, as their registry entries
declare them; probes that fire on every handshake vector and on no ordinary one; never HTML."""

import base64
import hmac
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from captures import make_capture

from inspector.capture.handshakes import MAX_CHALLENGE, answer_handshake, handshake_reply, might_be_handshake
from inspector.signing import providers
from inspector.signing.providers.model import Handshake
from inspector.signing.verify import SecretValue

VECTORS = Path(__file__).parent / "vectors"
WITH_HANDSHAKE = [entry for entry in providers.REGISTRY if entry.handshake is not None]


def cap(headers=(), body=b"", method="POST", query=""):
    return make_capture(headers, body, method, query, content_type="application/json")


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


def test_no_reply_for_a_provider_without_a_handshake():
    c = cap([("X-GitHub-Event", "ping")], b'{"type":"url_verification","challenge":"x"}')
    assert providers.detect(c).provider_id == "github" and reply_for(c) is None


def test_twitch_notification_is_not_answered():
    c = cap(
        [("Twitch-Eventsub-Message-Id", "m1"), ("Twitch-Eventsub-Message-Type", "notification")],
        b'{"challenge":"x","subscription":{}}',
    )
    assert reply_for(c) is None


def test_meta_subscribe_by_post_is_not_answered():
    assert reply_for(cap(query="hub.mode=subscribe&hub.challenge=1158201444")) is None


def test_challenge_at_the_bound_is_echoed():
    c = cap(method="GET", query="hub.mode=subscribe&hub.challenge=" + "a" * MAX_CHALLENGE)
    assert reply_for(c).body == b"a" * MAX_CHALLENGE


def test_non_string_challenge_is_not_echoed():
    c = cap([("X-Slack-Signature", "v0=ab")], b'{"type":"url_verification","challenge":{"a":1}}')
    assert reply_for(c) is None


def test_zoom_payload_that_is_not_an_object_gets_no_reply():
    c = cap([("x-zm-signature", "v0=ab")], b'{"event":"endpoint.url_validation","payload":["plainToken"]}')
    assert reply_for(c, [SecretValue(1, "any", None, "s")]) is None


def zoom_validation():
    return cap([("x-zm-signature", "v0=ab")], b'{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}')


def zoom_token(reply):
    return json.loads(reply.body)["encryptedToken"]


def test_zoom_falls_back_to_the_first_unscoped_secret():
    secrets = [
        SecretValue(1, "gh", "github", "nope"),
        SecretValue(2, "a", None, "first"),
        SecretValue(3, "b", None, "x"),
    ]
    assert zoom_token(reply_for(zoom_validation(), secrets)) == hmac.new(b"first", b"abc", "sha256").hexdigest()


def test_zoom_scoped_secret_wins_over_an_earlier_unscoped_one():
    secrets = [SecretValue(1, "any", None, "unscoped"), SecretValue(2, "zoom", "zoom", "scoped")]
    assert zoom_token(reply_for(zoom_validation(), secrets)) == hmac.new(b"scoped", b"abc", "sha256").hexdigest()


def test_zoom_with_only_other_providers_secrets_gets_no_reply():
    assert reply_for(zoom_validation(), [SecretValue(1, "gh", "github", "nope")]) is None


# --- the registry: which entries answer, and their probes against the vectors -----------------


def vector_files():
    return [json.loads(path.read_text()) for path in sorted(VECTORS.glob("*.json"))]


def handshake_cases():
    return [
        pytest.param(data["provider"], case, id=f"{data['provider']}-{case['name']}")
        for data in vector_files()
        for case in data.get("handshakes", [])
    ]


def ordinary_cases():
    return [
        pytest.param(data["provider"], case, id=f"{data['provider']}-{index}")
        for data in vector_files()
        for index, case in enumerate(data["vectors"])
    ]


def capture_from(case):
    body = case["body"].encode() if "body" in case else base64.b64decode(case["body_base64"])
    return make_capture(case["headers"], body, case["method"], urlsplit(case["url"]).query)


def test_the_five_providers_answer_handshakes():
    assert {entry.id for entry in WITH_HANDSHAKE} == {"slack", "zoom", "meta", "microsoft-graph", "twitch"}


def test_only_zoom_needs_a_secret():
    assert [entry.id for entry in WITH_HANDSHAKE if entry.handshake.needs_secret] == ["zoom"]


@pytest.mark.parametrize("entry", WITH_HANDSHAKE, ids=lambda e: e.id)
def test_every_handshake_has_a_handshake_vector(entry):
    data = json.loads((VECTORS / f"{entry.id}.json").read_text())
    assert data.get("handshakes"), f"tests/vectors/{entry.id}.json has no handshake case"


def test_handshake_vectors_belong_to_entries_with_a_handshake():
    for data in vector_files():
        if data.get("handshakes"):
            assert providers.get(data["provider"]).handshake is not None, data["provider"]


@pytest.mark.parametrize("provider_id,case", handshake_cases())
def test_probe_fires_on_its_handshake_vector(provider_id, case):
    capture = capture_from(case)
    assert providers.get(provider_id).handshake.probe(capture)
    assert might_be_handshake(capture)


@pytest.mark.parametrize("provider_id,case", handshake_cases())
def test_handshake_vector_gets_the_documented_reply(provider_id, case):
    capture = capture_from(case)
    detection = providers.detect(capture)
    assert detection is not None and detection.provider_id == provider_id
    secrets = [SecretValue(1, "main", None, case["secret"])] if case["secret"] else []
    r = handshake_reply(capture, detection, secrets)
    expected = case["reply"]
    assert r is not None and r.status == 200
    assert content_type(r).split(";")[0] == expected["content_type"]
    assert ("X-Content-Type-Options", "nosniff") in r.headers
    if "json" in expected:
        assert json.loads(r.body) == expected["json"]
    else:
        assert r.body == expected["text"].encode()


@pytest.mark.parametrize("provider_id,case", ordinary_cases())
def test_no_probe_fires_on_an_ordinary_vector(provider_id, case):
    capture = capture_from(case)
    fired = [entry.id for entry in WITH_HANDSHAKE if entry.handshake.probe(capture)]
    assert fired == [] and not might_be_handshake(capture)


def test_probe_does_not_parse_the_body(monkeypatch):
    monkeypatch.setattr(json, "loads", lambda *a, **k: pytest.fail("parsed"))
    assert might_be_handshake(cap(body=b'{"type":"url_verification","challenge":"x"}'))
    assert not might_be_handshake(cap(body=b'{"type":"event_callback"}'))


# --- answer_handshake: what the capture path calls ---------------------------------------------


def slack_verification():
    return cap([("X-Slack-Signature", "v0=ab")], b'{"type":"url_verification","challenge":"c"}')


def counting_loader(secrets=()):
    calls = []

    def load():
        calls.append(1)
        return list(secrets)

    return load, calls


def test_answer_handshake_does_not_load_secrets_for_an_answer_without_one():
    load, calls = counting_loader()
    detection, reply = answer_handshake(slack_verification(), enabled=True, load_secrets=load)
    assert detection.provider_id == "slack" and json.loads(reply.body) == {"challenge": "c"}
    assert calls == []


def test_answer_handshake_loads_secrets_once_for_zoom():
    load, calls = counting_loader([SecretValue(1, "any", None, "s")])
    detection, reply = answer_handshake(zoom_validation(), enabled=True, load_secrets=load)
    assert detection.provider_id == "zoom" and json.loads(reply.body)["plainToken"] == "abc"
    assert calls == [1]


def test_answer_handshake_off_still_detects_and_loads_nothing():
    load, calls = counting_loader([SecretValue(1, "any", None, "s")])
    detection, reply = answer_handshake(zoom_validation(), enabled=False, load_secrets=load)
    assert detection.provider_id == "zoom" and reply is None and calls == []


def test_answer_handshake_without_detection():
    load, calls = counting_loader()
    assert answer_handshake(cap(body=b'{"type":"url_verification"}'), enabled=True, load_secrets=load) == (None, None)
    assert calls == []


# --- the Handshake value --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"challenge": "body:challenge"},
        {"challenge": "body:challenge", "probe_query": "a=", "probe_body": b"a"},
        {"challenge": "body:challenge", "probe_body": b""},
        {"challenge": "body:challenge", "probe_body": b"a", "answer": "html"},
        {"challenge": "header:X-Challenge", "probe_body": b"a"},
    ],
)
def test_malformed_handshake_is_refused(fields):
    with pytest.raises(ValueError):
        Handshake(**fields)


def test_header_probe_needs_the_exact_value():
    probe = Handshake(probe_header=("X-Kind", "verify"), challenge="body:c").probe
    assert probe(cap([("x-kind", "verify")])) and not probe(cap([("X-Kind", "verify-not")])) and not probe(cap())
