"""A bin's read-only shared page (`/s/<token>`, DESIGN §8): list, details, verdicts and the live
stream, redacted, for whoever holds a live share link.

Every route here is public to the access guard (access/policy.py), so each one checks the link
itself, on every request: an unknown or revoked link answers 404, an expired one (or an expired
bin) 410. An htmx request for a dead link also fires `hookloupe-access-ended` on the page, and
the event stream of a dead link sends `access_ended` at once, so an open page stops and says
why. Nothing shown is derived from the bin's secrets (context.shared_verification); the bin id,
itself a capability, is never shown; the token never reaches a log line or an error message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, make_response, render_template, request, url_for
from flask.blueprints import BlueprintSetupState

# A view helper, imported by its full name: `from inspector.views.pages import` names the route module.
import inspector.views.pages.context as context
from inspector import redacted_view, redaction, store, stream
from inspector.models import Bin, Capture, ShareLink
from inspector.store import access as access_store
from inspector.views.common import event_stream_response, is_htmx, listed_row
from inspector.views.pages.context import SharedView
from inspector.views.pages.forms import ListFilters, filter_qs, int_arg, list_filters

bp = Blueprint("share", __name__)

# Fired on the page (HX-Trigger) when a fragment request finds its link dead.
ACCESS_ENDED = "hookloupe-access-ended"
# The list filters a share page takes; `q` (text search) is left out on purpose: a
# search runs over the stored values, so it would tell a redacted value apart by its matches.
_SHARED_FILTERS = ("provider", "event", "verdict")
_TOKEN_IN_PATH = re.compile(r"/s/[^/\s?#\"']+")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Access:
    """A live link's view of its bin: the link, the bin, where its pages live, and the rules
    its captures are shown under (_link_rules, as of this request)."""

    link: ShareLink
    bin_: Bin
    view: SharedView
    rules: redaction.Rules


@dataclass(frozen=True)
class _Gone:
    """Why a link shows nothing: 404 (unknown or revoked) or 410 (it, or its bin, expired)."""

    status: int
    expired_at: datetime | None = None
    bin_expired: bool = False


class _HideShareTokens(logging.Filter):
    """Keeps share tokens out of the app's log lines: Flask logs an unhandled error as
    "Exception on <path>", and a share page's path holds its token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/s/" in message:
            record.msg, record.args = _TOKEN_IN_PATH.sub("/s/…", message), None
        return True


@bp.record_once
def _hide_tokens_in_logs(state: BlueprintSetupState) -> None:
    logger = state.app.logger
    if not any(isinstance(existing, _HideShareTokens) for existing in logger.filters):
        logger.addFilter(_HideShareTokens())


@bp.after_request
def _private(response: Response) -> Response:
    # A share page is a capability URL showing captured data: never cached, never indexed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _check(token: str) -> _Access | _Gone:
    """The link's access now, or why there is none. Looked up by the token's digest."""
    now = datetime.now(UTC)
    link = access_store.share_by_secret(token, now)
    if link is None:
        return _Gone(404)
    if link.expires_at is not None and link.expires_at <= now:
        return _Gone(410, expired_at=link.expires_at)
    bin_ = store.get_bin(link.bin_id)
    if bin_ is None:  # deleting a bin deletes its links; this is a race with that
        return _Gone(404)
    if bin_.expires_at is not None and bin_.expires_at <= now:
        return _Gone(410, bin_expired=True)
    event_filter = redacted_view.event_filter_safe(redaction.rules_of(bin_))
    view = SharedView(base=url_for("share.page", token=token), allow_raw=link.allow_raw, event_filter=event_filter)
    return _Access(link, bin_, view, _link_rules(bin_))


def _link_rules(bin_: Bin) -> redaction.Rules:
    """The bin's redaction rules plus one more pattern, last: the bin's capture URL path. A bin
    id is a capability (with no password, all of the owner's powers), and senders put the URL
    they deliver to in their payloads (GitHub's ping does), sometimes with JSON's `\\/`."""
    rules = redaction.rules_of(bin_)
    capture_path = r"\\?/h\\?/" + re.escape(bin_.id) + r"(?![A-Za-z0-9_-])"
    return replace(rules, patterns=(*rules.patterns, capture_path))


