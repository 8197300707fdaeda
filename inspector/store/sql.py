"""Pieces of SQL the store's modules share."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Update
from sqlalchemy.orm import defer

from inspector.db import db
from inspector.models import Capture

SUMMARY_ONLY = (defer(Capture.body), defer(Capture.signature))


def execute_dml(statement: Delete | Update) -> int:
    """Execute an UPDATE or DELETE in the session; the number of rows it matched.
    (`Session.execute` is typed as returning a `Result`; for these it is a `CursorResult`.)"""
    return cast(CursorResult[Any], db.session.execute(statement)).rowcount
