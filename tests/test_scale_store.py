"""The store at scale: clear-all and pruning in batches that let captures through, the janitor
checking only bins that can be over their cap, bounded searches, `text` narrowed in SQL without
losing a match, and migration 0005 (issue 15 point 4)."""

from __future__ import annotations

import gzip
import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, inspect, text

from inspector import migrate, store
from inspector.analyser import analyser_of
from inspector.db import db
from inspector.janitor import Pruner, prune_once
from inspector.matchers import Matchers, Term, misses
from inspector.models import Capture
from inspector.store import captures as capture_store
from inspector.store import cleanup


def add_rows(app, bin_id: str, count: int, *, body: bytes = b'{"n": 1}', headers=None, query: str = "") -> None:
    """`count` analysed captures written straight to the table (the capture path is too slow
    for tens of thousands)."""
    now = datetime.now(UTC)
    row = {
        "bin_id": bin_id,
        "received_at": now,
        "method": "POST",
        "path": "/",
        "query_string": query,
        "headers": headers or [["Content-Type", "application/json"]],
        "remote_addr": "127.0.0.1",
        "content_type": "application/json",
        "body": body,
        "body_size": len(body),
        "body_truncated": False,
        "body_incomplete": False,
        "verdict": "none",
    }
    with app.app_context():
        for start in range(0, count, 5000):
            db.session.execute(insert(Capture), [row] * min(5000, count - start))
        db.session.commit()


def count(app, bin_id: str) -> int:
    with app.app_context():
        return store.count_captures(bin_id)


class PausedBetweenBatches:
    """Stands in for `cleanup._pause`: the first pause between two delete batches waits until
    the test has done what it wanted meanwhile (`resume`)."""

    def __init__(self):
        self.paused = threading.Event()
        self.resume = threading.Event()

    def __call__(self) -> None:
        if not self.paused.is_set():
            self.paused.set()
            assert self.resume.wait(30), "the test never resumed the delete"


def in_thread(app, work) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        with app.app_context():
            outcome["result"] = work()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


# --- clear-all and pruning in batches ---------------------------------------------------------


def test_a_capture_is_stored_between_two_batches_of_a_clear(app, client, bin_id, monkeypatch):
    client.post("/api/bins", json={"name": "other-bin"})
    add_rows(app, bin_id, 20_000)
    pause = PausedBetweenBatches()
    monkeypatch.setattr(cleanup, "_pause", pause)
    thread, outcome = in_thread(app, lambda: store.clear_captures(bin_id))
    assert pause.paused.wait(30)
    assert count(app, bin_id) == 20_000 - cleanup.DELETE_BATCH  # one batch committed, no more
    assert client.post("/h/other-bin", data=b"during the clear").status_code == 200
    assert thread.is_alive()  # the capture did not wait for the clear to end
    pause.resume.set()
    thread.join(60)
    assert outcome["result"] == 20_000
    assert count(app, bin_id) == 0 and count(app, "other-bin") == 1


def test_captures_posted_during_a_clear_finish_before_it(app, client, bin_id):
    """No pause held open: captures posted from another thread while 20,000 rows are cleared
    are answered while the clear still runs (one DELETE would make them all wait for it)."""
    client.post("/api/bins", json={"name": "other-bin"})
    add_rows(app, bin_id, 20_000)
    thread, outcome = in_thread(app, lambda: store.clear_captures(bin_id))
    answered_during = 0
    while thread.is_alive():
        assert client.post("/h/other-bin", data=b"x").status_code == 200
        answered_during += thread.is_alive()
    thread.join()
    assert outcome["result"] == 20_000
    assert answered_during >= 1


def test_clear_keeps_a_capture_that_arrived_after_it_began(app, client, bin_id, monkeypatch):
    add_rows(app, bin_id, 3 * cleanup.DELETE_BATCH)
    pause = PausedBetweenBatches()
    monkeypatch.setattr(cleanup, "_pause", pause)
    thread, outcome = in_thread(app, lambda: store.clear_captures(bin_id))
    assert pause.paused.wait(30)
    late = client.post(f"/h/{bin_id}", data=b"late").json["request_id"]
    pause.resume.set()
    thread.join(60)
    assert outcome["result"] == 3 * cleanup.DELETE_BATCH
    assert [row["id"] for row in client.get(f"/api/bins/{bin_id}/requests").json["requests"]] == [late]