def _open(token: str) -> _Access:
    """The link's access, or the answer for a dead link: the page saying so, or for htmx a
    fragment that swaps nothing and tells the page (ACCESS_ENDED)."""
    found = _check(token)
    if isinstance(found, _Access):
        return found
    data = {"status": found.status, "expired_at": found.expired_at, "bin_expired": found.bin_expired}
    if is_htmx():
        response = make_response(render_template("partials/_share_ended.html", **data), found.status)
        response.headers["HX-Trigger"] = ACCESS_ENDED
        response.headers["HX-Reswap"] = "none"
    else:
        response = make_response(render_template("share.html", gone=data), found.status)
    abort(response)


def _filters(access: _Access) -> ListFilters:
    """The list filters in the query that a share page takes (no text search: _SHARED_FILTERS;
    no event filter when the bin's rules could mask an event: SharedView.event_filter)."""
    taken = [name for name in _SHARED_FILTERS if name != "event" or access.view.event_filter]
    return cast(ListFilters, {name: value for name, value in list_filters().items() if name in taken})


def _rows(rows: Iterable[Capture], rules: redaction.Rules) -> list[Capture]:
    return [listed_row(row, rules) for row in rows]


def _shown(row: Capture, rules: redaction.Rules) -> tuple[Capture, list[str]]:
    """The capture as the link shows it (redacted_copy), its `redacted` saying only what was
    replaced at capture, and what this view replaced besides (shown apart: the first is what
    the owner lost too, the second what only the link's viewers do not see)."""
    at_capture = list(row.redacted or [])
    copy = redacted_view.redacted_copy(row, rules)
    own = f"pattern #{len(rules.patterns)}"  # _link_rules' own pattern, named for the reader
    here = [note.replace(own, "capture URL") for note in copy.redacted or [] if note not in at_capture]
    copy.redacted = at_capture or None
    return copy, here


def _capture(access: _Access, capture_id: int) -> tuple[Capture, list[str]]:
    """The capture of the link's bin as _shown; 404 when it is not in that bin."""
    row = store.get_capture(access.bin_.id, capture_id)
    if row is None:
        abort(404, description=f"no request {capture_id} here")
    return _shown(row, access.rules)


def _detail(access: _Access, capture_id: int) -> dict[str, Any]:
    row, redacted_here = _capture(access, capture_id)
    return {**context.detail_context(access.bin_, row, shared=access.view), "redacted_here": redacted_here}


def _whole_page(access: _Access, before: int | None, selected: int | None) -> str:
    """The whole shared page, with capture `selected` open when it is in the bin."""
    bin_ = access.bin_
    listed = context.list_context(bin_, before, _filters(access), shared=access.view)
    listed["rows"] = _rows(listed["rows"], access.rules)
    opened: dict[str, Any] = {"row": None}
    if selected is not None and store.get_capture(bin_.id, selected) is not None:
        opened = _detail(access, selected)
    data = {**listed, **opened}  # both say bin_url and shared, alike
    return render_template("share.html", gone=None, link_expires_at=access.link.expires_at, **data)


@bp.get("/s/<token>")
def page(token: str) -> str:
    """The shared page; `?request=<id>` opens that capture, `?before=<id>` shows older ones,
    `provider`/`event`/`verdict` filter the list."""
    return _whole_page(_open(token), int_arg("before"), int_arg("request"))


@bp.get("/s/<token>/list")
def list_pane(token: str) -> Response:
    """Fragment: the whole list pane for the filters in the query (newest page, live)."""
    access = _open(token)
    filters = _filters(access)
    data = context.list_context(access.bin_, None, filters, shared=access.view)
    data["rows"] = _rows(data["rows"], access.rules)
    response = make_response(render_template("partials/_list_pane.html", **data))
    response.headers["HX-Push-Url"] = access.view.base + (f"?{urlencode(filters)}" if filters else "")
    return response


@bp.get("/s/<token>/requests")
def rows(token: str) -> str:
    """Fragment: one page of rows older than `before` (same filters), then the next "older" link."""
    access = _open(token)
    filters = _filters(access)
    found, next_before = context.page_of_rows(access.bin_, int_arg("before"), filters)
    return render_template(
        "partials/_request_page.html",
        rows=_rows(found, access.rules),
        next_before=next_before,
        bin_url=access.view.base,
        filter_qs=filter_qs(filters),
    )


@bp.get("/s/<token>/requests/<int:capture_id>")
def detail(token: str, capture_id: int) -> Response:
    """The detail pane fragment for htmx, the whole page with it open otherwise."""
    access = _open(token)
    if is_htmx():
        html = render_template("partials/_detail.html", **_detail(access, capture_id))
    else:
        html = _whole_page(access, None, capture_id)
    response = make_response(html)
    response.vary.add("HX-Request")
    return response


