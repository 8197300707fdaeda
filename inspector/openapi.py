"""The OpenAPI 3.1 document of the JSON API (DESIGN §4, §8), built as plain data for a base URL."""

from __future__ import annotations

import copy
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from inspector import bins
from inspector.access import policy
from inspector.openapi_parameters import MATCHERS
from inspector.openapi_parameters import parameters as operation_parameters
from inspector.openapi_schemas import STR, Schema, component_schemas, integer, ref
from inspector.store.activity import MAX_ENTRIES as MAX_ACTIVITY

# Error answers of the app, all `{"error": ...}`: status -> (shared response name, meaning).
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Invalid input: a field, query parameter or matcher breaks a rule; `error` says which."),
    401: ("Unauthorized", "The instance has a password and the call sent no credentials, or wrong ones."),
    403: (
        "Forbidden",
        "Refused: the API token's scope is too low or it is limited to another bin, or the call is cross-site "
        "(another site's page could have sent it: Origin, Sec-Fetch-Site).",
    ),
    404: ("NotFound", "No such bin, or no such request, secret, share link or token."),
    409: (
        "Conflict",
        "A bin of that name already exists; or, for a token, the instance has no access control (no "
        "HOOKLOUPE_PASSWORD or HOOKLOUPE_AUTH_HEADER), so every call is open and a token would mean nothing.",
    ),
    410: ("Gone", "The bin was ephemeral and has expired (or expired during a wait); it is deleted later."),
    413: ("TooLarge", "The request body is over the API's size limit (HOOKLOUPE_MAX_API_BODY_BYTES)."),
    415: ("UnsupportedMediaType", "The API takes JSON; form and plain-text bodies are refused."),
    429: ("TooManyAttempts", "Too many wrong passwords or tokens from this address; wait a minute."),
    503: ("Unavailable", "This worker holds its maximum of open waits or event streams; retry after `Retry-After`."),
}
# Refusals of the HTTP server (gunicorn) itself, before the app sees the request: an HTML page.
_SERVER_REFUSALS: dict[int, tuple[str, str]] = {
    414: ("UriTooLong", "The request line (path and query) is over HOOKLOUPE_MAX_REQUEST_LINE_BYTES."),
    431: ("HeadersTooLarge", "Too many header fields, or one over HOOKLOUPE_MAX_HEADER_FIELD_BYTES."),
}


