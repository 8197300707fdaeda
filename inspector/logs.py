"""Request ids on UI and API answers, and the optional JSON log lines (LOG_FORMAT) that carry them.

Every UI/API request gets an id: the client's `X-Request-Id` when it is a plausible id (so a
proxy's id follows the request through), else a fresh one; the answer carries it back in
`X-Request-Id`, and with `LOG_FORMAT = "json"` every line Hookloupe logs while handling the
request includes it. Capture answers are the bin's own and never get the header.

JSON mode writes one object per line to stderr from the `inspector` loggers: `time`, `level`,
`logger`, `message`, `request_id` (inside a request), `exception` (with a traceback).
gunicorn's own lines (start, worker exits) stay in its text format.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, has_app_context, request

FORMATS = ("text", "json")
# A client's id is kept when it is short and plain: no spaces, quotes or control characters
# that could forge a log line or a header.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
HEADER = "X-Request-Id"


def init_app(app: Flask) -> None:
    """Give UI/API requests their id, and log as LOG_FORMAT says (ValueError on another value)."""
    log_format = str(app.config["LOG_FORMAT"])
    if log_format not in FORMATS:
        raise ValueError(f"HOOKLOUPE_LOG_FORMAT must be text or json, not {log_format!r}")
    app.before_request(_take_request_id)
    app.after_request(_echo_request_id)
    if log_format == "json":
        use_json_lines(logging.getLogger("inspector"))


def request_id(given: str | None) -> str:
    """The id of a request whose client sent `given` as X-Request-Id (None: none sent)."""
    if given is not None and _PLAIN_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _take_request_id() -> None:
    g.request_id = request_id(request.headers.get(HEADER))


def _echo_request_id(response: Response) -> Response:
    response.headers[HEADER] = g.get("request_id") or request_id(None)
    return response


class JsonLines(logging.Formatter):
    """A log record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_app_context() and (rid := g.get("request_id")):
            line["request_id"] = rid
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def use_json_lines(logger: logging.Logger) -> None:
    """Send `logger`'s records (INFO and up) to stderr as JSON lines, once however many apps
    a process builds; they no longer reach the root logger's text handlers."""
    if not any(isinstance(handler.formatter, JsonLines) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
