"""Decide how to show a captured body: pretty JSON, form fields, multipart parts, text or hex."""

# Plain functions of bytes and header values. Every view is bounded, so a hostile body (a gzip
# bomb, a 10 MiB one-line JSON, a million form fields) costs a fixed amount of memory and time.
# Nothing here produces HTML: templates autoescape whatever text these functions return.

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from inspector.bodydecode import DECODED_LIMIT, decompress
from inspector.safejson import JSONLimitError, loads_bounded

# Characters of text shown in one view; the raw download has the rest.
TEXT_LIMIT = 256 * 1024
# Bytes shown in a hex dump.
HEX_LIMIT = 64 * 1024
# What the detail pane shows before "Load the full body": characters of text, bytes of hex.
PREVIEW_LIMIT, PREVIEW_HEX = 64 * 1024, 4 * 1024
# What "Load the full body" shows (a stored body is at most MAX_BODY_BYTES anyway).
FULL_LIMIT, FULL_HEX = 32 * 1024 * 1024, 1024 * 1024
# Bodies above this are not parsed as JSON (shown as text instead).
JSON_PARSE_LIMIT = 2 * 1024 * 1024
MAX_FIELDS = 1000
MAX_PARTS = 100
PART_PREVIEW = 2048
# Python text codecs that are no body's charset: host names, none, or lone surrogates out.
_NOT_BODY_CHARSETS = {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape", "utf-7"}
# Control characters that plain text legitimately contains.
_TEXT_CONTROLS = set(b"\t\n\r\f\b\x1b")
_PARAM = re.compile(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True)
class Part:
    """One part of a multipart body. `preview` is the start of a textual part, None for binary."""

    name: str | None
    filename: str | None
    content_type: str
    size: int
    preview: str | None


@dataclass(frozen=True)
class BodyView:
    """One way of showing a body. `kind` is json, form, multipart, text or hex; `text` holds
    json/text/hex output, `pairs` form fields, `parts` multipart parts; `note` says what was
    left out or why a view fell back, in one sentence; `clipped` is True when the limits left
    something out (a larger limit would show more)."""

    kind: str
    label: str
    text: str = ""
    pairs: tuple[tuple[str, str], ...] = ()
    parts: tuple[Part, ...] = ()
    note: str = ""
    clipped: bool = False


def body_views(
    body: bytes,
    content_type: str = "",
    content_encoding: str = "",
    *,
    limit: int = TEXT_LIMIT,
    hex_limit: int = HEX_LIMIT,
) -> list[BodyView]:
    """The views of a body, best first, ending with a hex dump of the stored bytes: text views
    hold at most `limit` characters (form fields about as many), the dumps `hex_limit` bytes.

    An empty body has no views. A gzip/deflate body gets decoded views first (labelled
    "Decoded …"); an encoding that cannot be undone leaves only the hex dump, with a note.
    """
    if not body:
        return []
    mime, params = media_type(content_type)
    encoding = content_encoding.strip().lower()
    hex_note = ""
    if encoding and encoding != "identity":
        decoded = decompress(body, encoding)
        if decoded.error:
            views, hex_note = [], decoded.error
        else:
            cut = f" Only the first {_size(DECODED_LIMIT)} were inflated." if decoded.truncated else ""
            note = f"Decoded from {encoding}.{cut}"
            found = content_views(decoded.data, mime, params, limit) or [hex_view(decoded.data, "", hex_limit)]
            views = [_relabel(view, note) for view in found]
    else:
        views = content_views(body, mime, params, limit)
    return [*views, hex_view(body, hex_note, hex_limit)]


def content_views(data: bytes, mime: str, params: dict[str, str], limit: int = TEXT_LIMIT) -> list[BodyView]:
    """Structured and text views of (already decoded) content; [] when it is binary."""
    charset = charset_of(params)
    views: list[BodyView] = []
    note = ""
    if mime == "application/x-www-form-urlencoded":
        views.append(form_view(data, charset, limit))
    elif mime.startswith("multipart/") and params.get("boundary"):
        views.append(multipart_view(data, params["boundary"]))
    if not views and (is_json_type(mime) or data.lstrip()[:1] in (b"{", b"[")):
        try:
            pretty = render_json(data, limit)
            clipped = len(pretty) > limit
            views.append(BodyView("json", "JSON", pretty[:limit], note=_clip_note(clipped, limit), clipped=clipped))
        except JSONLimitError as error:  # too deep or too large: this body is shown as text
            note = f"{error}; shown as text."
        except ValueError:
            note = "Declared as JSON but does not parse; shown as text." if is_json_type(mime) else ""
    if is_text_type(mime) or not looks_binary(data):
        views.append(text_view(data, charset, note, limit))
    return views


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """`("type/subtype", {param: value})` from a Content-Type value, lower-cased, unquoted."""
    head, separator, rest = content_type.partition(";")
    params: dict[str, str] = {}
    for name, value in _PARAM.findall(separator + rest):
        value = value.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.setdefault(name.lower(), value)
    return head.strip().lower(), params


def charset_of(params: dict[str, str]) -> str | None:
    """The declared charset when Python knows it as a text encoding, else None: a sender may
    name any codec (`zlib_codec`, `base64`, `rot13`, `idna`…), and those turn bytes into
    bytes or fail on any input."""
    name = params.get("charset", "").strip()
    try:
        info = codecs.lookup(name) if name else None
    except LookupError:
        return None
    return info.name if info and info._is_text_encoding and info.name not in _NOT_BODY_CHARSETS else None


def is_json_type(mime: str) -> bool:
    return mime in ("application/json", "text/json") or mime.endswith("+json")


def is_text_type(mime: str) -> bool:
    return mime.startswith("text/") or mime.endswith(("+xml", "/xml")) or is_json_type(mime)


def looks_binary(data: bytes) -> bool:
    """True when the start of `data` has NUL bytes or is mostly not text (UTF-8 or Latin-1)."""
    sample = data[:8192]
    if b"\0" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 32 and byte not in _TEXT_CONTROLS)
    undecodable = sample.decode("utf-8", "replace").count("\ufffd") - sample.count("\ufffd".encode())
    return (controls + undecodable / 2) > len(sample) / 10


