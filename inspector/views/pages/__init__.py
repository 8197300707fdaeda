"""The HTML pages: home and the live bin page (Jinja + htmx), and the fragments they load."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, make_response, render_template, request, url_for

from inspector import store, stream
from inspector.bins import InvalidInput, check_custom_name, new_bin_id
from inspector.bodyview import body_views
from inspector.capture.request import query_pairs
from inspector.delivery import compare
from inspector.delivery.replay import ResignError, replay_capture
from inspector.headers import first_header
from inspector.signing import analysis as judging
from inspector.signing import providers, secretbox
from inspector.signing.schemes import KEY_READING_NAMES
from inspector.signing.verify import STATUSES
from inspector.views.api import base_url, event_stream_response, verify
from inspector.views.common import bin_or_404, capture_or_404, check_target, verdict_base
from inspector.views.secrets import parse_secret

bp = Blueprint("pages", __name__)

PAGE_SIZE = 50
# Badge classes by verdict status: a class attribute is only ever one of these fixed strings,
# never text from a capture ("none" gets no badge).
VERDICT_CLASSES = {status: f"verdict-{status.replace('_', '-')}" for status in STATUSES if status != "none"}
FILTERS = ("q", "provider", "event", "verdict")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}")
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
REPLAY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Browsers label every request with where it came from; only these may change anything.
_SAME_SITE_FETCHES = ("same-origin", "none")


def is_htmx() -> bool:
    """True when htmx (not a plain navigation) sent the request."""
    return request.headers.get("HX-Request") == "true"


@bp.before_request
def _refuse_cross_site():
    """Mutations must come from our own pages' htmx: a cross-site form cannot set HX-Request
    (a custom header needs a CORS preflight we never grant), and Sec-Fetch-Site, when the
    browser sends it, must say same-origin. Origin is not compared with the Host, which a
    reverse proxy may rewrite."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if not is_htmx() or request.headers.get("Sec-Fetch-Site", "same-origin") not in _SAME_SITE_FETCHES:
        abort(403, description="cross-site request refused")
    return None


@bp.app_template_global()
def verdict_class(status: str | None) -> str:
    """The badge class for a verdict status, "" for none or anything unknown."""
    return VERDICT_CLASSES.get(status or "", "")


@bp.app_template_global()
def provider_name(provider_id: str | None) -> str:
    """The registry's name for a provider id (ids come from the registry, not from senders)."""
    entry = providers.get(provider_id) if provider_id else None
    return entry.name if entry else (provider_id or "")


@bp.after_request
def _no_store(response: Response) -> Response:
    # Bin pages hold captured data behind a capability URL: keep them out of shared caches.
    if request.endpoint != "pages.home":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/")
def home():
    return render_template("home.html")


@bp.post("/bins")
def create():
    """Create a bin from the home form; htmx follows HX-Redirect to its page. A bad or taken
    name answers 400/409 with the form's error fragment."""
    name = request.form.get("name", "").strip()
    try:
        bin_id = check_custom_name(name) if name else new_bin_id()
        store.create_bin(bin_id, datetime.now(UTC))
    except InvalidInput as error:
        return render_template("partials/_create_error.html", message=str(error)), 400
    except store.BinExistsError:
        message = f"A bin named “{name}” already exists; choose another name."
        return render_template("partials/_create_error.html", message=message), 409
    response = make_response(render_template("partials/_create_error.html", message=""), 201)
    response.headers["HX-Redirect"] = url_for("pages.show", bin_id=bin_id)
    return response


@bp.get("/bins/<bin_id>")
def show(bin_id: str):
    """The bin's page; `?request=<id>` opens that capture, `?before=<id>` shows older ones,
    `q`/`provider`/`event`/`verdict` filter the list. An unknown bin gets the 404 page."""
    bin_ = store.get_bin(bin_id)
    if bin_ is None:
        return render_template("not_found.html", bin_id=bin_id), 404
    selected = _int_arg("request")
    return render_template("bin.html", **_bin_context(bin_, _int_arg("before"), selected))


