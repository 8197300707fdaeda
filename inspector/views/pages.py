"""The HTML pages: home and the live bin page (Jinja + htmx), and the fragments they load."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, abort, current_app, make_response, render_template, request, url_for

from .. import store, stream
from ..bins import InvalidInput, check_custom_name, new_bin_id
from ..bodyview import body_views
from ..capture import query_pairs
from .api import base_url, event_stream_response

bp = Blueprint("pages", __name__)

PAGE_SIZE = 50
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
        store.create_bin(bin_id, datetime.now(timezone.utc))
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
    """The bin's page; `?request=<id>` opens that capture, `?before=<id>` shows older ones.
    An unknown bin gets the 404 page."""
    bin_ = store.get_bin(bin_id)
    if bin_ is None:
        return render_template("not_found.html", bin_id=bin_id), 404
    selected = _int_arg("request")
    return render_template("bin.html", **_bin_context(bin_, _int_arg("before"), selected))


@bp.get("/bins/<bin_id>/requests")
def rows(bin_id: str):
    """Fragment: one page of rows older than `before`, then the next "older" link."""
    _bin_or_404(bin_id)
    rows_, next_before = _page(bin_id, _int_arg("before"))
    return render_template(
        "partials/_request_page.html", rows=rows_, next_before=next_before, bin_url=_bin_url(bin_id)
    )


@bp.get("/bins/<bin_id>/requests/<int:capture_id>")
def detail(bin_id: str, capture_id: int):
    """The detail pane fragment for htmx, the whole page with it open otherwise."""
    bin_ = _bin_or_404(bin_id)
    if is_htmx():
        row = store.get_capture(bin_id, capture_id)
        if row is None:
            abort(404, description=f"no request {capture_id} in this bin")
        html = render_template("partials/_detail.html", **_detail_context(bin_id, row))
    else:
        html = render_template("bin.html", **_bin_context(bin_, None, capture_id))
    response = make_response(html)
    response.vary.add("HX-Request")
    return response


@bp.delete("/bins/<bin_id>/requests/<int:capture_id>")
def delete_request(bin_id: str, capture_id: int):
    """Delete one capture: answers the emptied detail pane and removes its row (out of band)."""
    _bin_or_404(bin_id)
    if not store.delete_capture(bin_id, capture_id):
        abort(404, description=f"no request {capture_id} in this bin")
    return render_template("partials/_detail.html", row=None) + render_template(
        "partials/_row_removed.html", capture_id=capture_id
    )


@bp.delete("/bins/<bin_id>/requests")
def clear(bin_id: str):
    """Delete every capture: answers the empty list and empties the detail pane (out of band)."""
    _bin_or_404(bin_id)
    store.clear_captures(bin_id)
    return render_template(
        "partials/_request_list.html", rows=[], next_before=None, bin_url=_bin_url(bin_id)
    ) + render_template("partials/_detail.html", row=None, oob=True)


@bp.get("/bins/<bin_id>/stream")
def stream_rows(bin_id: str):
    """SSE for the page: event `request` carries the rendered `_request_row.html` of each new
    capture after `Last-Event-ID` (or `?after=`, or now), so a reconnect misses nothing."""
    _bin_or_404(bin_id)
    last_id = stream.parse_last_event_id(request.headers.get("Last-Event-ID"), request.args.get("after"))
    if last_id is None:
        newest = store.list_captures(bin_id, limit=1)
        last_id = newest[0].id if newest else 0
    bin_url = _bin_url(bin_id)  # built here: the stream renders rows outside any request

    def render(row) -> str:
        # SSE ends a line at CR as well as LF; keep a stray CR from splitting the fragment.
        return render_template("partials/_request_row.html", row=row, bin_url=bin_url).replace("\r", "&#13;")

    return event_stream_response(bin_id, last_id, render, event="request")


def _bin_or_404(bin_id: str):
    bin_ = store.get_bin(bin_id)
    if bin_ is None:
        abort(404, description="no such bin")
    return bin_


def _int_arg(name: str) -> int | None:
    """A non-negative integer query argument; None when absent or not a number."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None


def _bin_url(bin_id: str) -> str:
    return url_for("pages.show", bin_id=bin_id)


def _page(bin_id: str, before: int | None) -> tuple[list, int | None]:
    """Up to PAGE_SIZE captures older than `before` (newest first) and the cursor for the
    next page, None when there is none. Asks for one extra row to know."""
    found = store.list_captures(bin_id, limit=PAGE_SIZE + 1, before=before)
    page = found[:PAGE_SIZE]
    return page, (page[-1].id if len(found) > PAGE_SIZE else None)


def _bin_context(bin_, before: int | None, selected: int | None) -> dict:
    rows_, next_before = _page(bin_.id, before)
    row = store.get_capture(bin_.id, selected) if selected is not None else None
    capture_url = f"{base_url()}/h/{bin_.id}"
    return {
        "bin_": bin_,
        "bin_url": _bin_url(bin_.id),
        "capture_url": capture_url,
        "rows": rows_,
        "next_before": next_before,
        # Only the newest page is live; the stream starts after its newest row.
        "live_after": (rows_[0].id if rows_ else 0) if before is None else None,
        "older_page": before is not None,
        **(_detail_context(bin_.id, row) if row is not None else {"row": None}),
    }


def _detail_context(bin_id: str, row) -> dict:
    encoding = next((value for name, value in row.headers if name.lower() == "content-encoding"), "")
    return {
        "row": row,
        "bin_url": _bin_url(bin_id),
        "raw_url": url_for("api.raw_body", bin_id=bin_id, capture_id=row.id),
        "query": query_pairs(row.query_string),
        "views": body_views(row.body, row.content_type, encoding),
        "max_body": current_app.config["MAX_BODY_BYTES"],
    }