def test_a_capture_is_stored_between_two_batches_of_a_prune(app, client, bin_id, monkeypatch):
    client.post("/api/bins", json={"name": "other-bin"})
    client.patch(f"/api/bins/{bin_id}", json={"max_requests": 100})
    add_rows(app, bin_id, 5_000)
    pause = PausedBetweenBatches()
    monkeypatch.setattr(cleanup, "_pause", pause)
    thread, outcome = in_thread(app, lambda: prune_once(app))
    assert pause.paused.wait(30)
    assert client.post("/h/other-bin", data=b"during the prune").status_code == 200
    assert thread.is_alive()
    pause.resume.set()
    thread.join(60)
    assert outcome["result"]["captures"] == 4_900
    assert count(app, bin_id) == 100


# --- the janitor checks only bins that can be over their cap ----------------------------------


def test_janitor_checks_only_bins_with_new_captures_or_a_lowered_cap(app, client, bin_id):
    client.post("/api/bins", json={"name": "other-bin"})
    add_rows(app, bin_id, 50)
    add_rows(app, "other-bin", 50)
    clock = [0.0]
    pruner = Pruner(full_pass_s=3600, settle_s=0, clock=lambda: clock[0])
    assert pruner.run(app, datetime.now(UTC))["captures"] == 0
    assert pruner.checked is None  # the first pass checks every bin
    pruner.run(app, datetime.now(UTC))
    assert pruner.checked == []  # nothing new: no bin is looked at
    client.post("/h/other-bin", data=b"new")
    pruner.run(app, datetime.now(UTC))
    assert pruner.checked == ["other-bin"]
    client.patch(f"/api/bins/{bin_id}", json={"max_requests": 10})
    assert pruner.run(app, datetime.now(UTC))["captures"] == 40
    assert pruner.checked == [bin_id] and count(app, bin_id) == 10
    clock[0] = 3600
    pruner.run(app, datetime.now(UTC))
    assert pruner.checked is None  # the hourly safety net


def test_janitor_pass_runs_no_count_over_the_whole_table(app, client, bin_id):
    from sqlalchemy import event

    add_rows(app, bin_id, 20)
    pruner = Pruner(settle_s=0)
    pruner.run(app, datetime.now(UTC))
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2].lower())  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        client.post(f"/h/{bin_id}", data=b"new")
        pruner.run(app, datetime.now(UTC))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    counts = [sql for sql in statements if "count(" in sql and "from captures" in sql]
    assert counts == []


# --- bounded searches ----------------------------------------------------------------------------


def text_is(needle: str) -> Matchers:
    return Matchers((Term("text", needle),))


def test_a_bounded_text_search_stops_at_its_window_and_says_where(app, client, bin_id):
    client.post(f"/h/{bin_id}", data=b"the NEEDLE is here")
    add_rows(app, bin_id, 250)
    with app.app_context():
        oldest = store.list_captures(bin_id, limit=300)[-1].id
        first = capture_store.list_captures(bin_id, limit=10, matchers=text_is("needle"), scan_rows=100)
        assert list(first) == [] and first.scanned_to is not None
        second = capture_store.list_captures(
            bin_id, limit=10, before=first.scanned_to, matchers=text_is("needle"), scan_rows=100
        )
        assert list(second) == [] and second.scanned_to is not None and second.scanned_to < first.scanned_to
        third = capture_store.list_captures(
            bin_id, limit=10, before=second.scanned_to, matchers=text_is("needle"), scan_rows=100
        )
        assert [row.id for row in third] == [oldest] and third.scanned_to is None
        unbounded = capture_store.list_captures(bin_id, limit=10, matchers=text_is("needle"))
        assert [row.id for row in unbounded] == [oldest] and unbounded.scanned_to is None


def test_a_bounded_count_is_a_lower_bound_and_says_so(app, client, bin_id):
    # Nothing indexed (the analyser's thread would index them soon): every row is checked one by one.
    analyser_of(app).mode = "off"
    client.post(f"/h/{bin_id}", data=b"needle")
    add_rows(app, bin_id, 150)
    client.post(f"/h/{bin_id}", data=b"needle again")
    with app.app_context():
        bounded = capture_store.count_within(bin_id, text_is("needle"), scan_rows=100)
        assert (bounded.count, bounded.exact) == (1, False) and bounded.scanned_to is not None
        assert capture_store.count_within(bin_id, text_is("needle"), scan_rows=1000) == capture_store.MatchCount(2)
        assert store.count_matching(bin_id, text_is("needle")) == 2