def decode_text(data: bytes, charset: str | None = None, *, cut: bool = False) -> tuple[str, str]:
    """`(text, note)`: decoded with the declared charset, else as UTF-8; bytes that do not
    decode become U+FFFD and the note says so. `cut` means `data` is a prefix, so a character
    split at its end is dropped rather than reported as an error."""
    if charset:
        try:
            text = codecs.getincrementaldecoder(charset)("replace").decode(data, final=not cut)
        except (ValueError, TypeError):  # UnicodeError, e.g. UTF-16 without a byte order mark
            text, note = decode_text(data, cut=cut)
            return text, " ".join(filter(None, (f"Does not decode as the declared {charset}.", note)))
        return text, "" if "\ufffd" not in text else f"Some bytes are not valid {charset}; shown as \ufffd."
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=not cut), ""
    except UnicodeDecodeError:
        note = "Not valid UTF-8 and no charset declared; undecodable bytes are shown as \ufffd."
        return data.decode("utf-8", "replace"), note


def text_view(data: bytes, charset: str | None = None, note: str = "", limit: int = TEXT_LIMIT) -> BodyView:
    cut = len(data) > limit * 4  # four bytes per character at most
    text, decode_note = decode_text(data[: limit * 4], charset, cut=cut)
    clipped = cut or len(text) > limit
    notes = " ".join(part for part in (note, decode_note, _clip_note(clipped, limit)) if part)
    return BodyView("text", "Text", text=text[:limit], note=notes, clipped=clipped)


def hex_view(data: bytes, note: str = "", limit: int = HEX_LIMIT) -> BodyView:
    if len(data) > limit:
        note = " ".join(filter(None, (note, f"Showing the first {_size(limit)} of {_size(len(data))}.")))
    return BodyView("hex", "Hex", text=hex_dump(data, limit), note=note, clipped=len(data) > limit)


def hex_dump(data: bytes, limit: int = HEX_LIMIT) -> str:
    """Classic 16-bytes-a-line dump (offset, hex, printable ASCII) of the first `limit` bytes."""
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk)
        ascii_part = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part:<47}  |{ascii_part}|")
    return "\n".join(lines)


# --- JSON ------------------------------------------------------------------------------------


class _Token(str):
    """A number or constant exactly as written: pretty JSON never rounds 1.10 to 1.1."""


_AS_WRITTEN: dict[str, Any] = dict.fromkeys(("parse_float", "parse_int", "parse_constant"), _Token)


class _Object(list[tuple[str, object]]):
    """An object's (key, value) pairs in order: duplicate keys stay visible."""


class _Full(Exception):
    """The pretty output reached TEXT_LIMIT (plus one character, to tell it was cut)."""


def pretty_json(data: bytes) -> str | None:
    """`render_json(data)`, or None when it is not JSON or too deep or large to parse."""
    try:
        return render_json(data)
    except ValueError:
        return None


def render_json(data: bytes, limit: int = TEXT_LIMIT) -> str:
    """`data` re-indented by two spaces, keys in order (duplicates kept), numbers and lone
    surrogates as written ("\\ud800": no page encodes one); cut after `limit` characters (plus one).
    ValueError when not JSON; JSONLimitError when over JSON_PARSE_LIMIT or too deep to parse."""
    value = loads_bounded(data, max_bytes=JSON_PARSE_LIMIT, object_pairs_hook=_Object, **_AS_WRITTEN)
    out: list[str] = []
    budget = [limit + 1]
    try:
        _write_json(value, 0, out, budget)
    except _Full:
        pass
    return "".join(out)[: limit + 1].encode("utf-8", "backslashreplace").decode()


