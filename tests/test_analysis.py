"""The analysis lifecycle: every capture analysed once after its commit, off the response path,
by the background analyser; exact stats; re-analysis after a secret change; pick-up after a
restart; a stale analysis never written; readers never write."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from inspector import analyser as analyser_module
from inspector import create_app
from inspector.analyser import analyser_of
from inspector.db import db
from inspector.signing import analysis
from inspector.signing.analysis import Analysis
from inspector.signing.samples import build_sample
from inspector.signing.verify import Verification
from inspector.store import analysis as analysis_store

GITHUB_SECRET = "It's a Secret to Everybody"


def make_app(database_url: str, tmp_path, **config):
    settings = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "ANALYSER": "background",
        "ANALYSER_SWEEP_S": 0.1,
    }
    return create_app(settings | config)


@pytest.fixture
def database_url(backend, tmp_path, monkeypatch):
    from conftest import database_for

    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    return database_for(backend, tmp_path)


@pytest.fixture
def background_app(database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    yield app
    close(app)


def close(app) -> None:
    analyser_of(app).stop()
    app.extensions["hookloupe.capture_marks"].stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def github(client, bin_id: str, *, secret: str = GITHUB_SECRET, event_name: str = "push") -> int:
    sample = build_sample("github", secret=secret, event=event_name, at=datetime.now(UTC))
    response = client.post(f"/h/{bin_id}/gh", data=sample.body, headers=dict(sample.headers))
    assert response.status_code == 200
    return response.json["request_id"]


def plain(client, bin_id: str) -> int:
    response = client.post(f"/h/{bin_id}/plain", json={"hello": "world"})
    assert response.status_code == 200
    return response.json["request_id"]


def settled_stats(client, bin_id: str, timeout: float = 20.0) -> dict:
    """The bin's stats once nothing waits for analysis (reads only stats, never a row)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = client.get(f"/api/bins/{bin_id}/stats").json
        if stats["unanalysed"] == 0 or time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


def add_secret(client, bin_id: str, value: str = GITHUB_SECRET) -> None:
    response = client.post(f"/api/bins/{bin_id}/secrets", json={"label": "gh", "value": value, "provider": "github"})
    assert response.status_code == 201


def test_stats_are_exact_after_mixed_captures_with_no_reader_in_between(background_app):
    client = background_app.test_client()
    bin_id = client.post("/api/bins", json={"name": "mixed"}).json["id"]
    add_secret(client, bin_id)
    for _ in range(120):
        github(client, bin_id)
    for _ in range(30):
        plain(client, bin_id)
    for _ in range(10):
        github(client, bin_id, secret="not the stored secret")
    stats = settled_stats(client, bin_id)
    assert stats["request_count"] == 160
    assert stats["unanalysed"] == 0
    assert stats["providers"] == [
        {"id": "github", "name": "GitHub", "count": 130},
        {"id": None, "name": "no provider", "count": 30},
    ]
    assert stats["verdicts"] == {"valid": 120, "invalid": 10, "none": 30}
    # The bin's secrets were decrypted once for all 160 captures, not once per row.
    assert analyser_of(background_app).decryptions == 1


def test_filters_and_menus_agree_with_stats(background_app):
    client = background_app.test_client()
    bin_id = client.post("/api/bins", json={"name": "filters"}).json["id"]
    add_secret(client, bin_id)
    valid = [github(client, bin_id) for _ in range(3)]
    bad = github(client, bin_id, secret="wrong")
    other = plain(client, bin_id)
    settled_stats(client, bin_id)
    listed = client.get(f"/api/bins/{bin_id}/requests?provider=github&verdict=valid").json["requests"]
    assert [row["id"] for row in listed] == valid[::-1]
    assert [row["id"] for row in client.get(f"/api/bins/{bin_id}/requests?verdict=invalid").json["requests"]] == [bad]
    assert [row["id"] for row in client.get(f"/api/bins/{bin_id}/requests?provider=none").json["requests"]] == [other]
    page = client.get(f"/bins/{bin_id}").text
    assert '<option value="github">GitHub (4)</option>' in page
    assert '<option value="valid">valid (3)</option>' in page


def test_stats_right_after_clear_all_and_deletes(background_app):
    client = background_app.test_client()
    bin_id = client.post("/api/bins", json={"name": "clearing"}).json["id"]
    ids = [github(client, bin_id) for _ in range(4)]
    settled_stats(client, bin_id)
    assert client.delete(f"/api/bins/{bin_id}/requests/{ids[0]}").status_code == 204
    stats = client.get(f"/api/bins/{bin_id}/stats").json
    assert (stats["request_count"], stats["verdicts"]) == (3, {"no_secret": 3})
    assert client.delete(f"/api/bins/{bin_id}/requests").status_code == 204
    stats = client.get(f"/api/bins/{bin_id}/stats").json
    assert stats == {"request_count": 0, "max_requests": 1000, "unanalysed": 0, "providers": [], "verdicts": {}}
    github(client, bin_id)
    assert settled_stats(client, bin_id)["providers"] == [{"id": "github", "name": "GitHub", "count": 1}]