def test_a_search_out_of_time_stops_after_a_batch(app, client, bin_id, monkeypatch):
    add_rows(app, bin_id, 100)
    monkeypatch.setattr(capture_store, "SCAN_S", 0)
    with app.app_context():
        # A non-ASCII needle is not narrowed in SQL: every row is checked in Python.
        found = capture_store.list_captures(bin_id, limit=10, matchers=text_is("absént"), scan_rows=10_000)
        newest = store.list_captures(bin_id, limit=100)
        assert list(found) == []
        assert found.scanned_to == newest[capture_store._CHECK_BATCH_WITH_BODIES - 1].id


def test_a_bounded_q_search_windows_too(app, client, bin_id):
    client.post(f"/h/{bin_id}", data=b"rare-word")
    add_rows(app, bin_id, 120)
    with app.app_context():
        first = capture_store.list_captures(bin_id, limit=5, q="rare-word", scan_rows=100)
        assert list(first) == [] and first.scanned_to is not None
        rest = capture_store.list_captures(bin_id, limit=5, q="rare-word", before=first.scanned_to, scan_rows=100)
        assert len(rest) == 1 and rest.scanned_to is None


def test_index_filters_are_not_bounded(app, client, bin_id):
    add_rows(app, bin_id, 120)
    with app.app_context():
        found = capture_store.list_captures(bin_id, limit=500, verdict="none", scan_rows=10)
        assert len(found) == 120 and found.scanned_to is None


# --- text narrowed in SQL keeps every match ------------------------------------------------------

TRICKY = [
    {"body": b"Hello World"},
    {"body": b"caf\xc3\xa9 \xff\xfe broken utf-8 HELLO"},
    {"body": gzip.compress(b"secret in gzip"), "headers": [["Content-Encoding", "gzip"]]},
    {"body": "\u212a kelvin".encode()},
    {"body": "\u0130stanbul".encode()},
    {"body": b"x", "headers": [["X-Sign", "\u212a"]]},
    {"body": b"x", "headers": [["X-Custom", 'quoted "v" and back\\slash']]},
    {"body": b"x", "query": "a=%48ello&b=two+words&flag"},
    {"body": b"x", "query": "plain=Value"},
    {"body": b"nul\x00byte then Tail"},
]
NEEDLES = [
    "hello",
    "HELLO",
    "world",
    "secret",
    "k",
    "kelvin",
    "i",
    "x-custom",
    "x-custom: quoted",
    '"v"',
    "two words",
    "flag=",
    "plain=value",
    "café",
    "tail",
    "x-sign: k",
    "absent",
]


def test_text_narrowed_in_sql_finds_what_python_finds(app, client, bin_id):
    for shape in TRICKY:
        add_rows(app, bin_id, 1, body=shape["body"], headers=shape.get("headers"), query=shape.get("query", ""))
    with app.app_context():
        everything = store.list_captures(bin_id, limit=100)
        with_bodies = [store.get_capture(bin_id, row.id) for row in everything]
        for needle in NEEDLES:
            expected = [row.id for row in with_bodies if not misses(text_is(needle), row)]
            found = [row.id for row in store.list_captures(bin_id, limit=100, matchers=text_is(needle))]
            assert found == expected, needle
            assert store.count_matching(bin_id, text_is(needle)) == len(expected), needle


def test_text_prefilter_narrows_an_ascii_needle(app):
    from inspector.store import search

    with app.app_context():
        assert search.text_prefilter("hello") is not None
        for unnarrowed in ("café", 'a"b', "a\\b", "name: value", "tab\there"):
            assert search.text_prefilter(unnarrowed) is None, unnarrowed


# --- migration 0005 --------------------------------------------------------------------------


def test_a_0004_database_is_upgraded_to_0005_with_the_stats_index(backend, tmp_path):
    from alembic import command
    from conftest import database_for
    from sqlalchemy import create_engine

    from inspector import database_url
    from inspector.db import engine_options

    url = database_url(database_for(backend, tmp_path), "")
    engine = create_engine(url, **engine_options(url))
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), "0004")
        assert "ix_captures_bin_stats" not in {ix["name"] for ix in inspect(engine).get_indexes("captures")}
        outcome = migrate.upgrade(engine, lock_path=str(tmp_path / "schema.lock"))
        assert (outcome.before, outcome.after) == ("0004", migrate.head())
        indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("captures")}
        assert indexes["ix_captures_bin_stats"] == ["bin_id", "provider_id", "verdict"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_bin_stats_reads_the_covering_index(app, bin_id):
    with app.app_context():
        plan = db.session.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT provider_id, verdict, count(*) FROM captures "
                "WHERE bin_id = :b GROUP BY provider_id, verdict"
            ),
            {"b": bin_id},
        ).all()
    assert "COVERING INDEX ix_captures_bin_stats" in json.dumps([list(row) for row in plan])
