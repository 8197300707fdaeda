"""GET /metrics: Prometheus text format, exact across every worker (inspector/metrics.py).

Behind the same guard as the API (views/security.py): open without a password, else it needs
it. The database gauges are read at scrape time; when the database does not answer, the
scrape still succeeds with the counters and `hookloupe_database_up 0`, since that is when
an operator most needs them.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from inspector import metrics, store
from inspector.db import db
from inspector.store.analysis import count_unanalysed

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    return Response(metrics.exposition(_database_gauges()), content_type=metrics.CONTENT_TYPE)


def _database_gauges() -> list[tuple[str, str, float]] | None:
    """(name, help, value) of the gauges the database holds, or None when it cannot answer."""
    try:
        return [
            (
                "hookloupe_forward_queue_depth",
                "Auto-forward jobs waiting for an attempt.",
                store.pending_forward_jobs(),
            ),
            ("hookloupe_unanalysed", "Captures waiting for their analysis.", count_unanalysed()),
        ]
    except Exception as error:  # any failure of the database; the process counters still answer
        log.warning("metrics: the database did not answer: %s", error)
        db.session.rollback()
        return None
