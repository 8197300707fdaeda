"""Every provider end to end: its signed vector captured through /h/<bin>, verified through
GET /api/bins/<bin>/requests/<id>, with the stored secret, a wrong one, none, a tampered body
and a stale clock."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from inspector.signing import providers
from inspector.signing.schemes import AdyenItems, Token

VECTORS = Path(__file__).parent / "vectors"


def routable_cases():
    """(provider id, case) for every vector whose URL is a capture URL (…/h/<bin>…)."""
    cases = []
    for path in sorted(VECTORS.glob("*.json")):
        data = json.loads(path.read_text())
        for case in data["vectors"]:
            if "/h/" in case["url"]:
                cases.append(pytest.param(data["provider"], case, id=f"{data['provider']}-{case['name']}"))
    return cases


def body_of(case) -> bytes:
    return base64.b64decode(case["body_base64"]) if "body_base64" in case else case["body"].encode()


def matched_scheme(provider_id: str, name: str):
    """The scheme object of the entry whose name the verdict reported."""
    return next(s for s in providers.get(provider_id).schemes if s.name == name)


def covers_whole_body(scheme) -> bool:
    """False for schemes that sign no body (tokens), one field (DreamClass signs only `id`)
    or chosen fields (Adyen's notification items): editing elsewhere keeps them valid."""
    if isinstance(scheme, (Token, AdyenItems)):
        return False
    template = getattr(scheme, "template", "{body}")
    return "{body}" in template or "{params}" in template


class Harness:
    def __init__(self, app, client, provider_id, case):
        self.app, self.client, self.provider_id, self.case = app, client, provider_id, case
        url = urlsplit(case["url"])
        before, _, after = url.path.partition("/h/")
        self.bin_id, _, rest = after.partition("/")
        self.path = "/" + rest if rest else ""
        self.query = url.query
        self.base = f"{url.scheme}://{url.netloc}{before}"
        response = client.post("/api/bins", json={"name": self.bin_id})
        assert response.status_code == 201, response.json
        assert client.patch(f"/api/bins/{self.bin_id}", json={"public_base_url": self.base}).status_code == 200

    def add_secret(self, value):
        response = self.client.post(f"/api/bins/{self.bin_id}/secrets", json={"label": "main", "value": value})
        assert response.status_code == 201

    def capture(self, *, body=None, headers=None, at=None) -> dict:
        at = at or datetime.fromisoformat(self.case["received_at"].replace("Z", "+00:00"))
        self.app.extensions["hookloupe.clock"] = lambda: at
        headers = headers if headers is not None else self.case["headers"]
        url = f"/h/{self.bin_id}{self.path}" + (f"?{self.query}" if self.query else "")
        response = self.client.open(
            url,
            method=self.case["method"],
            headers=[tuple(h) for h in headers],
            data=body_of(self.case) if body is None else body,
        )
        assert response.status_code < 500
        listed = self.client.get(f"/api/bins/{self.bin_id}/requests?limit=1").json["requests"][0]
        return self.client.get(f"/api/bins/{self.bin_id}/requests/{listed['id']}").json


@pytest.fixture(params=["sqlite"])
def backend(request):
    return request.param


@pytest.mark.parametrize("provider_id, case", routable_cases())
def test_vector_through_the_app(app, client, provider_id, case):
    h = Harness(app, client, provider_id, case)
    if case["secret"]:
        h.add_secret(case["secret"])
    got = h.capture()
    assert got["provider"] and got["provider"]["id"] == provider_id, got["provider"]
    assert got["signature"]["status"] == case["expected"]["status"], got["signature"]["detail"]
    expected = case["expected"]
    for key in ("event", "delivery_id"):
        if key in expected:
            assert got["provider"][key] == expected[key]
    listed = client.get(f"/api/bins/{h.bin_id}/requests").json["requests"][0]
    assert listed["signature"]["status"] == case["expected"]["status"]


VALID = [p for p in routable_cases() if p.values[1]["expected"]["status"] == "valid"]


@pytest.mark.parametrize("provider_id, case", VALID)
def test_no_secret_then_wrong_secret(app, client, provider_id, case):
    h = Harness(app, client, provider_id, case)
    assert h.capture()["signature"]["status"] == "no_secret"
    secret, middle = case["secret"], len(case["secret"]) // 2
    h.add_secret(secret[:middle] + ("A" if secret[middle] != "A" else "B") + secret[middle + 1 :])
    assert h.capture()["signature"]["status"] == "invalid"


@pytest.mark.parametrize("provider_id, case", VALID)
def test_tampered_body(app, client, provider_id, case):
    h = Harness(app, client, provider_id, case)
    h.add_secret(case["secret"])
    scheme = matched_scheme(provider_id, h.capture()["signature"]["scheme"])
    body = body_of(case)
    tampered = body.replace(b"}", b',"tampered":1}', 1) if b"}" in body else body + b"&tampered=1"
    got = h.capture(body=tampered)
    if covers_whole_body(scheme):
        assert got["signature"]["status"] != "valid", got["signature"]["detail"]
        if got["provider"]:  # (a tampered body can also hide a body-detected sender)
            assert got["signature"]["status"] == "invalid"
    else:
        assert got["signature"]["status"] == "valid"  # by design: the body is not (all) signed


@pytest.mark.parametrize("provider_id, case", VALID)
def test_stale_timestamp_is_expired(app, client, provider_id, case):
    h = Harness(app, client, provider_id, case)
    h.add_secret(case["secret"])
    scheme = matched_scheme(provider_id, h.capture()["signature"]["scheme"])
    received = datetime.fromisoformat(case["received_at"].replace("Z", "+00:00"))
    got = h.capture(at=received + timedelta(hours=2))
    expected = "expired" if getattr(scheme, "tolerance", None) else "valid"
    assert got["signature"]["status"] == expected, got["signature"]["detail"]


SIGNATURE_HEADERS = {
    "github": "X-Hub-Signature-256",
    "stripe": "Stripe-Signature",
    "slack": "X-Slack-Signature",
    "shopify": "X-Shopify-Hmac-Sha256",
    "standard-webhooks": "webhook-signature",
    "svix": "svix-signature",
    "studiewinkel": "X-Hook-Signature",
    "edusign": "x-edusign-hmac",
    "dreamship": "X-Dreamship-Signature",
}


@pytest.mark.parametrize("provider_id, case", [p for p in VALID if p.values[0] in SIGNATURE_HEADERS])
def test_missing_signature_header_is_unsigned(app, client, provider_id, case):
    h = Harness(app, client, provider_id, case)
    h.add_secret(case["secret"])
    name = SIGNATURE_HEADERS[provider_id].lower()
    headers = [pair for pair in case["headers"] if pair[0].lower() != name]
    got = h.capture(headers=headers)
    if got["provider"] and got["provider"]["id"] == provider_id:
        assert got["signature"]["status"] == "unsigned"
    else:  # without its signature header the sender may no longer be recognisable
        assert got["signature"]["status"] == "none"


def test_every_registry_entry_is_exercised_end_to_end():
    covered = {p.values[0] for p in routable_cases()}
    url_only = {"square", "twilio"} - covered  # their official vectors sign a non-capture URL
    assert {p.id for p in providers.all_providers()} - covered <= url_only


def test_secret_is_never_returned(client):
    client.post("/api/bins", json={"name": "secret-bin"})
    created = client.post(
        "/api/bins/secret-bin/secrets", json={"label": "gh", "value": "super-secret-value-1234", "provider": "github"}
    ).json
    assert created["hint"] == "…1234" and "value" not in created
    listed = client.get("/api/bins/secret-bin/secrets").json["secrets"]
    assert "super-secret" not in json.dumps(listed)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"label": "", "value": "x"},
        {"label": "a", "value": ""},
        {"label": "a", "value": "x", "provider": "nope"},
        {"label": 1, "value": "x"},
    ],
)
def test_bad_secrets_are_400(client, payload):
    client.post("/api/bins", json={"name": "secret-bin"})
    response = client.post("/api/bins/secret-bin/secrets", json=payload)
    assert response.status_code == 400 and response.json["error"]