@bp.get("/bins/<bin_id>/list")
def list_pane(bin_id: str):
    """Fragment: the whole list pane for the filters in the query (newest page, live). It
    replaces the old pane, so its event stream is re-made with the new filters; the address
    bar follows (HX-Push-Url)."""
    bin_ = bin_or_404(bin_id)
    filters = _filters()
    response = make_response(render_template("partials/_list_pane.html", **_list_context(bin_, None, filters)))
    response.headers["HX-Push-Url"] = _bin_url(bin_id) + (f"?{urlencode(filters)}" if filters else "")
    return response


@bp.get("/bins/<bin_id>/requests")
def rows(bin_id: str):
    """Fragment: one page of rows older than `before` (same filters), then the next "older" link."""
    bin_ = bin_or_404(bin_id)
    filters = _filters()
    rows_, next_before = _page(bin_, _int_arg("before"), filters)
    return render_template(
        "partials/_request_page.html",
        rows=rows_,
        next_before=next_before,
        bin_url=_bin_url(bin_id),
        filter_qs=_filter_qs(filters),
    )


@bp.get("/bins/<bin_id>/requests/<int:capture_id>")
def detail(bin_id: str, capture_id: int):
    """The detail pane fragment for htmx, the whole page with it open otherwise."""
    bin_ = bin_or_404(bin_id)
    if is_htmx():
        row = capture_or_404(bin_id, capture_id)
        html = render_template("partials/_detail.html", **_detail_context(bin_, row))
    else:
        html = render_template("bin.html", **_bin_context(bin_, None, capture_id))
    response = make_response(html)
    response.vary.add("HX-Request")
    return response


@bp.delete("/bins/<bin_id>/requests/<int:capture_id>")
def delete_request(bin_id: str, capture_id: int):
    """Delete one capture: answers the emptied detail pane and removes its row (out of band)."""
    bin_or_404(bin_id)
    if not store.delete_capture(bin_id, capture_id):
        abort(404, description=f"no request {capture_id} in this bin")
    return render_template("partials/_detail.html", row=None) + render_template(
        "partials/_row_removed.html", capture_id=capture_id
    )


@bp.delete("/bins/<bin_id>/requests")
def clear(bin_id: str):
    """Delete every capture: answers the empty list and empties the detail pane (out of band)."""
    bin_or_404(bin_id)
    store.clear_captures(bin_id)
    return render_template(
        "partials/_request_list.html", rows=[], next_before=None, bin_url=_bin_url(bin_id), filter_qs=""
    ) + render_template("partials/_detail.html", row=None, oob=True)


@bp.get("/bins/<bin_id>/stream")
def stream_rows(bin_id: str):
    """SSE for the page: event `request` carries the rendered `_request_row.html` of each new
    capture after `Last-Event-ID` (or `?after=`, or now), so a reconnect misses nothing.

    The stream takes the list's filters too and leaves out rows that do not match them: the
    page re-makes its stream whenever the filters change (the list pane is swapped whole), so
    the browser never has to judge a row itself."""
    bin_ = bin_or_404(bin_id)
    filters = _filters()
    last_id = stream.parse_last_event_id(request.headers.get("Last-Event-ID"), request.args.get("after"))
    if last_id is None:
        newest = store.list_captures(bin_id, limit=1)
        last_id = newest[0].id if newest else 0
    # Built here: the stream renders rows outside any request.
    bin_url, secret_key, base = _bin_url(bin_id), current_app.config["SECRET_KEY"], verdict_base(bin_)

    def render(row) -> str | None:
        judging.judge_rows([row], bin_id, secret_key, base)
        if filters and not store.list_captures(bin_id, limit=1, after=row.id - 1, before=row.id + 1, **filters):
            return None  # the same query as the list, so a live row matches exactly when a listed one would
        # SSE ends a line at CR as well as LF; keep a stray CR from splitting the fragment.
        return render_template("partials/_request_row.html", row=row, bin_url=bin_url).replace("\r", "&#13;")

    return event_stream_response(bin_id, last_id, render, event="request")


