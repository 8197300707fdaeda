"""What the analysis derived from a redacted part is redacted too: a capture's event and delivery
id are masked wherever a view masks the header, body field or query parameter they were read
from (share links, `redact=true`, the owner's `for_owner`), and a share link offers no event
filter that could confirm a masked event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inspector.redacted_view import derived_value, event_filter_safe, source_masked
from inspector.redaction import MASK, Rules
from inspector.signing.samples import build_sample

HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("source", "rules", "masked"),
    [
        ("header:X-GitHub-Event", Rules(headers=("x-github-event",)), True),
        ("header:X-GitHub-Event", Rules(), False),
        ("body:type", Rules(json_paths=("type",)), True),
        ("body:data.object.id", Rules(json_paths=("data",)), True),  # a rule over a parent
        ("body:data", Rules(json_paths=("data.object.id",)), True),  # a rule inside it
        ("body:data.object.id", Rules(json_paths=("data.*.id",)), True),
        ("body:data.object.id", Rules(json_paths=("data.*.name",)), False),
        ("body:event_type", Rules(form_fields=("event_type",)), True),
        ("query:event", Rules(form_fields=("event",)), True),
        ("header:X-Topic+body:action", Rules(json_paths=("action",)), True),
        ("header:X-Topic+body:action", Rules(json_paths=("actions",)), False),
    ],
)
def test_a_source_is_masked_when_a_rule_covers_it(source, rules, masked):
    assert source_masked(source, rules) is masked


def test_patterns_mask_their_matches_in_a_derived_value():
    rules = Rules(patterns=(r"cus_\w+",))
    assert derived_value("evt for cus_123", ("body:type",), rules) == f"evt for {MASK}"
    assert derived_value("push", ("header:X-GitHub-Event",), Rules(headers=("X-GitHub-Event",))) == MASK
    assert derived_value(None, ("body:type",), rules) is None


def test_the_event_filter_is_safe_only_when_no_event_can_be_masked():
    assert event_filter_safe(Rules())  # the default headers carry no provider's event
    assert not event_filter_safe(Rules(headers=("X-GitHub-Event",)))
    assert not event_filter_safe(Rules(json_paths=("type",)))  # Stripe's event
    assert not event_filter_safe(Rules(patterns=("x",)))


@pytest.fixture
def github_capture(client, bin_id):
    """A GitHub delivery in a bin whose rules mask the event and delivery-id headers."""
    sample = build_sample("github", secret="unused", at=datetime.now(UTC))
    headers = dict(sample.headers)
    response = client.post(f"/h/{bin_id}/gh", data=sample.body, headers=headers)
    capture_id = response.json["request_id"]
    stored = client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json
    assert stored["provider"]["event"] and stored["provider"]["delivery_id"]
    rules = {"headers": ["X-GitHub-Event", "X-GitHub-Delivery"]}
    assert client.patch(f"/api/bins/{bin_id}", json={"redact": rules}).status_code == 200
    return capture_id, stored["provider"]["event"], stored["provider"]["delivery_id"]


def test_redacted_api_answers_mask_the_event_and_delivery_id(client, bin_id, github_capture):
    capture_id, event, delivery_id = github_capture
    shown = client.get(f"/api/bins/{bin_id}/requests/{capture_id}?redact=true").json
    assert shown["provider"]["event"] == MASK and shown["provider"]["delivery_id"] == MASK
    assert delivery_id not in str(shown)
    listed = client.get(f"/api/bins/{bin_id}/requests?redact=true").json
    assert delivery_id not in str(listed)
    owner = client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json  # the owner sees values
    assert owner["provider"]["event"] == event and owner["provider"]["delivery_id"] == delivery_id


def test_a_share_link_masks_them_and_offers_no_event_filter(client, bin_id, github_capture):
    capture_id, event, delivery_id = github_capture
    base = "/s/" + client.post(f"/api/bins/{bin_id}/shares", json={}).json["token"]
    page = client.get(f"{base}?request={capture_id}").text
    signature = client.get(f"{base}/requests/{capture_id}/signature", headers=HTMX).text
    assert f'<span class="badge event">{MASK}</span>' in page
    assert delivery_id not in page + signature and f">{event}<" not in page + signature
    assert 'name="event"' not in page
    # An event filter in the URL is ignored: it would say which event the masked one is.
    for wanted in (event, "no-such-event"):
        listed = client.get(f"{base}/list", query_string={"event": wanted}, headers=HTMX).text
        assert f'id="req-{capture_id}"' in listed


def test_without_such_rules_a_share_link_keeps_event_and_filter(client, bin_id):
    sample = build_sample("github", secret="unused", at=datetime.now(UTC))
    capture_id = client.post(f"/h/{bin_id}/gh", data=sample.body, headers=dict(sample.headers)).json["request_id"]
    event = client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json["provider"]["event"]
    base = "/s/" + client.post(f"/api/bins/{bin_id}/shares", json={}).json["token"]
    page = client.get(base).text
    assert f'<span class="badge event">{event}</span>' in page and 'name="event"' in page
    filtered = client.get(f"{base}/list", query_string={"event": "no-such-event"}, headers=HTMX).text
    assert f'id="req-{capture_id}"' not in filtered
