"""The `hookloupe` command: serve, listen, send, db, export/import, doctor; and wait, bins, requests, mcp (remote.py)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


# Server settings from config.py that gunicorn enforces (before the app sees a request).
_SERVER_LIMITS = ("MAX_REQUEST_LINE_BYTES", "MAX_HEADER_FIELDS", "MAX_HEADER_FIELD_BYTES", "HEADER_TIMEOUT_S")


def server_limits(environ: Mapping[str, str]) -> dict[str, int]:
    """The limits gunicorn enforces: config.py's defaults, overridden by `HOOKLOUPE_<NAME>`."""
    from inspector import config

    limits = {}
    for name in _SERVER_LIMITS:
        raw = environ.get(f"HOOKLOUPE_{name}", "").strip()
        try:
            limits[name] = int(raw) if raw else int(getattr(config, name))
        except ValueError:
            raise SystemExit(f"hookloupe serve: HOOKLOUPE_{name} must be a whole number, not {raw!r}") from None
    return limits


def serve_options(
    host: str, port: int, workers: int, connections: int, limits: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """gunicorn settings. gevent workers: a connection is a greenlet, so clients that trickle
    their headers, wait on a delayed answer or hold a live page open cost memory, not one of a
    few threads, and cannot starve capture (README, "Limits and hardening"). Headers must
    arrive within HEADER_TIMEOUT_S (gunicorn's `keepalive`). The app is built in each worker
    (no preload), after gevent patched it: database connections are never shared across a fork."""
    limits = limits or server_limits({})
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "inspector.worker.Worker",
        "worker_connections": connections,
        "timeout": 60,
        "graceful_timeout": 15,
        "keepalive": limits["HEADER_TIMEOUT_S"],
        "limit_request_line": limits["MAX_REQUEST_LINE_BYTES"],
        "limit_request_fields": limits["MAX_HEADER_FIELDS"],
        "limit_request_field_size": limits["MAX_HEADER_FIELD_BYTES"],
        "preload_app": False,
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn's control socket (one path per user) would be shared by every instance.
        "control_socket_disable": True,
        "post_worker_init": _tell_app_when_stopping,
        "worker_exit": _finish_deliveries,
        "child_exit": _forget_worker_gauges,
    }


def _tell_app_when_stopping(worker: Any) -> None:
    """Event streams ask `hookloupe.serving` before each poll and end once the worker stops."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        app.extensions["hookloupe.serving"] = lambda: bool(worker.alive)


def _finish_deliveries(_server: object, worker: object) -> None:
    """On a graceful stop, let the worker's forwarder finish its attempt first."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        from inspector.delivery.forward import stop_forwarder

        stop_forwarder(app, timeout=float(app.config["FORWARD_TIMEOUT_S"]) + 1)


def _forget_worker_gauges(_server: object, worker: Any) -> None:
    """In the master, after a worker ended: its open streams and waits no longer count in
    /metrics (its counters still do: totals stay exact). See inspector/metrics.py."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def default_workers() -> int:
    return max(2, min(os.cpu_count() or 1, 8))


def serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    options = serve_options(args.host, args.port, args.workers, args.connections, server_limits(os.environ))
    # /metrics adds up every worker's counts through files in this fresh directory; the
    # workers read the variable when they first import prometheus_client (inspector/metrics.py).
    master, metrics_dir = os.getpid(), _fresh_metrics_dir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    class HookloupeServer(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            from inspector import create_app

            return create_app()

    try:
        HookloupeServer().run()
    finally:
        # A worker leaves run() too (gunicorn exits it with SystemExit): only the master, once
        # every worker is gone, removes the directory.
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


_METRICS_DIR_PREFIX = "hookloupe-metrics-"


def _fresh_metrics_dir() -> str:
    """A new, empty directory for the workers' metric files, named after this process. Those
    left by a serve that was killed (its process is gone) are removed first."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        pid = name.removeprefix(_METRICS_DIR_PREFIX).split("-", 1)[0]
        if name.startswith(_METRICS_DIR_PREFIX) and pid.isdigit() and not _is_running(int(pid)):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{_METRICS_DIR_PREFIX}{os.getpid()}-", dir=base)


def _is_running(pid: int) -> bool:
    """Whether another process with this id runs (one of another user's counts as running)."""
    if pid == os.getpid():
        return False  # a directory of an earlier process that had our id (a container restart)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def listen(args: argparse.Namespace) -> int:
    from inspector.bins import is_http_url
    from inspector.delivery.relay import Relay, RelayError

    if not is_http_url(args.to):
        print(f"hookloupe listen: --to must be an http(s) URL, not {args.to!r}", file=sys.stderr)
        return 2
    from inspector.remote import token

    try:
        relay = Relay(args.bin_url, args.to, out=lambda line: print(line, flush=True), token=token(args.token))
    except RelayError as error:  # a bin URL that names no bin: a usage error, retrying cannot help
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
    """`export --all [--output FILE]`: the server's whole database as NDJSON (inspector/backup)."""
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
    """`import FILE`: an export into the server's database, brought to the newest schema first."""
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
    listen_cmd.add_argument("--to", required=True, help="local target base URL, e.g. http://localhost:3000/hooks")
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

    export_cmd = commands.add_parser("export", help="back up the server's whole database as NDJSON")
    export_cmd.add_argument(
        "--all", action="store_true", required=True, help="every bin, capture and secret (secrets stay encrypted)"
    )
    export_cmd.add_argument("--output", metavar="FILE", help="write to FILE (default: standard output)")
    export_cmd.set_defaults(func=export)

    import_cmd = commands.add_parser("import", help="restore an export into the server's database")
    import_cmd.add_argument("file", metavar="FILE", help="a file made by `hookloupe export --all` (- for stdin)")
    import_cmd.set_defaults(func=import_)

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
