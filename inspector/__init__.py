"""Hookloupe: a self-hosted webhook inspector. `create_app()` builds the Flask app."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Imported inside create_app: `import inspector` (the pytest plugin, the client) stays light.
if TYPE_CHECKING:
    from flask import Flask

# Settings that must stay text even when the environment value looks like JSON (e.g. "1234").
_TEXT_SETTINGS = ("SECRET_KEY", "PASSWORD", "DATABASE_URL", "BASE_URL", "AUTH_HEADER", "AUTH_PROXY_IPS")


def _resource_dir(name: str) -> str:
    """templates/ and static/ live beside the package in a checkout or editable install,
    and inside it in a built wheel (the build copies them there)."""
    package_dir = Path(__file__).resolve().parent
    inside = package_dir / name
    return str(inside if inside.is_dir() else package_dir.parent / name)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from config.py defaults, `HOOKLOUPE_*` environment variables, then
    `test_config`. Creates the instance folder, the secret key and the tables if missing."""
    from flask import Flask

    from inspector import config as default_config
    from inspector.db import db, engine_options, watch
    from inspector.paths import instance_path as default_instance_path  # the rule: inspector/paths.py

    instance_path = default_instance_path(os.environ)
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder=_resource_dir("templates"),
        static_folder=_resource_dir("static"),
    )
    app.config.from_object(default_config)
    app.config.from_prefixed_env("HOOKLOUPE")
    if test_config:
        app.config.from_mapping(test_config)
    for key in _TEXT_SETTINGS:
        if app.config.get(key) is not None:
            app.config[key] = str(app.config[key])
    _check_settings(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or _instance_secret_key(app.instance_path)

    url = database_url(app.config["DATABASE_URL"], app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    db.init_app(app)
    with app.app_context():
        watch(db.engine)
        _upgrade_schema(app.instance_path)

    from inspector import logs
    from inspector.stream import StreamSlots
    from inspector.views import access_api, api, auth, capture, metrics, pages, replay, security
    from inspector.views import openapi as openapi_views
    from inspector.views import secrets as secrets_views
    from inspector.views.common import URL_CONVERTERS
    from inspector.watch import CaptureMarks

    # The capture clock is a seam: tests replay signed vectors as of their own time.
    app.extensions["hookloupe.clock"] = lambda: datetime.now(UTC)
    app.extensions["hookloupe.stream_slots"] = StreamSlots(int(app.config["STREAM_MAX_PER_WORKER"]))
    app.extensions["hookloupe.wait_slots"] = StreamSlots(int(app.config["WAIT_MAX_PER_WORKER"]))
    # One reader per process, every STREAM_POLL_S / 4 while anyone watches, wakes the streams
    # and waits whose bin changed (watch.py).
    app.extensions["hookloupe.capture_marks"] = CaptureMarks(float(app.config["STREAM_POLL_S"]) / 4, app=app)

    from inspector.analyser import Analyser

    analyser = Analyser(
        app,
        str(app.config["ANALYSER"]),
        sweep_s=float(app.config["ANALYSER_SWEEP_S"]),
        max_defer_s=float(app.config["ANALYSIS_MAX_DEFER_S"]),
        index_share=float(app.config["SEARCH_INDEX_SHARE"]),
    )
    app.extensions["hookloupe.analyser"] = analyser
    analyser.start()

    capture.init_app(app)
    # Before any route is added: ids in URLs are ASCII digits that fit a database integer, and
    # no segment holds NUL; anything else is a 404, never a failing query (views/common.py).
    app.url_map.converters.update(URL_CONVERTERS)
    app.register_blueprint(api.bp)
    app.register_blueprint(replay.bp)
    app.register_blueprint(secrets_views.bp)
    app.register_blueprint(openapi_views.bp)
    app.register_blueprint(pages.bp)
    from inspector.views.pages import manage as manage_pages  # tokens, all bins, a bin's sharing

    app.register_blueprint(manage_pages.bp)
    from inspector.views.pages import settings as settings_pages  # a bin's Settings section

    app.register_blueprint(settings_pages.bp)
    from inspector.views import request_meta  # pins, notes, retry of a delivery

    app.register_blueprint(request_meta.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(access_api.bp)
    from inspector.views import share as share_views  # a bin's read-only shared page (/s/<token>)

    app.register_blueprint(share_views.bp)
    from inspector.views import exports as export_views  # copy as cURL…, multipart parts, HAR/NDJSON

    app.register_blueprint(export_views.bp)
    logs.init_app(app)  # first: a request refused by a guard still gets its id
    security.init_app(app)
    auth.init_app(app)  # after the body-size and cross-site guards: they need no database

    if app.config["PRUNE_INTERVAL_S"] and not app.testing:
        from inspector.janitor import start_janitor

        start_janitor(app)
    if app.config["FORWARDER"] and not app.testing:
        from inspector.delivery.forward import start_forwarder

        start_forwarder(app)
    return app


def _check_settings(settings: Mapping[str, Any]) -> None:
    """Refuse to start on a setting that would only fail later, request by request."""
    from inspector.delivery.outbound import parse_deny

    try:
        parse_deny(settings["FORWARD_DENY"])
    except ValueError as error:
        raise ValueError(f"HOOKLOUPE_FORWARD_DENY: {error}") from None


def database_url(configured: str | None, instance_path: str) -> str:
    """The SQLAlchemy URL: the configured one (plain `postgresql://` gets the psycopg 3
    driver), or SQLite in the instance folder."""
    if not configured:
        return "sqlite:///" + os.path.join(instance_path, "hookloupe.db")
    if configured.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + configured.split("://", 1)[1]
    return configured


def _instance_secret_key(instance_path: str) -> str:
    """Read instance/secret_key, creating it (mode 0600) on first start. Several workers may
    start at once: exactly one creates the file, the others read it."""
    path = os.path.join(instance_path, "secret_key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = Path(path).read_text().strip()
            if key:
                return key
            time.sleep(0.05)
        raise RuntimeError(f"{path} is empty; delete it to have a new key generated") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _upgrade_schema(instance_path: str) -> None:
    """Bring the database to the head revision: create an empty one, upgrade an older one
    (inspector/migrate.py). Workers start together, so one process at a time does it, under
    a PostgreSQL advisory lock or, for SQLite, a file lock beside the instance."""
    from inspector import migrate
    from inspector.db import db

    migrate.upgrade(db.engine, lock_path=os.path.join(instance_path, "schema.lock"))