_BIN = "/api/bins/{bin}"
_ALL = _BIN + "/requests"
_ONE = _ALL + "/{id}"
_SHARES = _BIN + "/shares"
# Every route: method, path, operation id, summary, success status, success schema (None: no
# body), and the app's error statuses besides those of every call (401, 403, 429), 415 of a
# state-changing method, and the 404/410 of a path naming a bin.
_ROUTES: tuple[tuple[str, str, str, str, int, str | None, tuple[int, ...]], ...] = (
    ("get", "/api/openapi.json", "openapi", "This document", 200, "OpenAPI", ()),
    ("post", "/api/bins", "create_bin", "Create a bin", 201, "Bin", (400, 409, 413)),
    ("get", "/api/bins", "list_bins", "Every bin on the server, newest first", 200, "BinList", ()),
    ("get", _BIN, "show_bin", "A bin", 200, "Bin", ()),
    ("patch", _BIN, "update_bin", "Change a bin's settings", 200, "Bin", (400, 413)),
    ("delete", _BIN, "delete_bin", "Delete a bin", 204, None, ()),
    ("get", _BIN + "/stats", "bin_stats", "Counts over the bin's captures, exact at every moment", 200, "Stats", ()),
    ("get", _ALL, "list_requests", "The bin's captures, newest first", 200, "RequestList", (400,)),
    ("delete", _ALL, "clear_requests", "Delete every capture", 204, None, ()),
    ("get", _ALL + "/count", "count_requests", "How many captures match", 200, "Count", (400,)),
    ("get", _ALL + "/wait", "wait_request", "Wait for a matching capture", 200, "WaitResult", (400, 503)),
    ("get", _ONE, "show_request", "One capture in full", 200, "Request", ()),
    ("delete", _ONE, "delete_request", "Delete one capture", 204, None, ()),
    ("patch", _ONE, "update_request", "Pin a capture or set its note", 200, "Request", (400, 413)),
    ("get", _ONE + "/raw", "raw_body", "The exact body bytes, as an attachment", 200, "raw", ()),
    ("post", _ONE + "/replay", "replay_request", "Send a capture to a target now", 201, "Delivery", (400, 413)),
    ("get", _ONE + "/export", "request_export", "The capture as a command that sends it again", 200, "export", (400,)),
    ("get", _ONE + "/parts/{index}", "multipart_part", "One part of a multipart body, as a file", 200, "part", ()),
    ("get", _ONE + "/deliveries", "list_deliveries", "A capture's delivery attempts", 200, "DeliveryList", ()),
    ("get", _BIN + "/export", "bin_export", "The bin's captures as NDJSON or HAR", 200, "bin_export", (400,)),
    ("post", _BIN + "/import", "bin_import", "Import captures from NDJSON or HAR", 200, "Imported", (400, 413)),
    ("get", _BIN + "/secrets", "list_secrets", "The bin's signing secrets (hints only)", 200, "SecretList", ()),
    ("post", _BIN + "/secrets", "add_secret", "Add a signing secret", 201, "Secret", (400, 413)),
    ("delete", _BIN + "/secrets/{id}", "delete_secret", "Delete a signing secret", 204, None, ()),
    ("get", _BIN + "/events", "events", "Live stream of new matching captures (SSE)", 200, "events", (400, 503)),
    ("post", _SHARES, "create_share", "Create a read-only share link", 201, "CreatedShare", (400, 413)),
    ("get", _SHARES, "list_shares", "The bin's share links (never their tokens)", 200, "ShareList", ()),
    ("delete", _SHARES + "/{id}", "revoke_share", "Revoke a share link at once", 204, None, (404,)),
    ("get", _BIN + "/activity", "bin_activity", "Who did what to the bin, newest first", 200, "ActivityList", ()),
    ("get", "/api/activity", "server_activity", "Every bin's activity, newest first", 200, "ActivityList", ()),
    ("post", "/api/tokens", "create_token", "Create an API token", 201, "CreatedToken", (400, 409, 413)),
    ("get", "/api/tokens", "list_tokens", "The API tokens (never the tokens themselves)", 200, "TokenList", ()),
    ("delete", "/api/tokens/{id}", "revoke_token", "Revoke an API token at once", 204, None, (404,)),
)
# The Flask endpoint of each operation (its access rule: access/policy.py), when it is not
# `api.<operation id>`.
_ENDPOINTS = {
    "openapi": "openapi.document",
    "bin_stats": "api.stats",
    "wait_request": "api.wait_for_request",
    "replay_request": "replay.replay",
    "update_request": "request_meta.update_request",
    "list_deliveries": "replay.deliveries",
    **{name: f"exports.{name}" for name in ("request_export", "multipart_part", "bin_export", "bin_import")},
    **{name: f"secrets.{name}" for name in ("list_secrets", "add_secret", "delete_secret")},
    **{name: f"access.{name}" for name in ("create_share", "list_shares", "revoke_share", "list_bins")},
    **{name: f"access.{name}" for name in ("bin_activity", "server_activity")},
    **{name: f"access.{name}" for name in ("create_token", "list_tokens", "revoke_token")},
}
# Request bodies by operation: schema name and whether a body is required ({} when empty).
_BODIES = {"create_bin": ("NewBin", False), "update_bin": ("BinSettings", False), "add_secret": ("NewSecret", True)}
_BODIES |= {"update_request": ("RequestMeta", True)}
_BODIES |= {"replay_request": ("Replay", True), "create_token": ("NewToken", True), "create_share": ("NewShare", False)}
# The import's body: a file, told apart by content (exports/importing.py).
_IMPORT = {
    "application/json": {"schema": ref("Har")},
    "application/x-ndjson": {"schema": STR | {"description": "One Request JSON object a line (`bin_export`)."}},
}
_ACTIVITY = f"At most the newest {MAX_ACTIVITY} entries; a deleted bin's entries stay on record."
_DESCRIPTIONS = {
    "update_bin": "Only the fields sent change; an unknown field, or a `forward.url` that is one of this server's "
    "own capture URLs, is refused (400). `redact` replaces the bin's redaction rules as a whole (a key left out "
    "takes its default); the rules apply to share links, exports, `redact=true` answers and, with `at_capture`, "
    "to what is stored from then on.",
    "wait_request": "A long poll, always answered 200 once it ends. Without `after`, only captures that arrive "
    "after the call started can match; `after=<id>` returns the oldest matching capture newer than that id "
    "(`after=0` includes stored ones). " + MATCHERS,
    "replay_request": "Method, body bytes and headers go as captured, with the optional edits; hop-by-hop headers, "
    "`Host` and `Content-Length` are recomputed and `X-Hookloupe-Hop` is added. The answer comes after the "
    "attempt: a refused or failed send is a Delivery with `error`. This server's own capture URLs are refused (400).",
    "add_secret": "The value is encrypted at rest and never returned; the bin's captures are verified again in the "
    "background.",
    "list_requests": MATCHERS,
    "count_requests": MATCHERS,
    "events": "Starts after `Last-Event-ID` (or `after`); with neither, from now. " + MATCHERS,
    "list_bins": "Only the instance's administrator (or an `admin` token bound to no bin) when access control is on.",
    "create_token": "Needs access control (HOOKLOUPE_PASSWORD or HOOKLOUPE_AUTH_HEADER): without it every call is "
    "open and this answers 409. The token is in this answer only; send it as `Authorization: Bearer <token>`. "
    "`bin` limits it to that bin's operations (and this document).",
    "revoke_token": "Calls with the token are refused (401) from now on.",
    "create_share": "Whoever has `url` sees the bin's page read-only and live, with the bin's redaction rules "
    "applied and no secrets, replay, settings or delete; until `expires_in_s` passes or the link is revoked.",
    "revoke_share": "The link stops working at once: an open shared page's live stream ends.",
    "request_export": "Text that sends the capture again, byte-exact, to its capture URL: the method, the capture "
    "URL with the sub-path and raw query, the captured headers (hop-by-hop ones, `Host` and `Content-Length` left "
    "out: the client computes them) and the exact body bytes; what no request can carry (a CR or LF in a header "
    "value) is changed, never passed on raw. Shown inline. `redact=true` (or the `for_owner` rule) exports the "
    "redacted capture.",
    "multipart_part": "Part `index` of a multipart body (inflated first under `Content-Encoding: gzip` or "
    "`deflate`), as an attachment with `nosniff`. 404 when the body is not multipart or has no such part.",
    "bin_export": "The captures that pass the matchers, newest first, streamed as an attachment `<bin>.<format>`: "
    "NDJSON (one Request JSON a line, the body in `body_base64`) or HAR 1.2 (each entry's `_hookloupe` holds what "
    "makes an import exact). `redact=true` (or the `for_owner` rule) exports the redacted captures. " + MATCHERS,
    "bin_import": "Captures from a HAR document (a JSON object with `log`; a browser's too) or from NDJSON (one "
    "Request JSON object a line, as `bin_export` writes them), told apart by content; an empty body imports "
    "nothing. All or none: a capture that cannot be stored is answered 400 naming its line or entry, and nothing "
    "is imported. Times, methods, sub-paths, query strings, headers and bodies are stored as the file holds them "
    "(the bin's `at_capture` redaction still applies); the captures are analysed again and never forwarded. Form "
    "and `text/plain` bodies are refused (415).",
    "bin_activity": _ACTIVITY,
    "server_activity": _ACTIVITY,
}
_STREAM = (
    "Server-sent events: `event: request`, `id:` the request id, `data:` a Summary as JSON; comments as heartbeats. "
    "The stream ends after a while or when the bin is deleted: reconnect with `Last-Event-ID` to miss nothing."
)


