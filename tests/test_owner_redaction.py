"""What the owner sees: values as stored, unless the call asks `redact=true` or the bin's rules
say `for_owner` — then the API answers, the detail pane and the raw download are redacted, and
the stored row is untouched."""

from __future__ import annotations

import json

SECRET = "tok-Owner-9f3"
CARD = "4242424242424242"


def capture(client, bin_id: str) -> int:
    response = client.post(
        f"/h/{bin_id}/pay?api_key={SECRET}",
        data=json.dumps({"card": {"number": CARD}, "amount": 5}).encode(),
        headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
    )
    return response.json["request_id"]


def set_rules(client, bin_id: str, **rules) -> None:
    response = client.patch(
        f"/api/bins/{bin_id}", json={"redact": {"json_paths": ["card.number"], "form_fields": ["api_key"], **rules}}
    )
    assert response.status_code == 200, response.json


def test_the_owner_sees_stored_values_by_default(client, bin_id):
    set_rules(client, bin_id)
    capture_id = capture(client, bin_id)
    shown = client.get(f"/api/bins/{bin_id}/requests/{capture_id}").get_data(as_text=True)
    assert SECRET in shown and CARD in client.get(f"/api/bins/{bin_id}/requests/{capture_id}/raw").get_data(
        as_text=True
    )


def test_redact_true_redacts_every_answer_of_a_capture(client, bin_id):
    set_rules(client, bin_id)
    capture_id = capture(client, bin_id)
    base = f"/api/bins/{bin_id}/requests"
    for url in (f"{base}/{capture_id}?redact=true", f"{base}?redact=true", f"{base}/{capture_id}/raw?redact=true"):
        text = client.get(url).get_data(as_text=True)
        assert SECRET not in text and CARD not in text, url
    detail = client.get(f"{base}/{capture_id}?redact=true").json
    assert ["Authorization", "[redacted]"] in detail["headers"]
    assert "header Authorization" in detail["redacted"]
    waited = client.get(f"{base}/wait?after=0&timeout_s=0&redact=true").get_data(as_text=True)
    assert capture_id and SECRET not in waited and CARD not in waited
    assert client.get(f"{base}/count?redact=true").json == {"count": 1}
    assert SECRET in client.get(f"{base}/{capture_id}").get_data(as_text=True)  # stored as received


def test_for_owner_redacts_the_owner_page_and_api(client, bin_id):
    set_rules(client, bin_id, for_owner=True)
    capture_id = capture(client, bin_id)
    htmx = {"HX-Request": "true"}
    for url, headers in (
        (f"/bins/{bin_id}/requests/{capture_id}", htmx),
        (f"/bins/{bin_id}?request={capture_id}", {}),
        (f"/bins/{bin_id}/requests/{capture_id}/signature", htmx),
        (f"/api/bins/{bin_id}/requests/{capture_id}", {}),
        (f"/api/bins/{bin_id}/requests/{capture_id}/raw", {}),
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert SECRET not in text and CARD not in text, url
    set_rules(client, bin_id, for_owner=False)
    assert CARD in client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=htmx).get_data(as_text=True)