def test_adding_a_secret_verifies_the_bins_captures_again_in_the_background(background_app):
    client = background_app.test_client()
    bin_id = client.post("/api/bins", json={"name": "rechecked"}).json["id"]
    for _ in range(25):
        github(client, bin_id)
    plain(client, bin_id)
    assert settled_stats(client, bin_id)["verdicts"] == {"no_secret": 25, "none": 1}
    decryptions = analyser_of(background_app).decryptions
    add_secret(client, bin_id)
    # Right after the change the stale verdicts are gone: they count as unanalysed until checked.
    first = client.get(f"/api/bins/{bin_id}/stats").json
    assert "no_secret" not in first["verdicts"]
    assert first["unanalysed"] + first["verdicts"].get("valid", 0) == 25
    assert settled_stats(client, bin_id)["verdicts"] == {"valid": 25, "none": 1}
    assert analyser_of(background_app).decryptions == decryptions + 1
    # Deleting it takes them back to "no secret".
    secret_id = client.get(f"/api/bins/{bin_id}/secrets").json["secrets"][0]["id"]
    assert client.delete(f"/api/bins/{bin_id}/secrets/{secret_id}").status_code == 204
    assert settled_stats(client, bin_id)["verdicts"] == {"no_secret": 25, "none": 1}


def test_rows_stored_while_no_analyser_ran_are_analysed_after_a_restart(database_url, tmp_path):
    stopped = make_app(database_url, tmp_path, ANALYSER="off")
    client = stopped.test_client()
    bin_id = client.post("/api/bins", json={"name": "restarted"}).json["id"]
    add_secret(client, bin_id)
    ids = [github(client, bin_id) for _ in range(5)] + [plain(client, bin_id)]
    time.sleep(0.3)
    stats = client.get(f"/api/bins/{bin_id}/stats").json
    assert (stats["unanalysed"], stats["verdicts"], stats["providers"]) == (6, {}, [])
    summary = client.get(f"/api/bins/{bin_id}/requests").json["requests"][0]
    assert (summary["analysed"], summary["signature"]["status"]) == (False, None)
    close(stopped)

    restarted = make_app(database_url, tmp_path)  # a new process's analyser sweeps them up
    client = restarted.test_client()
    try:
        assert settled_stats(client, bin_id)["verdicts"] == {"valid": 5, "none": 1}
        detail = client.get(f"/api/bins/{bin_id}/requests/{ids[0]}").json
        assert detail["analysed"] is True
        assert detail["provider"]["id"] == "github"
        assert detail["signature"]["status"] == "valid"
        assert "matches secret 'gh'" in detail["signature"]["detail"]
    finally:
        close(restarted)


def test_a_backlog_larger_than_a_sweep_page_is_analysed_page_after_page(database_url, tmp_path):
    """Rows stored long ago and never analysed (an upgrade, a host without an analyser) are a
    backlog: a new process takes them at once, one sweep page after another."""
    stopped = make_app(database_url, tmp_path, ANALYSER="off")
    stopped.extensions["hookloupe.clock"] = lambda: datetime(2026, 1, 1, tzinfo=UTC)
    client = stopped.test_client()
    bin_id = client.post("/api/bins", json={"name": "backlog"}).json["id"]
    count = analyser_module.SWEEP_PAGE + 100
    for _ in range(count):
        assert client.post(f"/h/{bin_id}", data=b"{}").status_code == 200
    assert client.get(f"/api/bins/{bin_id}/stats").json["unanalysed"] == count
    close(stopped)

    restarted = make_app(database_url, tmp_path, ANALYSER_SWEEP_S=0.2)
    try:
        stats = settled_stats(restarted.test_client(), bin_id, timeout=60)
        assert (stats["unanalysed"], stats["verdicts"]) == (0, {"none": count})
    finally:
        close(restarted)


def analysed(client, bin_id: str, capture_id: int) -> bool:
    return client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json["analysed"]


