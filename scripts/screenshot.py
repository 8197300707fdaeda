"""Write docs/screenshot.png: the bin page with a few signed provider samples, one open.

Starts a throwaway `hookloupe serve` on a free loopback port with a temporary instance
directory, fills a bin through the HTTP API and the capture URL, and photographs the page
with Playwright driving Debian's chromium (no browser download). Run from the repository:

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--dark]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import ViewportSize, sync_playwright

from inspector.signing.samples import build_sample

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SECRET = "whsec_screenshot_demo_secret"
SIZE: ViewportSize = {"width": 1280, "height": 800}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(instance: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`hookloupe serve` on a free loopback port; returns it once /healthz answers."""
    port = free_port()
    env = {**os.environ, "HOOKLOUPE_INSTANCE_PATH": str(instance)}
    env.pop("HOOKLOUPE_PASSWORD", None)
    command = [sys.executable, "-m", "inspector.cli", "serve", "--port", str(port), "--workers", "1"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited while starting")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise SystemExit("the server did not start within 30 s")


def fill_bin(url: str) -> tuple[str, int]:
    """A bin with secrets for three providers, a valid sample of each, one invalid and a plain
    JSON request; returns the bin id and the capture to open."""
    bin_id = httpx.post(url + "/api/bins", json={"name": "demo-shop"}, timeout=10).raise_for_status().json()["id"]
    for provider in ("github", "stripe", "shopify"):
        secret = {"label": f"{provider} signing secret", "value": SECRET, "provider": provider}
        httpx.post(f"{url}/api/bins/{bin_id}/secrets", json=secret, timeout=10).raise_for_status()

    def send(provider: str, secret: str = SECRET, event: str | None = None) -> int:
        sample = build_sample(provider, secret=secret, event=event, at=datetime.now(UTC))
        response = httpx.post(
            f"{url}/h/{bin_id}/{provider}", content=sample.body, headers=dict(sample.headers), timeout=10
        )
        return int(response.raise_for_status().json()["request_id"])

    httpx.post(f"{url}/h/{bin_id}/orders?source=curl", json={"hello": "world"}, timeout=10).raise_for_status()
    send("shopify")
    send("stripe", secret="whsec_rotated_old_secret")  # signed with another secret: invalid
    send("stripe")
    opened = send("github", event="push")
    return bin_id, opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--dark", action="store_true", help="photograph the dark palette")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hookloupe-shot-") as tmp:
        process, url = start_server(Path(tmp) / "instance")
        try:
            bin_id, opened = fill_bin(url)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport=SIZE, color_scheme="dark" if args.dark else "light")
                page.goto(f"{url}/bins/{bin_id}")
                page.wait_for_selector('#live-status[data-state="live"]')
                page.click(f"#req-{opened} a")
                page.wait_for_selector(f'#detail[data-capture-id="{opened}"]')
                page.wait_for_timeout(1200)  # the new-row highlight fades
                page.mouse.move(0, 0)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
