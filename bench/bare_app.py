"""A bare WSGI app (no Flask), the ceiling for any app on the same gunicorn settings."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any


def create_app() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Read the body, answer Hookloupe's default `200 {"ok": true, "request_id": N}`."""
    counter = itertools.count(1)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        while stream.read(65536):
            pass
        body = json.dumps({"ok": True, "request_id": next(counter)}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app
