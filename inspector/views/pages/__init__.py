"""The HTML pages' routes: home and the live bin page (Jinja + htmx), and the fragments they load.

The templates' data is built in `context.py`; the forms are read in `forms.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, make_response, render_template, request, url_for

from inspector import store, stream
from inspector.bins import InvalidInput, check_custom_name, new_bin_id, parse_secret
from inspector.delivery import compare
from inspector.delivery.replay import ResignError, replay_capture
from inspector.models import Capture
from inspector.shapes import iso
from inspector.signing import secretbox
from inspector.signing.verify import STATUSES
from inspector.views.common import (
    as_shown,
    bin_or_404,
    capture_or_404,
    check_target,
    event_stream_response,
    input_limits,
    is_htmx,
    listed_row,
    note_activity,
    owner_redaction,
    refuse_foreign_mutation,
)
from inspector.views.pages import context
from inspector.views.pages.context import bin_url, debug_rows, provider_name
from inspector.views.pages.forms import filter_qs, int_arg, list_filters, replay_edits

bp = Blueprint("pages", __name__)

# Badge classes by verdict status: a class attribute is only ever one of these fixed strings,
# never text from a capture ("none" gets no badge).
VERDICT_CLASSES = {status: f"verdict-{status.replace('_', '-')}" for status in STATUSES if status != "none"}
# Tells the page that counts changed (a delete, clear-all): its facets reload.
COUNTS_CHANGED = "hookloupe-counts-changed"
# Tells the page that the bin's secrets changed: it reloads its list and open signature.
SECRETS_CHANGED = "hookloupe-secrets-changed"

__all__ = ["bp", "debug_rows", "provider_name", "verdict_class"]


bp.before_request(refuse_foreign_mutation)


@bp.app_template_global()
def verdict_class(status: str | None) -> str:
    """The badge class for a verdict status, "" for none or anything unknown."""
    return VERDICT_CLASSES.get(status or "", "")


bp.add_app_template_global(provider_name, "provider_name")


@bp.after_request
def _no_store(response: Response) -> Response:
    # Bin pages hold captured data behind a capability URL: keep them out of shared caches.
    if request.endpoint != "pages.home":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/")
def home() -> str:
    return render_template("home.html")


@bp.post("/bins")
def create() -> Response | tuple[str, int]:
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
def show(bin_id: str) -> str | tuple[str, int]:
    """The bin's page; `?request=<id>` opens that capture, `?before=<id>` shows older ones,
    `q`/`provider`/`event`/`verdict` filter the list. An unknown bin gets the 404 page."""
    bin_ = store.get_bin(bin_id)
    if bin_ is None:
        return render_template("not_found.html", bin_id=bin_id), 404
    if bin_.expires_at is not None and bin_.expires_at <= datetime.now(UTC):
        return render_template("not_found.html", bin_id=bin_id, expired_at=iso(bin_.expires_at)), 410
    selected = int_arg("request")
    return render_template("bin.html", **context.bin_context(bin_, int_arg("before"), selected))


@bp.get("/bins/<bin_id>/list")
def list_pane(bin_id: str) -> Response:
    """Fragment: the whole list pane for the filters in the query (newest page, live). It
    replaces the old pane, so its event stream is re-made with the new filters; the address
    bar follows (HX-Push-Url)."""
    bin_ = bin_or_404(bin_id)
    filters = list_filters()
    response = make_response(render_template("partials/_list_pane.html", **context.list_context(bin_, None, filters)))
    response.headers["HX-Push-Url"] = bin_url(bin_id) + (f"?{urlencode(filters)}" if filters else "")
    return response


@bp.get("/bins/<bin_id>/requests")
def rows(bin_id: str) -> str:
    """Fragment: one page of rows older than `before` (same filters), then the next "older" link."""
    bin_ = bin_or_404(bin_id)
    filters = list_filters()
    rows_, next_before = context.page_of_rows(bin_, int_arg("before"), filters)
    rows_ = context.owner_rows(bin_, rows_)
    return render_template(
        "partials/_request_page.html",
        rows=rows_,
        next_before=next_before,
        bin_url=bin_url(bin_id),
        filter_qs=filter_qs(filters),
    )


@bp.get("/bins/<bin_id>/requests/<int:capture_id>")
def detail(bin_id: str, capture_id: int) -> Response:
    """The detail pane fragment for htmx, the whole page with it open otherwise."""
    bin_ = bin_or_404(bin_id)
    if is_htmx():
        row = as_shown(capture_or_404(bin_id, capture_id), owner_redaction(bin_))
        html = render_template("partials/_detail.html", **context.detail_context(bin_, row))
    else:
        html = render_template("bin.html", **context.bin_context(bin_, None, capture_id))
    response = make_response(html)
    response.vary.add("HX-Request")
    return response


@bp.get("/bins/<bin_id>/requests/<int:capture_id>/body")
def body_view(bin_id: str, capture_id: int) -> str:
    """Fragment, on demand: `?view=<n>` is the detail pane's body view number n in full (its
    preview is what the pane shows), `?view=edit` the replay form's editable body. 404 for
    a view the body does not have."""
    bin_ = bin_or_404(bin_id)
    row = as_shown(capture_or_404(bin_id, capture_id), owner_redaction(bin_))
    if request.args.get("view") == "edit":
        return render_template("partials/_replay_body.html", **context.replay_body_context(row))
    index = int_arg("view")
    found = context.body_view_context(bin_, row, index) if index is not None else None
    if found is None:
        abort(404, description="no such body view")
    return render_template("partials/_body_view.html", **found)


@bp.delete("/bins/<bin_id>/requests/<int:capture_id>")
def delete_request(bin_id: str, capture_id: int) -> Response:
    """Delete one capture: answers the emptied detail pane and removes its row (out of band)."""
    bin_or_404(bin_id)
    if not store.delete_capture(bin_id, capture_id):
        abort(404, description=f"no request {capture_id} in this bin")
    note_activity(bin_id, "delete_request", f"request #{capture_id}")
    html = render_template("partials/_detail.html", row=None) + render_template(
        "partials/_row_removed.html", capture_id=capture_id
    )
    return _with_event(html, COUNTS_CHANGED)


@bp.delete("/bins/<bin_id>/requests")
def clear(bin_id: str) -> Response:
    """Delete every capture but the pinned ones: answers the list of what is left (the pinned
    captures) and empties the detail pane (out of band)."""
    bin_ = bin_or_404(bin_id)
    store.clear_captures(bin_id)
    note_activity(bin_id, "clear")
    kept = context.owner_rows(bin_, store.list_captures(bin_id, limit=context.PAGE_SIZE))
    html = render_template(
        "partials/_request_list.html", rows=kept, next_before=None, bin_url=bin_url(bin_id), filter_qs=""
    ) + render_template("partials/_detail.html", row=None, oob=True)
    return _with_event(html, COUNTS_CHANGED)


@bp.get("/bins/<bin_id>/stream")
def stream_rows(bin_id: str) -> Response:
    """SSE for the page: event `request` carries the rendered `_request_row.html` of each new
    capture after `Last-Event-ID` (or `?after=`, or now), so a reconnect misses nothing.

    The stream takes the list's filters too and leaves out rows that do not match them: the
    page re-makes its stream whenever the filters change (the list pane is swapped whole), so
    the browser never has to match a row itself. A row sent before its analysis is sent
    again as event `update` once analysed; it replaces itself (out of band) on the page."""
    rules = owner_redaction(bin_or_404(bin_id))
    filters = list_filters()
    last_id = stream.parse_last_event_id(request.headers.get("Last-Event-ID"), request.args.get("after"))
    if last_id is None:
        newest = store.list_captures(bin_id, limit=1)
        last_id = newest[0].id if newest else 0
    url = bin_url(bin_id)  # built here: the stream renders rows outside any request

    def render(row: Capture, *, oob: bool = False) -> str | None:
        if filters and not store.list_captures(bin_id, limit=1, after=row.id - 1, before=row.id + 1, **filters):
            return None  # the same query as the list, so a live row matches exactly when a listed one would
        # SSE ends a line at CR as well as LF; keep a stray CR from splitting the fragment.
        html = render_template("partials/_request_row.html", row=listed_row(row, rules), bin_url=url, oob=oob)
        return html.replace("\r", "&#13;")

    return event_stream_response(
        bin_id,
        last_id,
        render,
        event="request",
        render_update=lambda row: render(row, oob=True),
        render_key=("page", url, tuple(sorted(filters.items())), rules),
    )


@bp.get("/bins/<bin_id>/requests/<int:capture_id>/signature")
def signature(bin_id: str, capture_id: int) -> str:
    """Fragment: the signature section; `?at=now` verifies timestamps against the current time
    ("check now") instead of the arrival time, without changing the stored verdict."""
    bin_ = bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    checked_now = datetime.now(UTC) if request.args.get("at") == "now" else None
    if checked_now is None:  # "check now" verifies the stored bytes: an explicit owner action
        row = as_shown(row, owner_redaction(bin_))
    return render_template("partials/_signature.html", **context.signature_context(bin_, row, checked_now))


@bp.post("/bins/<bin_id>/requests/<int:capture_id>/replay")
def replay(bin_id: str, capture_id: int) -> str | tuple[str, int]:
    """Send the capture to the form's target now (edits and re-signing optional): answers the
    result (the Delivery, or why nothing was sent, as 400) and the refreshed deliveries list."""
    bin_ = bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    try:
        url = check_target(request.form.get("url", "").strip())
        edits = replay_edits(row, request.form)
        sent = replay_capture(
            bin_,
            row,
            url=url,
            edits=edits,
            resign_it=request.form.get("resign") == "1",
            config=current_app.config,
        )
    except InvalidInput as error:
        return render_template("partials/_replay_result.html", error=str(error), delivery=None), 400
    except ResignError as error:
        message = f"Nothing was sent: cannot re-sign: {error}"
        return render_template("partials/_replay_result.html", error=message, delivery=None), 400
    note_activity(bin_id, "replay", f"request #{capture_id} to {url} → {sent.status_code or sent.error}")
    return render_template(
        "partials/_replay_result.html", error=None, delivery=context.delivery_view(sent)
    ) + render_template("partials/_deliveries.html", oob=True, **context.deliveries_context(bin_id, row))


@bp.get("/bins/<bin_id>/requests/<int:capture_id>/deliveries")
def deliveries(bin_id: str, capture_id: int) -> str:
    """Fragment: every delivery attempt of the capture (replays and auto-forwards)."""
    bin_or_404(bin_id)
    row = capture_or_404(bin_id, capture_id)
    return render_template("partials/_deliveries.html", **context.deliveries_context(bin_id, row))


@bp.get("/bins/<bin_id>/requests/<int:capture_id>/compare")
def compare_deliveries(bin_id: str, capture_id: int) -> str:
    """Fragment: deliveries `a` and `b` of the capture side by side; a plain message when
    either is missing or they are the same one."""
    bin_or_404(bin_id)
    capture_or_404(bin_id, capture_id)
    a_id, b_id = int_arg("a"), int_arg("b")
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
def add_secret(bin_id: str) -> Response | tuple[str, int]:
    """Store a signing secret from the panel's form (encrypted; the value is never shown
    again, not even in an error). Every capture is verified again in the background: the
    page reloads its list and shows the progress."""
    bin_or_404(bin_id)
    form = request.form
    try:
        label, value, provider = parse_secret(
            {"label": form.get("label", ""), "value": form.get("value", ""), "provider": form.get("provider") or None},
            input_limits(),
        )
    except InvalidInput as error:
        return render_template("partials/_secrets.html", **context.secrets_context(bin_id, error=str(error))), 400
    store.add_secret(
        bin_id,
        label=label,
        provider=provider,
        ciphertext=secretbox.encrypt(current_app.config["SECRET_KEY"], value),
        hint=secretbox.hint(value),
        now=datetime.now(UTC),
    )
    note_activity(bin_id, "secret_add", f"secret “{label}”")
    message = f"Saved secret “{label}”. Every request is checked again with it."
    return _with_event(
        render_template("partials/_secrets.html", **context.secrets_context(bin_id, message=message)),
        SECRETS_CHANGED,
    )


@bp.delete("/bins/<bin_id>/secrets/<int:secret_id>")
def delete_secret(bin_id: str, secret_id: int) -> Response:
    """Delete one secret; answers the refreshed panel (404 when it is not in this bin)."""
    bin_or_404(bin_id)
    if not store.delete_secret(bin_id, secret_id):
        abort(404, description=f"no secret {secret_id} in this bin")
    note_activity(bin_id, "secret_delete", f"secret #{secret_id}")
    message = "Secret deleted. Every request is checked again without it."
    return _with_event(
        render_template("partials/_secrets.html", **context.secrets_context(bin_id, message=message)),
        SECRETS_CHANGED,
    )


@bp.post("/bins/<bin_id>/forward")
def save_forward(bin_id: str) -> str | tuple[str, int]:
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
        return render_template("partials/_forward.html", bin_=bin_, bin_url=bin_url(bin_id), error=str(error)), 400
    note_activity(bin_id, "forward", f"to {url} ({'on' if enabled else 'off'})" if url else "off")
    message = "Saved." if url else "Saved: auto-forward is off."
    return render_template("partials/_forward.html", bin_=bin_, bin_url=bin_url(bin_id), message=message)


@bp.get("/bins/<bin_id>/facets")
def facets(bin_id: str) -> Response:
    """Fragment: the list's provider and signature choices with exact counts, and the
    analysis progress. The page reloads it as captures arrive or go; once the verdicts its
    list shows are stale and the re-check is done, it tells the page to reload the list too."""
    bin_ = bin_or_404(bin_id)
    shown = context.ListState(int_arg("list_generation") or 0, request.args.get("list_pending") == "1")
    data = context.facets_context(bin_, list_filters(), list_state=shown)
    response = make_response(render_template("partials/_facets.html", **data))
    if shown.is_stale(bin_, data["stats"].unanalysed):
        response.headers["HX-Trigger"] = "hookloupe-analysis-done"
    return response


def _with_event(html: str, event: str) -> Response:
    """`html` plus an htmx event (HX-Trigger) the page listens for."""
    response = make_response(html)
    response.headers["HX-Trigger"] = event
    return response
