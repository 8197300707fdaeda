"""Read an export into the database, in one transaction (ids and existing bins: backup/__init__.py)."""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, text

from inspector import migrate
from inspector.backup.records import FORMAT, VERSION, BackupFormatError, SchemaError, bin_row, capture_row, secret_row
from inspector.models import Bin, Capture, Secret
from inspector.signing import secretbox

# Import inserts captures in batches of this many rows or body bytes.
_INSERT_ROWS = 200
_INSERT_BYTES = 16 * 1024 * 1024

_BINS, _CAPTURES, _SECRETS = (cast(Table, model.__table__) for model in (Bin, Capture, Secret))


@dataclass
class ImportReport:
    """What `import_lines` did. `ids_kept`: captures kept their ids (else all got new ones);
    `undecryptable`: imported secrets the given key cannot decrypt (None: not checked)."""

    bins: int = 0
    captures: int = 0
    secrets: int = 0
    skipped_bins: list[str] = field(default_factory=list)
    skipped_captures: int = 0
    ids_kept: bool = True
    undecryptable: int | None = None

    def __str__(self) -> str:
        ids = "their ids kept" if self.ids_kept else "new ids, in their order"
        text = f"imported {self.bins} bins, {self.captures} captures ({ids}) and {self.secrets} secrets"
        if self.skipped_bins:
            text += (
                f"; skipped {len(self.skipped_bins)} bins that already exist ({', '.join(self.skipped_bins[:5])}"
                f"{', …' if len(self.skipped_bins) > 5 else ''}) and their {self.skipped_captures} captures"
            )
        return text


def import_lines(engine: Engine, lines: Iterable[str | bytes], *, secret_key: str | None = None) -> ImportReport:
    """Import an export into the database (at the head revision), in one transaction; see the
    module docstring for ids and existing bins. `secret_key`, when given, is tried on each
    imported secret (the count that fails is reported, never a value). BackupFormatError for a
    file that is not an export, has a damaged line or is cut short (nothing is imported then);
    SchemaError when the database is not at head."""
    records = _records(lines)
    header = _header(next(records, (1, {}))[1])
    if migrate.current(engine) != migrate.head():
        raise SchemaError(f"the database is not at revision {migrate.head()}: run `hookloupe db upgrade` first")
    span: list[int] | None = header.get("capture_ids")  # [lowest, highest], None without captures
    # PostgreSQL: decided, and the ids reserved, before the import's own transaction.
    keep_ids = span is not None and engine.dialect.name == "postgresql" and _reserve_ids_postgres(engine, span)
    report = ImportReport(undecryptable=None if secret_key is None else 0)
    with _writing(engine) as conn:
        if span is not None and engine.dialect.name == "sqlite":
            keep_ids = _highest_capture_id_sqlite(conn) < int(span[0])  # it holds the write lock
        report.ids_kept = keep_ids or span is None
        _Importer(conn, report, keep_ids, secret_key).run(records)
    return report


