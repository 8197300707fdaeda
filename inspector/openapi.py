"""The OpenAPI 3.1 document of the JSON API (DESIGN §4), built as plain data for a base URL."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from inspector import bins
from inspector.matchers import MAX_VALUE_CHARS
from inspector.signing import providers
from inspector.signing.verify import STATUSES

Schema = dict[str, Any]

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
    401: ("Unauthorized", "The instance has a password (HOOKLOUPE_PASSWORD) and the call did not send it."),
    403: ("Forbidden", "Refused as cross-site: another site's page could have sent it (Origin, Sec-Fetch-Site)."),
    404: ("NotFound", "No such bin, or no such request or secret in it."),
    409: ("Conflict", "A bin of that name already exists."),
    410: ("Gone", "The bin was ephemeral and has expired (or expired during a wait); it is deleted later."),
    413: ("TooLarge", "The request body is over the API's size limit (HOOKLOUPE_MAX_API_BODY_BYTES)."),
    415: ("UnsupportedMediaType", "The API takes JSON; form and plain-text bodies are refused."),
    503: ("Unavailable", "This worker holds its maximum of open waits or event streams; retry after `Retry-After`."),
}
# Refusals of the HTTP server (gunicorn) itself, before the app sees the request: an HTML page.
_SERVER_REFUSALS: dict[int, tuple[str, str]] = {
    414: ("UriTooLong", "The request line (path and query) is over HOOKLOUPE_MAX_REQUEST_LINE_BYTES."),
    431: ("HeadersTooLarge", "Too many header fields, or one over HOOKLOUPE_MAX_HEADER_FIELD_BYTES."),
}


def _ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _null(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _int(low: int | None = None, high: int | None = None) -> Schema:
    bounds = {"minimum": low, "maximum": high}
    return {"type": "integer"} | {key: value for key, value in bounds.items() if value is not None}


def _list(item: Schema, description: str = "") -> Schema:
    return {"type": "array", "items": item} | ({"description": description} if description else {})


def _obj(properties: dict[str, Schema], optional: tuple[str, ...] = (), *, closed: bool = True) -> Schema:
    """An object schema; every property is required unless named in `optional`."""
    schema: Schema = {"type": "object", "properties": properties}
    schema["required"] = [name for name in properties if name not in optional]
    return schema | ({"additionalProperties": False} if closed else {})


def _about(description: str) -> Schema:
    return {"description": description}


_STR: Schema = {"type": "string"}
_BOOL: Schema = {"type": "boolean"}
_ID = _int(1, bins.MAX_ID)
_COUNT = _int(0)
_TIME = _STR | _about("ISO 8601 UTC, e.g. `2025-01-31T12:00:00.000000Z`.") | {"format": "date-time"}
_URL: Schema = {"type": "string", "format": "uri", "maxLength": bins.MAX_URL}
_PAIRS = _list(_ref("Pair"))
_BASE64: Schema = {"type": "string", "contentEncoding": "base64"}
_STATUS = _int(200, 599)
_DELAY = _int(0, bins.MAX_DELAY_MS)


def _schemas() -> dict[str, Schema]:
    summary = (
        {"id": _ID, "received_at": _TIME, "method": _STR, "query_string": _STR, "content_type": _STR}
        | {"path": _STR | _about("The sub-path after `/h/{bin}` (`/` when none).")}
        | {"body_size": _COUNT, "provider": _null(_ref("Provider"))}
        | {"signature": _obj({"status": _null(_ref("Verdict"))})}
        | {"analysed": _BOOL | _about("False between the capture's commit and its analysis.")}
    )
    signature = (
        {"status": _null(_ref("Verdict")), "scheme": _null(_STR), "inferred": _BOOL, "warnings": _list(_STR)}
        | {"secret": _null(_STR | _about("The matching secret's label, never its value."))}
        | {"detail": _STR | _about("Why, in one plain sentence."), "debug": {"type": "object"}}
    )
    request = (
        {"headers": _PAIRS, "query": _PAIRS, "remote_addr": _STR, "handshake": _null(_STR)}
        | {"body_base64": _BASE64 | _about("The exact body bytes received.")}
        | {"body_truncated": _BOOL | _about("Over the size limit: stored truncated (answered 413).")}
        | {"body_incomplete": _BOOL | _about("The sender stopped mid-body."), "signature": _obj(signature)}
    )
    response = {"status": _STATUS, "headers": _PAIRS, "body": _null(_STR), "delay_ms": _DELAY}
    new_response = response | {"headers": {"anyOf": [_PAIRS, {"type": "object", "additionalProperties": _STR}]}}
    provider_ids = sorted(entry.id for entry in providers.all_providers())
    name = {"type": "string", "pattern": f"^{bins.CUSTOM_NAME.pattern}$"} | _about("Random when absent.")
    expires = _int(1, bins.MAX_EXPIRES_IN_S) | _about("An ephemeral bin: 410 Gone after this many seconds.")
    forward = _obj({"url": _URL, "enabled": _BOOL}, optional=("enabled",))
    settings = {"response": _obj(new_response, optional=tuple(new_response)), "forward": _null(forward)}
    settings |= {"max_requests": _int(1, bins.MAX_REQUESTS_CEILING), "handshakes": _BOOL}
    settings |= {"public_base_url": _null(_URL)}
    return {
        "Error": _obj({"error": _STR | _about("What went wrong, in plain words.")}),
        "OpenAPI": {"type": "object", "description": "An OpenAPI 3.1 document."},
        "Pair": _list(_STR, "`[name, value]`, in arrival order, duplicates kept.") | {"minItems": 2, "maxItems": 2},
        "Verdict": {"type": "string", "enum": list(STATUSES), "description": "The signature status (DESIGN §4)."},
        "Provider": _obj(
            {"id": _STR | _about("Lowercase, hyphenated: `github`, `stripe`, …"), "name": _STR}
            | {"event": _null(_STR), "delivery_id": _null(_STR)}
        ),
        "Bin": _obj(
            {"id": _STR, "capture_url": _URL, "inspect_url": _URL, "created_at": _TIME}
            | {"expires_at": _null(_TIME | _about("When an ephemeral bin expires (null: never)."))}
            | {"request_count": _COUNT, "max_requests": _int(1), "response": _obj(response)}
            | {"forward": _null(_obj({"url": _URL, "enabled": _BOOL})), "handshakes": _BOOL}
            | {"public_base_url": _null(_URL)}
        ),
        "Summary": _obj(summary),
        "Request": _obj(summary | request),
        "RequestList": _obj(
            {"requests": _list(_ref("Summary"), "Newest first.")}
            | {"next_before": _null(_ID | _about("Pass as `before` for the next page (null: no more)."))}
        ),
        "Count": _obj({"count": _COUNT}),
        "NearMiss": _obj(
            {"id": _ID, "method": _STR, "path": _STR, "received_at": _TIME}
            | {"missed": _list(_STR, "What it missed, e.g. `provider: wanted 'github', got 'stripe'`.")}
        ),
        "WaitResult": _obj(
            {"request": _null(_ref("Request")), "timed_out": _BOOL}
            | {"last_id": _COUNT | _about("The newest capture id examined: pass it as `after` to go on.")}
            | {"near_misses": _list(_ref("NearMiss"), "Only on a time-out: the newest captures examined.")},
            optional=("near_misses",),
        ),
        "Secret": _obj(
            {"id": _ID, "label": _STR, "provider": _null(_STR), "created_at": _TIME}
            | {"hint": _STR | _about("At most the value's last 4 characters; the value is never returned.")}
        ),
        "SecretList": _obj({"secrets": _list(_ref("Secret"))}),
        "Delivery": _obj(
            {"id": _ID, "request_id": _ID, "kind": {"type": "string", "enum": ["replay", "forward"]}}
            | {"method": _STR, "url": _STR, "status_code": _null(_int()), "error": _null(_STR)}
            | {"elapsed_ms": _COUNT, "response_headers": _PAIRS, "response_body_base64": _BASE64}
            | {"attempt": _int(1), "note": _null(_STR), "created_at": _TIME}
        ),
        "DeliveryList": _obj({"deliveries": _list(_ref("Delivery"))}),
        "Stats": _obj(
            {"request_count": _COUNT, "max_requests": _int(1), "unanalysed": _COUNT}
            | {"providers": _list(_obj({"id": _null(_STR), "name": _STR, "count": _COUNT}), "Most frequent first.")}
            | {"verdicts": {"type": "object", "propertyNames": _ref("Verdict"), "additionalProperties": _COUNT}}
        ),
        "NewBin": _obj({"name": _null(name), "expires_in_s": _null(expires)}, optional=("name", "expires_in_s")),
        "BinSettings": _obj(settings, optional=tuple(settings)),
        "NewSecret": _obj(
            {"label": {"type": "string", "minLength": 1, "maxLength": bins.MAX_SECRET_LABEL}}
            | {"value": {"type": "string", "minLength": 1, "writeOnly": True}}
            | {"provider": _null({"type": "string", "enum": provider_ids})},
            optional=("provider",),
            closed=False,
        ),
        "Replay": _obj(
            {"url": _URL | _about("The target base URL: the captured sub-path and query are appended.")}
            | {"method": _null({"type": "string", "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$"})}
            | {"headers": _null(_PAIRS), "body_base64": _null(_BASE64), "resign": _null(_BOOL)},
            optional=("method", "headers", "body_base64", "resign"),
            closed=False,
        ),
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
        _query("verdict", _ref("Verdict"), "The signature status."),
        _query("matchers", family, _FAMILIES) | {"style": "form", "explode": True},
    ]


_BIN = "/api/bins/{bin}"
_ALL = _BIN + "/requests"
_ONE = _ALL + "/{id}"
# Every route: method, path, operation id, summary, success status, success schema (None: no
# body), and the app's error statuses besides 401, 403/415 of a state-changing method, and the
# 404/410 of a path naming a bin.
_ROUTES: tuple[tuple[str, str, str, str, int, str | None, tuple[int, ...]], ...] = (
    ("get", "/api/openapi.json", "openapi", "This document", 200, "OpenAPI", ()),
    ("post", "/api/bins", "create_bin", "Create a bin", 201, "Bin", (400, 409, 413)),
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
)
# Request bodies by operation: schema name and whether a body is required ({} when empty).
_BODIES = {"create_bin": ("NewBin", False), "update_bin": ("BinSettings", False), "add_secret": ("NewSecret", True)}
_BODIES["replay_request"] = ("Replay", True)
_DESCRIPTIONS = {
    "update_bin": "Only the fields sent change; an unknown field, or a `forward.url` that is one of this server's "
    "own capture URLs, is refused (400).",
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
}
_STREAM = (
    "Server-sent events: `event: request`, `id:` the request id, `data:` a Summary as JSON; comments as heartbeats. "
    "The stream ends after a while or when the bin is deleted: reconnect with `Last-Event-ID` to miss nothing."
)


def _parameters(operation_id: str) -> list[Schema]:
    after = _int(0, bins.MAX_ID)
    if operation_id == "list_requests":
        return [
            _query("limit", _int(1, MAX_PAGE), f"Page size (default {DEFAULT_PAGE})."),
            _query("before", after, "Only captures with a smaller id (the previous page's `next_before`)."),
            _query("after", after, "Only captures with a larger id."),
            _query("q", _STR, "Search text."),
            *_matcher_parameters(),
        ]
    if operation_id == "wait_request":
        wait = _query("timeout_s", _int(0, MAX_WAIT_S), f"Seconds to wait (default {DEFAULT_WAIT_S}; 0: at once).")
        newer = _query("after", after, "Only captures newer than this id; `0` includes stored ones.")
        return [wait, newer, *_matcher_parameters()]
    if operation_id == "events":
        resume = {"name": "Last-Event-ID", "in": "header", "required": False, "schema": _STR}
        resume["description"] = "Resume after this request id (a value that is not an id is ignored)."
        since = _query("after", after, "Resume after this id (without `Last-Event-ID`).")
        return [resume, since, *_matcher_parameters()]
    if operation_id == "count_requests":
        return _matcher_parameters()
    if operation_id == "show_request":
        return [_query("at", {"type": "string", "enum": ["now"]}, "`now`: verify again as if it arrived now.")]
    return []


def _success(status: int, schema: str | None) -> Schema:
    if schema is None:
        return {"description": "Done; no content."}
    if schema == "raw":
        raw = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        return {"description": "The body, byte-exact (an attachment, with `nosniff`).", "content": raw}
    if schema == "events":
        return {"description": _STREAM, "content": {"text/event-stream": {"schema": _STR}}}
    json = {"application/json": {"schema": _ref(schema)}}
    return {"description": "Created." if status == 201 else "OK.", "content": json}


def _tag(path: str) -> str:
    """The operation's tag, from its path."""
    if path.endswith(("/replay", "/deliveries")):
        return "deliveries"
    for tag in ("openapi", "secrets", "events", "requests"):
        if f"/{tag}" in path:
            return "meta" if tag == "openapi" else tag
    return "bins"


