"""The query, header and own path parameters of each operation of the OpenAPI document (openapi.py)."""

from __future__ import annotations

from inspector import bins
from inspector.bodyview import MAX_PARTS
from inspector.exports.formats import FORMATS
from inspector.matchers import MAX_VALUE_CHARS
from inspector.openapi_schemas import STR, Schema, integer, ref

# Limits and defaults the views hold (views/api.py, views/exports.py; tests/test_openapi.py
# checks they agree).
DEFAULT_PAGE = 50
MAX_PAGE = 500
DEFAULT_WAIT_S = 30
MAX_WAIT_S = 60
REQUEST_FORMATS = tuple(FORMATS)
DEFAULT_REQUEST_FORMAT = "curl"
BIN_FORMATS = ("har", "ndjson")
DEFAULT_BIN_FORMAT = "ndjson"

MATCHERS = (
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
_SEARCH = (
    "The bin page's search syntax: `provider:github event:push verdict:invalid method:POST path:/orders/* "
    'header:x-foo=bar query:k=v json:a.b=1 type:application/json after:2026-11-01 before:2026-11-28 "free text"`; '
    "bare words are free text. An unknown `name:` is answered 400."
)
_FAMILIES = (
    "The `q.<name>`, `h.<name>` and `json.<dotted.path>` matcher families: each property is its own query "
    "parameter (`h.x-github-event=push`); no parameter is named `matchers`."
)
_REDACT = (
    "`true`: apply the bin's redaction rules to this answer (values replaced by `[redacted]`; a Request's "
    "`redacted` says what). Applied whatever this says when the bin's `for_owner` rule is on."
)
_REQUEST_FORMAT = (
    "`curl` (default) or `httpie` (a shell command), `httpx` (a Python snippet) or `http` (the raw HTTP/1.1 "
    "request); another value is answered 400."
)
_BIN_FORMAT = "`ndjson` (default: one Request JSON a line) or `har` (HAR 1.2); another value is answered 400."


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _matcher_parameters() -> list[Schema]:
    value = {"type": "string", "maxLength": MAX_VALUE_CHARS}
    family = {"type": "object", "patternProperties": {"^(q|h|json)\\.[^=&#]+$": value}, "additionalProperties": False}
    return [
        _query("method", value, "HTTP method, exact, case-insensitive."),
        _query("path", value, "Glob (case-sensitive) on the sub-path after `/h/{bin}`."),
        _query("content_type", value, "Media type before `;`, case-insensitive; a glob is allowed."),
        _query("text", value, "Case-insensitive substring of the decoded body, headers, path, query and form values."),
        _query("provider", value, "A provider id (`github`, `stripe`, …) or `none`."),
        _query("event", value, "Glob on the detected event type."),
        _query("verdict", ref("Verdict"), "The signature status."),
        _query("since", value, "Arrived at or after: an ISO 8601 date or datetime (UTC unless an offset is given)."),
        _query("until", value, "Arrived before: an ISO 8601 date or datetime (UTC unless an offset is given)."),
        _query("matchers", family, _FAMILIES) | {"style": "form", "explode": True},
    ]


def _format(names: tuple[str, ...], default: str, description: str) -> Schema:
    return _query("format", {"type": "string", "enum": list(names), "default": default}, description)


def parameters(operation_id: str) -> list[Schema]:
    """The operation's own query and header parameters, and its path parameters other than
    `bin` and `id` (those are the document's shared `components.parameters`)."""
    redact = [_query("redact", {"type": "boolean"}, _REDACT)]
    if operation_id == "raw_body":
        return redact
    if operation_id == "request_export":
        return [_format(REQUEST_FORMATS, DEFAULT_REQUEST_FORMAT, _REQUEST_FORMAT), *redact]
    if operation_id == "multipart_part":
        index = {"name": "index", "in": "path", "required": True, "schema": integer(0, MAX_PARTS - 1)}
        return [index | {"description": "The part's place in the body, from 0, as the bin's page lists them."}, *redact]
    if operation_id == "bin_export":
        search = _query("q", STR, _SEARCH)
        return [_format(BIN_FORMATS, DEFAULT_BIN_FORMAT, _BIN_FORMAT), *redact, search, *_matcher_parameters()]
    after = integer(0, bins.MAX_ID)
    if operation_id == "list_requests":
        return [
            *redact,
            _query("limit", integer(1, MAX_PAGE), f"Page size (default {DEFAULT_PAGE})."),
            _query("before", after, "Only captures with a smaller id (the previous page's `next_before`)."),
            _query("after", after, "Only captures with a larger id."),
            _query("q", STR, _SEARCH),
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
