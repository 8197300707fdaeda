"""The owner's and administrator's pages (inspector.views.pages.manage): every bin, API tokens,
and a bin page's share links, redaction rules and activity log, through the test client."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import database_for

from inspector import create_app, store
from inspector.access import tokens as token_digests
from inspector.db import db
from inspector.models import Bin
from inspector.store import access as access_store
from inspector.store import activity
from inspector.views.pages import manage

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
HTMX = {"HX-Request": "true"}
BASIC = {"Authorization": "Basic " + base64.b64encode(b"x:pw").decode()}
ADMIN = {**HTMX, **BASIC}
HOSTILE = "<script>window.__pwned=1</script>"
OPEN_ACTOR = "anyone (no password is set)"


class Cells(HTMLParser):
    """The text of each table cell, by the id of its row: {row id: [cell text, ...]}."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row = dict(attrs).get("id")
            if self._row:
                self.rows[self._row] = []
        elif tag == "td" and self._row:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row and self._cell is not None:
            self.rows[self._row].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def new_bin(client, name: str, headers: dict | None = None) -> str:
    response = client.post("/api/bins", json={"name": name}, headers=headers or {})
    assert response.status_code == 201
    return response.json["id"]


def capture(client, bin_id: str, body: bytes = b'{"hello": "world"}') -> None:
    assert client.post(f"/h/{bin_id}/in", data=body, content_type="application/json").status_code == 200


def shown_once(html: str, element_id: str) -> str:
    found = re.search(rf'<code id="{element_id}">([^<]+)</code>', html)
    assert found, html
    return found.group(1)


@pytest.fixture
def password_app(backend, tmp_path, monkeypatch):
    """The app with HOOKLOUPE_PASSWORD set (access control on); CSRF off as in conftest's app."""
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_for(backend, tmp_path),
            "SECRET_KEY": "test-secret-key",
            "ANALYSER": "inline",
            "PASSWORD": "pw",
            "WTF_CSRF_ENABLED": False,
        }
    )
    yield app
    app.extensions["hookloupe.capture_marks"].stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def admin(password_app):
    """A test client of the password app (send BASIC, or ADMIN for htmx mutations)."""
    return password_app.test_client()


# --- the fragments' conventions -----------------------------------------------------------------


def test_every_fragment_states_what_it_expects():
    fragments = sorted((TEMPLATES / "manage").glob("_*.html"))
    assert len(fragments) >= 5
    for path in fragments:
        assert path.read_text().startswith("{# expects:"), path.name


def test_pages_and_fragments_are_not_cached(client, bin_id):
    for url in ("/bins", "/tokens", f"/bins/{bin_id}/shares", f"/bins/{bin_id}/redaction", f"/bins/{bin_id}/activity"):
        response = client.get(url, headers=HTMX)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url


def test_mutations_without_htmx_are_refused(client, bin_id):
    assert client.delete(f"/bins/{bin_id}").status_code == 403
    assert client.post(f"/bins/{bin_id}/shares", data={"expires": "1h"}).status_code == 403
    cross_site = {**HTMX, "Sec-Fetch-Site": "cross-site"}
    assert client.post(f"/bins/{bin_id}/redaction", data={}, headers=cross_site).status_code == 403
    assert client.get(f"/api/bins/{bin_id}").status_code == 200
    assert client.get(f"/api/bins/{bin_id}/shares").json["shares"] == []


def test_bin_page_loads_the_sections_and_offers_delete(client, bin_id):
    html = client.get(f"/bins/{bin_id}").text
    for section in ("shares", "redaction", "activity"):  # each loaded when first opened
        assert f'<details id="{section}" class="panel" hx-get="/bins/{bin_id}/{section}?open=1"' in html
        fragment = client.get(f"/bins/{bin_id}/{section}?open=1", headers=HTMX).text.lstrip()
        assert fragment.startswith(f'<details id="{section}" class="panel" open>')
        closed = client.get(f"/bins/{bin_id}/{section}", headers=HTMX).text.lstrip()
        assert closed.startswith(f'<details id="{section}" class="panel">')
    assert f'hx-delete="/bins/{bin_id}?from=page"' in html and "Delete this bin" in html
    assert 'hx-confirm="Delete this bin' in html
    for kept in ('id="secrets"', 'id="forward-settings"', 'id="live"', 'id="detail"', 'id="capture-url"'):
        assert kept in html


