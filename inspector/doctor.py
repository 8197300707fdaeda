"""`hookloupe doctor`: check what a server needs before it starts — settings, database, key, data directory.

Each check is a plain function returning a `Check` (ok or not, and one plain sentence); they
read the environment and the database as `hookloupe serve` would, and change nothing: no
schema upgrade, no generated key, no new SQLite file — which is why they open their own engine
instead of building the app (create_app does all three). A secret is never printed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect, make_url, select, text
from sqlalchemy.exc import ArgumentError

from inspector import _TEXT_SETTINGS, database_url, migrate
from inspector import config as default_config

_CHOICES = {"ANALYSER": ("background", "inline", "off")}
# Seconds to wait for PostgreSQL to answer before saying it does not.
_CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Check:
    """One check's outcome: `sentence` says what was found, and on failure what to do."""

    name: str
    ok: bool
    sentence: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.sentence}"


def run_checks(environ: Mapping[str, str]) -> list[Check]:
    """Every check, in order, for a server started with `environ` (usually os.environ)."""
    settings, problems = load_settings(environ)
    instance_path = os.path.abspath(environ.get("HOOKLOUPE_INSTANCE_PATH", "instance"))
    checks = [
        check_settings(problems, environ),
        check_forward_deny(settings.get("FORWARD_DENY")),
        check_base_url(settings.get("BASE_URL")),
        check_data_directory(instance_path),
    ]
    try:
        url = database_url(settings.get("DATABASE_URL"), instance_path)
        make_url(url)
    except ArgumentError:
        return [*checks, Check("database", False, "HOOKLOUPE_DATABASE_URL is not a database URL.")]
    key, key_source = secret_key(settings, instance_path)
    return checks + check_database(url, key, key_source)


