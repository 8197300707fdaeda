"""Share links' read-only pages (inspector.views.share) through the test client: every route with a
live, revoked, unknown and expired link; no secrets; redaction; no owner controls; the stream."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import read_stream

from inspector import store
from inspector.db import db
from inspector.models import Bin
from inspector.signing.samples import build_sample
from inspector.store import access as access_store
from inspector.views.pages import context as page_context

HTMX = {"HX-Request": "true"}
SECRET_LABEL = "label-prod-xyzzy"
SECRET_VALUE = "gh-share-secret-0123456789QZXW"  # its hint is "…QZXW"
WRONG_SECRET = "not-the-stored-secret-0000"
AUTH_VALUE = "Bearer TOPSECRET-auth-9f8e7d"
COOKIE_VALUE = "session=COOKIESECRET-31337"
CARD = "4111-1111-1111-1111"
QUERY_TOKEN = "QUERYSECRET-5150"
RULES = {"json_paths": ["card"], "form_fields": ["token"]}
HIDDEN = (SECRET_LABEL, SECRET_VALUE, "QZXW", AUTH_VALUE, "TOPSECRET", "COOKIESECRET", CARD, QUERY_TOKEN)


def capture(client, bin_id: str, path: str = "/hook", *, data: bytes = b"", headers: dict | None = None) -> int:
    response = client.post(f"/h/{bin_id}{path}", data=data, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json["request_id"]


def share(client, bin_id: str, **options) -> dict:
    response = client.post(f"/api/bins/{bin_id}/shares", json=options)
    assert response.status_code == 201, response.text
    return response.json


def revoke(client, bin_id: str, share_id: int) -> None:
    assert client.delete(f"/api/bins/{bin_id}/shares/{share_id}").status_code == 204


def github(client, bin_id: str, secret: str, path: str = "/github", *, extra: bytes = b"") -> tuple[int, bytes]:
    """A GitHub delivery signed with `secret`; `extra` (whitespace) makes its body differ."""
    sample = build_sample("github", secret=secret, at=datetime.now(UTC))
    body = sample.body + extra
    headers = dict(sample.headers)
    headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return capture(client, bin_id, path, data=body, headers=headers), body


@pytest.fixture
def shared_bin(client, bin_id):
    """A bin with a secret, redaction rules, a sensitive capture and two signed ones, and a
    share link allowing raw downloads: (bin_id, link, ids by name, GitHub bodies by name)."""
    assert client.patch(f"/api/bins/{bin_id}", json={"redact": RULES}).status_code == 200
    secret = {"label": SECRET_LABEL, "value": SECRET_VALUE, "provider": "github"}
    assert client.post(f"/api/bins/{bin_id}/secrets", json=secret).status_code == 201
    sensitive = capture(
        client,
        bin_id,
        f"/orders?token={QUERY_TOKEN}&page=2",
        data=b'{"card": "' + CARD.encode() + b'", "amount": 12}',
        headers={"Authorization": AUTH_VALUE, "Cookie": COOKIE_VALUE, "Content-Type": "application/json"},
    )
    valid, valid_body = github(client, bin_id, SECRET_VALUE)
    invalid, invalid_body = github(client, bin_id, WRONG_SECRET, "/github-bad", extra=b" ")
    link = share(client, bin_id, allow_raw=True)
    ids = {"sensitive": sensitive, "valid": valid, "invalid": invalid}
    return bin_id, link, ids, {"valid": valid_body, "invalid": invalid_body}


def base_of(link: dict) -> str:
    return f"/s/{link['token']}"


def every_get(base: str, ids: dict) -> list[tuple[str, dict]]:
    """Every shared route (GET), with the headers the page sends."""
    first = ids["sensitive"]
    urls = [(base, {}), (f"{base}?request={first}", {}), (f"{base}/list", HTMX), (f"{base}/facets", HTMX)]
    urls.append((f"{base}/requests?before={max(ids.values()) + 1}", HTMX))
    for capture_id in ids.values():
        urls += [
            (f"{base}/requests/{capture_id}", HTMX),
            (f"{base}/requests/{capture_id}", {}),
            (f"{base}/requests/{capture_id}/signature", HTMX),
            (f"{base}/requests/{capture_id}/raw", {}),
            (f"{base}/requests/{capture_id}/body?view=0", HTMX),
        ]
    return urls


def stream_text(client, base: str, until: str = "retry:", **query) -> str:
    return read_stream(client.get(f"{base}/stream", query_string=query or None, buffered=False), until)


# --- a live link ------------------------------------------------------------------------------


def test_every_shared_route_answers_a_live_link(client, shared_bin, fast_stream):
    _, link, ids, _ = shared_bin
    base = base_of(link)
    for url, headers in every_get(base, ids):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["Referrer-Policy"] == "no-referrer", url
    assert "retry:" in stream_text(client, base)


def test_page_shows_list_detail_provider_and_verdicts(client, shared_bin):
    _, link, ids, _ = shared_bin
    html = client.get(f"{base_of(link)}?request={ids['valid']}").text
    for capture_id in ids.values():
        assert f'id="req-{capture_id}"' in html
    assert f'data-capture-id="{ids["valid"]}"' in html
    assert "GitHub" in html and "verdict-valid" in html and "verdict-invalid" in html
    assert "The signature matched a stored secret." in html
    assert 'id="share-ended"' in html and "This share link was revoked or has expired." in html


def test_links_stay_under_the_share_link(client, shared_bin):
    bin_id, link, ids, _ = shared_bin
    base = base_of(link)
    for url, headers in every_get(base, ids):
        if url.endswith("/raw"):
            continue
        html = client.get(url, headers=headers).text
        assert bin_id not in html, url  # a bin id is a capability: never shown
        for attribute, value in re.findall(r'(href|hx-get|sse-connect|data-src|src|action)="([^"]*)"', html):
            assert value.startswith((base, "/static/", "https://", "data:")) or value == "/", (url, attribute, value)


# --- nothing secret, everything redacted -------------------------------------------------------


def test_no_secret_label_hint_or_value_in_any_shared_response(client, shared_bin, fast_stream):
    bin_id, link, ids, bodies = shared_bin
    base = base_of(link)
    expected = hmac.new(SECRET_VALUE.encode(), bodies["invalid"], hashlib.sha256).hexdigest()
    owner = client.get(f"/bins/{bin_id}/requests/{ids['invalid']}", headers=HTMX).text
    assert expected in owner and SECRET_LABEL in client.get(f"/bins/{bin_id}?request={ids['valid']}").text
    texts = [client.get(url, headers=headers).get_data(as_text=True) for url, headers in every_get(base, ids)]
    texts.append(stream_text(client, base, until="never", after=0))
    for text in texts:
        for hidden in (*HIDDEN, expected, "Expected signature", "Key read as", "Signed string", "secret-label"):
            assert hidden not in text


def test_valid_and_invalid_verdicts_name_no_secret(client, shared_bin):
    _, link, ids, _ = shared_bin
    valid = client.get(f"{base_of(link)}/requests/{ids['valid']}/signature", headers=HTMX).text
    assert "The signature matched a stored secret." in valid
    invalid = client.get(f"{base_of(link)}/requests/{ids['invalid']}/signature", headers=HTMX).text
    assert "did not verify with this bin&#39;s stored secrets" in invalid
    assert "Check now" not in valid + invalid and "?at=now" not in valid + invalid


def test_shared_verification_keeps_only_what_the_secrets_did_not_give():
    from inspector.signing.verify import Verification

    debug = {"algorithm": "HMAC-SHA256", "expected": "abc", "key_reading": "raw", "diagnosis": "hex of x", "extra": 1}
    shown = page_context.shared_verification(Verification("invalid", "s", "prod", "matches secret 'prod'", debug=debug))
    assert shown.secret is None and "prod" not in shown.detail
    assert shown.debug == {"algorithm": "HMAC-SHA256"}
    unsigned = Verification("unsigned", detail="GitHub signs with header X; this request carries none.")
    assert page_context.shared_verification(unsigned).detail == unsigned.detail


def test_redacted_values_absent_from_shared_pages_and_raw_download(client, shared_bin, fast_stream):
    bin_id, link, ids, _ = shared_bin
    base, first = base_of(link), ids["sensitive"]
    owner = client.get(f"/bins/{bin_id}/requests/{first}", headers=HTMX).text
    assert CARD in owner and "TOPSECRET" in owner  # the owner sees values (no for_owner rule)
    detail = client.get(f"{base}/requests/{first}", headers=HTMX).text
    assert "[redacted]" in detail and "page=2" in detail and "amount" in detail
    assert "Redacted for this link:" in detail and "header Authorization" in detail
    raw = client.get(f"{base}/requests/{first}/raw")
    assert raw.headers["Content-Disposition"] == f'attachment; filename="request-{first}.bin"'
    assert b"[redacted]" in raw.data and CARD.encode() not in raw.data and b'"amount":12' in raw.data
    listed = client.get(f"{base}/list", headers=HTMX).text
    assert "token=[redacted]" in listed.replace("%5B", "[").replace("%5D", "]")
    for text in (detail, listed, stream_text(client, base, until="never", after=0)):
        for hidden in HIDDEN:
            assert hidden not in text


def test_the_capture_url_is_masked_wherever_a_sender_put_it(client, bin_id):
    """A bin id is a capability, and senders echo the URL they deliver to (GitHub's ping)."""
    body = b'{"hook": {"url": "http://example.test/h/%s/gh", "escaped": "https:\\/\\/x\\/h\\/%s"}}' % (
        bin_id.encode(),
        bin_id.encode(),
    )
    capture_id = capture(
        client,
        bin_id,
        f"/gh?callback=http://example.test/h/{bin_id}",
        data=body,
        headers={"Content-Type": "application/json", "Referer": f"http://example.test/h/{bin_id}/"},
    )
    link = share(client, bin_id, allow_raw=True)
    base = base_of(link)
    detail = client.get(f"{base}/requests/{capture_id}", headers=HTMX).text
    assert "Redacted for this link:" in detail and "body capture URL" in detail
    raw = client.get(f"{base}/requests/{capture_id}/raw").data
    assert raw.count(b"[redacted]") == 2 and b"example.test" in raw
    for text in (detail, client.get(base).text, raw.decode()):
        assert bin_id not in text
    assert bin_id.encode() in client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).data  # the owner's


