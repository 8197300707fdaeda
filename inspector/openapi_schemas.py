"""The JSON Schemas of the OpenAPI document's `components.schemas` (DESIGN §4), as plain data."""

from __future__ import annotations

from typing import Any

from inspector import bins, redaction
from inspector.access.principal import SCOPES
from inspector.signing import providers
from inspector.signing.verify import STATUSES

Schema = dict[str, Any]

# Limits the access views hold (views/access_api.py; tests/test_openapi.py checks they agree).
MAX_TOKEN_LABEL = 100


def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def null(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def integer(low: int | None = None, high: int | None = None) -> Schema:
    bounds = {"minimum": low, "maximum": high}
    return {"type": "integer"} | {key: value for key, value in bounds.items() if value is not None}


def array(item: Schema, description: str = "") -> Schema:
    return {"type": "array", "items": item} | ({"description": description} if description else {})


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = (), *, closed: bool = True) -> Schema:
    """An object schema; every property is required unless named in `optional`."""
    schema: Schema = {"type": "object", "properties": properties}
    schema["required"] = [name for name in properties if name not in optional]
    return schema | ({"additionalProperties": False} if closed else {})


def about(description: str) -> Schema:
    return {"description": description}


STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
ID = integer(1, bins.MAX_ID)
COUNT = integer(0)
TIME = STR | about("ISO 8601 UTC, e.g. `2025-01-31T12:00:00.000000Z`.") | {"format": "date-time"}
URL: Schema = {"type": "string", "format": "uri", "maxLength": bins.MAX_URL}
PAIRS = array(ref("Pair"))
BASE64: Schema = {"type": "string", "contentEncoding": "base64"}
STATUS = integer(200, 599)
DELAY = integer(0, bins.MAX_DELAY_MS)
EXPIRES_IN_S = integer(1, bins.MAX_EXPIRES_IN_S)
# Text a label or redaction entry may hold: no control characters.
_PRINTABLE = "^[^\\x00-\\x1f\\x7f]+$"
_REDACT_LISTS: dict[str, tuple[Schema, str]] = {
    "headers": (
        {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"},
        "Header names, case-insensitive (default: " + ", ".join(redaction.DEFAULT_HEADERS) + ").",
    ),
    "json_paths": ({}, "Dotted paths into a JSON body: `card.number`, `items.*.token` (`*`: every key or item)."),
    "form_fields": ({}, "Names of query parameters and form or multipart body fields (case-sensitive)."),
    "patterns": ({}, "Python regular expressions: each whole match in header values, query values and body text."),
}
_REDACT_FLAGS = {
    "at_capture": 'Redact before the capture is stored ("never store"): a signature over a replaced part is '
    "then `unverifiable`.",
    "for_owner": "The owner sees the redacted values too (else only share links, exports and `redact=true`).",
}


def _redaction(given: bool) -> Schema:
    """The `redact` rules: as a bin answers them (every key) or as PATCH takes them (`given`:
    every key optional; a key left out or null keeps its default)."""
    entry = {"type": "string", "minLength": 1, "maxLength": redaction.MAX_TEXT, "pattern": _PRINTABLE}
    properties: dict[str, Schema] = {}
    for key, (extra, text) in _REDACT_LISTS.items():
        listed = array(entry | extra, text) | {"maxItems": redaction.MAX_ENTRIES}
        properties[key] = null(listed) | about(text) if given else listed
    for key, text in _REDACT_FLAGS.items():
        properties[key] = null(BOOL) | about(text) if given else BOOL | about(text)
    return obj(properties, optional=tuple(properties) if given else ())


def _bin_schemas() -> dict[str, Schema]:
    response = {"status": STATUS, "headers": PAIRS, "body": null(STR), "delay_ms": DELAY}
    new_response = response | {"headers": {"anyOf": [PAIRS, {"type": "object", "additionalProperties": STR}]}}
    name = {"type": "string", "pattern": f"^{bins.CUSTOM_NAME.pattern}$"} | about("Random when absent.")
    expires = EXPIRES_IN_S | about("An ephemeral bin: 410 Gone after this many seconds.")
    forward = obj({"url": URL, "enabled": BOOL}, optional=("enabled",))
    settings = {"response": obj(new_response, optional=tuple(new_response)), "forward": null(forward)}
    settings |= {"max_requests": integer(1, bins.MAX_REQUESTS_CEILING), "handshakes": BOOL}
    settings |= {"public_base_url": null(URL)}
    rules = about(f"Values replaced by `{redaction.MASK}`; null: the defaults.")
    settings |= {"redact": null(ref("RedactionRules")) | rules}
    return {
        "Bin": obj(
            {"id": STR, "capture_url": URL, "inspect_url": URL, "created_at": TIME}
            | {"expires_at": null(TIME | about("When an ephemeral bin expires (null: never)."))}
            | {"request_count": COUNT, "max_requests": integer(1), "response": obj(response)}
            | {"forward": null(obj({"url": URL, "enabled": BOOL})), "handshakes": BOOL}
            | {"public_base_url": null(URL)}
            | {"redact": ref("Redaction") | about("The bin's redaction rules, defaults filled in.")}
        ),
        "BinList": obj({"bins": array(ref("Bin"), "Newest first.")}),
        "Redaction": _redaction(given=False),
        "RedactionRules": _redaction(given=True),
        "NewBin": obj({"name": null(name), "expires_in_s": null(expires)}, optional=("name", "expires_in_s")),
        "BinSettings": obj(settings, optional=tuple(settings)),
    }


def _capture_schemas() -> dict[str, Schema]:
    note_text = {"type": "string", "maxLength": 500} | about("One line; blank or null clears it.")
    summary = (
        {"id": ID, "received_at": TIME, "method": STR, "query_string": STR, "content_type": STR}
        | {"path": STR | about("The sub-path after `/h/{bin}` (`/` when none).")}
        | {"body_size": COUNT, "provider": null(ref("Provider"))}
        | {"signature": obj({"status": null(ref("Verdict"))})}
        | {"analysed": BOOL | about("False between the capture's commit and its analysis.")}
        | {"pinned": BOOL | about("Kept by pruning and clear-all."), "note": null(STR)}
    )
    signature = (
        {"status": null(ref("Verdict")), "scheme": null(STR), "inferred": BOOL, "warnings": array(STR)}
        | {"secret": null(STR | about("The matching secret's label, never its value."))}
        | {"detail": STR | about("Why, in one plain sentence."), "debug": {"type": "object"}}
    )
    replaced = "What was replaced by `[redacted]`, in words (`header Authorization`, `body json card.number`): at "
    replaced += "capture (the `at_capture` rule), then in this answer (`redact=true`, the `for_owner` rule)."
    request = (
        {"headers": PAIRS, "query": PAIRS, "remote_addr": STR, "handshake": null(STR)}
        | {"body_base64": BASE64 | about("The exact body bytes received (redacted ones when `redacted` says so).")}
        | {"body_truncated": BOOL | about("Over the size limit: stored truncated (answered 413).")}
        | {"body_incomplete": BOOL | about("The sender stopped mid-body."), "signature": obj(signature)}
        | {"redacted": array(STR, replaced)}
    )
    return {
        "Summary": obj(summary),
        "Request": obj(summary | request),
        "RequestMeta": obj({"pinned": BOOL, "note": null(note_text)}, optional=("pinned", "note")),
        "RequestList": obj(
            {"requests": array(ref("Summary"), "Newest first.")}
            | {"next_before": null(ID | about("Pass as `before` for the next page (null: no more)."))}
        ),
        "Count": obj({"count": COUNT}),
        "NearMiss": obj(
            {"id": ID, "method": STR, "path": STR, "received_at": TIME}
            | {"missed": array(STR, "What it missed, e.g. `provider: wanted 'github', got 'stripe'`.")}
        ),
        "WaitResult": obj(
            {"request": null(ref("Request")), "timed_out": BOOL}
            | {"last_id": COUNT | about("The newest capture id examined: pass it as `after` to go on.")}
            | {"near_misses": array(ref("NearMiss"), "Only on a time-out: the newest captures examined.")},
            optional=("near_misses",),
        ),
        "Stats": obj(
            {"request_count": COUNT, "max_requests": integer(1), "unanalysed": COUNT}
            | {"providers": array(obj({"id": null(STR), "name": STR, "count": COUNT}), "Most frequent first.")}
            | {"verdicts": {"type": "object", "propertyNames": ref("Verdict"), "additionalProperties": COUNT}}
        ),
    }


def _secret_and_delivery_schemas() -> dict[str, Schema]:
    provider_ids = sorted(entry.id for entry in providers.all_providers())
    return {
        "Secret": obj(
            {"id": ID, "label": STR, "provider": null(STR), "created_at": TIME}
            | {"hint": STR | about("At most the value's last 4 characters; the value is never returned.")}
        ),
        "SecretList": obj({"secrets": array(ref("Secret"))}),
        "NewSecret": obj(
            {"label": {"type": "string", "minLength": 1, "maxLength": bins.MAX_SECRET_LABEL}}
            | {"value": {"type": "string", "minLength": 1, "writeOnly": True}}
            | {"provider": null({"type": "string", "enum": provider_ids})},
            optional=("provider",),
            closed=False,
        ),
        "Delivery": obj(
            {"id": ID, "request_id": ID, "kind": {"type": "string", "enum": ["replay", "forward"]}}
            | {"method": STR, "url": STR, "status_code": null(integer()), "error": null(STR)}
            | {"elapsed_ms": COUNT, "response_headers": PAIRS, "response_body_base64": BASE64}
            | {"attempt": integer(1), "note": null(STR), "created_at": TIME}
        ),
        "DeliveryList": obj({"deliveries": array(ref("Delivery"))}),
        "Replay": obj(
            {"url": URL | about("The target base URL: the captured sub-path and query are appended.")}
            | {"method": null({"type": "string", "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$"})}
            | {"headers": null(PAIRS), "body_base64": null(BASE64), "resign": null(BOOL)},
            optional=("method", "headers", "body_base64", "resign"),
            closed=False,
        ),
    }


def _access_schemas() -> dict[str, Schema]:
    scope: Schema = {"type": "string", "enum": list(SCOPES), "description": "`read` < `write` < `admin`."}
    label: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_TOKEN_LABEL, "pattern": _PRINTABLE}
    token = (
        {"id": ID, "label": STR, "scope": scope, "created_at": TIME}
        | {"bin": null(STR | about("The one bin the token reaches (null: every bin)."))}
        | {"last_used_at": null(TIME)}
    )
    secret = "Shown only in this answer (only its digest is stored). "
    share = (
        {"id": ID, "created_at": TIME, "last_used_at": null(TIME)}
        | {"expires_at": null(TIME | about("When the link stops working (null: never)."))}
        | {"allow_raw": BOOL | about("Whether the shared page offers the raw body download.")}
    )
    activity = {"id": ID, "bin": STR, "at": TIME, "actor": STR | about("Who: `admin`, a token, `anyone`…")}
    activity |= {"action": STR | about("What: `settings`, `replay`, `share_create`, …"), "detail": STR}
    return {
        "Token": obj(token),
        "TokenList": obj({"tokens": array(ref("Token"))}),
        "NewToken": obj(
            {"label": label, "scope": scope}
            | {"bin": null(STR | about("Limit the token to this existing bin (left out or null: every bin)."))},
            optional=("bin",),
        ),
        "CreatedToken": obj(token | {"token": STR | about(secret + "Send it as `Authorization: Bearer <token>`.")}),
        "Share": obj(share),
        "ShareList": obj({"shares": array(ref("Share"))}),
        "NewShare": obj(
            {"expires_in_s": null(EXPIRES_IN_S | about("Seconds the link works (left out or null: no expiry)."))}
            | {"allow_raw": BOOL | about("Offer the raw body download (default false).")},
            optional=("expires_in_s", "allow_raw"),
        ),
        "CreatedShare": obj(
            share
            | {"token": STR | about(secret + "The secret part of `url`.")}
            | {"url": URL | about("The read-only shared page, `…/s/<token>`: live, redacted, no secrets.")}
        ),
        "Activity": obj(activity),
        "ActivityList": obj({"activity": array(ref("Activity"), "Newest first.")}),
    }


