"""The text search index is kept apart from the analysis (store/indexing.py, analyser.py): the
background thread indexes every capture, takes only its share of the time while captures
arrive, catches up when they stop, and two indexers never index the same capture."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from test_analysis import close, make_app

from inspector.analyser import INDEX_BATCH, INDEX_IDLE_S, IndexBudget, analyser_of
from inspector.db import db
from inspector.store import indexing


@pytest.fixture
def database_url(backend, tmp_path, monkeypatch):
    from conftest import database_for

    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    return database_for(backend, tmp_path)


def pending(app) -> int:
    with app.app_context():
        return int(db.session.execute(text("SELECT count(*) FROM capture_search_pending")).scalar_one())


def indexed_rows(app) -> int:
    with app.app_context():
        table = "capture_fts" if db.engine.dialect.name == "sqlite" else "capture_text"
        return int(db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def capture_many(client, bin_id: str, count: int) -> None:
    for n in range(count):
        assert client.post(f"/h/{bin_id}/n{n}", data=f"needle-{n} Findable".encode()).status_code == 200


# --- the budget, without a server --------------------------------------------------------------


def test_budget_grants_its_share_of_the_time_that_passed():
    budget = IndexBudget(share=0.1, most=0.5, now=100.0)
    assert budget.may_run(101.0, idle=False)  # 0.1 s saved up
    budget.spend(0.3)
    assert not budget.may_run(102.0, idle=False)  # -0.2 + 0.1
    assert budget.may_run(104.0, idle=False)  # -0.1 + 0.2


def test_budget_saves_up_at_most_its_limit_and_an_idle_process_always_may():
    budget = IndexBudget(share=0.1, most=0.5, now=0.0)
    assert budget.may_run(1000.0, idle=False) and budget.credit == 0.5
    budget.spend(10.0)
    assert not budget.may_run(1000.0, idle=False)
    assert budget.may_run(1000.0, idle=True)


# --- the analyser's thread ----------------------------------------------------------------------


def test_the_background_thread_indexes_every_capture(database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    client = app.test_client()
    try:
        bin_id = client.post("/api/bins", json={"name": "indexed"}).json["id"]
        capture_many(client, bin_id, 40)
        deadline = time.monotonic() + 20
        while pending(app) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pending(app) == 0 and indexed_rows(app) == 40
        found = client.get(f"/api/bins/{bin_id}/requests", query_string={"q": "needle-17 findable"}).json
        assert [row["path"] for row in found["requests"]] == ["/n17"]
    finally:
        close(app)


def test_indexing_takes_its_share_while_captures_arrive_and_all_when_they_stop(database_url, tmp_path):
    app = make_app(database_url, tmp_path, ANALYSER="off")
    client = app.test_client()
    analyser = analyser_of(app)
    try:
        bin_id = client.post("/api/bins", json={"name": "budgeted"}).json["id"]
        capture_many(client, bin_id, 3 * INDEX_BATCH)
        with analyser.capturing():  # a capture in flight: the process is not idle
            analyser._index_budget = IndexBudget(now=time.monotonic() - 0.01)  # 0.5 ms saved up
            assert analyser.index_pending(budgeted=True) == INDEX_BATCH  # one batch, then its share is spent
            assert analyser.index_left and pending(app) == 2 * INDEX_BATCH
        time.sleep(INDEX_IDLE_S)  # no capture since: idle
        assert analyser.index_pending(budgeted=True) == 2 * INDEX_BATCH
        assert not analyser.index_left and pending(app) == 0 and indexed_rows(app) == 3 * INDEX_BATCH
    finally:
        close(app)


def test_two_indexers_never_index_the_same_capture(database_url, tmp_path):
    app = make_app(database_url, tmp_path, ANALYSER="off")
    client = app.test_client()
    total = 120
    try:
        bin_id = client.post("/api/bins", json={"name": "shared-work"}).json["id"]
        capture_many(client, bin_id, total)
        counts: list[int] = []

        def index_all() -> None:
            with app.app_context():
                while done := indexing.index_pending(INDEX_BATCH // 2):
                    counts.append(done)

        threads = [threading.Thread(target=index_all) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sum(counts) == total and pending(app) == 0 and indexed_rows(app) == total
    finally:
        close(app)


def test_a_lone_surrogate_is_indexed_replaced_and_the_row_checked_by_the_matcher(database_url, tmp_path):
    """A restored header that was not UTF-8 comes back from its JSON as a lone surrogate, which
    no text column can hold: the row is indexed with "?" and marked `cut` (checked row by row)."""
    app = make_app(database_url, tmp_path, ANALYSER="off")
    client = app.test_client()
    try:
        bin_id = client.post("/api/bins", json={"name": "surrogate"}).json["id"]
        capture_many(client, bin_id, 1)
        with app.app_context():
            db.session.execute(text("UPDATE captures SET headers = :h"), {"h": '[["X-Odd", "a\\udcffb"]]'})
            db.session.commit()
            assert indexing.index_pending(INDEX_BATCH) == 1
        assert pending(app) == 0 and indexed_rows(app) == 1
        found = client.get(f"/api/bins/{bin_id}/requests", query_string={"q": "x-odd"}).json["requests"]
        assert [row["path"] for row in found] == ["/n0"]
    finally:
        close(app)
