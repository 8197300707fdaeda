"""`hookloupe send` and `hookloupe serve` argument handling, against a real server."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from conftest import ROOT

from inspector.cli import build_parser, serve_options, server_limits
from inspector.signing.samples import signable_providers

REQUIRED_SIGNABLE = {
    "dreamclass",
    "studiewinkel",
    "edusign",
    "eduzz",
    "dreamship",
    "github",
    "stripe",
    "slack",
    "shopify",
    "standard-webhooks",
}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_serve_defaults():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    assert args.connections == 1000
    options = serve_options("127.0.0.1", 8000, 2, 1000)
    assert options["worker_class"] == "inspector.worker.Worker" and options["worker_connections"] == 1000
    assert options["preload_app"] is False
    assert (options["limit_request_line"], options["limit_request_fields"], options["keepalive"]) == (8190, 100, 5)


def test_serve_shares_no_control_socket_and_stops_without_waiting_for_pages():
    options = serve_options("127.0.0.1", 8000, 2, 1000)
    assert options["control_socket_disable"] is True  # one path per user: every instance's
    assert options["graceful_timeout"] == 15  # for requests in progress only (worker.py)
    assert options["post_worker_init"] and options["worker_exit"]  # streams end; the worker exits at once


def test_server_limits_come_from_the_environment():
    limits = server_limits({"HOOKLOUPE_MAX_HEADER_FIELDS": "20", "HOOKLOUPE_HEADER_TIMEOUT_S": " 3 "})
    assert (limits["MAX_HEADER_FIELDS"], limits["HEADER_TIMEOUT_S"], limits["MAX_REQUEST_LINE_BYTES"]) == (20, 3, 8190)
    with pytest.raises(SystemExit, match="HOOKLOUPE_MAX_HEADER_FIELDS"):
        server_limits({"HOOKLOUPE_MAX_HEADER_FIELDS": "many"})


def test_required_providers_can_be_sent():
    assert set(signable_providers()) >= REQUIRED_SIGNABLE


@pytest.mark.server
@pytest.mark.parametrize("provider", sorted(REQUIRED_SIGNABLE | {"svix", "twilio", "square"}))
def test_send_produces_a_valid_capture(live_server, provider):
    bin_id = live_server.create_bin(f"send-{provider}")
    secret = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        if provider in ("standard-webhooks", "svix")
        else "test-secret-1234567890"
    )
    httpx.post(
        f"{live_server.url}/api/bins/{bin_id}/secrets", json={"label": "cli", "value": secret}
    ).raise_for_status()
    result = run_cli("send", provider, f"{live_server.url}/h/{bin_id}", "--secret", secret)
    assert result.returncode == 0, result.stderr + result.stdout
    newest = httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests").json()["requests"][0]
    got = httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests/{newest['id']}").json()
    assert got["provider"]["id"] == provider
    assert got["signature"]["status"] == "valid", got["signature"]["detail"]


def test_send_rejects_an_unknown_provider():
    result = run_cli("send", "nope", "http://127.0.0.1:9/", "--secret", "s")
    assert result.returncode == 2 and "choose one of" in result.stderr
