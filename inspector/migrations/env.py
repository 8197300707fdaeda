"""Alembic's environment: run the revisions on the connection `inspector.migrate` hands in."""

from alembic import context

from inspector import models  # noqa: F401  (registers the tables on the metadata autogenerate compares)
from inspector.db import db

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    # No alembic.ini and no URL of its own: the database is always the app's (migrate.py, the CLI).
    raise RuntimeError("run migrations through inspector.migrate or `hookloupe db upgrade`")

if connection.dialect.name == "sqlite" and connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
    # A batch operation drops the table it copies: with foreign keys on, that deletes every row
    # that references it (ON DELETE CASCADE). inspector.migrate turns them off first.
    raise RuntimeError("SQLite foreign keys are on: run migrations through inspector.migrate")

context.configure(
    connection=connection,
    target_metadata=db.metadata,
    # SQLite cannot alter most things in place: batch operations copy the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
