"""The OpenAPI 3.1 document of the JSON API (DESIGN §4, §8), built as plain data for a base URL."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from inspector import bins
from inspector.access import policy
from inspector.matchers import MAX_VALUE_CHARS
from inspector.openapi_schemas import STR, Schema, component_schemas, integer, ref
from inspector.store.activity import MAX_ENTRIES as MAX_ACTIVITY

# Limits the API views hold (views/api.py; tests/test_openapi.py checks they agree).
DEFAULT_PAGE = 50
MAX_PAGE = 500
DEFAULT_WAIT_S = 30
MAX_WAIT_S = 60

_MATCHERS = (
    "Matchers (query parameters; all must hold, and several values of one matcher must all hold): `method` "
    "(exact, case-insensitive), `path` (glob on the sub-path after `/h/{bin}`, `/` when none), `content_type` "
    "(media type before `;`, case-insensitive, glob allowed), `text` (case-insensitive substring of the body, "
    "gunzipped when `Content-Encoding: gzip`, of header names and values and of the query string), `provider` (a "
    "provider id or `none`), `event` (glob on the detected event) and `verdict` (a signature status). Three "
    "families take their name from the parameter: `q.<name>=<value>` (a query-string pair with that name has "
    "exactly that value), `h.<name>=<glob>` (a header with that name, case-insensitive, has a value matching the "
    "glob, case-insensitive) and `json.<dotted.path>=<value>` (the JSON body's value at that path, list indexes "
    "as numbers such as `items.0.id`, compared as text: strings as they are, numbers, booleans and null as JSON "
    "text); OpenAPI cannot name a parameter family, so the `matchers` object stands for them. A matcher name the "
    "server does not know is answered 400 (a typo never matches everything). Matching on `provider`, `event` or "
    "`verdict` waits for the capture's analysis."
)
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


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_FAMILIES = (
    "The `q.<name>`, `h.<name>` and `json.<dotted.path>` matcher families: each property is its own query "
    "parameter (`h.x-github-event=push`); no parameter is named `matchers`."
)


def _matcher_parameters() -> list[Schema]:
    value = {"type": "string", "maxLength": MAX_VALUE_CHARS}
    family = {"type": "object", "patternProperties": {"^(q|h|json)\\.[^=&#]+$": value}, "additionalProperties": False}
    return [
        _query("method", value, "HTTP method, exact, case-insensitive."),
        _query("path", value, "Glob (case-sensitive) on the sub-path after `/h/{bin}`."),
        _query("content_type", value, "Media type before `;`, case-insensitive; a glob is allowed."),
        _query("text", value, "Case-insensitive substring of body, headers and query string."),
        _query("provider", value, "A provider id (`github`, `stripe`, …) or `none`."),
        _query("event", value, "Glob on the detected event type."),
        _query("verdict", ref("Verdict"), "The signature status."),
        _query("matchers", family, _FAMILIES) | {"style": "form", "explode": True},
    ]


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
    ("get", _ONE + "/raw", "raw_body", "The exact body bytes, as an attachment", 200, "raw", ()),
    ("post", _ONE + "/replay", "replay_request", "Send a capture to a target now", 201, "Delivery", (400, 413)),
    ("get", _ONE + "/deliveries", "list_deliveries", "A capture's delivery attempts", 200, "DeliveryList", ()),
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
    "list_deliveries": "replay.deliveries",
    **{name: f"secrets.{name}" for name in ("list_secrets", "add_secret", "delete_secret")},
    **{name: f"access.{name}" for name in ("create_share", "list_shares", "revoke_share", "list_bins")},
    **{name: f"access.{name}" for name in ("bin_activity", "server_activity")},
    **{name: f"access.{name}" for name in ("create_token", "list_tokens", "revoke_token")},
}
# Request bodies by operation: schema name and whether a body is required ({} when empty).
_BODIES = {"create_bin": ("NewBin", False), "update_bin": ("BinSettings", False), "add_secret": ("NewSecret", True)}
_BODIES |= {"replay_request": ("Replay", True), "create_token": ("NewToken", True), "create_share": ("NewShare", False)}
_ACTIVITY = f"At most the newest {MAX_ACTIVITY} entries; a deleted bin's entries stay on record."
_DESCRIPTIONS = {
    "update_bin": "Only the fields sent change; an unknown field, or a `forward.url` that is one of this server's "
    "own capture URLs, is refused (400). `redact` replaces the bin's redaction rules as a whole (a key left out "
    "takes its default); the rules apply to share links, exports, `redact=true` answers and, with `at_capture`, "
    "to what is stored from then on.",
    "wait_request": "A long poll, always answered 200 once it ends. Without `after`, only captures that arrive "
    "after the call started can match; `after=<id>` returns the oldest matching capture newer than that id "
    "(`after=0` includes stored ones). " + _MATCHERS,
    "replay_request": "Method, body bytes and headers go as captured, with the optional edits; hop-by-hop headers, "
    "`Host` and `Content-Length` are recomputed and `X-Hookloupe-Hop` is added. The answer comes after the "
    "attempt: a refused or failed send is a Delivery with `error`. This server's own capture URLs are refused (400).",
    "add_secret": "The value is encrypted at rest and never returned; the bin's captures are verified again in the "
    "background.",
    "list_requests": _MATCHERS,
    "count_requests": _MATCHERS,
    "events": "Starts after `Last-Event-ID` (or `after`); with neither, from now. " + _MATCHERS,
    "list_bins": "Only the instance's administrator (or an `admin` token bound to no bin) when access control is on.",
    "create_token": "Needs access control (HOOKLOUPE_PASSWORD or HOOKLOUPE_AUTH_HEADER): without it every call is "
    "open and this answers 409. The token is in this answer only; send it as `Authorization: Bearer <token>`. "
    "`bin` limits it to that bin's operations (and this document).",
    "revoke_token": "Calls with the token are refused (401) from now on.",
    "create_share": "Whoever has `url` sees the bin's page read-only and live, with the bin's redaction rules "
    "applied and no secrets, replay, settings or delete; until `expires_in_s` passes or the link is revoked.",
    "revoke_share": "The link stops working at once: an open shared page's live stream ends.",
    "bin_activity": _ACTIVITY,
    "server_activity": _ACTIVITY,
}
_REDACT = (
    "`true`: apply the bin's redaction rules to this answer (values replaced by `[redacted]`; a Request's "
    "`redacted` says what). Applied whatever this says when the bin's `for_owner` rule is on."
)
_STREAM = (
    "Server-sent events: `event: request`, `id:` the request id, `data:` a Summary as JSON; comments as heartbeats. "
    "The stream ends after a while or when the bin is deleted: reconnect with `Last-Event-ID` to miss nothing."
)


def _parameters(operation_id: str) -> list[Schema]:
    """The operation's own query and header parameters (`bin` and `id` come from the path)."""
    redact = [_query("redact", {"type": "boolean"}, _REDACT)]
    if operation_id == "raw_body":
        return redact
    after = integer(0, bins.MAX_ID)
    if operation_id == "list_requests":
        return [
            *redact,
            _query("limit", integer(1, MAX_PAGE), f"Page size (default {DEFAULT_PAGE})."),
            _query("before", after, "Only captures with a smaller id (the previous page's `next_before`)."),
            _query("after", after, "Only captures with a larger id."),
            _query("q", STR, "Search text."),
            *_matcher_parameters(),
        ]
    if operation_id == "wait_request":
        wait = _query("timeout_s", integer(0, MAX_WAIT_S), f"Seconds to wait (default {DEFAULT_WAIT_S}; 0: at once).")
        newer = _query("after", after, "Only captures newer than this id; `0` includes stored ones.")
        return [wait, newer, *redact, *_matcher_parameters()]
    if operation_id == "events":
        resume = {"name": "Last-Event-ID", "in": "header", "required": False, "schema": STR}
        resume["description"] = "Resume after this request id (a value that is not an id is ignored)."
        since = _query("after", after, "Resume after this id (without `Last-Event-ID`).")
        return [resume, since, *redact, *_matcher_parameters()]
    if operation_id == "count_requests":
        return _matcher_parameters()
    if operation_id == "show_request":
        return [_query("at", {"type": "string", "enum": ["now"]}, "`now`: verify again as if it arrived now."), *redact]
    return []


def _success(status: int, schema: str | None) -> Schema:
    if schema is None:
        return {"description": "Done; no content."}
    if schema == "raw":
        raw = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        return {"description": "The body, byte-exact unless redacted (an attachment, with `nosniff`).", "content": raw}
    if schema == "events":
        return {"description": _STREAM, "content": {"text/event-stream": {"schema": STR}}}
    json = {"application/json": {"schema": ref(schema)}}
    return {"description": "Created." if status == 201 else "OK.", "content": json}


def _tag(path: str) -> str:
    """The operation's tag, from its path."""
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
    if parameters := parameters + _parameters(operation_id):
        operation["parameters"] = parameters
    if operation_id in _BODIES:
        name, required = _BODIES[operation_id]
        operation["requestBody"] = {"required": required, "content": {"application/json": {"schema": ref(name)}}}
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
    tags = ("bins", "requests", "deliveries", "secrets", "events", "access", "meta")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hookloupe API",
            "version": _package_version(),
            "description": "Bins capture webhooks at `/h/{bin}`; this API creates and configures bins, reads, "
            "waits for, replays and streams their captures, holds their signing secrets and redaction rules, and "
            "manages share links and API tokens. Bodies are JSON; errors are "
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
