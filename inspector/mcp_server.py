"""`hookloupe mcp`: a Model Context Protocol server on stdio whose tools drive a Hookloupe server.

The nine tools of DESIGN §8 (`inspector.mcp_tools`) talk to the server through `inspector.client`
(so a password in the URL or a token is handled, and masked, in one place). What they answer is
bounded (`inspector.mcp_views`): a body is cut at BODY_LIMIT bytes, a list at LIST_LIMIT items,
header pairs at HEADER_LIMIT, long strings at TEXT_LIMIT characters, each cut counted in the
answer. The default sensitive headers (DESIGN §8 redaction) are shown as "[redacted]". A failure
is an MCP tool error (isError) whose text says what failed and what to do next
(`inspector.mcp_session`); the arguments' types and matchers are in `inspector.mcp_args`.

`wait_for_request` without `after` continues from this session's cursor for the bin: every
capture of a bin made by `create_bin` here, else the captures newer than the newest one when the
session first used the bin (sending a sample to its capture URL counts), then past each capture
it returned. So "send, then wait" finds what was sent.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from json import dumps
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent

from inspector.client import Client, HookloupeError
from inspector.mcp_tools import HookloupeTools

TOOL_NAMES = (
    "create_bin",
    "delete_bin",
    "list_requests",
    "get_request",
    "wait_for_request",
    "add_secret",
    "explain_signature",
    "send_sample",
    "replay_request",
)

INSTRUCTIONS = """Hookloupe captures webhooks so you can see and check them.
Typical flow: create_bin -> point the sender (or send_sample) at its capture_url -> add_secret with
the provider's signing secret -> wait_for_request(provider=..., verdict="valid") -> get_request /
explain_signature -> replay_request to your local app. Bodies are cut at 16 KiB, lists at 50 items,
each cut counted in the answer."""


class _StrictServer(MCPServer[Any]):
    """MCPServer that refuses arguments a tool does not take (pydantic would drop them, and a
    misspelt matcher would then match everything)."""

    def __init__(self, arguments: dict[str, tuple[str, ...]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._arguments = arguments

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        known = self._arguments.get(name)
        unknown = sorted(set(arguments) - set(known)) if known is not None else []
        if known is not None and unknown:
            what = "matcher or argument" if "verdict" in known else "argument"
            raise ToolError(
                f"unknown {what} {', '.join(repr(item) for item in unknown)} for {name} — "
                f"valid names: {', '.join(known)}"
            )
        result = await super().call_tool(name, arguments, context)
        if isinstance(result, CallToolResult) and result.structured_content is not None:
            # One line of JSON: the SDK's default text is indented, which costs an agent tokens.
            text = dumps(result.structured_content, ensure_ascii=False)
            result = result.model_copy(update={"content": [TextContent(type="text", text=text)]})
        return result


def build_server(client: Client) -> MCPServer[Any]:
    """The MCP server with the nine tools over `client`."""
    tools = HookloupeTools(client)
    methods = [getattr(tools, name) for name in TOOL_NAMES]
    arguments = {method.__name__: tuple(inspect.signature(method).parameters) for method in methods}
    server = _StrictServer(
        arguments, name="hookloupe", instructions=INSTRUCTIONS, version=_version(), log_level="WARNING"
    )
    for method in methods:
        server.add_tool(method, name=method.__name__, description=inspect.cleandoc(method.__doc__ or ""))
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hookloupe")
    except PackageNotFoundError:
        return "0"


def main(url: str, token: str | None) -> int:
    """Serve MCP on stdin/stdout until the client closes it; 2 when `url` is unusable."""
    try:
        # MCP output goes to a model and its logs: always with the bins' redaction rules.
        client = Client(url, token, redacted=True)
    except HookloupeError as error:
        print(f"hookloupe mcp: {error}", file=sys.stderr)
        return 2
    with client:
        build_server(client).run("stdio")
    return 0


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m inspector.mcp_server", description="Hookloupe's MCP server on stdio."
    )
    parser.add_argument("--url", help="the server's base URL (default: HOOKLOUPE_URL, else http://127.0.0.1:8000)")
    parser.add_argument("--token", help="API token (default: HOOKLOUPE_TOKEN)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    from inspector.remote import server_url, token

    _args = _parse_args()
    sys.exit(main(server_url(_args.url), token(_args.token)))