def _write_json(value: object, depth: int, out: list[str], budget: list[int]) -> None:
    if isinstance(value, list) and value:
        opening, closing = ("{", "}") if isinstance(value, _Object) else ("[", "]")
        _emit(opening, out, budget)
        inner = "\n" + "  " * (depth + 1)
        for index, item in enumerate(value):
            _emit(("," if index else "") + inner, out, budget)
            if isinstance(value, _Object):
                key, item = item
                _emit(json.dumps(key, ensure_ascii=False) + ": ", out, budget)
            _write_json(item, depth + 1, out, budget)
        _emit("\n" + "  " * depth + closing, out, budget)
    elif isinstance(value, list):
        _emit("{}" if isinstance(value, _Object) else "[]", out, budget)
    elif isinstance(value, _Token):
        _emit(str(value), out, budget)
    else:  # str, True, False, None
        _emit(json.dumps(value, ensure_ascii=False), out, budget)


def _emit(text: str, out: list[str], budget: list[int]) -> None:
    out.append(text)
    budget[0] -= len(text)
    if budget[0] <= 0:
        raise _Full


# --- forms and multipart ---------------------------------------------------------------------


def form_pairs(data: bytes, charset: str | None = None) -> tuple[list[tuple[str, str]], bool]:
    """`(pairs, more)`: the first MAX_FIELDS urlencoded fields in order, repeats and blank
    values kept; `more` is True when there were further fields."""
    text, _ = decode_text(data, charset)
    pieces = text.split("&", MAX_FIELDS)
    more = len(pieces) > MAX_FIELDS
    fields = "&".join(pieces[:MAX_FIELDS])
    return parse_qsl(fields, keep_blank_values=True, encoding=charset or "utf-8", errors="replace"), more


def form_view(data: bytes, charset: str | None = None, limit: int = TEXT_LIMIT) -> BodyView:
    """The first fields, up to MAX_FIELDS and about `limit` characters of names and values."""
    cut = len(data) > limit * 4
    pairs, more = form_pairs(data[: limit * 4], charset)
    if cut and not more:  # the last field may be cut short: leave it out
        pairs = pairs[:-1]
    kept: list[tuple[str, str]] = []
    used = 0
    for name, value in pairs:
        used += len(name) + len(value)
        if used > limit and kept:
            break
        kept.append((name[:limit], value[:limit]))
    clipped = more or cut or len(kept) < len(pairs)
    note = f"Showing the first {len(kept)} fields." if clipped else ""
    return BodyView("form", "Form fields", pairs=tuple(kept), note=note, clipped=clipped)


def multipart_parts(data: bytes, boundary: str) -> tuple[list[Part], bool]:
    """`(parts, more)`: the first MAX_PARTS parts of a multipart body, in order. A part with
    no closing boundary (a truncated body) is still listed, with the bytes that arrived."""
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    start = data.find(delimiter)
    parts: list[Part] = []
    while start != -1 and len(parts) <= MAX_PARTS:
        start += len(delimiter)
        if data[start : start + 2] == b"--":
            break
        start = _skip_line_end(data, start)
        end = data.find(b"\r\n" + delimiter, start)
        raw = data[start:] if end == -1 else data[start:end]
        if raw or end != -1:
            parts.append(_part(raw))
        start = -1 if end == -1 else end + 2
    return parts[:MAX_PARTS], len(parts) > MAX_PARTS


def multipart_view(data: bytes, boundary: str) -> BodyView:
    parts, more = multipart_parts(data, boundary)
    note = "" if parts else "No parts found for the declared boundary."
    note = f"Showing the first {MAX_PARTS} parts." if more else note
    return BodyView("multipart", "Multipart parts", parts=tuple(parts), note=note)


def _skip_line_end(data: bytes, index: int) -> int:
    """Step over the rest of a boundary line (transport padding, then CRLF or LF)."""
    line_end = data.find(b"\n", index)
    return len(data) if line_end == -1 else line_end + 1


def _part(raw: bytes) -> Part:
    head, separator, content = raw.partition(b"\r\n\r\n")
    if not separator:
        head, separator, content = raw.partition(b"\n\n")
    if not separator:  # no blank line: headers only, or no headers at all
        head, content = (raw, b"") if b":" in raw.split(b"\n", 1)[0] else (b"", raw)
    headers = _part_headers(head)
    disposition = media_type(headers.get("content-disposition", ""))[1]
    mime, params = media_type(headers.get("content-type", ""))
    textual = is_text_type(mime) if mime else not looks_binary(content)
    preview = decode_text(content[:PART_PREVIEW], charset_of(params), cut=True)[0] if textual else None
    name, filename = disposition.get("name"), disposition.get("filename")
    return Part(name, filename, content_type=headers.get("content-type", ""), size=len(content), preview=preview)


def _part_headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in decode_text(head)[0].splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return headers


# --- helpers ---------------------------------------------------------------------------------


def _relabel(view: BodyView, note: str) -> BodyView:
    notes = " ".join(filter(None, (note, view.note)))
    return replace(view, label=f"{view.label} (decoded)", note=notes)


def _clip_note(clipped: bool, limit: int) -> str:
    return f"Showing the first {_size(limit)} characters." if clipped else ""


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    value, unit = (count / 1024, "KiB") if count < 1024 * 1024 else (count / 1024 / 1024, "MiB")
    return f"{value:.1f}".removesuffix(".0") + " " + unit