def test_analysis_waits_while_the_process_is_saturated_and_catches_up_after(database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    client = app.test_client()
    analyser = analyser_of(app)
    try:
        bin_id = client.post("/api/bins", json={"name": "saturated"}).json["id"]
        with analyser.capturing():  # a capture in flight all the time: the process is saturated
            capture_id = plain(client, bin_id)
            time.sleep(0.5)
            assert not analysed(client, bin_id, capture_id)
        # the load stops
        deadline = time.monotonic() + 5
        while not analysed(client, bin_id, capture_id) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert analysed(client, bin_id, capture_id)
    finally:
        close(app)


def test_saturation_defers_the_analysis_only_up_to_its_bound(database_url, tmp_path):
    app = make_app(database_url, tmp_path, ANALYSIS_MAX_DEFER_S=0.3)
    client = app.test_client()
    analyser = analyser_of(app)
    try:
        bin_id = client.post("/api/bins", json={"name": "bounded"}).json["id"]
        with analyser.capturing():
            capture_id = plain(client, bin_id)
            deadline = time.monotonic() + 5
            while not analysed(client, bin_id, capture_id) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert analysed(client, bin_id, capture_id)  # although a capture is still in flight
    finally:
        close(app)


def test_an_analysis_made_with_secrets_that_changed_meanwhile_is_not_written(database_url, tmp_path):
    app = make_app(database_url, tmp_path, ANALYSER="off")
    client = app.test_client()
    try:
        bin_id = client.post("/api/bins", json={"name": "raced"}).json["id"]
        capture_id = github(client, bin_id)
        stale = Analysis("github", "push", None, (), Verification("no_secret", detail="made before the secret"))
        with app.app_context():
            generation = db.session.execute(db.text("SELECT analysis_generation FROM bins")).scalar_one()
        add_secret(client, bin_id)  # bumps the generation while the analysis "ran"
        with app.app_context():
            analysis_store.write([analysis_store.Result(capture_id, bin_id, generation, stale)])
        assert client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json["analysed"] is False
        analyser_of(app).analyse_bin(bin_id)
        assert client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json["signature"]["status"] == "valid"
    finally:
        close(app)


def test_a_capture_whose_analysis_fails_is_shown_raw_and_the_bin_keeps_working(client, bin_id, monkeypatch):
    def broken(captured):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(analysis.providers, "detect", broken)
    failed = plain(client, bin_id)
    monkeypatch.undo()
    fine = plain(client, bin_id)
    rows = {row["id"]: row for row in client.get(f"/api/bins/{bin_id}/requests").json["requests"]}
    assert rows[failed]["signature"]["status"] == "unverifiable"
    assert rows[fine]["signature"]["status"] == "none"
    detail = client.get(f"/api/bins/{bin_id}/requests/{failed}").json
    assert "could not analyse" in detail["signature"]["detail"]
    assert client.get(f"/bins/{bin_id}?request={failed}").status_code == 200


def test_url_signing_providers_are_verified_against_the_url_the_sender_called(client, bin_id):
    """No BASE_URL and no public base: the analyser uses the capture's own Host header."""
    body = b"CallSid=CA1&From=%2B14158675310"
    url = f"http://hooks.example.test/h/{bin_id}/twilio"
    params = sorted((k, v) for k, v in (pair.split("=") for pair in body.decode().split("&")))
    from urllib.parse import unquote

    signed = url + "".join(k + unquote(v) for k, v in params)
    import base64

    signature = base64.b64encode(hmac.new(b"twilio-token", signed.encode(), hashlib.sha1).digest()).decode()
    client.post(f"/api/bins/{bin_id}/secrets", json={"label": "tw", "value": "twilio-token", "provider": "twilio"})
    response = client.post(
        f"/h/{bin_id}/twilio",
        data=body,
        headers={
            "Host": "hooks.example.test",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    detail = client.get(f"/api/bins/{bin_id}/requests/{response.json['request_id']}").json
    assert detail["provider"]["id"] == "twilio"
    assert detail["signature"]["status"] == "valid", detail["signature"]


def test_api_stream_holds_a_capture_until_it_is_analysed(database_url, tmp_path):
    app = make_app(
        database_url,
        tmp_path,
        ANALYSER="off",
        STREAM_POLL_S=0.01,
        STREAM_MAX_S=3,
        STREAM_HEARTBEAT_S=0.05,
        ANALYSIS_WAIT_S=30,
    )
    client = app.test_client()
    try:
        bin_id = client.post("/api/bins", json={"name": "held"}).json["id"]
        capture_id = plain(client, bin_id)
        response = client.get(f"/api/bins/{bin_id}/events?after=0")
        chunks = iter(response.response)
        text = ""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # unanalysed: nothing but keep-alives comes
            text += next(chunks).decode()
            if "event: request" in text:
                break
        assert "event: request" not in text
        analyser_of(app).analyse_ids([capture_id])
        while "event: request" not in text:
            text += next(chunks).decode()
        data = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
        assert (data["id"], data["analysed"], data["signature"]["status"]) == (capture_id, True, "none")
        response.close()
    finally:
        close(app)


def test_page_stream_sends_a_late_analysis_as_an_update_of_the_row(database_url, tmp_path):
    app = make_app(database_url, tmp_path, ANALYSER="off", STREAM_POLL_S=0.01, STREAM_MAX_S=3, ANALYSIS_WAIT_S=0)
    client = app.test_client()
    try:
        bin_id = client.post("/api/bins", json={"name": "updated"}).json["id"]
        capture_id = github(client, bin_id)
        response = client.get(f"/bins/{bin_id}/stream?after=0")
        chunks = iter(response.response)
        text = ""
        while f'id="req-{capture_id}"' not in text:
            text += next(chunks).decode()
        assert "checking…" in text and "hx-swap-oob" not in text
        analyser_of(app).analyse_ids([capture_id])
        while "event: update" not in text:
            text += next(chunks).decode()
        update = text.split("event: update", 1)[1]
        assert f'<li id="req-{capture_id}" class="request-row" hx-swap-oob="outerHTML">' in update
        assert "no secret" in update and "checking…" not in update
        response.close()
    finally:
        close(app)


# --- readers never write ---------------------------------------------------------------------


class WriteGuard:
    """Counts writes and commits on every connection of the engine; on SQLite every pooled
    connection is also made read-only (PRAGMA query_only), so a write would fail loudly."""

    WRITES = ("insert", "update", "delete", "replace", "create", "drop", "alter")

    def __init__(self, engine):
        self.engine = engine
        self.writes: list[str] = []
        self.commits = 0

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().lower().startswith(self.WRITES):
            self.writes.append(statement)

    def _commit(self, conn):
        self.commits += 1

    def _checkout(self, dbapi_connection, record, proxy):
        cursor = dbapi_connection.cursor()
        if self.engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            dbapi_connection.rollback()
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()
        cursor.close()

    def __enter__(self):
        self.engine.pool.dispose()  # every connection from now on is checked out guarded
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine.pool, "checkout", self._checkout)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine.pool, "checkout", self._checkout)
        self.engine.pool.dispose()


def test_no_get_request_writes_to_the_database(app, client, bin_id):
    app.config.update(STREAM_POLL_S=0.01, STREAM_MAX_S=0.3)
    add_secret(client, bin_id)
    signed = github(client, bin_id)
    plain(client, bin_id)
    client.post(f"/api/bins/{bin_id}/requests/{signed}/replay", json={"url": "http://127.0.0.1:9/x"})
    secret_id = client.get(f"/api/bins/{bin_id}/secrets").json["secrets"][0]["id"]
    delivery_id = client.get(f"/api/bins/{bin_id}/requests/{signed}/deliveries").json["deliveries"][0]["id"]
    values = {"bin_id": bin_id, "capture_id": signed, "secret_id": secret_id, "filename": "css/hookloupe.css"}
    gets = [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and set(rule.arguments) <= set(values) and rule.endpoint != "static"
    ]
    assert len(gets) >= 15  # every page, fragment, stream and API GET
    queries = ["", "?at=now", f"?a={delivery_id}&b={delivery_id}", "?provider=github&verdict=valid&q=x&event=push"]
    with app.app_context():
        engine = db.engine
    writer = app.extensions.get("hookloupe.group_writer")
    if writer is not None:  # its next connection comes from the guarded pool too
        writer._discard_connection()
    seen = []
    with WriteGuard(engine) as guard:
        for rule in gets:
            url = rule.build({name: values[name] for name in rule.arguments})[1]
            for query in queries:
                if rule.endpoint == "api.wait_for_request":  # answer at once: a wait reads, never writes
                    query += ("&" if query else "?") + "timeout_s=0"
                for headers in ({}, {"HX-Request": "true"}):
                    response = client.get(url + query, headers=headers, buffered=True)
                    assert response.status_code < 500, (url + query, response.status_code)
                    seen.append(url)
        # The streams started the capture-marks reader: stopped before the guard disposes the
        # pool, so no connection it holds is returned to a pool already disposed.
        app.extensions["hookloupe.capture_marks"].stop()
    assert guard.writes == [] and guard.commits == 0
    assert {f"/bins/{bin_id}/stream", f"/api/bins/{bin_id}/events", f"/api/bins/{bin_id}/stats"} <= set(seen)


def test_the_write_guard_catches_a_write(app, client, bin_id):
    """The guard above is only worth something if it sees writes: a capture under it fails
    (SQLite refuses the write) or is counted."""
    with app.app_context():
        engine = db.engine
    writer = app.extensions.get("hookloupe.group_writer")
    if writer is not None:
        writer._discard_connection()
    with WriteGuard(engine) as guard:
        refused = client.post(f"/h/{bin_id}", data=b"x").status_code >= 500
        try:
            deleted_refused = client.delete(f"/api/bins/{bin_id}/requests").status_code >= 500
        except Exception:
            deleted_refused = True
    assert refused or guard.writes
    assert deleted_refused or guard.writes
