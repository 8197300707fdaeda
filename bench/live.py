"""Capture→visible latency: how long after a POST its row `#req-<id>` is in an open bin page.

Drives Debian's /usr/bin/chromium through Playwright (no browser download). Returns a
`LiveResult`, or a `LiveSkip` saying why nothing could be measured (no page yet, no browser,
rows never appear); it does not raise for those.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field

from bench.load import percentile

CHROMIUM = "/usr/bin/chromium"
# Consecutive captures whose row does not appear before the part is given up.
GIVE_UP_AFTER = 5
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveResult:
    samples_ms: list[float] = field(repr=False)
    missed: int  # captures whose row did not appear within the per-sample timeout

    @property
    def median_ms(self) -> float:
        return percentile(sorted(self.samples_ms), 50)

    @property
    def p90_ms(self) -> float:
        return percentile(sorted(self.samples_ms), 90)


@dataclass
class LiveSkip:
    reason: str


# Runs in the page: POST a capture with fetch, then resolve when `#req-<id>` is in the
# document (a MutationObserver, so no polling delay), timed on the page's own clock.
# Playwright's wait_for_selector re-checks at 0/20/50/100 ms steps, which would round the
# figure up by tens of milliseconds.
_TIME_ONE_CAPTURE = """
async ([url, body, timeoutMs]) => {
  const began = performance.now();
  const answer = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body});
  if (!answer.ok) return {status: answer.status, ms: null};
  const selector = "#req-" + (await answer.json()).request_id;
  if (document.querySelector(selector)) return {status: answer.status, ms: performance.now() - began};
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { observer.disconnect(); resolve({status: answer.status, ms: null}); }, timeoutMs);
    const observer = new MutationObserver(() => {
      if (!document.querySelector(selector)) return;
      observer.disconnect();
      clearTimeout(timer);
      resolve({status: answer.status, ms: performance.now() - began});
    });
    observer.observe(document, {childList: true, subtree: true});
  });
}
"""


def measure(
    base_url: str, bin_id: str, *, samples: int, timeout_s: float = 5.0, seed: int = 1
) -> LiveResult | LiveSkip:
    """Open /bins/<bin_id>, then `samples` times: wait a random 0-250 ms (so captures do not
    fall in step with the page's update cycle), POST a 1-line JSON capture from the page and
    time until its row `#req-<id>` is attached. The time includes the POST round trip."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        return LiveSkip("the python package playwright is not installed")

    body = json.dumps({"type": "bench.live"})
    capture_url = f"/h/{bin_id}"
    pause = random.Random(seed)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except PlaywrightError as error:
            return LiveSkip(f"could not launch {CHROMIUM}: {str(error).splitlines()[0]}")
        try:
            page = browser.new_page()
            response = page.goto(f"{base_url}/bins/{bin_id}", wait_until="domcontentloaded", timeout=15_000)
            if response is None or response.status != 200:
                status = response.status if response else "nothing"
                return LiveSkip(f"GET /bins/<bin> answered {status}: the live bin page is not there yet")

            def time_one() -> float | None:
                outcome = page.evaluate(_TIME_ONE_CAPTURE, [capture_url, body, timeout_s * 1000])
                if outcome["ms"] is None and outcome["status"] // 100 != 2:
                    raise RuntimeError(f"capture answered {outcome['status']}")
                return outcome["ms"]

            # The page's live updates connect after DOMContentLoaded: wait for a first row.
            if all(time_one() is None for _ in range(3)):
                return LiveSkip(
                    f"/bins/<bin> loads, but no #req-<id> row appeared within {timeout_s:.0f} s of a "
                    "capture (3 tries): are the live updates wired to that element id?"
                )
            measured: list[float] = []
            missed = in_a_row = 0
            for _ in range(samples):
                time.sleep(pause.uniform(0, 0.25))
                elapsed = time_one()
                if elapsed is None:
                    missed += 1
                    in_a_row += 1
                    if in_a_row == GIVE_UP_AFTER:  # the page stopped updating: do not wait out every sample
                        return LiveSkip(
                            f"{in_a_row} captures in a row did not appear within {timeout_s:.0f} s "
                            f"(after {len(measured)} that did): the page stopped showing new rows"
                        )
                else:
                    measured.append(elapsed)
                    in_a_row = 0
            if not measured:
                return LiveSkip(f"none of {samples} captures appeared within {timeout_s:.0f} s")
            return LiveResult(measured, missed)
        finally:
            browser.close()
