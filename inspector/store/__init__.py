"""The database, SQLAlchemy 2 style: every read and write of the app goes through this package
(store/analysis.py holds the analyser's batched reads and guarded writes), except the capture
path's own two statements (capture/insert.py, raw DBAPI for speed).

Every function runs in the current Flask app context. Functions that look a row up return
None (or False) when it is missing; none of them raises for a missing row.
"""

from inspector.store.bins import (
    KEEP,
    BinExistsError,
    Keep,
    create_bin,
    delete_bin,
    expired_bin_ids,
    get_bin,
    save_bin_settings,
)
from inspector.store.captures import (
    BinStats,
    bin_stats,
    capture_marks,
    captures_by_ids,
    captures_since,
    clear_captures,
    count_captures,
    count_matching,
    delete_capture,
    get_capture,
    highest_capture_id,
    list_captures,
    prune,
    recent_captures,
    wait_candidates,
)
from inspector.store.deliveries import (
    add_delivery,
    claim_forward_job,
    finish_forward_job,
    get_delivery,
    list_deliveries,
    pending_forward_jobs,
)
from inspector.store.secrets import add_secret, delete_secret, list_secrets

__all__ = [
    "KEEP",
    "BinExistsError",
    "BinStats",
    "Keep",
    "add_delivery",
    "add_secret",
    "bin_stats",
    "capture_marks",
    "captures_by_ids",
    "captures_since",
    "claim_forward_job",
    "clear_captures",
    "count_captures",
    "count_matching",
    "create_bin",
    "delete_bin",
    "delete_capture",
    "delete_secret",
    "expired_bin_ids",
    "finish_forward_job",
    "get_bin",
    "get_capture",
    "get_delivery",
    "highest_capture_id",
    "list_captures",
    "list_deliveries",
    "list_secrets",
    "pending_forward_jobs",
    "prune",
    "recent_captures",
    "save_bin_settings",
    "wait_candidates",
]
