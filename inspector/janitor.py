"""A daemon thread per worker that prunes old captures and idle bins off the capture path."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from flask import Flask

from inspector import store

log = logging.getLogger(__name__)


def prune_once(app: Flask) -> dict[str, int]:
    """One pruning pass with the app's limits; returns the counts deleted."""
    with app.app_context():
        return store.prune(
            datetime.now(UTC),
            default_max=int(app.config["MAX_REQUESTS_PER_BIN"]),
            ttl_days=int(app.config["BIN_TTL_DAYS"]),
        )


def start_janitor(app: Flask) -> threading.Thread:
    """Run `prune_once` every PRUNE_INTERVAL_S seconds until the process exits. A failed pass
    is logged and retried next time; it never reaches capture."""
    interval = float(app.config["PRUNE_INTERVAL_S"])
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                prune_once(app)
            except Exception:
                log.exception("pruning pass failed")

    thread = threading.Thread(target=loop, name="hookloupe-janitor", daemon=True)
    thread.start()
    app.extensions["hookloupe.janitor_stop"] = stop
    return thread