_BINARY = {"type": "string", "format": "binary"}
_ATTACHMENT = {"description": "`attachment` and the file name.", "required": True, "schema": STR}
_FILES: dict[str, Schema] = {
    "export": {
        "description": "The text (`text/plain`); the raw request (`format=http`) of a body that is not UTF-8 is "
        "`application/octet-stream`.",
        "content": {"text/plain": {"schema": STR}, "application/octet-stream": {"schema": _BINARY}},
    },
    "part": {
        "description": "The part's bytes, with its own media type when harmless (plain text, CSV, JSON, NDJSON, PDF, "
        "zip, gzip, images, audio and video but SVG), else `application/octet-stream`, and its file name made safe.",
        "headers": {"Content-Disposition": _ATTACHMENT},
        "content": {"*/*": {}},
    },
    "bin_export": {
        "description": "The file: NDJSON (`application/x-ndjson`) or HAR (`application/json`).",
        "headers": {"Content-Disposition": _ATTACHMENT},
        "content": {"application/x-ndjson": {"schema": STR}, "application/json": {"schema": ref("Har")}},
    },
}


def _success(status: int, schema: str | None) -> Schema:
    if schema is None:
        return {"description": "Done; no content."}
    if schema in _FILES:
        return copy.deepcopy(_FILES[schema])
    if schema == "raw":
        raw = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        return {"description": "The body, byte-exact unless redacted (an attachment, with `nosniff`).", "content": raw}
    if schema == "events":
        return {"description": _STREAM, "content": {"text/event-stream": {"schema": STR}}}
    json = {"application/json": {"schema": ref(schema)}}
    return {"description": "Created." if status == 201 else "OK.", "content": json}


