"""The bin page's Settings section: custom response, retention, handshakes and public base URL.

Each form is checked by the same parsers as `PATCH /api/bins/<bin>` (inspector/bins.py) and
answers the whole section again: on 400 with the form as sent and the reason beside it. The
bin head's "N of M kept" line (_settings_count.html) is served here too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, make_response, render_template, request
from werkzeug.datastructures import MultiDict

from inspector import store
from inspector.bins import (
    InvalidInput,
    ascii_int,
    check_text,
    parse_max_requests,
    parse_public_base,
    parse_response,
)
from inspector.models import Bin
from inspector.views.common import bin_or_404, input_limits, no_store, note_activity, refuse_foreign_mutation

bp = Blueprint("settings", __name__)

# "CORS on" is these response headers, nothing more: every capture (a preflight OPTIONS too) is
# answered with the bin's custom response, so a browser may call the capture URL from any page.
# A preflight passes only when the response status is 2xx.
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "*"),
    ("Access-Control-Allow-Headers", "*"),
)
_CORS_NAMES = {name.lower() for name, _ in CORS_HEADERS}
# The retention form's expiry choices: form value → (label, lifetime; None: never expires).
# "keep" leaves the bin's expiry as it is, so saving the form again does not move it.
EXPIRIES: dict[str, tuple[str, timedelta | None]] = {
    "never": ("never", None),
    "1d": ("1 day from now", timedelta(days=1)),
    "7d": ("7 days from now", timedelta(days=7)),
    "30d": ("30 days from now", timedelta(days=30)),
}
# Tells the bin page that its activity log has a new entry (the same event as manage.py's:
# view modules do not import each other).
ACTIVITY_CHANGED = "hookloupe-activity-changed"


bp.before_request(refuse_foreign_mutation)


bp.after_request(no_store)


def wants_open() -> bool:
    """Whether the section is asked for open (`?open=1`: the bin page's first load of it)."""
    return request.args.get("open") == "1"


@bp.get("/bins/<bin_id>/settings")
def panel(bin_id: str) -> str:
    """The Settings section (`?open=1`: shown open, as when the bin page first loads it)."""
    bin_ = bin_or_404(bin_id)
    return render_template("partials/_settings.html", **settings_context(bin_, open=wants_open()))


@bp.get("/bins/<bin_id>/settings/count")
def count(bin_id: str) -> str:
    """The bin head's "N of M kept" line; the page reloads it when its counts change."""
    bin_ = bin_or_404(bin_id)
    return render_template("partials/_settings_count.html", **count_context(bin_))


@bp.post("/bins/<bin_id>/settings/response")
def save_response(bin_id: str) -> Response:
    """Save the custom response (status, header lines, body, delay, CORS)."""
    bin_ = bin_or_404(bin_id)
    form = request.form
    try:
        response = parse_response(response_fields(form), input_limits())
    except InvalidInput as error:
        return _answer(bin_, "response", error=str(error), sent=form)
    store.save_bin_settings(bin_, response=response)
    cors = "on" if has_cors(response.headers) else "off"
    detail = f"response: status {response.status}, {len(response.headers)} headers, delay {response.delay_ms} ms"
    note_activity(bin_id, "settings", f"{detail}, CORS {cors}")
    return _answer(bin_, "response", message="Saved: new captures get this answer.")


@bp.post("/bins/<bin_id>/settings/retention")
def save_retention(bin_id: str) -> Response:
    """Save how many captures the bin keeps and when it expires (`expires`: keep, never, 1d…)."""
    bin_ = bin_or_404(bin_id)
    form = request.form
    try:
        max_requests = parse_max_requests(_number(form.get("max_requests", "")))
        expiry = form.get("expires", "keep")
        if expiry != "keep" and expiry not in EXPIRIES:
            raise InvalidInput("expiry must be one of: keep, " + ", ".join(EXPIRIES))
    except InvalidInput as error:
        return _answer(bin_, "retention", error=str(error), sent=form)
    if expiry != "keep":
        lifetime = EXPIRIES[expiry][1]
        # Committed with the other settings by save_bin_settings (it has no expiry argument).
        bin_.expires_at = datetime.now(UTC) + lifetime if lifetime else None
    store.save_bin_settings(bin_, max_requests=max_requests)
    ends = "" if expiry == "keep" else f", expires {EXPIRIES[expiry][0]}"
    note_activity(bin_id, "settings", f"retention: keep {max_requests}{ends}")
    answer = _answer(bin_, "retention", message="Saved.")
    # The head's count line shows the new limit at once.
    count_line = render_template("partials/_settings_count.html", **count_context(bin_) | {"oob": True})
    answer.set_data(answer.get_data(as_text=True) + count_line)
    return answer


@bp.post("/bins/<bin_id>/settings/handshakes")
def save_handshakes(bin_id: str) -> Response:
    """Turn provider handshakes (URL verification challenges) on or off."""
    bin_ = bin_or_404(bin_id)
    on = request.form.get("handshakes") == "1"
    store.save_bin_settings(bin_, handshakes=on)
    note_activity(bin_id, "settings", f"handshakes {'on' if on else 'off'}")
    return _answer(bin_, "handshakes", message="Saved.")


@bp.post("/bins/<bin_id>/settings/public-base")
def save_public_base(bin_id: str) -> Response:
    """Save the public base URL senders call (empty: the server's own); captures are verified
    again when it changes (URL-signing providers sign it)."""
    bin_ = bin_or_404(bin_id)
    raw = request.form.get("public_base_url", "").strip()
    try:
        base = parse_public_base(check_text(raw, "public_base_url") or None)
    except InvalidInput as error:
        return _answer(bin_, "public_base", error=str(error), sent=request.form)
    store.save_bin_settings(bin_, public_base_url=base)
    note_activity(bin_id, "settings", f"public base URL {base or 'cleared'}")
    return _answer(bin_, "public_base", message="Saved." if base else "Saved: the server's own URL is used.")


def response_fields(form: MultiDict[str, str]) -> dict[str, Any]:
    """The response form as parse_response's object: status and delay as numbers (a field
    that is not one goes through as text, so the parser says what is wrong), `Name: value`
    lines as pairs, an empty body with "default body" ticked as None, and the CORS headers
    added when the box is ticked (any the lines already name are replaced)."""
    headers = header_lines(check_text(form.get("headers", ""), "response headers"))
    if form.get("cors") == "1":
        headers = [pair for pair in headers if pair[0].lower() not in _CORS_NAMES] + [list(p) for p in CORS_HEADERS]
    body = check_text(form.get("body", ""), "response.body")
    return {
        "status": _number(form.get("status", "")),
        "headers": headers,
        "body": None if form.get("default_body") == "1" else body,
        "delay_ms": _number(form.get("delay_ms", "") or "0"),
    }


def header_lines(text: str) -> list[list[str]]:
    """`Name: value` lines as [name, value] pairs (blank lines skipped; spaces around the
    name and before the value dropped); InvalidInput naming a line with no colon."""
    pairs = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise InvalidInput(f"response headers, line {number}: write it as “Name: value”")
        pairs.append([name.strip(), value.strip(" \t")])
    return pairs


def has_cors(headers: Any) -> bool:
    """Whether the headers hold every CORS header with its `*` value."""
    present = {(str(name).lower(), value) for name, value in headers or ()}
    return all((name.lower(), value) in present for name, value in CORS_HEADERS)


def _number(raw: str) -> int | str:
    """The ASCII digits as an int, else the text itself (the parser refuses it with a reason)."""
    value = ascii_int(raw.strip())
    return raw if value is None else value


def _answer(bin_: Bin, form: str, *, error: str = "", message: str = "", sent: Any = None) -> Response:
    """The section again, `form`'s reason or confirmation beside it (400 for an error), and
    the event that reloads the activity log after a save."""
    html = render_template(
        "partials/_settings.html",
        **settings_context(bin_, open=True, form=form, error=error, message=message, sent=sent),
    )
    answer = make_response(html, 400 if error else 200)
    if not error:
        answer.headers["HX-Trigger"] = ACTIVITY_CHANGED
    return answer


def settings_context(bin_: Bin, **extra: Any) -> dict[str, Any]:
    """The section: the bin's settings as the forms show them; `extra`: open, form (the one
    just sent), error, message, sent (its fields as sent, shown again after an error)."""
    headers = [tuple(pair) for pair in bin_.response_headers or ()]
    cors = has_cors(headers)
    shown = [pair for pair in headers if not (cors and pair[0].lower() in _CORS_NAMES)]
    return {
        "bin_": bin_,
        "headers_text": "\n".join(f"{name}: {value}" for name, value in shown),
        "cors": cors,
        "expiries": [(value, label) for value, (label, _) in EXPIRIES.items()],
        "max_requests": bin_.max_requests or _default_max(),
        "open": False,
        "form": None,
        "error": "",
        "message": "",
        "sent": None,
        **extra,
    }


def count_context(bin_: Bin) -> dict[str, Any]:
    """How many captures the bin keeps against its limit; `at_limit` when new ones push the
    oldest out (pinned captures count but are never the ones dropped)."""
    kept, limit = store.count_captures(bin_.id), bin_.max_requests or _default_max()
    return {"bin_": bin_, "kept": kept, "limit": limit, "at_limit": kept >= limit, "oob": False}


def _default_max() -> int:
    return int(current_app.config["MAX_REQUESTS_PER_BIN"])