# --- every bin ----------------------------------------------------------------------------------


def test_all_bins_lists_counts_last_activity_and_share_links(app, client):
    busy, quiet = new_bin(client, "busy-bin"), new_bin(client, "quiet-bin")
    capture(client, busy)
    capture(client, busy)
    client.post(f"/bins/{quiet}/shares", data={"expires": "never"}, headers=HTMX)
    client.post(f"/bins/{quiet}/shares", data={"expires": "1h"}, headers=HTMX)
    with app.app_context():
        newest = store.list_captures(busy, limit=1)[0].received_at
    html = client.get("/bins").text
    rows = Cells(html).rows
    assert rows["bin-row-busy-bin"][:3] == ["busy-bin", "2", manage.utc_time(newest)]
    assert rows["bin-row-busy-bin"][4:6] == ["never", "0"]
    assert rows["bin-row-quiet-bin"][1:3] == ["0", "never"]
    assert rows["bin-row-quiet-bin"][5] == "2"
    assert '<a href="/bins/busy-bin">' in html and 'href="/tokens"' in html
    assert "2 bins on this server" in html


def test_all_bins_is_paged_newest_first(app, client, monkeypatch):
    monkeypatch.setattr(manage, "BINS_PER_PAGE", 2)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with app.app_context():
        for day, name in enumerate(("oldest", "middle", "newest")):
            store.create_bin(name, start + timedelta(days=day), expires_at=start if name == "oldest" else None)
    first = Cells(client.get("/bins").text).rows
    assert list(first) == ["bin-row-newest", "bin-row-middle"]
    second_html = client.get("/bins?page=2").text
    assert list(Cells(second_html).rows) == ["bin-row-oldest"]
    assert "expired" in Cells(second_html).rows["bin-row-oldest"][4]
    assert "page 2 of 2" in second_html and 'href="/bins?page=1"' in second_html
    assert list(Cells(client.get("/bins?page=99").text).rows) == ["bin-row-oldest"]  # past the end: the last


def test_delete_from_the_list_answers_the_removed_row(app, client):
    bin_id = new_bin(client, "doomed")
    capture(client, bin_id)
    response = client.delete(f"/bins/{bin_id}", headers=HTMX)
    assert response.status_code == 200
    assert f'<tr id="bin-row-{bin_id}" class="removed">' in response.text and "1 request." in response.text
    assert client.get(f"/api/bins/{bin_id}").status_code == 404
    assert 'bin-row-doomed"' not in client.get("/bins").text.replace('class="removed"', "")
    with app.app_context():
        [entry] = activity.of_bin(bin_id)
    assert (entry.action, entry.actor, entry.detail) == ("delete_bin", OPEN_ACTOR, "with 1 request")
    assert client.delete(f"/bins/{bin_id}", headers=HTMX).status_code == 404