def test_search_is_not_offered_and_ignored(client, shared_bin):
    """A text search runs over stored values: on a share page it would confirm redacted ones."""
    _, link, ids, _ = shared_bin
    base = base_of(link)
    listed = client.get(f"{base}/list", query_string={"q": CARD}, headers=HTMX).text
    assert 'name="q"' not in listed
    assert all(f'id="req-{capture_id}"' in listed for capture_id in ids.values())
    assert "q=" not in client.get(f"{base}/list", query_string={"q": CARD}, headers=HTMX).headers["HX-Push-Url"]


def test_redacted_at_capture_is_said_on_owner_and_shared_detail(client, bin_id):
    rules = {"headers": ["Authorization"], "at_capture": True}
    assert client.patch(f"/api/bins/{bin_id}", json={"redact": rules}).status_code == 200
    capture_id = capture(client, bin_id, headers={"Authorization": AUTH_VALUE})
    link = share(client, bin_id)
    owner = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers=HTMX).text
    shared = client.get(f"{base_of(link)}/requests/{capture_id}", headers=HTMX).text
    for html in (owner, shared):
        assert "Redacted at capture: header Authorization" in html and "TOPSECRET" not in html
    assert "Redacted for this link" not in shared


# --- read-only ---------------------------------------------------------------------------------

