"""The remote `hookloupe` commands (wait, bins create, requests, mcp): the Python client on the command line.

Exit codes: 0 done; 1 `wait` timed out; 2 a usage or connection error (a malformed URL or
matcher, a matcher the server does not know, a bin that is gone, a server that does not
answer). A password in a URL or a token is never printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from inspector.client import Bin, Client, HookloupeError, WaitTimeoutError, strip_userinfo
from inspector.client_shapes import Capture

DEFAULT_SERVER = "http://127.0.0.1:8000"


def server_url(given: str | None) -> str:
    """The server to talk to: `given`, else HOOKLOUPE_URL, else the local default."""
    return given or os.environ.get("HOOKLOUPE_URL") or DEFAULT_SERVER


def token(given: str | None) -> str | None:
    """The API token: `given`, else HOOKLOUPE_TOKEN, else none."""
    return given or os.environ.get("HOOKLOUPE_TOKEN") or None


def parse_matches(pairs: list[str] | None) -> dict[str, list[str]]:
    """`--match k=v` options as matcher keyword arguments (a repeated name: all must hold);
    ValueError for one without `=`."""
    matchers: dict[str, list[str]] = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--match takes name=value, not {pair!r}")
        matchers.setdefault(name, []).append(value)
    return matchers


def summary_line(capture: Capture) -> str:
    """`#12  2025-01-02T03:04:05Z  POST /orders  stripe payment_intent.succeeded  valid`."""
    path = (capture.path or "/") + (f"?{capture.query_string}" if capture.query_string else "")
    provider = " ".join(part for part in (capture.provider, capture.event) if part) or "-"
    when = capture.received_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"#{capture.id}  {when}  {capture.method} {path}  {provider}  {capture.verdict or 'pending'}"


def _fail(command: str, message: str) -> int:
    print(f"hookloupe {command}: {message}", file=sys.stderr)
    return 2


def _open_bin(bin_url: str, token_: str | None) -> tuple[Client, Bin]:
    """The client of the bin URL's server and the bin; HookloupeError when either fails."""
    from inspector.delivery.relay import RelayError, parse_bin_url

    try:
        base, bin_id = parse_bin_url(bin_url)
    except RelayError:
        shown = strip_userinfo(bin_url)
        raise HookloupeError(f"{shown!r} is neither a bin page (…/bins/<bin>) nor a capture URL (…/h/<bin>)") from None
    client = Client(base, token_)
    try:
        return client, client.bin(bin_id)
    except BaseException:
        client.close()
        raise


def wait(args: argparse.Namespace) -> int:
    """`hookloupe wait <bin URL> [--match k=v …] [--timeout S] [--after ID] [--json]`."""
    try:
        matchers = parse_matches(args.match)
    except ValueError as error:
        return _fail("wait", str(error))
    try:
        client, bin_ = _open_bin(args.bin_url, token(args.token))
    except HookloupeError as error:
        return _fail("wait", str(error))
    # Without --after, only what arrives after the wait starts (the server decides "now").
    bin_.cursor = args.after
    with client:
        try:
            capture = bin_.wait_for(timeout=args.timeout, **matchers)
        except WaitTimeoutError as error:
            print(str(error), file=sys.stderr)
            return 1
        except HookloupeError as error:
            return _fail("wait", str(error))
        print(json.dumps(capture.data, indent=2) if args.json else summary_line(capture))
    return 0


def bins_create(args: argparse.Namespace) -> int:
    """`hookloupe bins create [--name N] [--expires-in S] [--url SERVER] [--json]`."""
    try:
        with Client(server_url(args.url), token(args.token)) as client:
            bin_ = client.create_bin(args.name, expires_in_s=args.expires_in)
    except HookloupeError as error:
        return _fail("bins create", str(error))
    print(json.dumps(bin_.data, indent=2) if args.json else bin_.url)
    return 0