def _records(lines: Iterable[str | bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-empty line; BackupFormatError for one that is not a
    JSON object."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise BackupFormatError(f"line {number} is not JSON ({error}): a damaged file?") from None
        if not isinstance(record, dict):
            raise BackupFormatError(f"line {number} is not a JSON object")
        yield number, record


def _header(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("format") != FORMAT:
        raise BackupFormatError(f'this is not a Hookloupe export: its first line has no "format": "{FORMAT}"')
    if record.get("version") != VERSION:
        raise BackupFormatError(f"this export is version {record.get('version')!r}; this Hookloupe reads {VERSION}")
    return record


@contextmanager
def _writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction; on SQLite it takes the write lock at once (BEGIN IMMEDIATE),
    so the ids read at its start stay the highest until it commits."""
    with engine.connect() as conn, conn.begin():
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def _highest_capture_id_sqlite(conn: Connection) -> int:
    """The highest capture id used so far, deleted ones included (AUTOINCREMENT's counter)."""
    query = "SELECT max(coalesce((SELECT max(id) FROM captures), 0), coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'captures'), 0))"
    return int(conn.exec_driver_sql(query).scalar_one())


def _reserve_ids_postgres(engine: Engine, span: list[int]) -> bool:
    """Whether the file's capture ids are all free and above every id in use; if so they are
    reserved by moving the id sequence past them, so a server capturing meanwhile never takes
    one. The table lock (it blocks captures for a moment, not readers) makes reading the
    highest id and moving the sequence one step."""
    low, high = int(span[0]), int(span[1])
    with engine.begin() as conn:
        conn.execute(text("LOCK TABLE captures IN EXCLUSIVE MODE"))
        sequence = "pg_get_serial_sequence('captures', 'id')"
        used = conn.execute(
            text(
                f"SELECT greatest(coalesce(pg_sequence_last_value({sequence}::regclass), 0), coalesce(max(id), 0)) FROM captures"
            )
        ).scalar_one()
        if used >= low:
            return False
        conn.execute(text(f"SELECT setval({sequence}, :high)"), {"high": high})
        return True


class _Importer:
    """Reads bin and capture lines into one open transaction, capture inserts batched."""

    def __init__(self, conn: Connection, report: ImportReport, keep_ids: bool, secret_key: str | None):
        self.conn, self.report, self.keep_ids, self.secret_key = conn, report, keep_ids, secret_key
        self.imported: set[str] = set()
        self.skipped: set[str] = set()
        self.pending: list[dict[str, Any]] = []
        self.pending_bytes = 0

    def run(self, records: Iterator[tuple[int, dict[str, Any]]]) -> None:
        """Import every record up to the end line; BackupFormatError when there is none."""
        for number, record in records:
            try:
                kind = record.get("type")
                if kind == "end":
                    self._flush()
                    self._check_end(record)
                    return
                if kind == "bin":
                    self._bin(record)
                elif kind == "capture":
                    self._capture(record)
                else:
                    raise BackupFormatError(f"unknown line type {kind!r}")
            except (KeyError, TypeError, ValueError, binascii.Error) as error:
                raise BackupFormatError(f"line {number}: {type(error).__name__}: {error}") from None
            except BackupFormatError as error:
                raise BackupFormatError(f"line {number}: {error}") from None
        raise BackupFormatError("the file ends before its end line: it was cut short (nothing was imported)")

    def _bin(self, record: dict[str, Any]) -> None:
        bin_id = str(record["id"])
        if self.conn.execute(select(_BINS.c.id).where(_BINS.c.id == bin_id)).first() is not None:
            self.report.skipped_bins.append(bin_id)
            self.skipped.add(bin_id)
            return
        self.conn.execute(insert(_BINS), [bin_row(record)])
        self.imported.add(bin_id)
        self.report.bins += 1
        for secret in record["secrets"]:
            row = secret_row(bin_id, secret)
            self.conn.execute(insert(_SECRETS), [row])
            self.report.secrets += 1
            if self.secret_key is not None and not _decrypts(self.secret_key, row["ciphertext"]):
                self.report.undecryptable = (self.report.undecryptable or 0) + 1

    def _capture(self, record: dict[str, Any]) -> None:
        if record["bin"] not in self.imported:
            if record["bin"] not in self.skipped:
                raise BackupFormatError(f"capture {record.get('id')} belongs to bin {record['bin']!r}, not in the file")
            self.report.skipped_captures += 1
            return
        row = capture_row(record, keep_id=self.keep_ids)
        self.pending.append(row)
        self.pending_bytes += len(row["body"])
        if len(self.pending) >= _INSERT_ROWS or self.pending_bytes >= _INSERT_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.conn.execute(insert(_CAPTURES), self.pending)
            self.report.captures += len(self.pending)
            self.pending, self.pending_bytes = [], 0

    def _check_end(self, record: dict[str, Any]) -> None:
        bins = self.report.bins + len(self.report.skipped_bins)
        captures = self.report.captures + self.report.skipped_captures
        if (record["bins"], record["captures"]) != (bins, captures):
            raise BackupFormatError(
                f"the end line counts {record['bins']} bins and {record['captures']} captures, "
                f"the file holds {bins} and {captures}: a damaged file"
            )


def _decrypts(secret_key: str, ciphertext: bytes) -> bool:
    try:
        secretbox.decrypt(secret_key, ciphertext)
    except secretbox.SecretKeyChangedError:
        return False
    return True