@bp.get("/bins/<bin_id>/requests/<int:capture_id>/signature")
def signature(bin_id: str, capture_id: int):
    """Fragment: the signature section; `?at=now` judges timestamps against the current time
    ("check now") instead of the arrival time, without changing the cached verdict."""
    bin_ = bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    checked_now = datetime.now(UTC) if request.args.get("at") == "now" else None
    return render_template("partials/_signature.html", **_signature_context(bin_, row, checked_now))


@bp.post("/bins/<bin_id>/requests/<int:capture_id>/replay")
def replay(bin_id: str, capture_id: int):
    """Send the capture to the form's target now (edits and re-signing optional): answers the
    result (the Delivery, or why nothing was sent, as 400) and the refreshed deliveries list."""
    bin_ = bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    try:
        url = check_target(request.form.get("url", "").strip())
        edits = _replay_edits(row, request.form)
        sent = replay_capture(
            bin_,
            row,
            url=url,
            edits=edits,
            resign_it=request.form.get("resign") == "1",
            config=current_app.config,
            base=verdict_base(bin_),
        )
    except InvalidInput as error:
        return render_template("partials/_replay_result.html", error=str(error), delivery=None), 400
    except ResignError as error:
        message = f"Nothing was sent: cannot re-sign: {error}"
        return render_template("partials/_replay_result.html", error=message, delivery=None), 400
    return render_template("partials/_replay_result.html", error=None, delivery=_delivery_view(sent)) + render_template(
        "partials/_deliveries.html", oob=True, **_deliveries_context(bin_id, row)
    )


@bp.get("/bins/<bin_id>/requests/<int:capture_id>/deliveries")
def deliveries(bin_id: str, capture_id: int):
    """Fragment: every delivery attempt of the capture (replays and auto-forwards)."""
    bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    return render_template("partials/_deliveries.html", **_deliveries_context(bin_id, row))


@bp.get("/bins/<bin_id>/requests/<int:capture_id>/compare")
def compare_deliveries(bin_id: str, capture_id: int):
    """Fragment: deliveries `a` and `b` of the capture side by side; a plain message when
    either is missing or they are the same one."""
    bin_or_404(bin_id)
    capture_or_404(bin_id, capture_id)
    a_id, b_id = _int_arg("a"), _int_arg("b")
    left = store.get_delivery(capture_id, a_id) if a_id is not None else None
    right = store.get_delivery(capture_id, b_id) if b_id is not None else None
    if left is None or right is None:
        return render_template("partials/_compare.html", error="Pick two deliveries of this request.")
    if left.id == right.id:
        return render_template("partials/_compare.html", error="Pick two different deliveries.")
    return render_template(
        "partials/_compare.html",
        error=None,
        left=left,
        right=right,
        comparison=compare.compare_deliveries(left, right),
    )


@bp.post("/bins/<bin_id>/secrets")
def add_secret(bin_id: str):
    """Store a signing secret from the panel's form (encrypted; the value is never shown
    again, not even in an error). Every capture is judged again: the page reloads its list."""
    bin_or_404(bin_id)
    form = request.form
    try:
        label, value, provider = parse_secret(
            {"label": form.get("label", ""), "value": form.get("value", ""), "provider": form.get("provider") or None}
        )
    except InvalidInput as error:
        return render_template("partials/_secrets.html", **_secrets_context(bin_id, error=str(error))), 400
    store.add_secret(
        bin_id,
        label=label,
        provider=provider,
        ciphertext=secretbox.encrypt(current_app.config["SECRET_KEY"], value),
        hint=secretbox.hint(value),
        now=datetime.now(UTC),
    )
    message = f"Saved secret “{label}”. Every request is checked again with it."
    return _secrets_changed(render_template("partials/_secrets.html", **_secrets_context(bin_id, message=message)))