def test_delete_from_the_bin_page_goes_to_the_bin_list(client):
    bin_id = new_bin(client, "from-page")
    response = client.delete(f"/bins/{bin_id}?from=page", headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/bins"
    assert client.get(f"/api/bins/{bin_id}").status_code == 404


def test_deleted_bins_show_in_the_server_activity(admin):
    bin_id = new_bin(admin, "gone-bin", BASIC)
    admin.delete(f"/bins/{bin_id}", headers=ADMIN)
    rows = [cells for cells in _activity_rows(admin.get("/bins", headers=BASIC).text)]
    assert rows[0][1:4] == ["gone-bin", "admin", "delete bin"]


def _activity_rows(html: str) -> list[list[str]]:
    """The cells of each row of the page's activity table."""
    table = html[html.index("activity-table") :]
    return [
        [" ".join(re.sub(r"<[^>]+>", "", cell).split()) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
        if "<td>" in row
    ]


# --- API tokens ---------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_never_again(password_app, admin):
    bin_id = new_bin(admin, "token-bin", BASIC)
    response = admin.post("/tokens", data={"label": "ci", "scope": "read"}, headers=ADMIN)
    assert response.status_code == 201
    plain = shown_once(response.text, "new-token")
    assert 'data-copy="new-token"' in response.text and "will not be shown again" in response.text
    assert admin.get(f"/api/bins/{bin_id}", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    later = [
        admin.get("/tokens", headers=BASIC),
        admin.post("/tokens", data={"label": "other", "scope": "write"}, headers=ADMIN),
        admin.get("/bins", headers=BASIC),
        admin.get(f"/bins/{bin_id}/activity", headers=BASIC),
        admin.get("/api/tokens", headers=BASIC),
    ]
    for answer in later:
        assert plain not in answer.text
        assert token_digests.digest(plain) not in answer.text
    listed = Cells(later[0].text).rows
    assert [cells[:3] for cells in listed.values()] == [["ci", "read", "all bins"]]
    assert listed["token-1"][4] != "never"  # used once, above
    assert "new-token" not in later[0].text


def test_a_token_can_be_limited_to_one_bin(password_app, admin):
    bin_id = new_bin(admin, "only-bin", BASIC)
    response = admin.post("/tokens", data={"label": "one", "scope": "write", "bin": bin_id}, headers=ADMIN)
    assert response.status_code == 201
    assert Cells(response.text).rows["token-1"][:3] == ["one", "write", bin_id]
    with password_app.app_context():
        [row] = access_store.list_tokens()
    assert (row.scope, row.bin_id) == ("write", bin_id)


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"label": "", "scope": "read"}, "label must be text"),
        ({"label": "x" * 101, "scope": "read"}, "label must be text"),
        ({"label": "ok", "scope": "root"}, "scope must be one of read, write, admin"),
        ({"label": "kept", "scope": "admin", "bin": "no-such-bin"}, "there is no bin named “no-such-bin”"),
    ],
)
def test_a_bad_token_field_answers_400_with_the_form(password_app, admin, form, reason):
    response = admin.post("/tokens", data=form, headers=ADMIN)
    assert response.status_code == 400
    assert reason in response.text and 'class="form-error"' in response.text
    assert 'id="token-label"' in response.text and f'value="{form["label"]}"' in response.text
    with password_app.app_context():
        assert access_store.list_tokens() == []


