"""The search box's syntax over the API and the page, served by the text search index
(inspector/search_index.py, store/fts.py), on every backend."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

from sqlalchemy import text, update

from inspector.analyser import analyser_of
from inspector.db import db
from inspector.models import Capture


def found(client, bin_id: str, q: str) -> list[str]:
    response = client.get(f"/api/bins/{bin_id}/requests", query_string={"q": q})
    assert response.status_code == 200, response.json
    return [row["path"] for row in response.json["requests"]]


def counted(client, bin_id: str, q: str) -> int:
    response = client.get(f"/api/bins/{bin_id}/requests/count", query_string={"q": q})
    assert response.status_code == 200, response.json
    return int(response.json["count"])


def index_rows(app) -> int:
    with app.app_context():
        table = "capture_fts" if db.engine.dialect.name == "sqlite" else "capture_text"
        return int(db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_body_search_ignores_case(client, bin_id):
    client.post(f"/h/{bin_id}/a", data=b'{"greeting": "Hello WORLD"}', content_type="application/json")
    client.post(f"/h/{bin_id}/b", data=b"nothing here", content_type="text/plain")
    assert found(client, bin_id, "world") == ["/a"]
    assert found(client, bin_id, "HELLO world") == ["/a"]
    assert counted(client, bin_id, "hello") == 1


def test_header_values_are_searched(client, bin_id):
    client.post(f"/h/{bin_id}/h", data=b"x", headers={"X-Custom": "SpecialValue-42"})
    client.post(f"/h/{bin_id}/other", data=b"x")
    assert found(client, bin_id, "specialvalue-42") == ["/h"]
    assert found(client, bin_id, "header:x-custom=special*") == ["/h"]


def test_gzip_bodies_are_searched_decoded(client, bin_id):
    client.post(
        f"/h/{bin_id}/gz", data=gzip.compress(b"compressed Treasure inside"), headers={"Content-Encoding": "gzip"}
    )
    assert found(client, bin_id, "treasure") == ["/gz"]


def test_form_values_are_searched_decoded(client, bin_id):
    body = b"name=J%C3%BCrgen+Smith&city=K%C3%B6ln"
    client.post(f"/h/{bin_id}/form", data=body, content_type="application/x-www-form-urlencoded")
    assert found(client, bin_id, '"jürgen smith"') == ["/form"]
    assert found(client, bin_id, "city=köln") == ["/form"]


def test_quoted_phrase_is_one_needle(client, bin_id):
    client.post(f"/h/{bin_id}/one", data=b"alpha beta gamma")
    assert found(client, bin_id, '"alpha beta"') == ["/one"]
    assert found(client, bin_id, '"beta alpha"') == []
    assert found(client, bin_id, "beta alpha") == ["/one"]  # two words, each anywhere


def test_query_and_path_are_searched(client, bin_id):
    client.post(f"/h/{bin_id}/orders/77?token=Abc%20Def", data=b"x")
    assert found(client, bin_id, "token=abc def") == ["/orders/77"]
    assert found(client, bin_id, "orders/77") == ["/orders/77"]
    assert found(client, bin_id, "path:/orders/* query:token=Abc Def") == []  # two parts: `Def` is text
    assert found(client, bin_id, 'path:/orders/* query:"token=Abc Def"') == ["/orders/77"]


def test_date_range(app, client, bin_id):
    client.post(f"/h/{bin_id}/old", data=b"x")
    client.post(f"/h/{bin_id}/new", data=b"x")
    with app.app_context():
        db.session.execute(
            update(Capture).where(Capture.path == "/old").values(received_at=datetime(2026, 11, 1, 10, tzinfo=UTC))
        )
        db.session.execute(
            update(Capture).where(Capture.path == "/new").values(received_at=datetime(2026, 11, 28, 12, tzinfo=UTC))
        )
        db.session.commit()
    assert found(client, bin_id, "after:2026-11-02") == ["/new"]
    assert found(client, bin_id, "before:2026-11-28T12:00") == ["/old"]
    assert found(client, bin_id, "before:2026-11-28T13:00+01:00") == ["/old"]  # 12:00 UTC
    assert found(client, bin_id, "after:2026-11-01 before:2026-11-29") == ["/new", "/old"]
    response = client.get(f"/api/bins/{bin_id}/requests/count", query_string={"since": "2026-11-02"})
    assert response.json == {"count": 1}


def test_unknown_name_is_a_400_listing_the_names(client, bin_id):
    for url in (f"/api/bins/{bin_id}/requests", f"/api/bins/{bin_id}/requests/count"):
        response = client.get(url, query_string={"q": "colour:red"})
        assert response.status_code == 400
        assert "unknown search name" in response.json["error"] and "provider" in response.json["error"]


def test_a_capture_not_indexed_yet_is_found(app, client, bin_id):
    analyser_of(app).mode = "off"  # stored, neither analysed nor indexed
    client.post(f"/h/{bin_id}/pending", data=b"Waiting for its analysis")
    before = index_rows(app)
    assert found(client, bin_id, "waiting for") == ["/pending"]
    assert counted(client, bin_id, "analysis") == 1
    analyser_of(app).mode = "inline"
    with app.app_context():
        analyser_of(app).sweep()
        analyser_of(app).sweep()  # a recent row is taken when two sweeps saw it
    assert index_rows(app) == before + 1
    assert found(client, bin_id, "waiting for") == ["/pending"]


def test_a_capture_stored_analysed_is_indexed_by_the_sweep(app, client, bin_id):
    analyser_of(app).mode = "off"
    client.post(f"/h/{bin_id}/imported", data=b"came in Analysed")
    with app.app_context():
        db.session.execute(update(Capture).values(verdict="none"))  # as an import or a restore stores it
        db.session.commit()
    assert found(client, bin_id, "came in") == ["/imported"]  # pending: checked row by row
    analyser_of(app).sweep()
    with app.app_context():
        pending = db.session.execute(text("SELECT count(*) FROM capture_search_pending")).scalar_one()
    assert pending == 0 and found(client, bin_id, "came in") == ["/imported"]


def test_a_deleted_capture_disappears(app, client, bin_id):
    client.post(f"/h/{bin_id}/gone", data=b"remove me please")
    client.post(f"/h/{bin_id}/kept", data=b"remove me later")
    gone = client.get(f"/api/bins/{bin_id}/requests", query_string={"q": "please"}).json["requests"][0]["id"]
    assert index_rows(app) == 2
    assert client.delete(f"/api/bins/{bin_id}/requests/{gone}").status_code == 204
    assert found(client, bin_id, "remove me") == ["/kept"]
    assert index_rows(app) == 1
    assert client.delete(f"/api/bins/{bin_id}/requests").status_code == 204
    assert found(client, bin_id, "remove me") == [] and index_rows(app) == 0


def test_a_short_needle_is_still_found(client, bin_id):
    client.post(f"/h/{bin_id}/short", data=b"a Zq b")
    assert found(client, bin_id, "zq") == ["/short"]


def test_filters_and_text_together(client, bin_id):
    client.post(f"/h/{bin_id}/p", data=b"shared word", headers={"X-Kind": "one"})
    client.post(f"/h/{bin_id}/g", data=b"shared word")
    assert found(client, bin_id, "shared method:post header:x-kind") == ["/p"]
    assert found(client, bin_id, "shared verdict:none") == ["/g", "/p"]
    assert found(client, bin_id, "shared provider:github") == []


def test_the_page_search_takes_the_syntax(client, bin_id):
    client.post(f"/h/{bin_id}/page-hit", data=b"Page Needle")
    client.post(f"/h/{bin_id}/page-miss", data=b"other")
    response = client.get(f"/bins/{bin_id}/list", query_string={"q": '"page needle" method:POST'})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/page-hit" in html and "/page-miss" not in html
    assert 'name="q"' in html and "provider:github" in html  # the hint
    assert client.get(f"/bins/{bin_id}/list", query_string={"q": "colour:red"}).status_code == 400


def test_the_search_box_value_is_escaped(client, bin_id):
    html = client.get(f"/bins/{bin_id}/list", query_string={"q": '"><script>x</script>'}).get_data(as_text=True)
    assert "<script>x</script>" not in html


def test_text_past_the_indexed_part_is_found(client, bin_id):
    client.post(f"/h/{bin_id}/long", data=b"a" * (70 * 1024) + b" Far-Away-Word")
    client.post(f"/h/{bin_id}/short", data=b"far-away-word near")
    assert found(client, bin_id, "far-away-word") == ["/short", "/long"]
    assert counted(client, bin_id, "far-away-word") == 2


def test_a_count_adds_indexed_and_pending_captures(app, client, bin_id):
    client.post(f"/h/{bin_id}/indexed", data=b"counted word")
    analyser_of(app).mode = "off"
    client.post(f"/h/{bin_id}/pending", data=b"COUNTED WORD")
    client.post(f"/h/{bin_id}/neither", data=b"other")
    assert counted(client, bin_id, "counted word") == 2  # two words, each anywhere
    assert counted(client, bin_id, '"counted word"') == 2
    assert counted(client, bin_id, "counted method:post") == 2
    assert counted(client, bin_id, "counted method:get") == 0
