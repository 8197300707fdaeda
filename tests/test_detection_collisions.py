"""Honest detection (PROVIDERS.md, detection matrix, "Ambiguous headers"): a signature header or
body field several providers send never names a provider on its own. Alone it gives no
provider and a verdict naming the candidates; with the provider's second signal (its body
shape, another header of its own, its user agent) it gives that provider."""

import pytest
from captures import make_capture

from inspector.signing import providers
from inspector.signing.providers.model import SHARED_HEADERS, HasHeader, Provider, identifies
from inspector.signing.verify import SecretValue, verify_signature

HEX64 = "ab" * 32
BASE64_32 = "VdtA4acV/jxrh8oxLJnectCdDuAlfGDVHzQ7AhQ7VhA="
UNRELATED = b'{"hello":"world"}'
STUDIEWINKEL_BODY = b'{"type":"published","resource":"list","identifier":"1a2d1c669b0811ed840606955cf36fa4"}'
EDUZZ_BODY = b'{"id":"z1","event":"ping","data":{},"sentDate":"2023-08-31T18:34:23.023Z"}'
INTERCOM_BODY = b'{"type":"notification_event","app_id":"a","topic":"conversation.user.created"}'
META_BODY = b'{"object":"page","entry":[]}'
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJuZXRsaWZ5In0.c2ln"

# (collision, the ambiguous request's headers and body, the candidates it must name)
AMBIGUOUS = [
    ("x-hook-signature-hex", [("X-Hook-Signature", HEX64)], UNRELATED, {"Asana", "Studiewinkel"}),
    ("x-hook-signature-base64", [("X-Hook-Signature", BASE64_32)], UNRELATED, {"Asana", "Studiewinkel"}),
    (
        "x-hub-signature",
        [("X-Hub-Signature", "sha1=" + "a" * 40)],
        b"{}",
        {"GitHub", "Bitbucket", "Jira", "Intercom", "Meta"},
    ),
    ("x-hub-signature-256", [("X-Hub-Signature-256", "sha256=" + "a" * 64)], b"{}", {"GitHub", "Meta"}),
    ("x-signature", [("X-Signature", HEX64)], b"{}", {"Eduzz", "Lemon Squeezy", "Segment"}),
    ("x-webhook-signature", [("X-Webhook-Signature", HEX64)], UNRELATED, {"Netlify"}),
    (
        "body-signature",
        [("Content-Type", "application/json")],
        b'{"id":"1","signature":"x"}',
        {"DreamClass", "Mailgun"},
    ),
]

# (collision, headers, body, provider): the same shared signal plus the provider's second one
DECIDED = [
    ("x-hook-signature+events", [("X-Hook-Signature", HEX64)], b'{"events":[]}', "asana"),
    ("x-hook-signature+hook-secret", [("X-Hook-Signature", HEX64), ("X-Hook-Secret", "s")], UNRELATED, "asana"),
    ("x-hook-signature+list-body", [("X-Hook-Signature", BASE64_32)], STUDIEWINKEL_BODY, "studiewinkel"),
    ("x-hook-signature-hex+list-body", [("X-Hook-Signature", HEX64)], STUDIEWINKEL_BODY, "studiewinkel"),
    (
        "x-hub-signature+github-event",
        [("X-Hub-Signature", "sha1=" + "a" * 40), ("X-GitHub-Event", "push")],
        b"{}",
        "github",
    ),
    ("x-hub-signature+meta-body", [("X-Hub-Signature", "sha1=" + "a" * 40)], META_BODY, "meta"),
    ("x-hub-signature+intercom-body", [("X-Hub-Signature", "sha1=" + "a" * 40)], INTERCOM_BODY, "intercom"),
    (
        "x-hub-signature+event-key",
        [("X-Hub-Signature", "sha256=" + "a" * 64), ("X-Event-Key", "repo:push"), ("X-Hook-UUID", "u")],
        b"{}",
        "bitbucket",
    ),
    (
        "x-hub-signature+atlassian-id",
        [("X-Hub-Signature", "sha256=" + "a" * 64), ("X-Atlassian-Webhook-Identifier", "1")],
        b"{}",
        "jira",
    ),
    (
        "x-hub-signature-256+github-event",
        [("X-Hub-Signature-256", "sha256=" + "a" * 64), ("X-GitHub-Event", "push")],
        b"{}",
        "github",
    ),
    ("x-hub-signature-256+meta-body", [("X-Hub-Signature-256", "sha256=" + "a" * 64)], META_BODY, "meta"),
    ("x-signature+eduzz-agent", [("X-Signature", HEX64), ("User-Agent", "Eduzz Webhook")], b"{}", "eduzz"),
    ("x-signature+eduzz-envelope", [("X-Signature", HEX64)], EDUZZ_BODY, "eduzz"),
    ("x-signature+event-name", [("X-Signature", HEX64), ("X-Event-Name", "order_created")], b"{}", "lemon-squeezy"),
    ("x-signature+meta-event-name", [("X-Signature", HEX64)], b'{"meta":{"event_name":"x"}}', "lemon-squeezy"),
    ("x-signature+segment-body", [("X-Signature", "a" * 40)], b'{"type":"track","messageId":"m1"}', "segment"),
    (
        "x-webhook-signature+netlify-event",
        [("X-Webhook-Signature", HEX64), ("X-Netlify-Event", "deploy")],
        b"{}",
        "netlify",
    ),
    ("x-webhook-signature+deploy-body", [("X-Webhook-Signature", JWT)], b'{"site_id":"s","deploy_url":"u"}', "netlify"),
    (
        "body-signature+dreamclass-keys",
        [],
        b'{"tenant":"t","timestamp":1,"id":"i","signature":"s","type":"X","data":{}}',
        "dreamclass",
    ),
    ("body-signature+event-data", [], b'{"signature":{"token":"t"},"event-data":{}}', "mailgun"),
]