def _export_schemas() -> dict[str, Schema]:
    """HAR 1.2 as `bin_export` writes it and `bin_import` reads it (objects stay open: HAR
    files carry custom `_` fields), and the import's answer."""
    pairs = array(ref("HarPair"))
    text = "The body: UTF-8 text as it is, else its base64 with `encoding`."
    post_data = {"mimeType": STR, "text": STR | about(text), "encoding": {"type": "string", "enum": ["base64", ""]}}
    post_data |= {"params": pairs | about("Form fields, read (urlencoded) when there is no `text`.")}
    request = {"method": STR, "url": STR | about("The capture URL, the sub-path and the raw query.")}
    request |= {"httpVersion": STR, "cookies": array({"type": "object"}), "headers": pairs, "queryString": pairs}
    request |= {"postData": obj(post_data, optional=("text", "encoding", "params"), closed=False)}
    request |= {"headersSize": integer(), "bodySize": integer()}
    exact = (
        {"id": ID, "bin": STR, "received_at": TIME, "path": STR, "query_string": STR, "remote_addr": STR}
        | {"content_type": STR, "body_size": COUNT, "body_truncated": BOOL, "body_incomplete": BOOL}
        | {"handshake": null(STR), "redacted": array(STR), "provider": null(STR), "event": null(STR)}
        | {"verdict": null(ref("Verdict"))}
    )
    hookloupe = obj(exact, optional=tuple(exact), closed=False) | about(
        "What makes an import exact (an import reads it before the standard fields); the analysis is informative."
    )
    entry = {"startedDateTime": TIME, "time": {"type": "number"}, "request": obj(request, ("postData",), closed=False)}
    entry |= {"response": {"type": "object"}, "cache": {"type": "object"}, "timings": {"type": "object"}}
    entry |= {"_hookloupe": hookloupe}
    creator = obj({"name": STR, "version": STR}, closed=False)
    log = {"version": STR, "creator": creator, "pages": array({"type": "object"}), "entries": array(ref("HarEntry"))}
    return {
        "Har": obj({"log": obj(log, optional=("pages",), closed=False)}, closed=False) | about("A HAR 1.2 file."),
        "HarEntry": obj(entry, optional=("_hookloupe",), closed=False),
        "HarPair": obj({"name": STR, "value": STR}, closed=False),
        "Imported": obj({"imported": COUNT | about("How many captures were imported.")}),
    }


def component_schemas() -> dict[str, Schema]:
    """Every schema of `components.schemas`, new on every call."""
    return {
        "Error": obj({"error": STR | about("What went wrong, in plain words.")}),
        "OpenAPI": {"type": "object", "description": "An OpenAPI 3.1 document."},
        "Pair": array(STR, "`[name, value]`, in arrival order, duplicates kept.") | {"minItems": 2, "maxItems": 2},
        "Verdict": {"type": "string", "enum": list(STATUSES), "description": "The signature status (DESIGN §4)."},
        "Provider": obj(
            {"id": STR | about("Lowercase, hyphenated: `github`, `stripe`, …"), "name": STR}
            | {"event": null(STR), "delivery_id": null(STR)}
        ),
        **_bin_schemas(),
        **_capture_schemas(),
        **_secret_and_delivery_schemas(),
        **_access_schemas(),
        **_export_schemas(),
    }
