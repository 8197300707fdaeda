"""`hookloupe export --all` / `import` (inspector/backup): a whole database goes out as NDJSON and
comes back identical — bins, secrets (still encrypted, still decrypting), every capture byte
for byte — on SQLite and PostgreSQL, from one to the other, and through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, database_for
from sqlalchemy import create_engine, select

from inspector import create_app, database_url, migrate
from inspector.backup import BackupFormatError, SchemaError, export_lines, import_lines, write_export
from inspector.backup import export as export_module
from inspector.backup.records import ANALYSIS_FIELDS, CAPTURE_FIELDS, FLAGS
from inspector.db import db, engine_options
from inspector.models import Bin, Capture, Secret
from inspector.signing import secretbox
from inspector.signing.samples import build_sample

KEY = "test-secret-key"  # conftest's app fixture encrypts secrets with it
GITHUB_SECRET = "gh-backup-secret-0123456789"
NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def engine_for(url: str):
    url = database_url(url, "")
    return create_engine(url, **engine_options(url))


def populate(app, client) -> None:
    """Bins with secrets and custom settings; captures with binary, non-UTF-8, empty, signed,
    truncated, incomplete, handshake and unanalysed rows."""
    full = client.post("/api/bins", json={"name": "backup-full"}).json["id"]
    plain = client.post("/api/bins", json={"name": "backup-plain"}).json["id"]
    client.post("/api/bins", json={"name": "backup-empty"})
    for label, value, provider in (("gh", GITHUB_SECRET, "github"), ("other", "another-secret-0123456789", None)):
        assert (
            client.post(
                f"/api/bins/{full}/secrets", json={"label": label, "value": value, "provider": provider}
            ).status_code
            == 201
        )
    settings = {
        "response": {
            "status": 202,
            "headers": [["X-Reply", "yes"], ["X-Reply", "twice"]],
            "body": "héllo ✓",
            "delay_ms": 5,
        },
        "forward": {"url": "http://127.0.0.1:9/in", "enabled": False},
        "handshakes": False,
        "public_base_url": "https://hooks.example.com",
        "max_requests": 50,
    }
    assert client.patch(f"/api/bins/{full}", json=settings).status_code == 200
    sample = build_sample("github", secret=GITHUB_SECRET, event="push", at=datetime.now(UTC))
    sends = [
        ("POST", f"/h/{full}/gh", sample.body, dict(sample.headers)),
        (
            "POST",
            f"/h/{full}/bin%2Fary?x=1&x=2&empty=",
            b"\xff\xfe\x00\x80 not utf-8 \r\n",
            {"Content-Type": "application/octet-stream"},
        ),
        ("GET", f"/h/{full}", b"", {}),
        ("PURGE", f"/h/{plain}/p?q=%E2%9C%93", b"\x00" * 3 + bytes(range(256)), {"X-Dup": "a"}),
    ]
    for method, url, body, headers in sends:
        assert client.open(url, method=method, data=body, headers=headers).status_code < 300
    with app.app_context():
        base = {"bin_id": plain, "method": "POST", "path": "/direct", "query_string": "", "remote_addr": "203.0.113.9"}
        db.session.add_all(
            [
                Capture(
                    **base,
                    received_at=NOW,
                    headers=[["Content-Type", "text/plain"]],
                    content_type="text/plain",
                    body=b"x" * 64,
                    body_size=1000,
                    body_truncated=True,
                    verdict="none",
                ),
                Capture(
                    **base,
                    received_at=NOW + timedelta(microseconds=1),
                    headers=[],
                    content_type="",
                    body=b"half",
                    body_size=4,
                    body_incomplete=True,
                    verdict="none",
                ),
                Capture(
                    **base,
                    received_at=NOW,
                    headers=[["X-Slack-Signature", "v0=1"]],
                    content_type="application/json",
                    body=b'{"type":"url_verification"}',
                    body_size=27,
                    handshake="slack url_verification",
                    provider_id="slack",
                    event="url_verification",
                    verdict="invalid",
                    signature={"scheme": "Slack v0=", "secret": None, "detail": "no", "debug": {}},
                ),
                Capture(
                    **base, received_at=NOW, headers=[["X-Lone", "\udcff"]], content_type="", body=b"", body_size=0
                ),  # unanalysed, and a lone surrogate in a header
            ]
        )
        db.session.commit()


def snapshot(engine) -> dict:
    """Every stored row, comparable across databases (secret and bin-internal ids left out)."""
    with engine.connect() as conn:
        bins = [dict(row._mapping) for row in conn.execute(select(Bin.__table__).order_by(Bin.id))]
        secrets = [
            dict(row._mapping) for row in conn.execute(select(Secret.__table__).order_by(Secret.bin_id, Secret.id))
        ]
        captures = [dict(row._mapping) for row in conn.execute(select(Capture.__table__).order_by(Capture.id))]
    for row in bins:
        row.pop("analysis_generation")
    for row in secrets:
        row.pop("id")
    return {"bins": bins, "secrets": secrets, "captures": captures}


def round_trip(source_engine, target_url: str) -> tuple[dict, object]:
    """Export `source_engine`, import into the empty database at `target_url`; (snapshot of
    the target, the import report)."""
    lines = list(export_lines(source_engine, now=NOW))
    target = engine_for(target_url)
    try:
        migrate.upgrade(target, lock_path=None)
        report = import_lines(target, lines, secret_key=KEY)
        return snapshot(target), report
    finally:
        target.dispose()


def app_engine(app):
    with app.app_context():
        return db.engine


def test_export_then_import_into_an_empty_database_is_identical(app, client, backend, tmp_path):
    populate(app, client)
    before = snapshot(app_engine(app))
    lines = list(export_lines(app_engine(app), now=NOW))
    app_engine(app).dispose()
    target = engine_for(fresh_database(backend, tmp_path))
    migrate.upgrade(target, lock_path=None)
    report = import_lines(target, lines, secret_key=KEY)
    after = snapshot(target)
    target.dispose()

    assert (report.bins, report.captures, report.secrets, report.ids_kept, report.undecryptable) == (3, 8, 2, True, 0)
    assert after == before
    assert {secretbox.decrypt(KEY, row["ciphertext"]) for row in after["secrets"]} == {
        GITHUB_SECRET,
        "another-secret-0123456789",
    }
    assert after["captures"][0]["verdict"] == "valid"


def test_a_new_capture_after_a_restore_gets_a_higher_id(app, client, backend, tmp_path, monkeypatch):
    populate(app, client)
    lines = list(export_lines(app_engine(app), now=NOW))
    highest = max(row["id"] for row in snapshot(app_engine(app))["captures"])
    app_engine(app).dispose()
    url = fresh_database(backend, tmp_path)
    target = engine_for(url)
    migrate.upgrade(target, lock_path=None)
    import_lines(target, lines)
    target.dispose()
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "restored"))
    restored = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": KEY, "ANALYSER": "inline"})
    answer = restored.test_client().post("/h/backup-plain/after", data=b"new")
    assert answer.status_code == 200 and answer.json["request_id"] > highest
    app_engine(restored).dispose()


def fresh_database(backend: str, tmp_path: Path) -> str:
    """An empty database other than the app fixture's (PostgreSQL: the same one, emptied)."""
    if backend == "postgresql":
        return database_for(backend, tmp_path)
    folder = tmp_path / "other"
    folder.mkdir(exist_ok=True)
    return "sqlite:///" + str(folder / "hookloupe.db")


