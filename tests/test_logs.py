"""Request ids on UI/API answers and the JSON log lines that carry them (inspector/logs.py)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from inspector import create_app, logs
from inspector.db import db


def test_a_plain_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-Id": "proxy-7f3a:1"})
    assert response.headers["X-Request-Id"] == "proxy-7f3a:1"


@pytest.mark.parametrize("given", ["has space", "x" * 129, "", 'quote"d', "caf\u00e9"])
def test_an_implausible_request_id_is_replaced(given):
    assert logs.request_id(given) != given
    assert len(logs.request_id(given)) == 32


def test_every_ui_and_api_answer_gets_a_fresh_id(client, bin_id):
    ids = {client.get(path).headers["X-Request-Id"] for path in ("/", f"/api/bins/{bin_id}", "/metrics", "/nowhere")}
    assert len(ids) == 4


def test_a_request_refused_by_the_password_keeps_its_id(app, client):
    app.config["PASSWORD"] = "pw"
    response = client.get("/api/bins", headers={"X-Request-Id": "abc"})
    assert response.status_code == 401 and response.headers["X-Request-Id"] == "abc"


def test_capture_answers_do_not_carry_an_id(client, bin_id):
    response = client.post(f"/h/{bin_id}", data=b"x", headers={"X-Request-Id": "abc"})
    assert response.status_code == 200 and "X-Request-Id" not in response.headers


def test_json_line_carries_the_request_id_and_the_exception(app):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonLines())
    logger = logging.getLogger("tests.json-lines")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/api/bins", headers={"X-Request-Id": "req-1"}):
            app.preprocess_request()
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed for bin %r", "b\n1")
        logger.warning("outside a request")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{"))
    assert (first["level"], first["logger"], first["message"]) == (
        "ERROR",
        "tests.json-lines",
        "failed for bin 'b\\n1'",
    )
    assert first["request_id"] == "req-1" and "ValueError: boom" in first["exception"]
    assert "request_id" not in second and second["time"].endswith("+00:00")


def test_json_handler_is_added_once(capsys):
    logger = logging.getLogger("tests.json-once")
    logs.use_json_lines(logger)
    logs.use_json_lines(logger)
    logger.info("hello")
    assert [json.loads(line)["message"] for line in capsys.readouterr().err.splitlines()] == ["hello"]
    logger.handlers.clear()


def test_json_format_switches_the_inspector_loggers(tmp_path, monkeypatch):
    switched = []
    monkeypatch.setattr(logs, "use_json_lines", switched.append)
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    settings = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/h.db", "SECRET_KEY": "k", "ANALYSER": "off"}
    app = create_app({**settings, "LOG_FORMAT": "json"})
    with app.app_context():
        db.engine.dispose()
    assert [logger.name for logger in switched] == ["inspector"]
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        create_app({**settings, "LOG_FORMAT": "yaml"})
