"""Schema migrations on every backend: a first-release database upgrades with its data intact, the
revisions build exactly the models' schema, upgrading is idempotent and safe to run in parallel,
and `hookloupe db` works on the server's database."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import ROOT, database_for
from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from inspector import create_app, database_url, migrate, search_index
from inspector.db import db, engine_options
from inspector.models import Bin, Capture, Delivery, ForwardJob, Secret
from inspector.signing import secretbox

# tests/fixtures/make_release_160a7fe.py made it by running the first release's own code.
RELEASE = json.loads((Path(__file__).parent / "fixtures" / "release_160a7fe.json").read_text())
MODELS = {"bins": Bin, "captures": Capture, "secrets": Secret, "deliveries": Delivery, "forward_jobs": ForwardJob}


def engine_for(url: str):
    url = database_url(url, "")
    return create_engine(url, **engine_options(url))


@pytest.fixture
def empty(backend, tmp_path):
    """The engine of an empty database."""
    engine = engine_for(database_for(backend, tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def release_url(backend, tmp_path):
    """The URL of a database exactly as the first release left it: its DDL, then its rows."""
    url = database_for(backend, tmp_path)
    engine = engine_for(url)
    load_release(backend, engine)
    engine.dispose()
    return url


def load_release(backend: str, engine) -> None:
    dump = RELEASE["dialects"][backend]
    with engine.begin() as conn:
        for statement in dump["ddl"] + dump["data"]:
            # The driver's own cursor: no parameters, so a "%" in the data is just a character.
            conn.connection.driver_connection.execute(statement)


@pytest.fixture
def release(release_url):
    engine = engine_for(release_url)
    yield engine
    engine.dispose()


def release_rows(backend: str, table: str) -> list[dict]:
    return RELEASE["dialects"][backend]["rows"][table]


def comparable(value):
    """A value read through a model, in the fixture's form (datetimes compared in UTC)."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, datetime):
        return {"iso": value.astimezone(UTC).isoformat()}
    return value


def in_utc(row: dict) -> dict:
    return {
        key: {"iso": datetime.fromisoformat(value["iso"]).astimezone(UTC).isoformat()}
        if isinstance(value, dict) and "iso" in value
        else value
        for key, value in row.items()
    }


def schema_differences(engine) -> list:
    """What autogenerate would change to make the database match the current models."""
    with engine.connect() as conn:
        # The text search index's tables are raw DDL, not models (inspector/search_index.py).
        opts = {
            "compare_type": True,
            "compare_server_default": True,
            "include_name": lambda name, type_, _parent: type_ != "table" or not search_index.is_index_table(name),
        }
        context = MigrationContext.configure(conn, opts=opts)
        return compare_metadata(context, db.metadata)


def sqlite_table_sql(engine, table: str) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}).scalar()


def index_definitions(engine) -> set[str]:
    """Every index as the database states it, partial indexes' WHERE included (which
    compare_metadata does not look at)."""
    if engine.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    with engine.connect() as conn:
        return {" ".join(definition.split()) for definition in conn.execute(text(query)).scalars()}


def upgrade(engine, tmp_path):
    return migrate.upgrade(engine, lock_path=str(tmp_path / "schema.lock"))


# --- a first-release database ------------------------------------------------------------------


def test_release_fixture_holds_what_the_upgrade_must_keep(backend):
    captures = {row["path"]: row for row in release_rows(backend, "captures")}
    assert base64.b64decode(captures["/bytes"]["body"]["base64"]) == b"\xff\xfe\x00\x80binary\r\n"
    assert captures["/bytes"]["query_string"] == "q=%E2%9C%93&q=%FF&t=a+b"
    assert captures["/github"]["verdict"] == "valid" and captures["/github"]["provider_id"] == "github"
    assert {row["kind"] for row in release_rows(backend, "deliveries")} == {"replay", "forward"}
    assert {row["state"] for row in release_rows(backend, "forward_jobs")} == {"done", "pending"}


def test_release_database_is_upgraded_with_every_row_intact(backend, release, tmp_path):
    outcome = upgrade(release, tmp_path)
    assert (outcome.before, outcome.after, outcome.stamped) == (migrate.FIRST_RELEASE, migrate.head(), True)
    with Session(release) as session:
        for table, model in MODELS.items():
            expected = [in_utc(row) for row in release_rows(backend, table)]
            found = session.scalars(select(model).order_by(model.id)).all()
            got = [{key: comparable(getattr(row, key)) for key in expected[0]} for row in found]
            if table == "captures":
                # The first release's verdicts are forgotten: the analyser re-analyses every row.
                expected = [{**row, "verdict": None} for row in expected]
                assert [(row.verdict, row.signature) for row in found] == [(None, None)] * len(found)
            assert got == expected, table
        assert {row.analysis_generation for row in session.scalars(select(Bin))} == {0}
        for secret in session.scalars(select(Secret)):
            assert secretbox.decrypt(RELEASE["secret_key"], secret.ciphertext) == RELEASE["secret_values"][secret.label]