@pytest.mark.postgres
def test_a_sqlite_export_imports_into_postgresql(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_for("sqlite", tmp_path), "SECRET_KEY": KEY, "ANALYSER": "inline"}
    )
    populate(app, app.test_client())
    before = snapshot(app_engine(app))
    after, report = round_trip(app_engine(app), database_for("postgresql", tmp_path))
    app_engine(app).dispose()
    assert after == before and report.ids_kept


def test_importing_the_same_file_twice_skips_the_bins_that_exist(app, client, backend, tmp_path):
    populate(app, client)
    engine = app_engine(app)
    lines = list(export_lines(engine, now=NOW))
    before = snapshot(engine)
    report = import_lines(engine, lines, secret_key=KEY)
    assert (report.bins, report.captures, report.secrets) == (0, 0, 0)
    assert (
        sorted(report.skipped_bins) == ["backup-empty", "backup-full", "backup-plain"] and report.skipped_captures == 8
    )
    assert snapshot(engine) == before


def test_import_into_a_database_with_captures_gives_new_ids_in_order(app, client, backend, tmp_path):
    populate(app, client)
    engine = app_engine(app)
    lines = list(export_lines(engine, now=NOW))
    before = snapshot(engine)
    renamed = [line.replace('"backup-', '"again-') for line in lines]  # the same bins, new names
    report = import_lines(engine, renamed, secret_key=KEY)
    assert report.captures == 8 and not report.ids_kept
    added = [row for row in snapshot(engine)["captures"] if row["bin_id"].startswith("again-")]
    assert min(row["id"] for row in added) > max(row["id"] for row in before["captures"])
    strip = lambda row: {k: v for k, v in row.items() if k not in ("id", "bin_id")}  # noqa: E731
    assert [strip(row) for row in added] == [strip(row) for row in before["captures"]]


