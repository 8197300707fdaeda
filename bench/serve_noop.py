"""Serve bench/noop_app.py under the gunicorn settings `hookloupe serve` uses (or the sync worker class)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gunicorn.app.base import BaseApplication  # noqa: E402

from inspector.cli import default_workers, serve_options  # noqa: E402


class NoopServer(BaseApplication):
    def __init__(self, options: dict, naive_db: str | None = None, bare: bool = False):
        self.options = options
        self.naive_db = naive_db
        self.bare = bare
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        if self.naive_db:
            from bench.naive_app import create_app as create_naive

            return create_naive(self.naive_db)
        if self.bare:
            from bench.bare_app import create_app as create_bare

            return create_bare()
        from bench.noop_app import create_app

        return create_app()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the no-op baseline under Hookloupe's gunicorn settings")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--bare", action="store_true", help="serve bench/bare_app.py (plain WSGI, no Flask)")
    parser.add_argument("--naive-db", help="serve bench/naive_app.py (one SQLite row per request) with this database")
    parser.add_argument(
        "--worker-class",
        choices=["gevent", "sync"],
        default="gevent",
        help="sync: gunicorn's default worker class, one request at a time per process (--connections is ignored)",
    )
    args = parser.parse_args(argv)
    options = serve_options(args.host, args.port, args.workers, args.connections)
    if args.worker_class == "sync":
        options.update(worker_class="sync")
    NoopServer(options, args.naive_db, args.bare).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
