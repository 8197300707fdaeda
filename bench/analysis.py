"""Time the per-capture analysis (`inspector.signing.analysis.analyse`) in-process, in CPU µs per capture.

    python bench/analysis.py [--repetitions 7] [--calls 2000] [--json]

Two captures, built from WSGI environs by the capture module exactly as the server builds
them, with the bench's 1 KiB bodies: the GitHub push webhook of the load (signed, one GitHub
secret in the bin: detection plus one HMAC verification) and a plain JSON POST no provider
claims (detection that rules every provider out). Each repetition times `calls` analyses on
the thread's CPU clock; the figure is the median over repetitions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.test import EnvironBuilder  # noqa: E402

from bench.load import LoadRequest, github_request, plain_request  # noqa: E402
from inspector.capture.request import CapturedRequest, capture_request  # noqa: E402
from inspector.signing.analysis import analyse, public_url  # noqa: E402
from inspector.signing.verify import SecretValue  # noqa: E402

TARGET_GITHUB_US = 100.0
SECRET = "bench-github-secret"
BIN_ID = "bench-analysis"


def captured(request: LoadRequest) -> CapturedRequest:
    """The `CapturedRequest` the server would build for one request of the load."""
    builder = EnvironBuilder(
        path=f"/h/{BIN_ID}",
        method="POST",
        base_url="http://127.0.0.1:8000",
        headers=list(request.headers_for_one().items()),
        data=request.body,
    )
    environ = builder.get_environ()
    return capture_request(
        environ, BIN_ID, max_body_bytes=1024 * 1024, trusted_proxies=0, received_at=datetime.now(UTC)
    )


def time_one(capture: CapturedRequest, secrets: list[SecretValue], *, repetitions: int, calls: int) -> dict:
    """Median (and min, max) CPU µs per `analyse()` call, plus what the analysis concluded."""
    url = public_url("http://127.0.0.1:8000", BIN_ID, capture.path, capture.query_string)
    outcome = analyse(capture, secrets, public_url=url)  # also warms any per-process caches
    per_call: list[float] = []
    for _ in range(repetitions):
        began = time.thread_time()
        for _ in range(calls):
            analyse(capture, secrets, public_url=url)
        per_call.append((time.thread_time() - began) / calls * 1e6)
    return {
        "median_us": round(statistics.median(per_call), 1),
        "min_us": round(min(per_call), 1),
        "max_us": round(max(per_call), 1),
        "provider": outcome.provider_id,
        "status": outcome.verification.status,
    }


def measure(*, body_bytes: int = 1024, repetitions: int = 7, calls: int = 2000) -> dict:
    """Both timings, as a dict of plain values (what `--json` prints and run.py reports)."""
    secrets = [SecretValue(1, "bench", "github", SECRET)]
    github = time_one(captured(github_request(body_bytes, SECRET)), secrets, repetitions=repetitions, calls=calls)
    plain = time_one(captured(plain_request(body_bytes)), secrets, repetitions=repetitions, calls=calls)
    return {
        "repetitions": repetitions,
        "calls": calls,
        "body_bytes": body_bytes,
        "github": github,
        "plain": plain,
        "target_github_us": TARGET_GITHUB_US,
    }


def problems(result: dict) -> list[str]:
    """What is wrong with the analyses themselves (empty when the GitHub capture verifies
    as valid and the plain one matches no provider)."""
    found = []
    github, plain = result["github"], result["plain"]
    if github["provider"] != "github" or github["status"] != "valid":
        found.append(f"the GitHub capture was analysed as provider {github['provider']!r}, status {github['status']!r}")
    if plain["provider"] is not None:
        found.append(f"the plain JSON capture was detected as provider {plain['provider']!r}")
    return found


def summary_lines(result: dict) -> list[str]:
    github, plain = result["github"], result["plain"]
    verdict = "meets" if github["median_us"] <= result["target_github_us"] else "ABOVE"
    lines = [
        f"analysis CPU per capture (median of {result['repetitions']} x {result['calls']} calls): "
        f"GitHub signed {github['median_us']:.0f} µs ({verdict} the {result['target_github_us']:g} µs target; "
        f"{github['provider']}, {github['status']}), plain JSON {plain['median_us']:.0f} µs "
        f"(provider {plain['provider']}, {plain['status']})"
    ]
    lines += [f"  PROBLEM: {problem}" for problem in problems(result)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--repetitions", type=int, default=7, help="timed repetitions (the median is reported)")
    parser.add_argument("--calls", type=int, default=2000, help="analyse() calls per repetition")
    parser.add_argument("--body-bytes", type=int, default=1024, help="size of the JSON bodies")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.repetitions < 1 or args.calls < 1:
        parser.error("--repetitions and --calls must be positive")
    result = measure(body_bytes=args.body_bytes, repetitions=args.repetitions, calls=args.calls)
    print(json.dumps(result, indent=2) if args.json else "\n".join(summary_lines(result)))
    return 1 if problems(result) else 0


if __name__ == "__main__":
    sys.exit(main())