def _operation(route: tuple[str, str, str, str, int, str | None, tuple[int, ...]]) -> Schema:
    method, path, operation_id, summary, status, schema, errors = route
    statuses = {*errors, 401}
    parameters = []
    if "{bin}" in path:
        parameters.append(_ref("bin", "parameters"))
        statuses |= {404, 410}
    if "{id}" in path:
        parameters.append(_ref("id", "parameters"))
    if method in ("post", "patch", "delete"):
        statuses |= {403, 415}
    responses = {str(status): _success(status, schema)}
    responses |= {str(code): _ref(_ERRORS[code][0], "responses") for code in sorted(statuses)}
    responses |= {str(code): _ref(name, "responses") for code, (name, _) in _SERVER_REFUSALS.items()}
    operation: Schema = {"operationId": operation_id, "summary": summary, "tags": [_tag(path)]}
    if operation_id in _DESCRIPTIONS:
        operation["description"] = _DESCRIPTIONS[operation_id]
    if parameters := parameters + _parameters(operation_id):
        operation["parameters"] = parameters
    if operation_id in _BODIES:
        name, required = _BODIES[operation_id]
        operation["requestBody"] = {"required": required, "content": {"application/json": {"schema": _ref(name)}}}
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _components() -> Schema:
    responses = {
        name: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
        for name, text in _ERRORS.values()
    }
    responses["Unavailable"]["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": _int(0)}}
    for name, text in _SERVER_REFUSALS.values():
        html = {"text/html": {"schema": _STR}}
        responses[name] = {"description": f"{text} Answered by the HTTP server, as an HTML page.", "content": html}
    bin_id = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
    parameters = {
        "bin": {"name": "bin", "in": "path", "required": True, "schema": bin_id}
        | {"description": "The bin id: random (16 URL-safe characters) or a custom name."},
        "id": {"name": "id", "in": "path", "required": True, "schema": _int(0, bins.MAX_ID)}
        | {"description": "A request (capture) id, or a secret id under `/secrets/`."},
    }
    basic = {"type": "http", "scheme": "basic", "description": "HOOKLOUPE_PASSWORD as password, any user name."}
    security = {"password": basic}
    return {"schemas": _schemas(), "parameters": parameters, "responses": responses, "securitySchemes": security}


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
    tags = ("bins", "requests", "deliveries", "secrets", "events", "meta")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hookloupe API",
            "version": _package_version(),
            "description": "Bins capture webhooks at `/h/{bin}`; this API creates and configures bins, reads, "
            "waits for, replays and streams their captures, and holds their signing secrets. Bodies are JSON; "
            'errors are `{"error": "<message>"}` with a 4xx status (a method a path does not list is answered '
            "405). Times are ISO 8601 UTC. Headers and query pairs are lists of `[name, value]` in arrival order, "
            "duplicates kept. When the instance has a password, every call needs HTTP Basic auth (any user name).",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": base_url.rstrip("/")}],
        "tags": [{"name": tag} for tag in tags],
        "security": [{}, {"password": []}],
        "paths": paths,
        "components": _components(),
    }