@bp.get("/s/<token>/requests/<int:capture_id>/signature")
def signature(token: str, capture_id: int) -> str:
    """Fragment: the signature section as stored (no "check now": it would use the secrets)."""
    access = _open(token)
    row, _here = _capture(access, capture_id)
    return render_template(
        "partials/_signature.html", **context.signature_context(access.bin_, row, None, shared=access.view)
    )


@bp.get("/s/<token>/requests/<int:capture_id>/body")
def body_view(token: str, capture_id: int) -> str:
    """Fragment, on demand: `?view=<n>` is the detail pane's body view n in full, redacted like
    the rest of the link (the pane shows its preview). 404 for a view the body does not have."""
    access = _open(token)
    row, _here = _capture(access, capture_id)
    index = int_arg("view")
    found = context.body_view_context(access.bin_, row, index, shared=access.view) if index is not None else None
    if found is None:
        abort(404, description="no such body view")
    return render_template("partials/_body_view.html", **found)


@bp.get("/s/<token>/requests/<int:capture_id>/raw")
def raw_body(token: str, capture_id: int) -> Response:
    """The capture's body, redacted, as a download: only when the link allows it (else 404).
    The file name carries the capture id only, never the bin id."""
    access = _open(token)
    if not access.link.allow_raw:
        abort(404, description="this share link does not offer body downloads")
    row, _here = _capture(access, capture_id)
    return Response(
        row.body,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="request-{capture_id}.bin"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.get("/s/<token>/facets")
def facets(token: str) -> Response:
    """Fragment: the list's provider and signature choices with counts, and the analysis
    progress; tells the page to reload its list once the verdicts it shows are stale."""
    access = _open(token)
    shown = context.ListState(int_arg("list_generation") or 0, request.args.get("list_pending") == "1")
    data = context.facets_context(access.bin_, _filters(access), list_state=shown, shared=access.view)
    response = make_response(render_template("partials/_facets.html", **data))
    if shown.is_stale(access.bin_, data["stats"].unanalysed):
        response.headers["HX-Trigger"] = "hookloupe-analysis-done"
    return response


@bp.get("/s/<token>/stream")
def stream_rows(token: str) -> Response:
    """SSE for the shared page, as the owner's (pages.stream_rows) but with rows redacted and
    linked under the share link; ends with event `access_ended` once the link is revoked or
    expires (checked every second), and answers only that event for a dead link (an
    EventSource cannot read an error status, and would only retry)."""
    found = _check(token)
    if not isinstance(found, _Access):
        return Response(
            "retry: 1000\n\n" + stream.sse_message("access ended", event="access_ended"),
            content_type="text/event-stream; charset=utf-8",
        )
    bin_id, share_id, rules, base = found.bin_.id, found.link.id, found.rules, found.view.base
    filters = _filters(found)
    last_id = stream.parse_last_event_id(request.headers.get("Last-Event-ID"), request.args.get("after"))
    if last_id is None:
        newest = store.list_captures(bin_id, limit=1)
        last_id = newest[0].id if newest else 0

    def render(row: Capture, *, oob: bool = False) -> str | None:
        if filters and not store.list_captures(bin_id, limit=1, after=row.id - 1, before=row.id + 1, **filters):
            return None
        html = render_template("partials/_request_row.html", row=listed_row(row, rules), bin_url=base, oob=oob)
        return html.replace("\r", "&#13;")  # SSE ends a line at CR too

    response = event_stream_response(
        bin_id,
        last_id,
        render,
        event="request",
        render_update=lambda row: render(row, oob=True),
        # The link's own: its rows are redacted under these rules and link under its base.
        render_key=("share", share_id, _rules_key(rules), tuple(sorted(filters.items()))),
        alive=lambda: access_store.share_is_live(share_id, datetime.now(UTC)),
    )
    if response.is_streamed:
        response.response = _quiet(cast(Iterator[str], response.response))
    return response


def _rules_key(rules: redaction.Rules) -> str:
    return json.dumps(redaction.rules_json(rules), sort_keys=True)


def _quiet(events: Iterator[str]) -> Iterator[str]:
    """The stream, ending on a failure with a log line of its own: an error escaping it would
    be logged by the server with the request's path, which holds the token."""
    try:
        yield from events
    except Exception:
        log.exception("a share link's event stream failed")