def _tag(path: str) -> str:
    """The operation's tag, from its path."""
    if path.endswith(("/export", "/import", "/parts/{index}")):
        return "exports"
    if path.endswith(("/replay", "/deliveries")):
        return "deliveries"
    if path.startswith("/api/tokens") or "/shares" in path or path.endswith("/activity"):
        return "access"
    for tag in ("openapi", "secrets", "events", "requests"):
        if f"/{tag}" in path:
            return "meta" if tag == "openapi" else tag
    return "bins"


def endpoint(operation_id: str) -> str:
    """The Flask endpoint that answers an operation."""
    return _ENDPOINTS.get(operation_id, f"api.{operation_id}")


def _operation(route: tuple[str, str, str, str, int, str | None, tuple[int, ...]]) -> Schema:
    method, path, operation_id, summary, status, schema, errors = route
    statuses = {*errors, 401, 403, 429}
    parameters = []
    if "{bin}" in path:
        parameters.append(ref("bin", "parameters"))
        statuses |= {404, 410}
    if "{id}" in path:
        parameters.append(ref("id", "parameters"))
    if method in ("post", "patch", "delete"):
        statuses |= {415}
    responses = {str(status): _success(status, schema)}
    responses |= {str(code): ref(_ERRORS[code][0], "responses") for code in sorted(statuses)}
    responses |= {str(code): ref(name, "responses") for code, (name, _) in _SERVER_REFUSALS.items()}
    operation: Schema = {"operationId": operation_id, "summary": summary, "tags": [_tag(path)]}
    # The scope a token needs, as the role of its requirement (OpenAPI 3.1 allows roles here).
    scope = policy.rule_for(endpoint(operation_id)).scope
    operation["security"] = [{}, {"password": []}, {"token": [scope]}]
    if operation_id in _DESCRIPTIONS:
        operation["description"] = _DESCRIPTIONS[operation_id]
    if parameters := parameters + operation_parameters(operation_id):
        operation["parameters"] = parameters
    if operation_id in _BODIES:
        name, required = _BODIES[operation_id]
        operation["requestBody"] = {"required": required, "content": {"application/json": {"schema": ref(name)}}}
    if operation_id == "bin_import":
        operation["requestBody"] = {"required": False, "content": copy.deepcopy(_IMPORT)}
    operation["responses"] = dict(sorted(responses.items()))
    return operation