@bp.delete("/bins/<bin_id>/secrets/<int:secret_id>")
def delete_secret(bin_id: str, secret_id: int):
    """Delete one secret; answers the refreshed panel (404 when it is not in this bin)."""
    bin_or_404(bin_id)
    if not store.delete_secret(bin_id, secret_id):
        abort(404, description=f"no secret {secret_id} in this bin")
    message = "Secret deleted. Every request is checked again without it."
    return _secrets_changed(render_template("partials/_secrets.html", **_secrets_context(bin_id, message=message)))


@bp.post("/bins/<bin_id>/forward")
def save_forward(bin_id: str):
    """Save auto-forwarding from the form: an empty URL turns it off; a URL that is not
    http(s) or is this server's own capture URL is refused (400) with the reason."""
    bin_ = bin_or_404(bin_id)
    url = request.form.get("url", "").strip()
    enabled = request.form.get("enabled") == "1"
    try:
        if url:
            store.save_bin_settings(bin_, forward=(check_target(url), enabled))
        else:
            store.save_bin_settings(bin_, forward=None)
    except InvalidInput as error:
        return render_template("partials/_forward.html", bin_=bin_, bin_url=_bin_url(bin_id), error=str(error)), 400
    message = "Saved." if url else "Saved: auto-forward is off."
    return render_template("partials/_forward.html", bin_=bin_, bin_url=_bin_url(bin_id), message=message)


# --- helpers -------------------------------------------------------------------------------


