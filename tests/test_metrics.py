"""GET /metrics: each capture outcome moves its counters by exactly one, the scrape parses, it
is guarded like the API, no label names a bin, and under `hookloupe serve` the totals are
exact whichever worker answers."""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy.exc
from conftest import LiveServer
from faults_helpers import wait_for_workers, worker_pids
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from inspector import cli, stream
from inspector.capture import insert
from inspector.delivery.forward import forward_next
from inspector.views import capture as capture_view
from inspector.views.security import API_CSP

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
OUTCOMES = ("stored", "truncated", "incomplete", "refused_no_bin", "db_unavailable", "error")


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by (sample name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **kwargs) -> Samples:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def capture_counts(samples: Samples) -> dict[str, tuple[float, float]]:
    """(captures, body bytes) by outcome, and the latency histogram's count under "seconds"."""
    counts = {
        outcome: (
            value(samples, "hookloupe_captures_total", outcome=outcome),
            value(samples, "hookloupe_capture_bytes_total", outcome=outcome),
        )
        for outcome in OUTCOMES
    }
    counts["seconds"] = (value(samples, "hookloupe_capture_seconds_count"), 0)
    return counts


def moved(client, send) -> dict[str, tuple[float, float]]:
    """What `send()` changed in the capture counters (unchanged ones left out)."""
    before = capture_counts(scrape(client))
    send()
    after = capture_counts(scrape(client))
    return {
        key: (after[key][0] - before[key][0], after[key][1] - before[key][1])
        for key in after
        if after[key] != before[key]
    }


def test_stored_capture_counts_one_with_its_bytes(client, bin_id):
    send = lambda: client.post(f"/h/{bin_id}/x", data=b"a" * 100)  # noqa: E731
    assert moved(client, send) == {"stored": (1, 100), "seconds": (1, 0)}


def test_truncated_capture_counts_its_true_size(app, client, bin_id):
    app.config["MAX_BODY_BYTES"] = 10
    send = lambda: client.post(f"/h/{bin_id}", data=b"b" * 25)  # noqa: E731
    assert moved(client, send) == {"truncated": (1, 25), "seconds": (1, 0)}


def test_incomplete_capture_counts_what_arrived(client, bin_id):
    def send():
        response = client.post(
            f"/h/{bin_id}",
            input_stream=io.BytesIO(b"12345"),
            environ_overrides={"CONTENT_LENGTH": "10", "wsgi.input_terminated": True},
        )
        assert response.status_code == 400

    assert moved(client, send) == {"incomplete": (1, 5), "seconds": (1, 0)}


def test_capture_for_no_bin_counts_as_refused(client):
    send = lambda: client.post("/h/no-such-bin", data=b"abc")  # noqa: E731
    assert moved(client, send) == {"refused_no_bin": (1, 3), "seconds": (1, 0)}


def test_database_unavailable_counts_the_capture_and_the_database_error(client, bin_id, monkeypatch):
    def unavailable(*_args):
        raise sqlalchemy.exc.TimeoutError("every pooled connection is in use")

    monkeypatch.setattr(insert, "_run_alone", unavailable)
    monkeypatch.setattr(insert, "_sqlite_group_writer", lambda _engine: SimpleNamespace(run=unavailable))
    errors_before = value(scrape(client), "hookloupe_database_errors_total")

    def send():
        assert client.post(f"/h/{bin_id}", data=b"abcd").status_code == 503

    assert moved(client, send) == {"db_unavailable": (1, 4), "seconds": (1, 0)}
    assert value(scrape(client), "hookloupe_database_errors_total") == errors_before + 1