def test_upgraded_release_database_has_exactly_the_models_schema(backend, release, tmp_path):
    upgrade(release, tmp_path)
    assert schema_differences(release) == []
    if backend == "sqlite":
        assert "AUTOINCREMENT" in sqlite_table_sql(release, "captures")
        assert "AUTOINCREMENT" in sqlite_table_sql(release, "deliveries")


def test_app_start_upgrades_a_release_database(release_url, release, tmp_path, monkeypatch):
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {"TESTING": True, "DATABASE_URL": release_url, "SECRET_KEY": RELEASE["secret_key"], "ANALYSER": "off"}
    )
    try:
        assert migrate.current(release) == migrate.head()
        client = app.test_client()
        assert client.get("/api/bins/release-a/requests/2/raw").get_data() == b"\xff\xfe\x00\x80binary\r\n"
        assert client.post("/h/release-a/after-upgrade", data=b"new").status_code == 202
        with release.connect() as conn:
            newest = conn.execute(text("SELECT max(id) FROM captures")).scalar()
        assert newest == 7  # after 6, the id the first release deleted: ids are never reused
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_failed_upgrade_leaves_the_database_as_it_was(release, tmp_path):
    with release.begin() as conn:  # a column in the way makes revision 0002 fail halfway
        conn.exec_driver_sql("ALTER TABLE captures ADD COLUMN signature TEXT")
    with pytest.raises(DBAPIError):
        upgrade(release, tmp_path)
    assert not inspect(release).has_table("alembic_version")
    assert "analysis_generation" not in {column["name"] for column in inspect(release).get_columns("bins")}
    with release.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM captures WHERE verdict IS NOT NULL")).scalar() == 3


def test_downgrade_to_the_release_and_back_keeps_the_data(backend, release, tmp_path):
    upgrade(release, tmp_path)
    migrate.downgrade(release, migrate.FIRST_RELEASE, lock_path=None)
    assert migrate.current(release) == migrate.FIRST_RELEASE
    columns = {column["name"] for column in inspect(release).get_columns("captures")}
    assert columns == set(release_rows(backend, "captures")[0])
    with release.connect() as conn:
        counts = {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() for table in MODELS}
    assert counts == {table: len(release_rows(backend, table)) for table in MODELS}
    if backend == "sqlite":
        assert "AUTOINCREMENT" in sqlite_table_sql(release, "captures")
        with release.connect() as conn:
            assert conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'captures'")).scalar() == 6
    assert str(upgrade(release, tmp_path)) == f"upgraded {migrate.FIRST_RELEASE} → {migrate.head()}"
    assert schema_differences(release) == []


# --- the revisions ----------------------------------------------------------------------------