def load_settings(environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """config.py's defaults overridden by `HOOKLOUPE_<NAME>` as create_app reads them (JSON
    when the value parses as JSON, else text), and a sentence per value of the wrong kind."""
    defaults = {name: getattr(default_config, name) for name in dir(default_config) if name.isupper()}
    settings = dict(defaults)
    problems = []
    for name, default in defaults.items():
        raw = environ.get(f"HOOKLOUPE_{name}")
        if raw is None:
            continue
        value = raw if name in _TEXT_SETTINGS else _json_or_text(raw)
        settings[name] = value
        if (problem := _kind_problem(name, value, default)) is not None:
            problems.append(f"HOOKLOUPE_{name}={raw!r} {problem}")
    return settings, problems


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _kind_problem(name: str, value: Any, default: Any) -> str | None:
    """Why `value` cannot stand in for `default`; None when it can."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "is not true or false"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else "is not a whole number"
    if isinstance(default, float):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "is not a number"
    if isinstance(default, str) and not isinstance(value, str):
        return "is not text"
    if name in _CHOICES and value not in _CHOICES[name]:
        return f"is not one of {', '.join(_CHOICES[name])}"
    return None


def check_settings(problems: list[str], environ: Mapping[str, str]) -> Check:
    """Every HOOKLOUPE_* setting has a value of its default's kind."""
    if problems:
        return Check("settings", False, "; ".join(problems) + ".")
    count = sum(1 for name in environ if name.startswith("HOOKLOUPE_"))
    return Check("settings", True, f"{count} HOOKLOUPE_* variables set; every setting has a usable value.")


def check_forward_deny(spec: Any) -> Check:
    """FORWARD_DENY parses as a list of networks (a bad one stops the server from starting)."""
    from inspector.delivery.outbound import parse_deny

    try:
        networks = parse_deny(spec if isinstance(spec, str) else str(spec))
    except ValueError as error:
        return Check("forward deny", False, f"HOOKLOUPE_FORWARD_DENY is not a list of networks: {error}.")
    return Check("forward deny", True, f"replay and auto-forward never call {len(networks)} networks.")


def check_base_url(base_url: Any) -> Check:
    """BASE_URL, when set, is an absolute http(s) URL (capture URLs are built on it)."""
    from inspector.bins import is_http_url

    if not base_url:
        return Check("base url", True, "not set: URLs are built from each request's Host (set it behind a proxy).")
    if not is_http_url(str(base_url)):
        return Check("base url", False, f"HOOKLOUPE_BASE_URL={str(base_url)!r} is not an http(s) URL.")
    return Check("base url", True, f"capture URLs start with {base_url}.")


def check_data_directory(instance_path: str) -> Check:
    """The instance folder (SQLite, the generated key, the schema lock) can be written: a
    file is created in it and removed, or, while it does not exist, in its nearest parent."""
    existing = Path(instance_path)
    while not existing.exists():
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return Check("data directory", False, f"{existing} is not writable ({error.strerror}).")
    if existing != Path(instance_path):
        return Check(
            "data directory", True, f"{instance_path} will be created at the first start ({existing} is writable)."
        )
    return Check("data directory", True, f"{instance_path} is writable.")


def secret_key(settings: Mapping[str, Any], instance_path: str) -> tuple[str | None, str]:
    """The key the server would use and where it comes from; (None, why) when there is none
    yet (the server generates instance/secret_key at its first start)."""
    if settings.get("SECRET_KEY"):
        return str(settings["SECRET_KEY"]), "HOOKLOUPE_SECRET_KEY"
    path = os.path.join(instance_path, "secret_key")
    try:
        key = Path(path).read_text().strip()
    except FileNotFoundError:
        return None, f"no HOOKLOUPE_SECRET_KEY and no {path}"
    except OSError as error:
        return None, f"{path} cannot be read ({error.strerror})"
    return (key, path) if key else (None, f"{path} is empty")


def check_database(url: str, key: str | None, key_source: str) -> list[Check]:
    """Three checks on the database: it answers, its schema is at head, the key decrypts
    its secrets. A SQLite file that does not exist yet is not created."""
    where = make_url(url).render_as_string(hide_password=True)
    sqlite_file = make_url(url).database if url.startswith("sqlite") else None
    if sqlite_file and not os.path.exists(sqlite_file):
        nothing = "nothing to check yet"
        return [
            Check("database", True, f"no database yet at {sqlite_file}: the server creates it at its first start."),
            Check("schema", True, nothing + "."),
            Check(
                "secrets", True, nothing + ("." if key else f" ({key_source}: one is generated at the first start).")
            ),
        ]
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # any failure to connect is the finding, in one line
        engine.dispose()
        unchecked = "not checked: the database does not answer."
        return [
            Check("database", False, f"{where} does not answer: {type(error).__name__}: {_first_line(error)}"),
            Check("schema", False, unchecked),
            Check("secrets", False, unchecked),
        ]
    try:
        return [_database_answers(where, sqlite_file), check_schema(engine), check_secrets(engine, key, key_source)]
    finally:
        engine.dispose()


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": _CONNECT_TIMEOUT_S})
    return create_engine(url, connect_args={"connect_timeout": _CONNECT_TIMEOUT_S})


def _database_answers(where: str, sqlite_file: str | None) -> Check:
    """The database answered; a SQLite file must also be writable (captures would get 503)."""
    if sqlite_file:
        try:
            with open(sqlite_file, "r+b"):
                pass
        except OSError as error:
            return Check("database", False, f"{sqlite_file} answers but is not writable ({error.strerror}).")
    return Check("database", True, f"{where} answers.")


def check_schema(engine: Engine) -> Check:
    """The schema is at the head revision (or the database is empty, which a start fills)."""
    head = migrate.head()
    current = migrate.current(engine)
    upgrade = "run `hookloupe db upgrade` (the server also upgrades when it starts)"
    if current == head:
        return Check("schema", True, f"at the newest revision, {head}.")
    if current is None and migrate.is_unversioned(engine):
        return Check("schema", False, f"made by the first release (no version table); {upgrade}.")
    if current is None:
        return Check("schema", True, f"the database is empty; the server creates the schema ({head}) when it starts.")
    if current in {revision.id for revision in migrate.history()}:
        return Check("schema", False, f"at revision {current}, the newest is {head}; {upgrade}.")
    return Check("schema", False, f"at revision {current}, unknown to this version (a newer Hookloupe upgraded it).")


def check_secrets(engine: Engine, key: str | None, key_source: str) -> Check:
    """Every stored secret decrypts with the key; how many do not (values are never shown)."""
    from inspector.models import Secret
    from inspector.signing import secretbox

    if not inspect(engine).has_table("secrets"):
        return Check("secrets", True, "no secrets table yet.")
    with engine.connect() as conn:
        ciphertexts = list(conn.execute(select(Secret.__table__.c.ciphertext)).scalars())
    if not ciphertexts:
        return Check("secrets", True, "no stored secrets to decrypt.")
    if key is None:
        return Check("secrets", False, f"{len(ciphertexts)} stored secrets but no key to decrypt them: {key_source}.")
    failed = 0
    for ciphertext in ciphertexts:
        try:
            secretbox.decrypt(key, ciphertext)
        except secretbox.SecretKeyChangedError:
            failed += 1
    if failed:
        return Check(
            "secrets",
            False,
            f"{failed} of {len(ciphertexts)} stored secrets do not decrypt with the key from {key_source}: "
            "they were saved under another SECRET_KEY (set the original one).",
        )
    return Check("secrets", True, f"every stored secret ({len(ciphertexts)}) decrypts with the key from {key_source}.")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]
