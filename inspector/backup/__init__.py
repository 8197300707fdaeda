"""Whole-database backups as NDJSON: `hookloupe export --all` writes one, `hookloupe import` reads one.

One JSON object per line (docs/operations.md, "Backups"):

1. a header, `{"format": "hookloupe-export", "version": 1, "exported_at", "schema",
   "capture_ids": [lowest, highest] or null, "secrets": <a note>}`;
2. one `{"type": "bin", ...}` line per bin: its settings and its secrets, still encrypted;
3. one `{"type": "capture", ...}` line per capture, oldest first: every stored field, the body
   in base64, headers (and the query, for reading) as `[name, value]` pairs, times in ISO 8601;
4. an end line `{"type": "end", "bins": n, "captures": n}`: a file cut short is refused.

Decisions, and why:
- **Secrets stay encrypted** with the exporting server's SECRET_KEY: a backup file never holds
  a plain signing secret. The importing server needs the same key to use them (`import` says
  how many do not decrypt with its key; `hookloupe doctor` checks it any time).
- **Bin ids are kept** (a bin id is its URL); a bin that already exists is left as it is and the
  file's copy, with its captures, is skipped — so importing the same file twice adds nothing.
- **Capture ids are kept when every id in the file is above every id in the database** (always
  so for an empty one); otherwise every imported capture gets a new id. Either way the captures
  keep their order and ids only grow, which event streams and `listen` rely on (they resume
  after the last id they saw). Secret ids are always new (nothing refers to them).
- The analysis (provider, event, verdict) is imported as exported; a file without it leaves the
  rows unanalysed and a running server analyses them. Deliveries (replay and forward history)
  and the forward queue are not exported; imported captures are not forwarded.
- An import is one transaction: a damaged or cut-off file leaves the database as it was.

Like capture/insert.py, this package runs its own statements rather than going through store/:
an export needs one read snapshot across many queries and an import one transaction across
many inserts, on a connection of their own, with no Flask app (it would start threads).

Errors: `BackupFormatError` (not an export, unknown version, a bad line — with its number,
cut short); `SchemaError` (the database is not at the head revision); database errors as raised.
"""

from inspector.backup.export import export_lines, write_export
from inspector.backup.records import BackupFormatError, SchemaError
from inspector.backup.restore import ImportReport, import_lines

__all__ = ["BackupFormatError", "ImportReport", "SchemaError", "export_lines", "import_lines", "write_export"]