def test_a_cut_off_export_imports_nothing(app, client, backend, tmp_path):
    populate(app, client)
    lines = list(export_lines(app_engine(app), now=NOW))
    target = engine_for(fresh_database(backend, tmp_path))
    migrate.upgrade(target, lock_path=None)
    empty = snapshot(target)
    with pytest.raises(BackupFormatError, match="cut short"):
        import_lines(target, lines[:-1])
    with pytest.raises(BackupFormatError, match="line 5 is not JSON"):
        import_lines(target, [*lines[:4], lines[4][:40], *lines[5:]])
    assert snapshot(target) == empty
    target.dispose()


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ('{"hello": 1}', "not a Hookloupe export"),
        ('{"format": "hookloupe-export", "version": 2}', "version 2"),
        ("", "not a Hookloupe export"),
    ],
)
def test_a_file_that_is_not_a_version_1_export_is_refused(app, first, message):
    with pytest.raises(BackupFormatError, match=message):
        import_lines(app_engine(app), [first])


def test_a_capture_of_a_bin_missing_from_the_file_is_refused(app):
    header = '{"format": "hookloupe-export", "version": 1, "capture_ids": [1, 1]}'
    capture = json.dumps({"type": "capture", "id": 1, "bin": "nowhere"})
    with pytest.raises(BackupFormatError, match=r"line 2: .*nowhere"):
        import_lines(app_engine(app), [header, capture, '{"type": "end", "bins": 0, "captures": 1}'])


def test_export_refuses_a_database_not_at_the_newest_schema(tmp_path):
    engine = engine_for(database_for("sqlite", tmp_path))
    migrate.upgrade(engine, lock_path=None)
    migrate.downgrade(engine, "0002", lock_path=None)
    with pytest.raises(SchemaError, match="db upgrade"):
        list(export_lines(engine, now=NOW))
    engine.dispose()


def test_every_capture_column_is_in_the_file():
    exported = {"id", "bin_id", "received_at", "body", *CAPTURE_FIELDS, *FLAGS, *ANALYSIS_FIELDS}
    assert {column.name for column in Capture.__table__.columns} == exported


def test_export_pages_through_bodies_in_bounded_reads(app, client, backend, monkeypatch):
    populate(app, client)
    whole = list(export_lines(app_engine(app), now=NOW))
    monkeypatch.setattr(export_module, "_ID_PAGE", 2)
    monkeypatch.setattr(export_module, "BODY_BYTES_PER_READ", 10)
    assert list(export_lines(app_engine(app), now=NOW)) == whole
    assert list(export_module.chunks_by_size([(1, 4), (2, 4), (3, 30), (4, 1)], export_module.BODY_BYTES_PER_READ)) == [
        [1, 2],
        [3],
        [4],
    ]


