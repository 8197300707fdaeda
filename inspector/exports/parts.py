"""One part of a multipart body as a download: its bytes, a safe file name and a safe type.

Parts are counted as the detail pane lists them (bodyview.multipart_parts, over the body
inflated when its Content-Encoding is gzip or deflate), so part `i` here is row `i` there.
bodyview keeps only each part's metadata; `_part_bytes` splits the same way to keep the bytes.

What a download may say is decided here, not by the sender: the file name is the last path
segment of the part's `filename`, without control characters or quotes, at most MAX_NAME
characters (non-ASCII ones only in `filename*`); the type is the part's own only when it is a
harmless, non-HTML type (SAFE_TYPES, or image/audio/video but SVG), else application/octet-stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from inspector.bodydecode import decompress
from inspector.bodyview import MAX_PARTS, media_type, multipart_parts
from inspector.headers import first_header
from inspector.models import Capture

MAX_NAME = 150
SAFE_TYPES = frozenset(
    {
        "text/plain",
        "text/csv",
        "application/json",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/octet-stream",
        "application/x-ndjson",
    }
)
_MEDIA_FAMILIES = ("image/", "audio/", "video/")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
_NOT_IN_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/;]")


@dataclass(frozen=True)
class PartDownload:
    """A part as a download: its bytes and the headers that describe them."""

    content: bytes
    filename: str
    content_type: str

    @property
    def disposition(self) -> str:
        """`attachment` with an ASCII `filename` and, for other names, a UTF-8 `filename*`."""
        ascii_name = self.filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
        header = f'attachment; filename="{ascii_name}"'
        if ascii_name != self.filename:
            header += f"; filename*=UTF-8''{quote(self.filename, safe='')}"
        return header


def part_download(row: Capture, index: int) -> PartDownload | None:
    """Part `index` (from 0) of the capture's multipart body; None when the body is not
    multipart, cannot be inflated, or has no such part."""
    mime, params = media_type(row.content_type)
    boundary = params.get("boundary")
    if not (mime.startswith("multipart/") and boundary) or not 0 <= index < MAX_PARTS:
        return None
    data = row.body
    encoding = (first_header(row.headers, "Content-Encoding") or "").strip().lower()
    if encoding and encoding != "identity":
        decoded = decompress(data, encoding)
        if decoded.error:
            return None
        data = decoded.data
    listed, _more = multipart_parts(data, boundary)
    contents = _part_bytes(data, boundary)
    if index >= len(listed) or index >= len(contents):
        return None
    part = listed[index]
    fallback = f"{row.bin_id}-{row.id}-part{index + 1}"
    return PartDownload(contents[index], safe_filename(part.filename, fallback), safe_type(part.content_type))


def _part_bytes(data: bytes, boundary: str) -> list[bytes]:
    """The content (after the part's headers) of each part, split as bodyview.multipart_parts
    splits them."""
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    start = data.find(delimiter)
    found: list[bytes] = []
    while start != -1 and len(found) < MAX_PARTS:
        start += len(delimiter)
        if data[start : start + 2] == b"--":
            break
        line_end = data.find(b"\n", start)
        start = len(data) if line_end == -1 else line_end + 1
        end = data.find(b"\r\n" + delimiter, start)
        raw = data[start:] if end == -1 else data[start:end]
        if raw or end != -1:
            found.append(_content(raw))
        start = -1 if end == -1 else end + 2
    return found


def _content(raw: bytes) -> bytes:
    """A part's bytes after its headers (bodyview's `_part` rule: a blank line ends them; with
    none, a first line holding `:` is all headers, else it is all content)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        _head, found, content = raw.partition(separator)
        if found:
            return content
    return b"" if b":" in raw.split(b"\n", 1)[0] else raw


def safe_filename(given: str | None, fallback: str) -> str:
    """The last path segment of `given`, without controls, quotes, backslashes or `;`, no
    leading dots, at most MAX_NAME characters; `fallback` when nothing is left."""
    name = re.split(r"[/\\]", given or "")[-1]
    name = _NOT_IN_NAME.sub("_", name).strip().lstrip(".").strip()
    return name[:MAX_NAME] or fallback


def safe_type(content_type: str) -> str:
    """The part's media type when it is harmless (a text type keeps a plain charset), else
    application/octet-stream."""
    mime, params = media_type(content_type)
    harmless = mime in SAFE_TYPES or (mime.startswith(_MEDIA_FAMILIES) and "svg" not in mime and "xml" not in mime)
    if not harmless or not _TOKEN.fullmatch(mime.replace("/", "", 1)):
        return "application/octet-stream"
    charset = params.get("charset", "").lower()
    if mime.startswith("text/") and charset and _TOKEN.fullmatch(charset):
        return f"{mime}; charset={charset}"
    return mime