def test_revoke_a_token(admin):
    created = admin.post("/tokens", data={"label": "short-lived", "scope": "read"}, headers=ADMIN)
    plain = shown_once(created.text, "new-token")
    response = admin.delete("/tokens/1", headers=ADMIN)
    assert response.status_code == 200
    assert "Token #1 revoked." in response.text and "token-1" not in response.text
    assert admin.get("/api/tokens", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    assert admin.delete("/tokens/1", headers=ADMIN).status_code == 404


def test_token_labels_are_text_only(admin):
    response = admin.post("/tokens", data={"label": HOSTILE, "scope": "read"}, headers=ADMIN)
    html = admin.get("/tokens", headers=BASIC).text
    for page in (response.text, html):
        assert HOSTILE not in page
        assert "<td hx-disable>&lt;script&gt;window.__pwned=1&lt;/script&gt;</td>" in page


def test_tokens_need_access_control(app, client):
    page = client.get("/tokens")
    assert page.status_code == 200
    assert "no access control" in page.text and 'class="token-form"' not in page.text
    response = client.post("/tokens", data={"label": "ci", "scope": "read"}, headers=HTMX)
    assert response.status_code == 409
    assert "HOOKLOUPE_PASSWORD" in response.text and 'class="token-form"' not in response.text
    with app.app_context():
        assert access_store.list_tokens() == []


def test_the_admin_pages_need_the_password(admin):
    assert admin.get("/tokens").status_code in (303, 401)
    assert admin.get("/bins").status_code in (303, 401)
    assert admin.get("/tokens", headers=BASIC).status_code == 200


# --- share links --------------------------------------------------------------------------------


def test_share_link_create_list_revoke(app, client, bin_id):
    response = client.post(f"/bins/{bin_id}/shares", data={"expires": "1h", "allow_raw": "1"}, headers=HTMX)
    assert response.status_code == 201
    url = shown_once(response.text, "new-share-url")
    assert url.startswith("http://localhost/s/") and 'data-copy="new-share-url"' in response.text
    assert response.headers["HX-Trigger"] == manage.ACTIVITY_CHANGED
    token = url.rsplit("/", 1)[1]
    with app.app_context():
        row = access_store.share_by_secret(token, datetime.now(UTC), note_use=False)
        assert row is not None and row.allow_raw and row.bin_id == bin_id
        assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)
    listed = client.get(f"/bins/{bin_id}/shares")
    assert token not in listed.text and "new-share-url" not in listed.text
    cells = Cells(listed.text).rows[f"share-{row.id}"]
    assert cells[0] == f"#{row.id}" and cells[2] == manage.utc_time(row.expires_at)
    assert cells[3:5] == ["never", "allowed"]
    assert "Share links (1)" in listed.text
    revoked = client.delete(f"/bins/{bin_id}/shares/{row.id}", headers=HTMX)
    assert revoked.status_code == 200 and f"share-{row.id}" not in revoked.text
    assert "Share links (0)" in revoked.text
    with app.app_context():
        assert access_store.share_by_secret(token, datetime.now(UTC), note_use=False) is None
    assert client.delete(f"/bins/{bin_id}/shares/{row.id}", headers=HTMX).status_code == 404


def test_a_share_link_that_never_expires(client, bin_id):
    response = client.post(f"/bins/{bin_id}/shares", data={"expires": "never"}, headers=HTMX)
    assert response.status_code == 201
    [cells] = Cells(response.text).rows.values()
    assert cells[2] == "never" and cells[4] == "no"


def test_a_bad_share_expiry_answers_400(client, bin_id):
    response = client.post(f"/bins/{bin_id}/shares", data={"expires": "forever"}, headers=HTMX)
    assert response.status_code == 400
    assert "expiry must be one of" in response.text and 'id="share-expires"' in response.text
    assert client.get(f"/api/bins/{bin_id}/shares").json["shares"] == []


def test_share_sections_of_an_unknown_bin_are_404(client):
    assert client.get("/bins/nope-bin/shares").status_code == 404
    assert client.post("/bins/nope-bin/shares", data={"expires": "1h"}, headers=HTMX).status_code == 404
    assert client.get("/bins/nope-bin/redaction").status_code == 404
    assert client.get("/bins/nope-bin/activity").status_code == 404


# --- redaction ----------------------------------------------------------------------------------


def test_the_redaction_form_shows_the_defaults(client, bin_id):
    html = client.get(f"/bins/{bin_id}/redaction").text
    headers = re.search(r'<textarea id="redact-headers"[^>]*>([^<]*)</textarea>', html).group(1)
    assert headers.split("\n") == ["Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization", "X-Api-Key"]
    assert "Redaction (defaults)" in html
    assert 'name="at_capture" value="1">' in html and 'name="for_owner" value="1">' in html  # both off