def test_failing_capture_counts_as_error_once(client, bin_id, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(capture_view.capture_store, "store_capture", broken)

    def send():
        assert client.post(f"/h/{bin_id}", data=b"abcdef").status_code == 500

    assert moved(client, send) == {"error": (1, 6), "seconds": (1, 0)}


def test_capture_answered_after_a_failure_past_counting_is_not_counted_twice(client, bin_id, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug while building the answer")

    monkeypatch.setattr(capture_view, "bin_response", broken)

    def send():
        assert client.post(f"/h/{bin_id}", data=b"ab").status_code == 500

    assert moved(client, send) == {"stored": (1, 2), "seconds": (1, 0)}


def test_analysis_lag_is_observed_once_per_analysed_capture(client, bin_id):
    before = value(scrape(client), "hookloupe_analysis_lag_seconds_count")
    client.post(f"/h/{bin_id}", data=b"{}")  # the test app analyses inline, before answering
    assert value(scrape(client), "hookloupe_analysis_lag_seconds_count") == before + 1


def test_forward_attempts_count_by_outcome_and_the_queue_depth_is_read_from_the_database(app, client, bin_id):
    forward = {"forward": {"url": "http://127.0.0.1:9/in", "enabled": True}}
    assert client.patch(f"/api/bins/{bin_id}", json=forward).status_code == 200
    before = scrape(client)
    client.post(f"/h/{bin_id}", data=b"x")
    client.post(f"/h/{bin_id}", data=b"y")
    assert value(scrape(client), "hookloupe_forward_queue_depth") == 2
    answers = iter([503, 200])
    transport = httpx.MockTransport(lambda _request: httpx.Response(next(answers), stream=httpx.ByteStream(b"")))
    assert forward_next(app, transport=transport) is True  # 503: retried later
    assert forward_next(app, transport=transport) is True  # the other capture: delivered
    after = scrape(client)
    delta = {
        outcome: value(after, "hookloupe_forward_attempts_total", outcome=outcome)
        - value(before, "hookloupe_forward_attempts_total", outcome=outcome)
        for outcome in ("delivered", "retrying", "failed")
    }
    assert delta == {"delivered": 1, "retrying": 1, "failed": 0}
    assert value(after, "hookloupe_forward_queue_depth") == 1


def test_unanalysed_captures_are_read_from_the_database(app, client, bin_id, monkeypatch):
    monkeypatch.setattr(app.extensions["hookloupe.analyser"], "mode", "off")
    assert value(scrape(client), "hookloupe_unanalysed") == 0
    client.post(f"/h/{bin_id}", data=b"{}")
    assert value(scrape(client), "hookloupe_unanalysed") == 1


def test_open_streams_count_while_a_stream_is_open(app, client):
    slots = stream.StreamSlots(2)
    assert slots.try_take()
    before = value(scrape(client), "hookloupe_open_streams")
    events = stream.guarded(slots, iter(["retry: 1000\n\n", "data: x\n\n"]))
    next(events)
    assert value(scrape(client), "hookloupe_open_streams") == before + 1
    events.close()  # the client went away
    assert value(scrape(client), "hookloupe_open_streams") == before


def test_scrape_answers_when_the_database_does_not(client, monkeypatch):
    from inspector import store

    def down():
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(store, "pending_forward_jobs", down)
    samples = scrape(client)
    assert value(samples, "hookloupe_database_up") == 0
    assert ("hookloupe_forward_queue_depth", ()) not in samples
    assert ("hookloupe_captures_total", (("outcome", "stored"),)) in samples


def test_scrape_parses_and_declares_every_metric(client):
    response = client.get("/metrics")
    families = {family.name: family.type for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert families == {
        "hookloupe_captures": "counter",
        "hookloupe_capture_bytes": "counter",
        "hookloupe_capture_seconds": "histogram",
        "hookloupe_analysis_lag_seconds": "histogram",
        "hookloupe_forward_attempts": "counter",
        "hookloupe_open_streams": "gauge",
        "hookloupe_open_waits": "gauge",
        "hookloupe_database_errors": "counter",
        "hookloupe_database_up": "gauge",
        "hookloupe_forward_queue_depth": "gauge",
        "hookloupe_unanalysed": "gauge",
    }
    assert response.headers["Content-Security-Policy"] == API_CSP


def test_no_label_names_a_bin(client, bin_id):
    client.post(f"/h/{bin_id}/some/path?q=1", data=b"x")
    client.post("/h/another-bin-name", data=b"x")
    text = client.get("/metrics").get_data(as_text=True)
    labels = {name for family in text_string_to_metric_families(text) for s in family.samples for name in s.labels}
    assert labels <= {"outcome", "le"}
    assert bin_id not in text and "another-bin-name" not in text


def test_metrics_need_the_password_when_one_is_set(app, client):
    app.config["PASSWORD"] = "s3cret"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.json == {
        "error": "this Hookloupe instance needs a password or an API token"
    }
    assert client.get("/metrics", headers=basic("wrong")).status_code == 401
    scrape(client, headers=basic("s3cret"))


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"any:{password}".encode()).decode()}


def test_serve_removes_metrics_directories_of_killed_servers_only(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        gone.wait()  # a killed serve's pid: no process has it now
    dead = tmp_path / f"hookloupe-metrics-{gone.pid}-abc"
    alive = tmp_path / f"hookloupe-metrics-{os.getppid()}-def"
    other = tmp_path / "hookloupe-metrics-notes"
    for path in (dead, alive, other):
        path.mkdir()
    fresh = Path(cli._fresh_metrics_dir())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, fresh.name])
    assert fresh.name.startswith(f"hookloupe-metrics-{os.getpid()}-") and not any(fresh.iterdir())


