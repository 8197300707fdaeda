"""pytest plugin (entry point `pytest11`): fixtures `hookloupe` and `hookloupe_bin`.

`hookloupe` (session): a `inspector.client.Client` of the server given by `--hookloupe-url` or
HOOKLOUPE_URL (token: `--hookloupe-token` or HOOKLOUPE_TOKEN); with neither, a Hookloupe
started once per session in this process, on a free 127.0.0.1 port with a temporary SQLite
database, and stopped at the end. `hookloupe_bin` (function): a fresh bin that expires in an
hour, deleted after the test.

pytest loads this module in every run of every project that installs Hookloupe, so it imports
nothing heavy and starts nothing until a test asks for a fixture.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.serving import BaseWSGIServer

    from inspector.client import Bin, Client

# How long the session's bins live on the server if a test run dies before deleting them.
BIN_LIFETIME_S = 3600


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hookloupe", "Hookloupe webhook inspector")
    group.addoption(
        "--hookloupe-url",
        default=None,
        help="Hookloupe server for the `hookloupe` fixture (default: HOOKLOUPE_URL, else one started in-process)",
    )
    group.addoption("--hookloupe-token", default=None, help="API token for that server (default: HOOKLOUPE_TOKEN)")


@pytest.fixture(scope="session")
def hookloupe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A client of the configured Hookloupe server, or of one started in this process."""
    from inspector.client import Client

    url = request.config.getoption("hookloupe_url") or os.environ.get("HOOKLOUPE_URL")
    token = request.config.getoption("hookloupe_token") or os.environ.get("HOOKLOUPE_TOKEN") or None
    if url:
        with Client(url, token) as client:
            yield client
        return
    server = InProcessServer(tmp_path_factory.mktemp("hookloupe"))
    try:
        with Client(server.start()) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture
def hookloupe_bin(hookloupe: Client) -> Iterator[Bin]:
    """A fresh bin (expiring in an hour), deleted after the test."""
    with hookloupe.create_bin(expires_in_s=BIN_LIFETIME_S) as bin_:
        yield bin_


class InProcessServer:
    """Hookloupe on werkzeug's threaded server in a daemon thread, its instance folder and
    SQLite database under `directory`. Background work runs as in production (analysis in
    its thread, auto-forwarding); only the janitor is off, the session being short."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.app: Flask | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Build the app, serve it, and return its base URL."""
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *_args: Any, **_kwargs: Any) -> None:
                pass  # one line per request would flood a failing test's captured output

        self.app = app = self._build_app()
        self._server = server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self._thread = threading.Thread(target=server.serve_forever, name="hookloupe-server", daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{server.server_port}"

    def _build_app(self) -> Flask:
        from inspector import create_app

        settings = {
            "DATABASE_URL": "sqlite:///" + str(self.directory / "hookloupe.db"),
            "SECRET_KEY": secrets.token_urlsafe(32),
            # Whatever the user's environment says about their own deployment does not apply.
            "PASSWORD": None,
            "BASE_URL": None,
            "ANALYSER": "background",
            "PRUNE_INTERVAL_S": 0,
        }
        # create_app reads the instance folder from the environment only.
        with _environment("HOOKLOUPE_INSTANCE_PATH", str(self.directory / "instance")):
            return create_app(settings)

    def stop(self) -> None:
        """Stop serving, then the app's threads, and close its database connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self.app is not None:
            _stop_app(self.app)


def _stop_app(app: Flask) -> None:
    from inspector.analyser import analyser_of
    from inspector.db import db
    from inspector.delivery.forward import stop_forwarder

    analyser_of(app).stop()
    stop_forwarder(app, timeout=5)
    app.extensions["hookloupe.capture_marks"].stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for the block, then restore it."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before
