"""How fast a server-side wait (`GET …/requests/wait`) sees a capture that arrives mid-wait.

One `hookloupe serve` with default settings. Each sample opens a wait (or `--waiters` waits
at once, on separate connections), sends a matching capture, and times from the capture's
answer (the row is committed before it) to each wait's answer. Two matchers: `method=POST`
(decided at once) and `verdict=valid` (waits for the capture's analysis).

    python bench/wait.py [--samples 20] [--waiters 100] [--json out.json]

The goal (issue 11): a capture is returned within 200 ms of its commit; the median is quoted.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import servers  # noqa: E402
from inspector.cli import default_workers  # noqa: E402

GOAL_MS = 200
SECRET = "bench-wait-secret"
BODY = b'{"action": "opened", "number": 1}'


def github_headers() -> dict[str, str]:
    signature = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": f"sha256={signature}",
    }


def sample(base: str, bin_id: str, matchers: dict[str, str], waiters: int) -> list[float]:
    """Open `waiters` waits, send one capture, return each wait's delay after the commit (s)."""
    done: list[float | None] = [None] * waiters
    ready = threading.Barrier(waiters + 1)
    committed: list[float] = []

    def wait(index: int) -> None:
        with httpx.Client(timeout=30) as http:
            http.get(f"{base}/healthz")  # connect first, so the wait starts at once
            ready.wait()
            answer = http.get(f"{base}/api/bins/{bin_id}/requests/wait", params={"timeout_s": 10, **matchers}).json()
            if answer["request"] is not None:
                done[index] = time.monotonic()

    threads = [threading.Thread(target=wait, args=(i,), daemon=True) for i in range(waiters)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(0.3 + waiters * 0.002)  # every wait is open on the server
    response = httpx.post(f"{base}/h/{bin_id}", content=BODY, headers=github_headers(), timeout=10)
    committed.append(time.monotonic())
    response.raise_for_status()
    for thread in threads:
        thread.join(20)
    return [moment - committed[0] for moment in done if moment is not None] + [float("inf")] * done.count(None)


def summary(delays: list[float]) -> dict:
    ordered = sorted(delays)
    finite = [d for d in ordered if d != float("inf")]

    def pct(p: float) -> float | None:
        return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else None

    return {
        "samples": len(ordered),
        "missed": len(ordered) - len(finite),
        "p50_ms": round(1000 * statistics.median(ordered), 1) if ordered else None,
        "p90_ms": pct(0.9),
        "max_ms": round(1000 * max(finite), 1) if finite else None,
    }


def run(*, samples: int, waiters: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="hookloupe-wait-") as tmp:
        workdir = Path(tmp)
        server = servers.hookloupe_server(workdir, workdir / "instance", workers=workers, connections=1000, env={})
        with server:
            base = server.url
            bin_id = httpx.post(f"{base}/api/bins", json={}).json()["id"]
            httpx.post(f"{base}/api/bins/{bin_id}/secrets", json={"label": "github", "value": SECRET})
            report: dict = {"settings": {"workers": workers, "samples": samples, "waiters": waiters}}
            for label, matchers in (("method", {"method": "POST"}), ("verdict", {"verdict": "valid"})):
                sample(base, bin_id, matchers, 1)  # warm-up
                one = [d for _ in range(samples) for d in sample(base, bin_id, matchers, 1)]
                many = sample(base, bin_id, matchers, waiters) if waiters else []
                report[label] = {"one_waiter": summary(one), f"{waiters}_waiters": summary(many)}
    return report


def print_report(report: dict) -> None:
    s = report["settings"]
    print(f"Wait latency, capture committed → wait answered ({s['workers']} gevent workers; goal ≤{GOAL_MS} ms median)")
    print(f"{'':<34}{'n':>5}{'missed':>8}{'p50 ms':>9}{'p90 ms':>9}{'max ms':>9}")
    for label in ("method", "verdict"):
        for case, figures in report[label].items():
            name = f"{label}=… {case.replace('_', ' ')}"
            print(
                f"{name:<34}{figures['samples']:>5}{figures['missed']:>8}{figures['p50_ms']!s:>9}"
                f"{figures['p90_ms']!s:>9}{figures['max_ms']!s:>9}"
            )


def meets_goal(report: dict) -> bool:
    return all(
        figures["missed"] == 0 and (figures["p50_ms"] or 0) <= GOAL_MS
        for label in ("method", "verdict")
        for figures in report[label].values()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20, help="single waits timed per matcher")
    parser.add_argument("--waiters", type=int, default=100, help="waits open at once in the last sample (0 skips)")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    report = run(samples=args.samples, waiters=args.waiters, workers=args.workers)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if meets_goal(report) else 1


if __name__ == "__main__":
    sys.exit(main())
