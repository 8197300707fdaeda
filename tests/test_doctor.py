"""`hookloupe doctor` (inspector/doctor.py): a good setup passes every check; each broken one —
wrong secret key, old schema, read-only data directory, bad settings, no database — fails
with its own line, and no secret is ever printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT, database_for
from faults_helpers import require_read_only_files
from sqlalchemy import create_engine

from inspector import create_app, database_url, migrate
from inspector.db import db
from inspector.doctor import Check, load_settings, run_checks

KEY = "doctor-secret-key"
SECRET = "doctor-signing-secret-0123456789"


@pytest.fixture
def setup(backend, tmp_path, monkeypatch):
    """A server's environment whose database holds a bin with a secret, saved under KEY."""
    instance = tmp_path / "instance"
    url = database_for(backend, tmp_path)
    monkeypatch.setenv("HOOKLOUPE_INSTANCE_PATH", str(instance))
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": KEY, "ANALYSER": "off"})
    client = app.test_client()
    bin_id = client.post("/api/bins", json={}).json["id"]
    assert client.post(f"/api/bins/{bin_id}/secrets", json={"label": "s", "value": SECRET}).status_code == 201
    with app.app_context():
        db.engine.dispose()
    return {"HOOKLOUPE_INSTANCE_PATH": str(instance), "HOOKLOUPE_DATABASE_URL": url, "HOOKLOUPE_SECRET_KEY": KEY}


def lines(checks: list[Check]) -> list[str]:
    return [str(check) for check in checks]


def failing(checks: list[Check]) -> dict[str, str]:
    return {check.name: check.sentence for check in checks if not check.ok}


def test_a_good_setup_passes_every_check(setup):
    checks = run_checks(setup)
    assert failing(checks) == {}
    assert [check.name for check in checks] == [
        "settings",
        "forward deny",
        "base url",
        "data directory",
        "database",
        "schema",
        "secrets",
    ]
    assert f"ok    schema: at the newest revision, {migrate.head()}." in lines(checks)
    assert "ok    secrets: every stored secret (1) decrypts with the key from HOOKLOUPE_SECRET_KEY." in lines(checks)


def test_a_wrong_secret_key_fails_the_secrets_check(setup):
    checks = run_checks({**setup, "HOOKLOUPE_SECRET_KEY": "another-key"})
    assert failing(checks) == {
        "secrets": "1 of 1 stored secrets do not decrypt with the key from HOOKLOUPE_SECRET_KEY: "
        "they were saved under another SECRET_KEY (set the original one)."
    }
    assert not any(SECRET in line or "another-key" in line for line in lines(checks))


def test_the_key_is_read_from_the_instance_folder_when_not_set(setup, tmp_path):
    environ = {name: value for name, value in setup.items() if name != "HOOKLOUPE_SECRET_KEY"}
    assert "no HOOKLOUPE_SECRET_KEY and no" in failing(run_checks(environ))["secrets"]
    (tmp_path / "instance" / "secret_key").write_text(KEY)
    assert failing(run_checks(environ)) == {}


def test_an_old_schema_fails_the_schema_check(setup):
    engine = engine_for(setup)
    migrate.downgrade(engine, "0002", lock_path=None)
    engine.dispose()
    assert failing(run_checks(setup)) == {
        "schema": f"at revision 0002, the newest is {migrate.head()}; "
        "run `hookloupe db upgrade` (the server also upgrades when it starts)."
    }


def test_a_first_release_database_fails_the_schema_check(setup):
    engine = engine_for(setup)
    migrate.downgrade(engine, migrate.FIRST_RELEASE, lock_path=None)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()
    assert "made by the first release" in failing(run_checks(setup))["schema"]