OWNER_CONTROLS = ("hx-post", "hx-delete", "hx-put", "hx-patch", "/replay", "/forward", "/secrets", "/deliveries")


def test_no_owner_controls_in_shared_html(client, shared_bin):
    _, link, ids, _ = shared_bin
    for url, headers in every_get(base_of(link), ids):
        if url.endswith("/raw"):
            continue
        html = client.get(url, headers=headers).text
        for control in (*OWNER_CONTROLS, "Clear all", ">Delete<", "Replay", "Auto-forward", "Signing secrets"):
            assert control not in html, (url, control)
        assert "/api/" not in html and "/bins/" not in html and "/h/" not in html, url


def test_raw_download_only_when_the_link_allows_it(client, bin_id):
    capture_id = capture(client, bin_id, data=b"plain body")
    closed, open_ = share(client, bin_id), share(client, bin_id, allow_raw=True)
    detail = client.get(f"{base_of(closed)}/requests/{capture_id}", headers=HTMX).text
    assert "Download body" not in detail and "/raw" not in detail
    assert client.get(f"{base_of(closed)}/requests/{capture_id}/raw").status_code == 404
    detail = client.get(f"{base_of(open_)}/requests/{capture_id}", headers=HTMX).text
    assert f'href="{base_of(open_)}/requests/{capture_id}/raw"' in detail
    assert client.get(f"{base_of(open_)}/requests/{capture_id}/raw").data == b"plain body"


def test_mutations_on_share_urls_are_refused(app, client, shared_bin):
    bin_id, link, ids, _ = shared_bin
    base, first = base_of(link), ids["sensitive"]
    # With the page's own CSRF token, as the page's htmx would send it: refused all the same.
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(base).text).group(1)
    headers = HTMX | {"X-CSRFToken": token}
    paths = [base, f"{base}/requests", f"{base}/requests/{first}", f"{base}/list", f"{base}/stream"]
    for path in paths:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.open(path, method=method, headers=headers).status_code == 405, (method, path)
    for path in (f"{base}/requests/{first}/replay", f"{base}/secrets", f"{base}/forward"):
        assert client.post(path, headers=headers, data={"url": "http://127.0.0.1:9/"}).status_code in (404, 405)
    with app.app_context():
        assert store.count_captures(bin_id) == 3 and len(store.list_secrets(bin_id)) == 1