def _int_arg(name: str) -> int | None:
    """A non-negative integer query argument; None when absent or not a number."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None


def _filters() -> dict:
    """The list filters in the query string that are set (an unknown verdict is ignored)."""
    found = {name: request.args.get(name, "").strip() for name in FILTERS}
    if found["verdict"] not in STATUSES:
        found["verdict"] = ""
    return {name: value for name, value in found.items() if value}


def _filter_qs(filters: dict) -> str:
    """The filters as `&name=value...`, to append to a URL that already has a query."""
    return f"&{urlencode(filters)}" if filters else ""


def _bin_url(bin_id: str) -> str:
    return url_for("pages.show", bin_id=bin_id)


def _page(bin_, before: int | None, filters: dict) -> tuple[list, int | None]:
    """Up to PAGE_SIZE captures older than `before` matching `filters` (newest first, their
    verdicts judged) and the cursor for the next page, None when there is none. Asks for one
    extra row to know."""
    secret_key, base = current_app.config["SECRET_KEY"], verdict_base(bin_)
    if any(filters.get(key) for key in ("provider", "event", "verdict")):  # filtering analysed columns
        judging.judge_all_pending(bin_, secret_key, base)
    found = store.list_captures(bin_.id, limit=PAGE_SIZE + 1, before=before, **filters)
    page = found[:PAGE_SIZE]
    judging.judge_rows(page, bin_.id, secret_key, base)
    return page, (page[-1].id if len(found) > PAGE_SIZE else None)


def _list_context(bin_, before: int | None, filters: dict) -> dict:
    rows_, next_before = _page(bin_, before, filters)
    if before is None and filters:
        # Stream from the newest capture of all: rows hidden by the filters need no re-check.
        newest = store.list_captures(bin_.id, limit=1)
        live_after = newest[0].id if newest else 0
    elif before is None:
        live_after = rows_[0].id if rows_ else 0
    else:
        live_after = None  # only the newest page is live
    provider_options = [
        (provider_id or "none", provider_name(provider_id) if provider_id else "no provider", count)
        for provider_id, count in store.provider_counts(bin_.id)
    ]
    return {
        "bin_": bin_,
        "bin_url": _bin_url(bin_.id),
        "rows": rows_,
        "next_before": next_before,
        "live_after": live_after,
        "older_page": before is not None,
        "filters": filters,
        "filter_qs": _filter_qs(filters),
        "provider_options": provider_options,
        "statuses": [status for status in STATUSES if status != "none"] + ["none"],
    }


def _bin_context(bin_, before: int | None, selected: int | None) -> dict:
    row = store.get_capture(bin_.id, selected) if selected is not None else None
    capture_url = f"{base_url()}/h/{bin_.id}"
    return {
        **_list_context(bin_, before, _filters()),
        "capture_url": capture_url,
        **_secrets_context(bin_.id),
        **(_detail_context(bin_, row) if row is not None else {"row": None}),
    }


def _detail_context(bin_, row) -> dict:
    encoding = first_header(row.headers, "Content-Encoding") or ""
    return {
        "row": row,
        "bin_url": _bin_url(bin_.id),
        "raw_url": url_for("api.raw_body", bin_id=bin_.id, capture_id=row.id),
        "query": query_pairs(row.query_string),
        "views": body_views(row.body, row.content_type, encoding),
        "max_body": current_app.config["MAX_BODY_BYTES"],
        **_signature_context(bin_, row, None),
        **_deliveries_context(bin_.id, row),
        "replay_methods": REPLAY_METHODS,
        "headers_text": _headers_text(row.headers),
        "body_text": _editable_body(row.body),
    }


def _signature_context(bin_, row, checked_now: datetime | None) -> dict:
    """What the signature section shows: a fresh detection (for its evidence), the registry
    entry, the verdict (as of arrival, or as of `checked_now`) and the debugger's rows."""
    secret_key = current_app.config["SECRET_KEY"]
    judging.judge_rows([row], bin_.id, secret_key, verdict_base(bin_))  # fills its provider columns if not yet
    detection = providers.detect(judging.captured_from_row(row))
    entry = providers.get(row.provider_id or (detection.provider_id if detection else ""))
    if checked_now is None:
        verification = verify(bin_, row)
    else:
        secrets = judging.secret_values(store.list_secrets(bin_.id), secret_key)
        verification = judging.judge_row(row, secrets, verdict_base(bin_), at=checked_now)
    return {
        "row": row,
        "bin_url": _bin_url(bin_.id),
        "detection": detection,
        "entry": entry,
        "verification": verification,
        "debug_rows": debug_rows(verification.debug),
        "checked_now": checked_now,
    }


# The debugger's rows, in reading order: (key in Verification.debug, label).
_DEBUG_LABELS = (
    ("algorithm", "Algorithm"),
    ("encoding", "Signature encoding"),
    ("key_interpretation", "Key read as"),
    ("key_reading", "Key reading tried"),
    ("signed_preview", "Signed string (preview)"),
    ("expected", "Expected signature"),
    ("received", "Received signature(s)"),
    ("matched_index", "Matched signature"),
    ("body_variant", "Body variant"),
    ("url_variant", "URL variant"),
    ("timestamp_skew_seconds", "Timestamp skew"),
    ("tolerance_seconds", "Tolerance"),
    ("missing", "Missing"),
    ("diagnosis", "Diagnosis"),
)


def debug_rows(debug: dict) -> list[tuple[str, str]]:
    """The verdict's debug dict as (label, text) rows: known keys in a fixed order and
    worded for reading, unknown keys after them as they are. The dict never holds a secret."""
    rows, known = [], {key for key, _ in _DEBUG_LABELS}
    for key, label in _DEBUG_LABELS:
        if key not in debug or debug[key] in (None, "", []):
            continue
        value = debug[key]
        if key == "received" and isinstance(value, list):
            matched = debug.get("matched_index")
            text = "\n".join(
                f"{n + 1}. {item}" + ("   ← matched" if n == matched else "") for n, item in enumerate(value)
            )
        elif key == "matched_index":
            text = f"number {value + 1} of {len(debug.get('received') or []) or '?'}"
        elif key == "timestamp_skew_seconds":
            text = f"{value} s " + ("(timestamp in the past)" if value >= 0 else "(timestamp in the future)")
        elif key == "tolerance_seconds":
            text = "none (any age accepted)" if value is None else f"± {value} s"
        elif key in ("key_interpretation", "key_reading"):
            text = KEY_READING_NAMES.get(value, str(value))
        else:
            text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        rows.append((label, text))
    rows.extend((key.replace("_", " "), str(value)) for key, value in debug.items() if key not in known)
    return rows


