"""A do-nothing Flask app, the baseline the capture path is compared against."""

from __future__ import annotations

import itertools
import json

from flask import Flask, Response, request
from werkzeug.routing import Rule


def create_app() -> Flask:
    """One catch-all route for every method: read the body, answer Hookloupe's default
    `200 {"ok": true, "request_id": N}` (N counts per worker process)."""
    app = Flask(__name__)
    counter = itertools.count(1)

    def answer(path: str = "") -> Response:
        request.get_data()
        body = json.dumps({"ok": True, "request_id": next(counter)})
        return Response(body, status=200, content_type="application/json")

    # Rules added like Hookloupe's capture rules: `methods=None` is every method.
    for rule in ("/", "/<path:path>"):
        app.url_map.add(Rule(rule, endpoint="answer", methods=None))
    app.view_functions["answer"] = answer
    return app
