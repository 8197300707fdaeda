"""The guards in front of the UI and API: cross-site refusal and the API body limit."""

import pytest

from inspector import create_app
from inspector.db import db
from inspector.models import Bin
from inspector.views.security import cross_site_refusal

OWN = ("http://localhost", "https://hooks.example.com")


def test_an_opaque_origin_is_refused_by_the_app(client):
    assert client.post("/api/bins", json={}, headers={"Origin": "null"}).status_code == 403
    assert client.post("/api/bins", json={}, headers={"Origin": "http://localhost"}).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/api/bins", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ("POST", "/api/bins", {"Content-Type": "multipart/form-data; boundary=x"}, 415),
        ("POST", "/api/bins", {"Content-Type": "Text/Plain;charset=UTF-8"}, 415),
        ("PATCH", "/api/bins/b1", {"Content-Type": "text/plain"}, 415),
        ("POST", "/api/bins", {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403),
        ("POST", "/api/bins", {"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, 403),
        ("POST", "/api/bins", {"Origin": "https://evil.example"}, 403),
        ("POST", "/api/bins", {"Origin": "null"}, 403),
        ("POST", "/signin", {"Origin": "null", "Sec-Fetch-Site": "cross-site"}, 403),
        ("DELETE", "/bins/b1/requests", {"Origin": "http://localhost.evil.example"}, 403),
        ("POST", "/bins/b1/secrets", {"Sec-Fetch-Site": "cross-site"}, 403),
    ],
)
def test_requests_a_foreign_page_could_send_are_refused(method, path, headers, status):
    refusal = cross_site_refusal(method, path, headers.get, OWN)
    assert refusal is not None and refusal[0] == status


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/api/bins", {}),  # curl -X POST, no body
        ("POST", "/api/bins", {"Content-Type": "application/json"}),
        ("POST", "/api/bins", {"Content-Type": "application/json", "Origin": "http://localhost"}),
        ("POST", "/api/bins", {"Origin": "https://HOOKS.example.com", "Sec-Fetch-Site": "same-origin"}),
        (
            "POST",
            "/bins/b1/secrets",
            {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
        ),
        ("GET", "/api/bins", {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}),
        ("POST", "/api/bins", {"Sec-Fetch-Site": "none"}),
        # A plain form post from our own page under no-referrer: the browser says same-origin.
        ("POST", "/signin", {"Origin": "null", "Sec-Fetch-Site": "same-origin"}),
    ],
)
def test_own_pages_scripts_and_reads_pass(method, path, headers):
    assert cross_site_refusal(method, path, headers.get, OWN) is None


def bin_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Bin.id)))


def test_an_empty_cross_site_form_post_creates_no_bin(app, client):
    before = bin_count(app)
    response = client.post("/api/bins", content_type="application/x-www-form-urlencoded", data=b"")
    assert response.status_code == 415
    assert "JSON" in response.json["error"]
    response = client.post("/api/bins", json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert bin_count(app) == before
    assert client.post("/api/bins", json={}).status_code == 201


def test_a_declared_body_over_the_api_limit_is_413_before_it_is_read(app, client, bin_id):
    limit = app.config["MAX_API_BODY_BYTES"]
    response = client.patch(
        f"/api/bins/{bin_id}",
        data=b"{}",
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(limit + 1)},
    )

    assert response.status_code == 413
    assert str(limit) in response.json["error"]
    ok = client.patch(f"/api/bins/{bin_id}", json={"response": {"status": 202}})
    assert ok.status_code == 200


def test_a_bad_forward_deny_list_stops_the_app_from_starting(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ValueError, match="HOOKLOUPE_FORWARD_DENY"):
        create_app({"FORWARD_DENY": "10.0.0.0/8,not-a-network", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_a_stored_response_header_that_cannot_be_sent_is_left_out(app, client, bin_id):
    """A bin saved by an earlier release with an unsendable header: the capture is answered (and
    stored once), without that header."""
    assert client.patch(f"/api/bins/{bin_id}", json={"response": {"headers": [["X-Ok", "1"]]}}).status_code == 200
    with app.app_context():
        bin_ = db.session.get(Bin, bin_id)
        bin_.response_headers = [["X-Ok", "1"], ["X-Bad", "a\r\nSet-Cookie: x=1"], ["X-Snowman", "\u2603"]]
        db.session.commit()
    response = client.post(f"/h/{bin_id}", data=b"{}")
    assert response.status_code == 200
    assert response.headers["X-Ok"] == "1"
    assert "X-Bad" not in response.headers and "X-Snowman" not in response.headers
    assert client.get(f"/api/bins/{bin_id}").json["request_count"] == 1
