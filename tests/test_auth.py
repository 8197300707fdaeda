"""Signing in with HOOKLOUPE_PASSWORD: the session cookie, sign-out that ends the session
everywhere, CSRF on every page mutation, the limit on wrong credentials, and the trusted SSO
header. Run with CSRF on (the settings a real server runs)."""

from __future__ import annotations

import base64
import re

import pytest
from conftest import database_for

from inspector import create_app
from inspector.db import db

PASSWORD = "pw-auth-Hx4"


def make_app(tmp_path, monkeypatch, **settings):
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    config = {
        "TESTING": True,
        "DATABASE_URL": database_for("sqlite", tmp_path),
        "SECRET_KEY": "k",
        "ANALYSER": "inline",
        "PASSWORD": PASSWORD,
        **settings,
    }
    return create_app(config)


@pytest.fixture
def app(tmp_path, monkeypatch):
    app = make_app(tmp_path, monkeypatch)
    yield app
    app.extensions["hookloupe.capture_marks"].stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client, password: str = PASSWORD, next_url: str = "/"):
    form = client.get("/signin")
    assert form.status_code == 200
    token = csrf_of(form.get_data(as_text=True))
    return client.post("/signin", data={"password": password, "csrf_token": token, "next": next_url})


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"u:{password}".encode()).decode()}