def test_a_schema_from_a_newer_version_fails_the_schema_check(setup):
    engine = engine_for(setup)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    assert "unknown to this version" in failing(run_checks(setup))["schema"]


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` cannot be written for the block: the immutable attribute as root (file modes do
    not bind root), else a mode without write permission."""
    require_read_only_files(path.parent)
    mode = path.stat().st_mode
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True, timeout=10)
    else:
        path.chmod(mode & ~0o222)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True, timeout=10)
        else:
            path.chmod(mode)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_read_only_data_directory_fails(setup, tmp_path):
    instance = tmp_path / "instance"
    with read_only(instance):
        failed = failing(run_checks(setup))
    assert list(failed) == ["data directory"]
    assert failed["data directory"].startswith(f"{instance} is not writable (")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_read_only_sqlite_file_fails_the_database_check(setup, tmp_path):
    with read_only(tmp_path / "hookloupe.db"):
        failed = failing(run_checks(setup))
    assert list(failed) == ["database"]
    assert failed["database"].startswith(f"{tmp_path / 'hookloupe.db'} answers but is not writable (")


@pytest.mark.parametrize(
    ("variable", "value", "check", "sentence"),
    [
        (
            "HOOKLOUPE_FORWARD_DENY",
            "10.0.0.0/8,nonsense",
            "forward deny",
            "HOOKLOUPE_FORWARD_DENY is not a list of networks",
        ),
        (
            "HOOKLOUPE_BASE_URL",
            "hooks.example.com",
            "base url",
            "HOOKLOUPE_BASE_URL='hooks.example.com' is not an http(s) URL.",
        ),
        ("HOOKLOUPE_MAX_BODY_BYTES", "10MB", "settings", "HOOKLOUPE_MAX_BODY_BYTES='10MB' is not a whole number."),
        ("HOOKLOUPE_FORWARDER", "yes", "settings", "HOOKLOUPE_FORWARDER='yes' is not true or false."),
        (
            "HOOKLOUPE_ANALYSER",
            "sometimes",
            "settings",
            "HOOKLOUPE_ANALYSER='sometimes' is not one of background, inline, off.",
        ),
        ("HOOKLOUPE_FORWARD_DENY", "123", "settings", "HOOKLOUPE_FORWARD_DENY='123' is not text."),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_bad_setting_fails_its_check(setup, variable, value, check, sentence):
    failed = failing(run_checks({**setup, variable: value}))
    assert set(failed) <= {check, "forward deny"} and failed[check].startswith(sentence)


def test_settings_are_read_as_the_app_reads_them():
    settings, problems = load_settings({"HOOKLOUPE_MAX_BODY_BYTES": "2048", "HOOKLOUPE_SECRET_KEY": "1234"})
    assert (settings["MAX_BODY_BYTES"], settings["SECRET_KEY"], problems) == (2048, "1234", [])
    assert load_settings({"HOOKLOUPE_ANALYSIS_WAIT_S": "0.5"})[1] == []


def test_a_database_that_does_not_answer_fails(tmp_path):
    environ = {
        "HOOKLOUPE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOOKLOUPE_DATABASE_URL": "postgresql://hookloupe:pw-never-shown@127.0.0.1:9/nothing",
    }
    checks = run_checks(environ)
    failed = failing(checks)
    assert set(failed) == {"database", "schema", "secrets"}
    assert failed["database"].startswith("postgresql+psycopg://hookloupe:***@127.0.0.1:9/nothing does not answer")
    assert not any("pw-never-shown" in line for line in lines(checks))


def test_a_new_install_passes_without_creating_anything(tmp_path):
    instance = tmp_path / "instance"
    checks = run_checks({"HOOKLOUPE_INSTANCE_PATH": str(instance)})
    assert failing(checks) == {}
    assert not instance.exists()
    assert f"ok    data directory: {instance} will be created at the first start ({tmp_path} is writable)." in lines(
        checks
    )


@pytest.mark.parametrize("backend", ["sqlite"])
def test_cli_doctor_prints_one_line_per_check_and_exits_1_on_a_failure(setup):
    def doctor(environ: dict[str, str]) -> subprocess.CompletedProcess:
        env = {name: value for name, value in os.environ.items() if not name.startswith("HOOKLOUPE_")}
        return subprocess.run(
            [sys.executable, "-m", "inspector.cli", "doctor"],
            cwd=ROOT,
            env={**env, **environ},
            capture_output=True,
            text=True,
            timeout=60,
        )

    good = doctor(setup)
    assert good.returncode == 0, good.stdout + good.stderr
    assert len(good.stdout.splitlines()) == 7 and all(line.startswith("ok ") for line in good.stdout.splitlines())
    bad = doctor({**setup, "HOOKLOUPE_SECRET_KEY": "wrong"})
    assert bad.returncode == 1
    assert [line for line in bad.stdout.splitlines() if line.startswith("FAIL")] == [
        "FAIL  secrets: 1 of 1 stored secrets do not decrypt with the key from HOOKLOUPE_SECRET_KEY: "
        "they were saved under another SECRET_KEY (set the original one)."
    ]


def engine_for(environ: dict[str, str]):
    return create_engine(database_url(environ["HOOKLOUPE_DATABASE_URL"], ""))