# --- a real server: two worker processes --------------------------------------------------


def stored_by_process(metrics_dir: Path) -> dict[str, float]:
    """Captures stored, by the process id whose counter file counted them."""
    counted = {}
    for path in metrics_dir.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "hookloupe_captures_total" and sample.labels == {"outcome": "stored"}:
                    counted[path.stem.split("_")[1]] = sample.value
    return counted


@pytest.mark.server
def test_totals_are_exact_across_workers_whichever_answers(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    # A short heartbeat: a stream notices its client left within 0.2 s.
    server = LiveServer(tmp_path, env={"TMPDIR": str(temp), "HOOKLOUPE_STREAM_HEARTBEAT_S": "0.2"}, workers=2)
    server.start()
    try:
        [metrics_dir] = temp.glob("hookloupe-metrics-*")
        bin_id = server.create_bin("metrics-live")
        body = b"m" * 300
        sent = 0
        # Fresh connections, until both workers have stored some (the kernel picks the worker).
        while sent < 40 or len([n for n in stored_by_process(metrics_dir).values() if n]) < 2:
            assert sent < 2000, f"one worker took every connection: {stored_by_process(metrics_dir)}"
            assert httpx.post(f"{server.url}/h/{bin_id}", content=body, timeout=10).status_code == 200
            sent += 1
        for _ in range(10):  # each scrape on a fresh connection, to either worker
            samples = parse(httpx.get(server.url + "/metrics", timeout=10).text)
            assert value(samples, "hookloupe_captures_total", outcome="stored") == sent
            assert value(samples, "hookloupe_capture_bytes_total", outcome="stored") == sent * len(body)
            assert value(samples, "hookloupe_capture_seconds_count") == sent
        with httpx.stream("GET", f"{server.url}/api/bins/{bin_id}/events", timeout=10) as events:
            next(events.iter_raw())
            assert value(parse(httpx.get(server.url + "/metrics", timeout=10).text), "hookloupe_open_streams") == 1
        assert wait_for_gauge(server, "hookloupe_open_streams", 0)
    finally:
        server.stop()
    assert not os.path.exists(metrics_dir)  # serve removes its directory on the way out


@pytest.mark.server
def test_a_stopped_or_killed_workers_counts_stay_and_its_streams_leave(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    server = LiveServer(tmp_path, env={"TMPDIR": str(temp)}, workers=2).start()
    try:
        [metrics_dir] = temp.glob("hookloupe-metrics-*")
        bin_id = server.create_bin("metrics-kill")
        for _ in range(10):
            assert httpx.post(f"{server.url}/h/{bin_id}", content=b"abc", timeout=10).status_code == 200
        with httpx.stream("GET", f"{server.url}/api/bins/{bin_id}/events", timeout=10) as events:
            next(events.iter_raw())
            assert value(parse(httpx.get(server.url + "/metrics", timeout=10).text), "hookloupe_open_streams") == 1
            workers = worker_pids(server.process.pid)
            os.kill(workers[0], signal.SIGTERM)  # a graceful exit, as gunicorn recycles a worker
            os.kill(workers[1], signal.SIGKILL)
            wait_for_workers(server.process.pid, 2, excluding=set(workers))
        assert wait_for_gauge(server, "hookloupe_open_streams", 0)
        samples = parse(httpx.get(server.url + "/metrics", timeout=10).text)
        assert value(samples, "hookloupe_captures_total", outcome="stored") == 10
        assert metrics_dir.is_dir()  # only the master removes it, when it stops
    finally:
        server.stop()


def wait_for_gauge(server: LiveServer, name: str, expected: float, timeout: float = 10) -> bool:
    """Whether a scrape reports `expected` for the gauge within `timeout` seconds (a worker
    may still be starting: a refused connection is retried)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value(parse(httpx.get(server.url + "/metrics", timeout=10).text), name) == expected:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False
