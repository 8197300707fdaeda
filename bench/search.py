"""Search speed with 100,000 captures in one bin (issue 13 point 2): median server time of text
searches and provider/verdict filters through the API, on SQLite or PostgreSQL.

    .venv/bin/python -m bench.search --database sqlite:////tmp/search.db   # an empty database
    .venv/bin/python -m bench.search --database postgresql://postgres@127.0.0.1:5432/bench_search

The rows are written straight to the table (bench/scale_data.py), then indexed as the analyser
would index them (search_index.backfill of the pending captures). Times are measured around
the WSGI call in this process (Flask's test client): server time, no network.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from sqlalchemy import create_engine

from bench import scale_data
from inspector import create_app, search_index

RUNS = 9


def queries(data: scale_data.Dataset) -> list[tuple[str, str, dict[str, str]]]:
    """(label, path suffix, parameters) of each measured call on the big bin."""
    return [
        ("text, common (2% of rows), first page", "requests", {"q": data.common_needle}),
        ("text, rare (1 row, the oldest)", "requests", {"q": data.rare_needle}),
        ("text, absent word", "requests", {"q": "nowhere-to-be-found"}),
        ("text, common, count", "requests/count", {"q": data.common_needle}),
        ("text, rare, count", "requests/count", {"q": data.rare_needle}),
        ("provider:github, first page", "requests", {"q": "provider:github"}),
        ("provider:stripe, count", "requests/count", {"q": "provider:stripe"}),
        ("verdict:invalid, first page", "requests", {"q": "verdict:invalid"}),
        ("verdict:invalid, count", "requests/count", {"q": "verdict:invalid"}),
        ("provider + verdict + text", "requests", {"q": f"provider:github verdict:valid {data.common_needle}"}),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True, help="an empty database URL (sqlite:///… or postgresql://…)")
    parser.add_argument("--captures", type=int, default=100_000, help="captures in the measured bin")
    args = parser.parse_args(argv)
    url = args.database.replace("postgresql://", "postgresql+psycopg://", 1)
    data = scale_data.build(url, captures_per_bin=args.captures, total=2 * args.captures + 1000, other_bins=2)
    print(f"built {data.total:,} captures in {data.seconds:.0f} s", flush=True)
    began = time.monotonic()
    engine = create_engine(url)
    with engine.begin() as conn:
        indexed = search_index.backfill(conn, pending=True)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    print(f"indexed {indexed:,} captures in {time.monotonic() - began:.0f} s", flush=True)
    app = create_app({"DATABASE_URL": args.database, "SECRET_KEY": "bench", "ANALYSER": "off"})
    client = app.test_client()
    figures = []
    for label, suffix, params in queries(data):
        times, answer = [], None
        for _ in range(RUNS + 1):
            start = time.perf_counter()
            response = client.get(f"/api/bins/{data.big_bin}/{suffix}", query_string=params)
            times.append((time.perf_counter() - start) * 1000)
            answer = response.json
        assert answer is not None
        shown = answer.get("count", len(answer.get("requests", [])))
        figures.append({"query": label, "median_ms": round(statistics.median(times[1:]), 1), "answer": shown})
        print(f"{label:45} {figures[-1]['median_ms']:8.1f} ms   ({shown})", flush=True)
    print(json.dumps({"database": data.database, "captures_in_bin": args.captures, "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