_BASIC = "The instance password (HOOKLOUPE_PASSWORD) as the password, any user name: every operation."
_BEARER = (
    "An API token (`POST /api/tokens`) as `Authorization: Bearer <token>`. Its scope, `read` < `write` < `admin`, "
    "must reach the role an operation lists; a token limited to one bin reaches only that bin's operations (and "
    "this document)."
)
_ACCESS = (
    "Credentials are needed only when the instance has a password (HOOKLOUPE_PASSWORD): then every call here needs "
    "HTTP Basic with the password (any user name) or an API token as a Bearer token (behind a single sign-on proxy, "
    "HOOKLOUPE_AUTH_HEADER, tokens work the same); without either setting, every call is open and a bin id is a "
    "capability. `/healthz` and capture (`/h/{bin}`) never need credentials."
)


def _components() -> Schema:
    responses = {
        name: {"description": text, "content": {"application/json": {"schema": ref("Error")}}}
        for name, text in _ERRORS.values()
    }
    responses["Unavailable"]["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": integer(0)}}
    challenge = {"description": 'When the instance has a password: `Basic realm="Hookloupe"`.', "schema": STR}
    responses["Unauthorized"]["headers"] = {"WWW-Authenticate": challenge}
    for name, text in _SERVER_REFUSALS.values():
        html = {"text/html": {"schema": STR}}
        responses[name] = {"description": f"{text} Answered by the HTTP server, as an HTML page.", "content": html}
    bin_id = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
    parameters = {
        "bin": {"name": "bin", "in": "path", "required": True, "schema": bin_id}
        | {"description": "The bin id: random (16 URL-safe characters) or a custom name."},
        "id": {"name": "id", "in": "path", "required": True, "schema": integer(0, bins.MAX_ID)}
        | {
            "description": "A request (capture) id; a secret, share link or token id under `/secrets/`, `/shares/`, "
            "`/tokens/`."
        },
    }
    return {
        "schemas": component_schemas(),
        "parameters": parameters,
        "responses": responses,
        "securitySchemes": {
            "password": {"type": "http", "scheme": "basic", "description": _BASIC},
            "token": {"type": "http", "scheme": "bearer", "description": _BEARER},
        },
    }


def _package_version() -> str:
    try:
        return version("hookloupe")
    except PackageNotFoundError:  # a checkout run without installing it
        return "0.0.0+unknown"


def openapi_document(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every `/api/` route, with `base_url` (e.g.
    `https://hooks.example.com`; a trailing slash is dropped) as its server. Plain data, new
    on every call."""
    paths: dict[str, Schema] = {}
    for route in _ROUTES:
        paths.setdefault(route[1], {})[route[0]] = _operation(route)
    tags = ("bins", "requests", "exports", "deliveries", "secrets", "events", "access", "meta")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hookloupe API",
            "version": _package_version(),
            "description": "Bins capture webhooks at `/h/{bin}`; this API creates and configures bins, reads, "
            "waits for, replays and streams their captures, holds their signing secrets and redaction rules, and "
            "manages share links and API tokens. Bodies are JSON (but exported and imported files); errors are "
            '`{"error": "<message>"}` with a 4xx status (a method a path does not list is answered '
            "405). Times are ISO 8601 UTC. Headers and query pairs are lists of `[name, value]` in arrival order, "
            "duplicates kept. " + _ACCESS,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": base_url.rstrip("/")}],
        "tags": [{"name": tag} for tag in tags],
        "security": [{}, {"password": []}, {"token": []}],
        "paths": paths,
        "components": _components(),
    }