def test_export_is_one_snapshot_while_captures_arrive(app, client, backend):
    populate(app, client)
    lines = export_lines(app_engine(app), now=NOW)
    taken = [next(lines), next(lines)]  # the snapshot is open now
    arrived = threading.Thread(target=lambda: client.post("/h/backup-plain/late", data=b"late"))
    arrived.start()
    arrived.join(timeout=30)
    taken += list(lines)
    records = [json.loads(line) for line in taken]
    assert records[-1] == {"type": "end", "bins": 3, "captures": 8}
    assert "/late" not in {record.get("path") for record in records}


def test_write_export_leaves_no_partial_file_behind(app, client, tmp_path):
    populate(app, client)
    output = tmp_path / "backup.ndjson"
    assert write_export(app_engine(app), str(output), now=NOW) == {"bins": 3, "captures": 8}
    assert not (tmp_path / "backup.ndjson.partial").exists()
    assert output.read_text().splitlines()[0].startswith('{"format":"hookloupe-export","version":1')


def test_cli_export_and_import_round_trip(tmp_path, monkeypatch):
    """Once through the real commands, in subprocesses, between two SQLite instances."""
    source, target = tmp_path / "source", tmp_path / "target"
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(source))
    app = create_app({"TESTING": True, "SECRET_KEY": KEY, "ANALYSER": "inline"})
    populate(app, app.test_client())
    before = snapshot(app_engine(app))
    app_engine(app).dispose()
    backup = tmp_path / "all.ndjson"

    def hookloupe(*args: str, instance: Path, key: str = KEY) -> subprocess.CompletedProcess:
        env = {**os.environ, "HOOKLOUPE_INSTANCE_PATH": str(instance), "HOOKLOUPE_SECRET_KEY": key}
        env.pop("HOOKLOUPE_DATABASE_URL", None)
        return subprocess.run(
            [sys.executable, "-m", "inspector.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    exported = hookloupe("export", "--all", "--output", str(backup), instance=source)
    assert exported.returncode == 0, exported.stderr
    assert "exported 3 bins and 8 captures" in exported.stderr
    imported = hookloupe("import", str(backup), instance=target)
    assert imported.returncode == 0, imported.stderr
    assert "imported 3 bins, 8 captures (their ids kept) and 2 secrets" in imported.stdout
    assert imported.stderr == ""
    restored = engine_for("sqlite:///" + str(target / "hookloupe.db"))
    assert snapshot(restored) == before
    restored.dispose()
    elsewhere = hookloupe("import", str(backup), instance=tmp_path / "third", key="another-key")
    assert elsewhere.returncode == 0 and "2 of 2 imported secrets do not decrypt" in elsewhere.stderr
    assert GITHUB_SECRET not in elsewhere.stdout + elsewhere.stderr + backup.read_text()
    refused = hookloupe("export", instance=source)
    assert refused.returncode == 2 and "--all" in refused.stderr


@pytest.mark.postgres
def test_postgres_import_reserves_the_ids_it_keeps(tmp_path, monkeypatch):
    """After an import that kept ids, the id sequence is past them (a capture would collide otherwise)."""
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_for("sqlite", tmp_path), "SECRET_KEY": KEY, "ANALYSER": "inline"}
    )
    populate(app, app.test_client())
    lines = list(export_lines(app_engine(app), now=NOW))
    app_engine(app).dispose()
    target = engine_for(database_for("postgresql", tmp_path))
    migrate.upgrade(target, lock_path=None)
    import_lines(target, lines)
    with target.connect() as conn:
        following = conn.exec_driver_sql("SELECT nextval(pg_get_serial_sequence('captures', 'id'))").scalar_one()
    target.dispose()
    assert following > json.loads(lines[0])["capture_ids"][1]