def _deliveries_context(bin_id: str, row) -> dict:
    return {
        "row": row,
        "bin_url": _bin_url(bin_id),
        "deliveries": [_delivery_view(d) for d in store.list_deliveries(row.id)],
    }


def _delivery_view(row) -> dict:
    """A Delivery with its response body readable: text, or a hex dump when not UTF-8."""
    text, is_binary = compare.body_text(row.response_body or b"")
    return {"d": row, "body": text, "binary": is_binary}


def _headers_text(headers) -> str:
    """Captured headers as the replay form's `Name: value` lines."""
    return "\n".join(f"{name}: {value}" for name, value in headers)


def _editable_body(body: bytes) -> str | None:
    """The body as text for the replay form, None when it is not UTF-8 (sent as captured)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _normal_lines(text: str) -> str:
    # Browsers send a textarea's lines joined by CRLF whatever they were.
    return text.replace("\r\n", "\n")


def _replay_edits(row, form) -> dict:
    """The replay form as replay_capture edits: only what differs from the capture counts as
    edited, so an untouched form sends the capture as captured. InvalidInput when a field
    cannot be used."""
    edits = {}
    method = form.get("method", "").strip()
    if method and method != row.method:
        if not _METHOD.fullmatch(method):
            raise InvalidInput("method must be an HTTP method token")
        edits["method"] = method.upper()
    headers_text = form.get("headers")
    if headers_text is not None and _normal_lines(headers_text).strip() != _headers_text(row.headers).strip():
        edits["headers"] = parse_header_lines(headers_text)
    body = form.get("body")
    original = _editable_body(row.body)
    if body is not None and original is not None and _normal_lines(body) != _normal_lines(original):
        body = _normal_lines(body)
        if b"\r\n" in row.body:  # keep the capture's own line endings
            body = body.replace("\n", "\r\n")
        edits["body"] = body.encode("utf-8")
    return edits


def parse_header_lines(text: str) -> list[tuple[str, str]]:
    """`Name: value` lines as header pairs (blank lines skipped); InvalidInput naming the
    first line that is not one."""
    pairs = []
    for number, line in enumerate(_normal_lines(text).split("\n"), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name.strip()):
            raise InvalidInput(f"header line {number} is not “Name: value”")
        if any(ch in value for ch in "\r\0"):
            raise InvalidInput(f"header line {number} holds a control character")
        pairs.append((name.strip(), value.strip()))
    return pairs


def _secrets_context(bin_id: str, *, error: str = "", message: str = "") -> dict:
    """The secrets panel: stored secrets (hints only), the provider choices (those seen in
    this bin first) with where each provider shows its secret."""
    seen = [provider_id for provider_id, _ in store.provider_counts(bin_id) if provider_id]
    everyone = sorted(providers.all_providers(), key=lambda entry: entry.name.lower())
    return {
        "bin_url": _bin_url(bin_id),
        "secrets": store.list_secrets(bin_id),
        "seen_providers": [providers.get(provider_id) for provider_id in seen if providers.get(provider_id)],
        "all_providers": [entry for entry in everyone if entry.schemes],
        "secret_error": error,
        "secret_message": message,
    }


def _secrets_changed(html: str) -> Response:
    """The panel, plus an event telling the page to reload its list and open signature."""
    response = make_response(html)
    response.headers["HX-Trigger"] = "hookloupe-secrets-changed"
    return response