def params(rows):
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


@pytest.mark.parametrize("headers,body,candidates", params(AMBIGUOUS))
def test_shared_signal_alone_names_candidates_not_a_provider(headers, body, candidates):
    detection = providers.detect(make_capture(headers, body))
    assert detection is not None and detection.provider_id is None and detection.name is None
    assert candidates <= set(detection.candidates)
    assert detection.event is None and detection.delivery_id is None


@pytest.mark.parametrize("headers,body,candidates", params(AMBIGUOUS))
def test_shared_signal_alone_gets_a_could_be_verdict(headers, body, candidates):
    v = verify_signature(make_capture(headers, body), [SecretValue(1, "main", None, "s")], public_url="https://x/h/b")
    assert v.status == "none" and v.scheme is None
    assert "could be" in v.detail and all(name in v.detail for name in candidates), v.detail
    assert v.detail.endswith("so no signature was checked.")


@pytest.mark.parametrize("headers,body,provider_id", params(DECIDED))
def test_second_signal_decides(headers, body, provider_id):
    detection = providers.detect(make_capture(headers, body))
    assert detection is not None and detection.provider_id == provider_id
    assert detection.candidates == ()


def test_lone_hex_hook_signature_is_not_asana():
    detection = providers.detect(make_capture([("X-Hook-Signature", HEX64)], UNRELATED))
    assert detection.provider_id != "asana"


def test_could_be_sentence_lists_the_candidates():
    detection = providers.detect(make_capture([("X-Hook-Signature", HEX64)], UNRELATED))
    assert detection.could_be == (
        "The X-Hook-Signature header alone does not tell who sent this request: it could be "
        "Studiewinkel or Asana, or another sender that uses it"
    )


def test_two_shared_headers_are_both_named():
    detection = providers.detect(make_capture([("X-Signature", HEX64), ("X-Webhook-Signature", HEX64)], b"{}"))
    assert detection.could_be.startswith("The X-Signature header and the X-Webhook-Signature header alone do not")


def test_generic_signature_header_alone_is_no_provider():
    detection = providers.detect(make_capture([("Signature", HEX64)], UNRELATED))
    assert detection is None or detection.provider_id is None


def test_unknown_sender_still_has_no_detection_at_all():
    assert providers.detect(make_capture([("X-Custom", "1")], UNRELATED)) is None


def test_undecided_capture_is_stored_without_provider(client, bin_id):
    client.post(f"/h/{bin_id}", data=UNRELATED, headers={"X-Hook-Signature": HEX64})
    listed = client.get(f"/api/bins/{bin_id}/requests?limit=1").json["requests"][0]
    got = client.get(f"/api/bins/{bin_id}/requests/{listed['id']}").json
    assert got["provider"] is None and got["signature"]["status"] == "none"
    assert "could be Studiewinkel or Asana" in got["signature"]["detail"]


# --- the registry keeps to the rule, including entries added later ---------------------------


def entry(**fields):
    return Provider(id="x", name="X", docs="https://x", **fields)


@pytest.mark.parametrize(
    "rule",
    [
        (HasHeader("X-Signature"),),
        (HasHeader("X-Hook-Signature", shape="hex64"),),
        (HasHeader("signature"),),
        (HasHeader("X-Hub-Signature"), HasHeader("Content-Type", contains="json")),
        (HasHeader("X-Webhook-Signature"), HasHeader("User-Agent")),
    ],
    ids=["x-signature", "shape-only", "signature", "with-content-type", "with-any-user-agent"],
)
def test_a_rule_of_shared_signals_only_is_refused(rule):
    with pytest.raises(ValueError, match="holds for other senders too"):
        entry(detect=(rule,))


def test_a_shared_header_with_a_user_agent_is_a_rule():
    assert entry(detect=((HasHeader("X-Signature"), HasHeader("User-Agent", startswith="Acme/")),))


def test_a_hint_must_be_shared():
    with pytest.raises(ValueError, match="hint"):
        entry(detect=((HasHeader("X-Acme-Event"),),), hints=(HasHeader("X-Acme-Event"),))


@pytest.mark.parametrize("provider", providers.REGISTRY, ids=lambda e: e.id)
def test_every_rule_has_an_identifying_signal(provider):
    assert all(any(identifies(signal) for signal in rule) for rule in provider.detect)


@pytest.mark.parametrize("provider", providers.REGISTRY, ids=lambda e: e.id)
def test_a_shared_header_in_a_rule_also_names_the_entry_as_a_candidate(provider):
    """So that header alone, without the rule's other signal, still names the entry."""
    used = {s.name.lower() for rule in provider.detect for s in rule if isinstance(s, HasHeader)}
    named = {s.name.lower() for s in provider.candidate_signals if isinstance(s, HasHeader)}
    assert (used & set(SHARED_HEADERS)) <= named


def test_candidates_come_from_where_the_schemes_read_their_signature():
    names = {e.id: {s.evidence for s in e.candidate_signals} for e in providers.REGISTRY}
    assert names["github"] == {"header X-Hub-Signature-256", "header X-Hub-Signature"}
    assert names["studiewinkel"] == names["asana"] == {"header X-Hook-Signature"}
    assert names["mailgun"] == names["dreamclass"] == {"body field signature"}
    assert names["stripe"] == set()


def test_an_extra_hint_names_an_entry_its_schemes_do_not():
    extra = entry(detect=((HasHeader("X-Acme-Event"),),), hints=(HasHeader("X-Signature"),))
    assert extra.candidate_signals == (HasHeader("X-Signature"),)
