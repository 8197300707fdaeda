"""The MCP tools' argument types, and the client matchers their matcher arguments stand for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

# The matchers, for an error message that names them.
MATCHER_HELP = (
    "method, path (glob), content_type, text, provider, event (glob), verdict, "
    "query {name: value}, headers {name: glob}, json {dotted.path: value}"
)

Verdict = Literal["valid", "invalid", "expired", "unsigned", "no_secret", "unverifiable", "none"]
BinArg = Annotated[
    str, Field(description="The bin id (the part after /h/ in its capture URL), or its capture or page URL.")
]
IdArg = Annotated[int, Field(description="The capture's id, as list_requests or wait_for_request show it.", ge=1)]
MethodMatch = Annotated[str | None, Field(description="HTTP method, exact, case-insensitive (e.g. POST).")]
PathMatch = Annotated[
    str | None, Field(description="Glob on the sub-path after /h/<bin> ('/' when none), e.g. /orders/*.")
]
ContentTypeMatch = Annotated[
    str | None, Field(description="Media type before ';', case-insensitive, glob allowed (application/*).")
]
TextMatch = Annotated[
    str | None, Field(description="Case-insensitive substring of the body (gunzipped), headers or query string.")
]
ProviderMatch = Annotated[
    str | None, Field(description="Detected provider id (github, stripe, slack, shopify, …) or 'none'.")
]
EventMatch = Annotated[str | None, Field(description="Glob on the detected event, e.g. payment_intent.* or push.")]
VerdictMatch = Annotated[
    Verdict | None,
    Field(description="Signature verdict: valid, invalid, expired, unsigned, no_secret, unverifiable or none."),
]
QueryMatch = Annotated[
    dict[str, str] | None, Field(description="Query parameters that must have exactly these values: {name: value}.")
]
HeadersMatch = Annotated[
    dict[str, str] | None,
    Field(description="Headers (name case-insensitive) whose value matches a glob, case-insensitive: {name: glob}."),
]
JsonMatch = Annotated[
    dict[str, str | int | float | bool | None] | None,
    Field(
        description="Values at dotted paths of the JSON body (list indexes as numbers: items.0.id), "
        'compared as text: {"data.object.status": "succeeded", "amount": 42}.'
    ),
]


def client_matchers(
    method: str | None,
    path: str | None,
    content_type: str | None,
    text: str | None,
    provider: str | None,
    event: str | None,
    verdict: str | None,
    query: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    json: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The client's matcher keyword arguments for the tools' matcher arguments (unset ones left
    out); ToolError for a provider id that does not exist (it would never match)."""
    if provider is not None and provider != "none":
        from inspector.signing import providers

        known = [entry.id for entry in providers.all_providers()]
        if provider not in known:
            raise ToolError(f"unknown provider {provider!r} — known ids: {', '.join(known)}, or 'none'")
    simple = {
        "method": method,
        "path": path,
        "content_type": content_type,
        "text": text,
        "provider": provider,
        "event": event,
        "verdict": verdict,
    }
    matchers: dict[str, Any] = {name: value for name, value in simple.items() if value is not None}
    for name, given in (("q", query), ("h", headers), ("json", json)):
        if given:
            matchers[name] = dict(given)
    return matchers