def test_a_capture_outside_the_bin_is_404(client, shared_bin):
    link = shared_bin[1]
    other = client.post("/api/bins", json={"name": "other-bin"}).json["id"]
    foreign = capture(client, other)
    for suffix in ("", "/signature", "/raw"):
        assert client.get(f"{base_of(link)}/requests/{foreign}{suffix}", headers=HTMX).status_code == 404


# --- dead links --------------------------------------------------------------------------------


def assert_gone(client, base: str, ids: dict, status: int, words: str) -> None:
    for url, headers in every_get(base, ids):
        response = client.get(url, headers=headers)
        assert response.status_code == status, url
        assert response.headers["Cache-Control"] == "no-store"
        if headers:
            assert response.headers["HX-Trigger"] == "hookloupe-access-ended"
            assert response.headers["HX-Reswap"] == "none"
        else:
            assert words in response.text, url
        assert "req-" not in response.text and "[redacted]" not in response.text


def test_revoked_link_is_404_everywhere_and_its_stream_ends_at_once(client, shared_bin, fast_stream):
    bin_id, link, ids, _ = shared_bin
    revoke(client, bin_id, link["id"])
    assert_gone(client, base_of(link), ids, 404, "It was revoked, or never existed.")
    assert "event: access_ended" in stream_text(client, base_of(link), until="access_ended")


def test_unknown_token_is_404(client, shared_bin):
    _, _, ids, _ = shared_bin
    assert_gone(client, "/s/not-a-real-token-at-all", ids, 404, "It was revoked, or never existed.")


def test_expired_link_is_410(app, client, shared_bin, fast_stream):
    bin_id, _, ids, _ = shared_bin
    now = datetime.now(UTC)
    with app.app_context():
        _, token = access_store.create_share(bin_id, now - timedelta(hours=2), now - timedelta(seconds=1), True)
    assert_gone(client, f"/s/{token}", ids, 410, "This share link has expired")
    assert "event: access_ended" in stream_text(client, f"/s/{token}", until="access_ended")


def test_link_to_an_expired_bin_is_410(app, client, shared_bin):
    bin_id, link, ids, _ = shared_bin
    with app.app_context():
        bin_ = store.get_bin(bin_id)
        assert isinstance(bin_, Bin)
        bin_.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    assert_gone(client, base_of(link), ids, 410, "The shared bin has expired")


# --- live --------------------------------------------------------------------------------------


def test_stream_sends_new_captures_redacted_and_ends_after_revocation(client, shared_bin, fast_stream, app):
    bin_id, link, _, _ = shared_bin
    app.config["STREAM_MAX_S"] = 10
    response = client.get(f"{base_of(link)}/stream", buffered=False)
    chunks = iter(response.response)
    text = next(chunks).decode()
    arrived = capture(client, bin_id, f"/late?token={QUERY_TOKEN}")
    while f"req-{arrived}" not in text:
        text += next(chunks).decode()
    assert QUERY_TOKEN not in text and base_of(link) in text
    revoke(client, bin_id, link["id"])
    started = datetime.now(UTC)
    try:
        while "event: access_ended" not in text:
            text += next(chunks).decode()
    finally:
        response.close()
    assert datetime.now(UTC) - started < timedelta(seconds=3)


def test_stream_ends_when_the_link_expires(app, client, bin_id, fast_stream):
    app.config["STREAM_MAX_S"] = 10
    now = datetime.now(UTC)
    with app.app_context():
        _, token = access_store.create_share(bin_id, now, now + timedelta(seconds=1.5), False)
    assert "event: access_ended" in stream_text(client, f"/s/{token}", until="access_ended")


def test_stream_keeps_the_list_filters(client, shared_bin, fast_stream):
    bin_id, link, _, _ = shared_bin
    response = client.get(f"{base_of(link)}/stream", query_string={"provider": "github"}, buffered=False)
    capture(client, bin_id, "/not-github")
    github_id, _ = github(client, bin_id, SECRET_VALUE)
    text = read_stream(response, f"req-{github_id}")
    assert f"req-{github_id}" in text and "/not-github" not in text


# --- logs --------------------------------------------------------------------------------------


def test_token_never_reaches_the_log(app, client, shared_bin, caplog, monkeypatch):
    _, link, ids, _ = shared_bin
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: Flask logs the error

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(page_context, "detail_context", broken)
    with caplog.at_level(logging.INFO):
        assert client.get(f"{base_of(link)}/requests/{ids['valid']}", headers=HTMX).status_code == 500
    assert "/s/…" in caplog.text and link["token"] not in caplog.text