def test_redaction_round_trip(app, client, bin_id):
    form = {
        "headers": "Authorization\r\nX-Secret\r\n\r\n",
        "json_paths": "$.card.number",
        "form_fields": "password",
        "patterns": "sk_live_[0-9a-zA-Z]+",
        "at_capture": "1",
    }
    response = client.post(f"/bins/{bin_id}/redaction", data=form, headers=HTMX)
    assert response.status_code == 200, response.text
    assert "Saved." in response.text and response.headers["HX-Trigger"] == manage.ACTIVITY_CHANGED
    html = client.get(f"/bins/{bin_id}/redaction").text
    assert "Redaction (defaults)" not in html
    assert re.search(r'id="redact-headers"[^>]*>Authorization\nX-Secret</textarea>', html)
    assert re.search(r'id="redact-patterns"[^>]*>sk_live_\[0-9a-zA-Z\]\+</textarea>', html)
    assert 'name="at_capture" value="1" checked>' in html and 'name="for_owner" value="1">' in html
    with app.app_context():
        saved = db.session.get(Bin, bin_id).redact
    assert saved["headers"] == ["Authorization", "X-Secret"] and saved["json_paths"] == ["card.number"]
    assert saved["form_fields"] == ["password"] and saved["at_capture"] is True and saved["for_owner"] is False


def test_a_bad_pattern_answers_400_with_the_form_as_sent(app, client, bin_id):
    form = {"headers": "X-Mine", "patterns": "sk_(live", "for_owner": "1"}
    response = client.post(f"/bins/{bin_id}/redaction", data=form, headers=HTMX)
    assert response.status_code == 400
    assert 'class="form-error"' in response.text and "sk_(live" in response.text
    assert "Patterns, entry 1 is not a valid regular expression" in response.text
    assert re.search(r'id="redact-headers"[^>]*>X-Mine</textarea>', response.text)
    assert 'name="for_owner" value="1" checked>' in response.text
    with app.app_context():
        assert db.session.get(Bin, bin_id).redact is None
        assert activity.of_bin(bin_id) == []


# --- the activity log ---------------------------------------------------------------------------


def test_each_mutation_is_logged_with_its_actor(admin):
    bin_id = new_bin(admin, "logged-bin", BASIC)
    created = admin.post(f"/bins/{bin_id}/shares", data={"expires": "7d", "allow_raw": "1"}, headers=ADMIN)
    share_id = int(re.search(r"Share link #(\d+) created", created.text).group(1))
    admin.delete(f"/bins/{bin_id}/shares/{share_id}", headers=ADMIN)
    admin.post(f"/bins/{bin_id}/redaction", data={"headers": "Authorization", "patterns": "x+"}, headers=ADMIN)
    html = admin.get(f"/bins/{bin_id}/activity", headers=BASIC).text
    assert 'class="manage-table compact activity-table" hx-disable' in html
    entries = [cells[1:] for cells in _activity_rows(html)]
    assert entries == [
        ["admin", "redaction", "headers 1, json paths 0, form fields 0, patterns 1; at capture off, for owner off"],
        ["admin", "share revoke", f"share link #{share_id}"],
        ["admin", "share create", f"share link #{share_id}, expires in 7 days, raw download allowed"],
    ]


def test_a_token_actor_is_text_only(password_app, admin):
    bin_id = new_bin(admin, "token-actor", BASIC)
    plain = shown_once(
        admin.post("/tokens", data={"label": HOSTILE, "scope": "write"}, headers=ADMIN).text, "new-token"
    )
    bearer = {**HTMX, "Authorization": f"Bearer {plain}"}
    assert admin.post(f"/bins/{bin_id}/shares", data={"expires": "1h"}, headers=bearer).status_code == 201
    html = admin.get(f"/bins/{bin_id}/activity", headers=BASIC).text
    assert HOSTILE not in html
    assert "token “&lt;script&gt;window.__pwned=1&lt;/script&gt;” (#1)" in html
    assert admin.get("/tokens", headers={"Authorization": f"Bearer {plain}"}).status_code == 403
