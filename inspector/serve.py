"""`hookloupe serve`: gunicorn with the production settings, its hooks, and the lines it prints.

Once listening, it prints (to stderr, with gunicorn's log) the URL to open and where the data
lives (`data: <SQLite file or database URL without password>, instance: <folder> (<why>)`);
the folder is chosen once, here, by inspector/paths.py and handed to the workers.

A stop — SIGTERM, or Ctrl-C (SIGINT: here the same graceful stop, where gunicorn would drop the
requests in progress; a second Ctrl-C quits at once) — lets requests in progress finish (at
most `graceful_timeout`) but waits for no open page: event streams end by themselves
(stream.py asks `hookloupe.serving`) and idle connections are closed (worker.py). It takes
about a second with pages open.

No control socket: gunicorn's default path is one per user, so every instance would share it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from inspector.paths import InstancePath, choose_instance_path

if TYPE_CHECKING:
    from flask import Flask


# Server settings from config.py that gunicorn enforces (before the app sees a request).
_SERVER_LIMITS = ("MAX_REQUEST_LINE_BYTES", "MAX_HEADER_FIELDS", "MAX_HEADER_FIELD_BYTES", "HEADER_TIMEOUT_S")
# Settings an older gunicorn (>= 23, see pyproject.toml) does not know: skipped there.
_NEWER_SETTINGS = {"control_socket_disable"}  # gunicorn 25.1


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
        # For requests in progress only (a slow upload, a delayed answer): open pages and idle
        # connections do not hold a stop (worker.py).
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
        "worker_exit": _finish_worker,
        "child_exit": _forget_worker_gauges,
    }


def _tell_app_when_stopping(worker: Any) -> None:
    """Event streams ask `hookloupe.serving` before each poll and end once the worker stops."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        app.extensions["hookloupe.serving"] = lambda: bool(worker.alive)


def _finish_worker(_server: object, worker: Any) -> None:
    """gunicorn's `worker_exit`, in a worker that is ending: let its forwarder finish its
    attempt; then, when it was told to stop, close its database connections and end the
    process at once. A forked worker otherwise unwinds through the master's code and tears
    down a whole interpreter (every module, every greenlet): over a second of a stop on a busy
    machine, with nothing to save (captures are committed before their answer, the metric
    files are shared memory, the log is flushed here). A worker that crashed exits as
    gunicorn has it exit, with its exit code."""
    app = getattr(worker, "wsgi", None)
    if app is None or not hasattr(app, "extensions"):
        return
    from inspector.delivery.forward import stop_forwarder

    stop_forwarder(app, timeout=float(app.config["FORWARD_TIMEOUT_S"]) + 1)
    if worker.booted and not worker.alive:
        import logging

        from inspector.db import db

        try:
            with app.app_context():
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()
        except Exception:  # a database already away: the operating system closes the sockets
            pass
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _forget_worker_gauges(_server: object, worker: Any) -> None:
    """In the master, after a worker ended: its open streams and waits no longer count in
    /metrics (its counters still do: totals stay exact). See inspector/metrics.py."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def default_workers() -> int:
    return max(2, min(os.cpu_count() or 1, 8))


def serve(host: str, port: int, workers: int, connections: int) -> int:
    """Run the server until it is stopped; 0 then, 1 when the data folder cannot be made."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    options = serve_options(host, port, workers, connections, server_limits(os.environ))
    instance = choose_instance_path(os.environ)
    try:
        os.makedirs(instance.path, exist_ok=True)
    except OSError as error:
        print(
            f"hookloupe serve: cannot create the data folder {instance.path} ({error.strerror}); "
            "set HOOKLOUPE_INSTANCE_PATH to a writable folder",
            file=sys.stderr,
        )
        return 1
    # Decided once: every worker uses this folder, whatever it finds later.
    os.environ["HOOKLOUPE_INSTANCE_PATH"] = instance.path
    data = data_line(os.environ.get("HOOKLOUPE_DATABASE_URL"), instance)
    base_url = os.environ.get("HOOKLOUPE_BASE_URL", "").strip().rstrip("/") or None
    options["when_ready"] = lambda arbiter: _announce(arbiter, base_url, data)
    # /metrics adds up every worker's counts through files in this fresh directory; the
    # workers read the variable when they first import prometheus_client (inspector/metrics.py).
    master, metrics_dir = os.getpid(), _fresh_metrics_dir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    class HookloupeArbiter(Arbiter):  # type: ignore[misc]  # gunicorn has no type hints
        def handle_int(self) -> None:
            """Ctrl-C stops gracefully, as SIGTERM does (gunicorn's stop then turns a second
            Ctrl-C into a quick exit)."""
            raise StopIteration

    class HookloupeServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings or key not in _NEWER_SETTINGS:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            from inspector import create_app

            return create_app()

        def run(self) -> None:  # BaseApplication.run, with our arbiter
            try:
                HookloupeArbiter(self).run()
            except RuntimeError as error:
                print(f"\nError: {error}\n", file=sys.stderr, flush=True)
                sys.exit(1)

    try:
        HookloupeServer().run()
    finally:
        # A worker leaves run() too (gunicorn exits it with SystemExit): only the master, once
        # every worker is gone, removes the directory.
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _announce(arbiter: Any, base_url: str | None, data: str) -> None:
    """gunicorn's `when_ready` (in the master, once listening): the URL to open and the data."""
    host, port = arbiter.LISTENERS[0].sock.getsockname()[:2]
    print(running_line(host, port, base_url), data, sep="\n", file=sys.stderr, flush=True)


def running_line(host: str, port: int, base_url: str | None) -> str:
    """`Hookloupe is running: open <URL>`: BASE_URL when set, else the bound address (on a
    wildcard address, the loopback one of its family), with the bound address when it differs."""
    wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}
    local = _http_url(wildcard.get(host, host), port)
    if base_url:
        return f"Hookloupe is running: open {base_url} (listening on {_http_url(host, port)})"
    if host in wildcard:
        return f"Hookloupe is running: open {local} (listening on all interfaces, port {port})"
    return f"Hookloupe is running: open {local}"


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def data_line(configured_url: str | None, instance: InstancePath) -> str:
    """`data: <where the captures are>, instance: <folder> (<why this folder>)`; never a password."""
    return f"data: {shown_database(configured_url, instance.path)}, instance: {instance.path} ({instance.reason})"


def shown_database(configured_url: str | None, instance_path: str) -> str:
    """The SQLite file (absolute), or the database URL with its password masked (in the user
    part and in a `password=` query parameter)."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    if not configured_url:
        return os.path.join(instance_path, "hookloupe.db")
    try:
        url = make_url(configured_url)
    except ArgumentError:
        return "HOOKLOUPE_DATABASE_URL (not shown: it is not a database URL)"
    if url.get_backend_name() == "sqlite":
        return os.path.abspath(url.database) if url.database not in (None, "", ":memory:") else "SQLite in memory"
    query = {key: "***" if key.lower() == "password" else value for key, value in url.query.items()}
    return str(url.set(query=query).render_as_string(hide_password=True))


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
