"""watch.py: one read per process tells every stream whether its bin changed."""

from sqlalchemy import event

from inspector import stream
from inspector.db import db
from inspector.watch import CaptureMarks


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def count_statements(app):
    """A list that grows by one for each SQL statement the app's engine runs."""
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_a_bin_mark_moves_with_its_captures_and_not_with_others(app, client, bin_id):
    other = client.post("/api/bins", json={}).json["id"]
    clock = FakeClock()
    marks = CaptureMarks(0.1, clock=clock)
    with app.app_context():
        before = marks.mark(bin_id)
    client.post(f"/h/{other}", data=b"elsewhere")
    clock.now += 0.2
    with app.app_context():
        assert marks.mark(bin_id) == before
    client.post(f"/h/{bin_id}", data=b"here")
    clock.now += 0.2
    with app.app_context():
        after = marks.mark(bin_id)
    # One row, analysed (the test app analyses inline), with the newest id.
    assert after != before and after[0] == 1 and after[2] == 1


def test_the_marks_are_read_at_most_once_per_interval(app, client, bin_id):
    clock = FakeClock()
    marks = CaptureMarks(0.1, clock=clock)
    statements = count_statements(app)
    with app.app_context():
        for _ in range(50):
            marks.mark(bin_id)
        first = len(statements)
        clock.now += 0.05
        for _ in range(50):
            marks.mark(bin_id)
        assert len(statements) == first  # still within the interval: no read
        clock.now += 0.06
        marks.mark(bin_id)
    assert len(statements) == first + 1


def test_an_idle_stream_queries_only_at_its_heartbeat(app, client, bin_id):
    """Before watch.py each open page queried its bin every STREAM_POLL_S."""
    app.config.update(STREAM_POLL_S=0.01, STREAM_HEARTBEAT_S=60, STREAM_MAX_S=0.5)
    statements = count_statements(app)
    events = list(stream.capture_events(app, bin_id, 0, lambda row: str(row.id)))
    bin_queries = [s for s in statements if "captures.bin_id =" in s]
    # About 50 polls in 0.5 s; the bin is queried at the start only (on PostgreSQL also for
    # rows that may commit late: three queries), none after.
    assert len(bin_queries) <= 3, bin_queries
    assert events == ["retry: 1000\n\n"]


def test_a_stream_still_sends_each_capture_once_in_order(app, client, bin_id):
    app.config.update(STREAM_POLL_S=0.01, STREAM_MAX_S=1.0)
    sent = [client.post(f"/h/{bin_id}", data=b"x").json["request_id"] for _ in range(3)]
    events = stream.capture_events(app, bin_id, 0, lambda row: str(row.id))
    got = []
    for text in events:
        got += [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
        if len(got) == 3 and len(sent) == 3:
            sent += [client.post(f"/h/{bin_id}", data=b"y").json["request_id"] for _ in range(2)]
        if len(got) == 5:
            break
    assert got == sent
