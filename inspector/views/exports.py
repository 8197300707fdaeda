"""Export and import routes (issue 13): a capture as a command, a multipart part as a file, a bin as HAR or NDJSON and back."""

from __future__ import annotations

from collections.abc import Iterator

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from inspector import matchers as matching
from inspector.bins import InvalidInput
from inspector.exports.batches import exported_rows
from inspector.exports.formats import FORMATS, render, resend_of
from inspector.exports.har import har_chunks
from inspector.exports.importing import BinGoneError, read_import, store_import
from inspector.exports.ndjson import ndjson_lines
from inspector.exports.parts import part_download
from inspector.models import Capture
from inspector.views.common import (
    as_shown,
    base_url,
    bin_or_404,
    capture_or_404,
    note_activity,
    owner_redaction,
)

bp = Blueprint("exports", __name__)

DEFAULT_REQUEST_FORMAT = "curl"
DEFAULT_BIN_FORMAT = "ndjson"
BIN_FORMATS = {"har": "application/json; charset=utf-8", "ndjson": "application/x-ndjson; charset=utf-8"}
# A download's headers beyond the app's own (views/security.py adds nosniff and the API CSP).
_DOWNLOAD = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _format_arg(choices: list[str] | dict[str, str], default: str) -> str:
    chosen = request.args.get("format") or default
    if chosen not in choices:
        raise InvalidInput(f"format must be one of: {', '.join(choices)}")
    return chosen


def _capture_url(bin_id: str) -> str:
    return f"{base_url()}/h/{bin_id}"


def _shown(bin_id: str, capture_id: int) -> Capture:
    """The capture as its viewer sees it (redacted under `redact=true` or the bin's `for_owner`)."""
    bin_ = bin_or_404(bin_id)
    return as_shown(capture_or_404(bin_id, capture_id), owner_redaction(bin_))


@bp.get("/api/bins/<bin_id>/requests/<int:capture_id>/export")
def request_export(bin_id: str, capture_id: int) -> Response:
    """The capture as text that sends it again to its capture URL: `format=curl` (default),
    `httpie`, `httpx` or `http` (the raw request: application/octet-stream when its body is not
    UTF-8). Shown inline (no attachment), so a page or a terminal can show it."""
    name = _format_arg(list(FORMATS), DEFAULT_REQUEST_FORMAT)
    data = render(name, resend_of(_shown(bin_id, capture_id), _capture_url(bin_id)))
    try:
        data.decode("utf-8")
        content_type = "text/plain; charset=utf-8"
    except UnicodeDecodeError:
        content_type = "application/octet-stream"
    return Response(data, content_type=content_type, headers={"X-Content-Type-Options": "nosniff"})


@bp.get("/bins/<bin_id>/requests/<int:capture_id>/export")
def page_request_export(bin_id: str, capture_id: int) -> str:
    """The same text as `request_export`, as the detail pane's "Copy as" fragment."""
    name = _format_arg(list(FORMATS), DEFAULT_REQUEST_FORMAT)
    data = render(name, resend_of(_shown(bin_id, capture_id), _capture_url(bin_id)))
    note = ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # only the raw request holds the body as it is
        head, _, body = data.partition(b"\r\n\r\n")
        text = head.decode("utf-8", "replace") + "\r\n\r\n"
        note = f"The {len(body)}-byte body is not UTF-8 text and is left out here; open the raw request to get it."
    raw_url = url_for("exports.request_export", bin_id=bin_id, capture_id=capture_id, format=name)
    return render_template(
        "partials/_export.html", label=FORMATS[name].label, text=text, note=note, raw_url=raw_url, format=name
    )


@bp.get("/api/bins/<bin_id>/requests/<int:capture_id>/parts/<int:index>")
def multipart_part(bin_id: str, capture_id: int, index: int) -> Response:
    """Part `index` (from 0, as the page lists them) of a multipart body, as a download; 404
    when the body has no such part."""
    part = part_download(_shown(bin_id, capture_id), index)
    if part is None:
        abort(404, description=f"request {capture_id} has no multipart part {index}")
    headers = {**_DOWNLOAD, "Content-Disposition": part.disposition}
    return Response(part.content, content_type=part.content_type, headers=headers)


@bp.get("/api/bins/<bin_id>/export")
def bin_export(bin_id: str) -> Response:
    """The bin's captures that pass the matchers, newest first, as HAR 1.2 (`format=har`) or
    NDJSON (`format=ndjson`, the default), streamed, as an attachment `<bin>.<format>`."""
    bin_ = bin_or_404(bin_id)
    name = _format_arg(BIN_FORMATS, DEFAULT_BIN_FORMAT)
    wanted = matching.parse(request.args.items(multi=True), ignore=("format", "redact"))
    rules = owner_redaction(bin_)
    capture_url = _capture_url(bin_id)

    def shown() -> Iterator[Capture]:
        for row in exported_rows(bin_id, wanted):
            yield as_shown(row, rules)

    chunks: Iterator[str] = har_chunks(shown(), capture_url) if name == "har" else ndjson_lines(shown())
    headers = {**_DOWNLOAD, "Content-Disposition": f'attachment; filename="{bin_id}.{name}"'}
    return Response(stream_with_context(chunks), content_type=BIN_FORMATS[name], headers=headers)


@bp.post("/api/bins/<bin_id>/import")
def bin_import(bin_id: str) -> Response:
    """Captures from a HAR or NDJSON body (told apart by content) into the bin, all or none:
    `{"imported": n}`; 400 naming the line or entry at fault; 413 over MAX_API_BODY_BYTES."""
    bin_ = bin_or_404(bin_id)
    captures = read_import(_bounded_body())
    try:
        count = store_import(bin_id, captures, capture_redaction=bin_.capture_redaction)
    except BinGoneError:
        abort(404, description=f"no bin named {bin_id!r} (it was deleted during the import)")
    note_activity(bin_id, "import", f"{count} captures")
    return jsonify(imported=count)


def _bounded_body() -> bytes:
    """The request body, read up to MAX_API_BODY_BYTES (413 beyond), as views/common.json_object does."""
    limit = int(current_app.config["MAX_API_BODY_BYTES"])
    request.max_content_length = limit + 1  # one byte more tells a body over the limit from one that fits
    data = request.get_data(cache=False)
    if len(data) > limit:
        abort(413, description=f"the request body is over the {limit}-byte limit")
    return data