def requests(args: argparse.Namespace) -> int:
    """`hookloupe requests <bin URL> [--match k=v …] [--limit N] [--json]`: newest first."""
    try:
        matchers = parse_matches(args.match)
    except ValueError as error:
        return _fail("requests", str(error))
    try:
        client, bin_ = _open_bin(args.bin_url, token(args.token))
        with client:
            captures = bin_.requests(limit=args.limit, **matchers)
    except HookloupeError as error:
        return _fail("requests", str(error))
    if args.json:
        summaries: list[dict[str, Any]] = [capture.summary for capture in captures]
        print(json.dumps(summaries, indent=2))
    else:
        for capture in captures:
            print(summary_line(capture))
    return 0


def mcp(args: argparse.Namespace) -> int:
    """`hookloupe mcp [--url URL] [--token T]`: the MCP server on stdio (the [mcp] extra)."""
    if importlib.util.find_spec("mcp") is None:
        print("hookloupe mcp needs the [mcp] extra: pip install 'hookloupe[mcp]'", file=sys.stderr)
        return 2
    # Imported here: the SDK is an optional extra, and heavy.
    main: Callable[[str, str | None], int] = importlib.import_module("inspector.mcp_server").main
    return main(server_url(args.url), token(args.token))


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register wait, bins create, requests and mcp on the `hookloupe` command's subparsers (cli.py)."""
    bin_url_help = "the bin's page URL (…/bins/<bin>) or capture URL (…/h/<bin>); a password may be in it"
    match_help = "a matcher name=value (method, path, q.<name>, h.<name>, content_type, json.<path>, text, provider, event, verdict); repeatable, all must hold"
    token_help = "API token (default: HOOKLOUPE_TOKEN)"
    server_help = "the server's base URL (default: HOOKLOUPE_URL, else http://127.0.0.1:8000)"

    wait_cmd = commands.add_parser("wait", help="wait for a capture that matches; exit 0 with it, 1 on timeout")
    wait_cmd.add_argument("bin_url", help=bin_url_help)
    wait_cmd.add_argument("--match", action="append", metavar="NAME=VALUE", help=match_help)
    wait_cmd.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")
    wait_cmd.add_argument(
        "--after", type=int, metavar="ID", help="consider captures with a greater id (default: only new ones)"
    )
    wait_cmd.add_argument("--json", action="store_true", help="print the whole capture as JSON")
    wait_cmd.add_argument("--token", help=token_help)
    wait_cmd.set_defaults(func=wait)

    bins_cmd = commands.add_parser("bins", help="manage bins on a server")
    bins_actions = bins_cmd.add_subparsers(dest="action", required=True)
    create_cmd = bins_actions.add_parser("create", help="create a bin and print its capture URL")
    create_cmd.add_argument("--name", help="a custom bin name (default: a random id)")
    create_cmd.add_argument("--expires-in", type=int, metavar="SECONDS", help="delete the bin after this long")
    create_cmd.add_argument("--url", help=server_help)
    create_cmd.add_argument("--json", action="store_true", help="print the bin as JSON")
    create_cmd.add_argument("--token", help=token_help)
    create_cmd.set_defaults(func=bins_create)

    requests_cmd = commands.add_parser("requests", help="list a bin's captures, newest first")
    requests_cmd.add_argument("bin_url", help=bin_url_help)
    requests_cmd.add_argument("--match", action="append", metavar="NAME=VALUE", help=match_help)
    requests_cmd.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    requests_cmd.add_argument("--json", action="store_true", help="print the list as JSON")
    requests_cmd.add_argument("--token", help=token_help)
    requests_cmd.set_defaults(func=requests)

    mcp_cmd = commands.add_parser("mcp", help="Model Context Protocol server on stdio (needs the [mcp] extra)")
    mcp_cmd.add_argument("--url", help=server_help)
    mcp_cmd.add_argument("--token", help=token_help)
    mcp_cmd.set_defaults(func=mcp)