def test_deleting_a_secret_verifies_again(app, client):
    case = json.loads((VECTORS / "github.json").read_text())["vectors"][0]
    h = Harness(app, client, "github", case)
    h.add_secret(case["secret"])
    first = h.capture()
    assert first["signature"]["status"] == "valid"
    secret_id = client.get(f"/api/bins/{h.bin_id}/secrets").json["secrets"][0]["id"]
    assert client.delete(f"/api/bins/{h.bin_id}/secrets/{secret_id}").status_code == 204
    listed = client.get(f"/api/bins/{h.bin_id}/requests").json["requests"][0]
    assert listed["signature"]["status"] == "no_secret"
    filtered = client.get(f"/api/bins/{h.bin_id}/requests?verdict=valid").json["requests"]
    assert filtered == []
    assert len(client.get(f"/api/bins/{h.bin_id}/requests?verdict=no_secret&provider=github").json["requests"]) == 1


def test_secrets_are_encrypted_at_rest(app, client):
    from inspector.db import db
    from inspector.models import Secret

    client.post("/api/bins", json={"name": "secret-bin"})
    client.post("/api/bins/secret-bin/secrets", json={"label": "k", "value": "plain-text-secret-abcdef"})
    with app.app_context():
        stored = db.session.scalars(db.select(Secret)).one()
        assert b"plain-text-secret" not in stored.ciphertext