def test_first_revision_is_the_release_schema_statement_for_statement(backend, empty):
    sent = []

    def record(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("CREATE") and "alembic_version" not in statement:
            sent.append(" ".join(statement.split()))

    event.listen(empty, "before_cursor_execute", record)
    with empty.connect() as conn:
        if backend == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        command.upgrade(migrate.alembic_config(conn), migrate.FIRST_RELEASE)
        conn.commit()
    release_ddl = [" ".join(statement.split()) for statement in RELEASE["dialects"][backend]["ddl"]]
    assert sorted(sent) == sorted(release_ddl)


def test_revisions_from_empty_build_exactly_the_models_schema(backend, empty):
    with empty.connect() as conn:
        if backend == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        command.upgrade(migrate.alembic_config(conn), "head")
        conn.commit()
    assert schema_differences(empty) == []
    if backend == "sqlite":
        assert "AUTOINCREMENT" in sqlite_table_sql(empty, "captures")


def test_created_revised_and_upgraded_databases_have_the_same_indexes(backend, tmp_path):
    definitions = []
    for way in ("created", "revisions", "release"):
        (tmp_path / way).mkdir()
        url = database_for(backend, tmp_path / way)
        engine = engine_for(url)
        if way == "release":
            load_release(backend, engine)
        if way == "revisions":
            with engine.connect() as conn:
                if backend == "sqlite":
                    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                command.upgrade(migrate.alembic_config(conn), "head")
                conn.commit()
        else:
            upgrade(engine, tmp_path / way)
        definitions.append(index_definitions(engine))
        engine.dispose()
    assert definitions[0] == definitions[1] == definitions[2]
    assert any("ix_captures_unanalysed" in d and "verdict IS NULL" in d for d in definitions[0])


def test_empty_database_is_created_at_head(empty, tmp_path):
    outcome = upgrade(empty, tmp_path)
    assert outcome.created and migrate.current(empty) == migrate.head()
    assert schema_differences(empty) == []


def test_upgrade_twice_is_a_no_op(empty, tmp_path):
    assert upgrade(empty, tmp_path).created
    again = upgrade(empty, tmp_path)
    assert (again.before, again.after, again.created, str(again)) == (
        *[migrate.head()] * 2,
        False,
        f"already at {migrate.head()}",
    )


def test_upgrade_of_a_release_database_twice_is_a_no_op(release, tmp_path):
    assert upgrade(release, tmp_path).stamped
    again = upgrade(release, tmp_path)
    assert (again.before, again.after, again.stamped) == (migrate.head(), migrate.head(), False)


def test_a_database_from_a_newer_version_is_refused(empty, tmp_path):
    upgrade(empty, tmp_path)
    with empty.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(migrate.NewerSchemaError, match="revision 9999"):
        upgrade(empty, tmp_path)
    assert migrate.current(empty) == "9999"


def test_downgrade_to_base_drops_every_table(empty, tmp_path):
    upgrade(empty, tmp_path)
    migrate.downgrade(empty, "base", lock_path=None)
    assert set(inspect(empty).get_table_names()) <= {"alembic_version"}
    assert migrate.current(empty) is None


def test_history_lists_the_revisions_newest_first():
    revisions = migrate.history()
    assert [revision.id for revision in revisions][-2:] == ["0002", "0001"]
    assert revisions[0].is_head and revisions[0].id == migrate.head()
    assert revisions[-1].down is None and revisions[-1].message == "first release, 160a7fe"


# --- the command line -------------------------------------------------------------------------


def run_db(action: str, env: dict, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector.cli", "db", action],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def server_env(backend: str, url: str, tmp_path: Path) -> dict:
    """The environment of a server on this database: SQLite lives in the instance folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOOKLOUPE_")}
    instance = Path(url.removeprefix("sqlite:///")).parent if backend == "sqlite" else tmp_path / "instance"
    env["HOOKLOUPE_INSTANCE_PATH"] = str(instance)
    if backend == "postgresql":
        env["HOOKLOUPE_DATABASE_URL"] = url
    return env


def test_cli_upgrade_creates_an_empty_sqlite_database_in_the_instance(tmp_path):
    env = server_env("sqlite", "sqlite:///" + str(tmp_path / "instance" / "hookloupe.db"), tmp_path)
    assert run_db("current", env).stdout.startswith("none")
    assert not (tmp_path / "instance" / "hookloupe.db").exists()  # `current` creates nothing
    first = run_db("upgrade", env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"created the schema at {migrate.head()}"
    engine = engine_for("sqlite:///" + str(tmp_path / "instance" / "hookloupe.db"))
    assert set(MODELS) <= set(inspect(engine).get_table_names())
    engine.dispose()
    again = run_db("upgrade", env)
    assert again.returncode == 0 and again.stdout.strip() == f"already at {migrate.head()}"
    current = run_db("current", env)
    assert current.returncode == 0 and current.stdout.strip() == migrate.head()


def test_cli_upgrades_a_release_database(backend, release_url, tmp_path):
    env = server_env(backend, release_url, tmp_path)
    assert "first release" in run_db("current", env).stdout
    result = run_db("upgrade", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"upgraded {migrate.FIRST_RELEASE} → {migrate.head()}")
    assert run_db("current", env).stdout.strip() == migrate.head()


def test_parallel_upgrades_upgrade_once(backend, release_url, tmp_path):
    env = server_env(backend, release_url, tmp_path)
    os.makedirs(env["HOOKLOUPE_INSTANCE_PATH"], exist_ok=True)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "inspector.cli", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(process.wait(timeout=60), *process.communicate()) for process in processes]
    assert [code for code, _, _ in results] == [0] * 4, [err for _, _, err in results]
    outputs = sorted(out.strip() for _, out, _ in results)
    assert sum(out.startswith("upgraded") for out in outputs) == 1
    assert outputs.count(f"already at {migrate.head()}") == 3


def test_cli_history_lists_the_revisions():
    result = run_db("history", dict(os.environ))
    assert result.returncode == 0
    assert "<base> -> 0001, first release, 160a7fe" in result.stdout
    assert f"-> {migrate.head()} (head)" in result.stdout
