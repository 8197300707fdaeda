"""The reference the issue names: a naive Flask + SQLite app storing one row per request.

Measured in the same run as Hookloupe and the no-op app, under the same gunicorn settings,
so its ratio to the no-op app shows what "one SQLite row per request" costs on this machine.
"""

from __future__ import annotations

import json
import sqlite3
import threading

from flask import Flask, Response, request
from werkzeug.routing import Rule


def create_app(database: str) -> Flask:
    """One catch-all rule: insert method, path, headers and body, commit, answer the id."""
    app = Flask(__name__)
    local = threading.local()
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, method TEXT, path TEXT, headers TEXT, body BLOB)"
        )

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(database, timeout=15)
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def store(path: str = "") -> Response:
        conn = connection()
        cursor = conn.execute(
            "INSERT INTO rows (method, path, headers, body) VALUES (?, ?, ?, ?)",
            (request.method, request.path, json.dumps(list(request.headers.items())), request.get_data()),
        )
        conn.commit()
        return Response(json.dumps({"ok": True, "request_id": cursor.lastrowid}), content_type="application/json")

    for rule in ("/", "/<path:path>"):
        app.url_map.add(Rule(rule, endpoint="store", methods=None))
    app.view_functions["store"] = store
    return app
