"""The `hookloupe` command: serve, listen, send, db, export/import, doctor; and wait, bins, requests, mcp (remote.py)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from datetime import UTC

# serve's code is in serve.py; these names stay importable from here (tests, bench/).
from inspector.serve import _fresh_metrics_dir as _fresh_metrics_dir
from inspector.serve import default_workers as default_workers
from inspector.serve import serve_options as serve_options
from inspector.serve import server_limits as server_limits


def serve(args: argparse.Namespace) -> int:
    """`serve`: gunicorn with the production settings (inspector/serve.py)."""
    from inspector.serve import serve as run_server

    return run_server(args.host, args.port, args.workers, args.connections)


def listen(args: argparse.Namespace) -> int:
    """`listen`: exit 2 at once for a malformed URL or one that names no bin (retrying cannot
    help); a server that refuses the connection is retried until Ctrl-C (then exit 0)."""
    from inspector.delivery.relay import Relay, RelayError, local_target
    from inspector.remote import token

    try:
        target = local_target(args.to)  # `localhost:3000/hooks` means http://localhost:3000/hooks
        relay = Relay(args.bin_url, target, out=lambda line: print(line, flush=True), token=token(args.token))
    except RelayError as error:
        print(f"hookloupe listen: {error}", file=sys.stderr)
        return 2
    try:
        relay.run()
    except RelayError as error:
        print(f"hookloupe listen: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nstopped: {relay.relayed} relayed, {relay.failed} failed", flush=True)
    return 0


def send(args: argparse.Namespace) -> int:
    """Send one correctly signed sample of a provider to a target URL; print the answer."""
    from datetime import datetime

    import httpx

    from inspector.bins import is_http_url
    from inspector.signing.samples import build_sample, signable_providers
    from inspector.signing.schemes import SignatureError

    if args.provider not in signable_providers():
        print(
            f"hookloupe send: cannot sign as {args.provider!r}; choose one of: {', '.join(signable_providers())}",
            file=sys.stderr,
        )
        return 2
    if not is_http_url(args.url):
        print(f"hookloupe send: {args.url!r} is not an http(s) URL", file=sys.stderr)
        return 2
    try:
        sample = build_sample(args.provider, secret=args.secret, event=args.event, at=datetime.now(UTC), url=args.url)
    except (SignatureError, ValueError) as error:
        print(f"hookloupe send: {error}", file=sys.stderr)
        return 2
    try:
        response = httpx.request(
            sample.method, args.url + sample.path_suffix, headers=sample.headers, content=sample.body, timeout=30
        )
    except httpx.HTTPError as error:
        print(f"hookloupe send: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"{sample.method} {args.url} → {response.status_code}")
    print(response.text[:2000])
    return 0 if response.is_success else 1


def database(args: argparse.Namespace) -> int:
    """`db upgrade|current|history` on the database the server would use: HOOKLOUPE_DATABASE_URL,
    else SQLite in the instance folder (HOOKLOUPE_INSTANCE_PATH, default ./instance)."""
    from sqlalchemy import make_url

    from inspector import database_url, migrate
    from inspector.db import make_engine

    if args.action == "history":
        for revision in migrate.history():
            head = " (head)" if revision.is_head else ""
            print(f"{revision.down or '<base>'} -> {revision.id}{head}, {revision.message}")
        return 0
    instance_path = os.path.abspath(os.environ.get("HOOKLOUPE_INSTANCE_PATH", "instance"))
    url = database_url(os.environ.get("HOOKLOUPE_DATABASE_URL"), instance_path)
    sqlite_file = make_url(url).database if url.startswith("sqlite") else None
    if args.action == "current" and sqlite_file and not os.path.exists(sqlite_file):
        print(f"none (no database at {sqlite_file})")  # and `current` does not create one
        return 0
    os.makedirs(instance_path, exist_ok=True)
    engine = make_engine(url)
    try:
        if args.action == "upgrade":
            print(migrate.upgrade(engine, lock_path=os.path.join(instance_path, "schema.lock")))
        elif (at := migrate.current(engine)) is not None:
            print(at)
        elif migrate.is_unversioned(engine):
            print(f"none (made by the first release, schema {migrate.FIRST_RELEASE}; run `hookloupe db upgrade`)")
        else:
            print("none (empty database)")
    except Exception as error:  # any database error is reported in one line, not as a traceback
        print(f"hookloupe db {args.action}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def _server_database() -> tuple[str, str]:
    """(database URL, instance folder) the server would use: HOOKLOUPE_DATABASE_URL, else
    SQLite in HOOKLOUPE_INSTANCE_PATH (default ./instance)."""
    from inspector import database_url

    instance_path = os.path.abspath(os.environ.get("HOOKLOUPE_INSTANCE_PATH", "instance"))
    return database_url(os.environ.get("HOOKLOUPE_DATABASE_URL"), instance_path), instance_path


def export(args: argparse.Namespace) -> int:
    """`export --all [--output FILE]`: the server's whole database as NDJSON (inspector/backup);
    `export <bin URL>` is remote_export.export_bin."""
    from datetime import datetime

    from sqlalchemy import make_url

    from inspector.backup import write_export
    from inspector.db import make_engine

    url, _instance_path = _server_database()
    sqlite_file = make_url(url).database if url.startswith("sqlite") else None
    if sqlite_file and not os.path.exists(sqlite_file):
        print(f"hookloupe export: no database at {sqlite_file}", file=sys.stderr)
        return 1
    engine = make_engine(url)
    try:
        counts = write_export(engine, args.output, now=datetime.now(UTC))
    except Exception as error:  # a database or file error is reported in one line, not as a traceback
        print(f"hookloupe export: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(
        f"exported {counts['bins']} bins and {counts['captures']} captures to {args.output or 'stdout'}",
        file=sys.stderr,
    )
    return 0


def import_(args: argparse.Namespace) -> int:
    """`import FILE`: an export into the server's database, brought to the newest schema first
    (`import <bin URL> FILE` is remote_export.import_bin)."""
    from inspector import migrate
    from inspector.backup import import_lines
    from inspector.db import make_engine
    from inspector.doctor import secret_key

    url, instance_path = _server_database()
    key, key_source = secret_key({"SECRET_KEY": os.environ.get("HOOKLOUPE_SECRET_KEY")}, instance_path)
    os.makedirs(instance_path, exist_ok=True)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, lock_path=os.path.join(instance_path, "schema.lock"))
        with open(args.file, "rb") if args.file != "-" else contextlib.nullcontext(sys.stdin.buffer) as lines:
            report = import_lines(engine, lines, secret_key=key)
    except Exception as error:  # a bad file, a database error: one line, nothing imported
        print(f"hookloupe import: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(report)
    if report.secrets and key is None:
        print(f"warning: {key_source}: set HOOKLOUPE_SECRET_KEY to the exporting server's key", file=sys.stderr)
    elif report.undecryptable:
        print(
            f"warning: {report.undecryptable} of {report.secrets} imported secrets do not decrypt with the key "
            f"from {key_source}: use the exporting server's SECRET_KEY",
            file=sys.stderr,
        )
    return 0


def doctor(_args: argparse.Namespace) -> int:
    """`doctor`: one line per check (inspector/doctor.py); exit 1 when any fails."""
    from inspector.doctor import run_checks

    checks = run_checks(os.environ)
    for check in checks:
        print(check)
    return 0 if all(check.ok for check in checks) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hookloupe", description="Self-hosted webhook inspector.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="run the server (gunicorn, production settings)")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=default_workers())
    serve_cmd.add_argument("--connections", type=int, default=1000, help="open connections per worker (default 1000)")
    serve_cmd.set_defaults(func=serve)

    listen_cmd = commands.add_parser("listen", help="relay a bin's new captures to a local URL")
    listen_cmd.add_argument("bin_url", help="the bin's page URL or capture URL")
    listen_cmd.add_argument(
        "--to", required=True, help="local target base URL, e.g. http://localhost:3000/hooks (http:// when left out)"
    )
    listen_cmd.add_argument("--token", help="API token (default: HOOKLOUPE_TOKEN); never printed")
    listen_cmd.set_defaults(func=listen)

    send_cmd = commands.add_parser("send", help="send a correctly signed sample webhook of a provider")
    send_cmd.add_argument("provider", help="provider id, e.g. github, stripe, slack, dreamclass")
    send_cmd.add_argument("url", help="target URL (a Hookloupe capture URL or your own receiver)")
    send_cmd.add_argument("--secret", required=True, help="the signing secret the receiver holds")
    send_cmd.add_argument("--event", help="event type (default: the sample's documented event)")
    send_cmd.set_defaults(func=send)

    db_cmd = commands.add_parser("db", help="schema migrations of the server's database")
    db_cmd.add_argument(
        "action",
        choices=["upgrade", "current", "history"],
        help="upgrade: bring the database to the newest schema (safe to repeat); "
        "current: print its revision id; history: list the revisions",
    )
    db_cmd.set_defaults(func=database)

    from inspector import remote_export  # `export`/`import`: one bin through the API, or the whole database

    remote_export.add_commands(commands, export_all=export, import_file=import_)

    doctor_cmd = commands.add_parser("doctor", help="check the settings, database, secret key and data directory")
    doctor_cmd.set_defaults(func=doctor)
    from inspector import remote

    remote.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