def test_a_browser_without_a_session_is_sent_to_sign_in(app):
    client = app.test_client()
    response = client.get("/bins/some-bin?request=3")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/signin?next=/bins/some-bin")
    htmx = client.get("/bins/some-bin/list", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/signin")
    assert client.get("/api/bins").status_code == 401


def test_sign_in_sets_a_safe_cookie_and_opens_the_pages(app):
    client = app.test_client()
    assert sign_in(client, "wrong").status_code == 401
    response = sign_in(client, next_url="/bins")
    assert response.status_code == 303 and response.headers["Location"] == "/bins"
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("hookloupe_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    page = client.get("/")
    assert page.status_code == 200 and 'id="signout"' in page.get_data(as_text=True)
    assert client.get("/api/bins").status_code == 200  # the page's own session reaches the API


def test_the_cookie_is_secure_behind_an_https_proxy(tmp_path, monkeypatch):
    app = make_app(tmp_path, monkeypatch, TRUSTED_PROXIES=1)
    client = app.test_client()
    form = client.get("/signin", headers={"X-Forwarded-Proto": "https"})
    token = csrf_of(form.get_data(as_text=True))
    response = client.post(
        "/signin", data={"password": PASSWORD, "csrf_token": token}, headers={"X-Forwarded-Proto": "https"}
    )
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("hookloupe_session="))
    assert "Secure" in cookie
    app.extensions["hookloupe.capture_marks"].stop()


def test_next_never_leaves_the_server(app):
    client = app.test_client()
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = sign_in(client, next_url=target)
        assert response.headers["Location"] == "/", target


def test_sign_out_ends_the_session_even_for_a_copied_cookie(app):
    client = app.test_client()
    sign_in(client)
    copied = client.get_cookie("hookloupe_session").value
    page = client.get("/")
    out = client.post("/signout", data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert out.status_code == 303 and out.headers["Location"] == "/signin"
    assert client.get("/").status_code == 303
    thief = app.test_client()
    thief.set_cookie("hookloupe_session", copied)
    assert thief.get("/").status_code == 303 and thief.get("/api/bins").status_code == 401


def test_changing_the_password_signs_every_browser_out(app):
    client = app.test_client()
    sign_in(client)
    assert client.get("/").status_code == 200
    app.config["PASSWORD"] = "a-new-password"
    assert client.get("/").status_code == 303


def test_a_page_mutation_without_the_csrf_token_is_refused(app):
    client = app.test_client()
    sign_in(client)
    page = client.get("/")
    token = csrf_of(page.get_data(as_text=True))
    headers = {"HX-Request": "true"}
    refused = client.post("/bins", data={"name": "no-token"}, headers=headers)
    assert refused.status_code == 403 and "CSRF" in refused.get_data(as_text=True)
    wrong = client.post("/bins", data={"name": "wrong-token"}, headers={**headers, "X-CSRFToken": "x" + token})
    assert wrong.status_code == 403
    made = client.post("/bins", data={"name": "with-token"}, headers={**headers, "X-CSRFToken": token})
    assert made.status_code == 201
    assert client.get("/api/bins").json["bins"][0]["id"] == "with-token"
    assert len(client.get("/api/bins").json["bins"]) == 1  # the refused ones made nothing


def test_sign_in_itself_needs_the_csrf_token(app):
    client = app.test_client()
    client.get("/signin")
    assert client.post("/signin", data={"password": PASSWORD}).status_code == 403


def test_wrong_sign_ins_are_limited_per_address(tmp_path, monkeypatch):
    app = make_app(tmp_path, monkeypatch, AUTH_FAILURE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [sign_in(client, "wrong").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert sign_in(client).status_code == 429  # even the right password waits
    other = app.test_client()
    environ = {"REMOTE_ADDR": "10.1.2.3"}
    form = other.get("/signin", environ_base=environ)
    token = csrf_of(form.get_data(as_text=True))
    answer = other.post("/signin", data={"password": PASSWORD, "csrf_token": token}, environ_base=environ)
    assert answer.status_code == 303  # another address is not held back
    app.extensions["hookloupe.capture_marks"].stop()


def test_wrong_api_credentials_are_limited_per_address(tmp_path, monkeypatch):
    app = make_app(tmp_path, monkeypatch, AUTH_FAILURE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [client.get("/api/bins", headers=basic("nope")).status_code for _ in range(3)]
    statuses += [client.get("/api/bins", headers={"Authorization": "Bearer hlt_guess"}).status_code]
    statuses += [client.get("/api/bins", headers=basic(PASSWORD)).status_code]
    assert statuses == [401, 401, 401, 429, 429]
    assert client.post("/h/anything", data=b"x").status_code in (200, 404)  # capture never limited
    app.extensions["hookloupe.capture_marks"].stop()


def test_the_sso_header_counts_only_from_a_trusted_proxy(tmp_path, monkeypatch):
    app = make_app(tmp_path, monkeypatch, PASSWORD=None, AUTH_HEADER="X-Forwarded-User", AUTH_PROXY_IPS="127.0.0.1")
    client = app.test_client()
    sso = {"X-Forwarded-User": "alice"}
    assert client.get("/api/bins", headers=sso).status_code == 200
    assert client.get("/api/bins").status_code == 401
    page = client.get("/", headers=sso)
    assert page.status_code == 200
    outsider = client.get("/api/bins", headers=sso, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert outsider.status_code == 401
    no_session_page = client.get("/")
    assert no_session_page.status_code == 401 and "X-Forwarded-User" in no_session_page.get_data(as_text=True)
    bin_id = client.post("/api/bins", json={}, headers=sso).json["id"]
    client.delete(f"/api/bins/{bin_id}/requests", headers=sso)
    log = client.get(f"/api/bins/{bin_id}/activity", headers=sso).json["activity"]
    assert log[0]["actor"] == "admin (alice via X-Forwarded-User)"
    app.extensions["hookloupe.capture_marks"].stop()


def test_a_bad_proxy_list_stops_the_start(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="HOOKLOUPE_AUTH_PROXY_IPS"):
        make_app(tmp_path, monkeypatch, AUTH_PROXY_IPS="not-an-address")


def test_without_a_password_nothing_asks_for_one(tmp_path, monkeypatch):
    app = make_app(tmp_path, monkeypatch, PASSWORD=None)
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/signin").status_code == 303  # nothing to sign in to
    assert client.get("/api/bins").status_code == 200
    app.extensions["hookloupe.capture_marks"].stop()


def test_page_mutations_with_a_token_need_no_csrf_token_but_basic_does(app):
    """A browser adds cookies and cached Basic credentials by itself, never a Bearer token."""
    client = app.test_client()
    token = client.post("/api/tokens", json={"label": "t", "scope": "write"}, headers=basic(PASSWORD)).json["token"]
    headers = {"HX-Request": "true"}
    by_token = client.post("/bins", data={"name": "by-token"}, headers={**headers, "Authorization": f"Bearer {token}"})
    assert by_token.status_code == 201
    by_basic = client.post("/bins", data={"name": "by-basic"}, headers={**headers, **basic(PASSWORD)})
    assert by_basic.status_code == 403
