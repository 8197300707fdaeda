"""Unit tests of inspector.bodyview: how a captured body is shown, and that every view is bounded."""

from __future__ import annotations

import gzip
import zlib

from inspector import bodyview
from inspector.bodyview import body_views, decompress, form_pairs, hex_dump, multipart_parts, pretty_json


def kinds(views) -> list[str]:
    return [view.kind for view in views]


# --- choosing views --------------------------------------------------------------------------


def test_empty_body_has_no_views():
    assert body_views(b"", "application/json") == []


def test_json_body_gets_pretty_text_and_hex_views():
    views = body_views(b'{"a":1}', "application/json")
    assert kinds(views) == ["json", "text", "hex"]
    assert views[0].text == '{\n  "a": 1\n}'
    assert views[1].text == '{"a":1}'


def test_json_is_detected_without_a_json_content_type():
    assert kinds(body_views(b"[1, 2]", "text/plain")) == ["json", "text", "hex"]


def test_invalid_json_falls_back_to_text_with_a_note():
    views = body_views(b'{"a": ', "application/json")
    assert kinds(views) == ["text", "hex"]
    assert views[0].text == '{"a": '
    assert "does not parse" in views[0].note


def test_xml_is_shown_as_text():
    views = body_views(b"<a><b>1</b></a>", "application/xml; charset=utf-8")
    assert kinds(views) == ["text", "hex"]
    assert views[0].text == "<a><b>1</b></a>"


def test_binary_body_gets_only_a_hex_view():
    views = body_views(bytes(range(256)), "application/octet-stream")
    assert kinds(views) == ["hex"]
    assert views[0].text.startswith("00000000  00 01 02 03")


def test_declared_charset_decodes_non_utf8_text():
    views = body_views("café".encode("latin-1"), "text/plain; charset=ISO-8859-1")
    assert views[0].text == "café"
    assert views[0].note == ""


def test_undeclared_non_utf8_text_shows_replacement_and_says_so():
    views = body_views(b"caf\xe9 au lait", "text/plain")
    assert views[0].kind == "text"
    assert views[0].text == "caf\ufffd au lait"
    assert "Not valid UTF-8" in views[0].note


def test_long_text_is_cut_at_the_limit_with_a_note():
    view = body_views(b"x" * (bodyview.TEXT_LIMIT + 10), "text/plain")[0]
    assert len(view.text) == bodyview.TEXT_LIMIT
    assert "first" in view.note


# --- JSON ------------------------------------------------------------------------------------


def test_pretty_json_keeps_duplicate_keys_and_their_order():
    assert pretty_json(b'{"b":1,"a":2,"b":3}') == '{\n  "b": 1,\n  "a": 2,\n  "b": 3\n}'


def test_pretty_json_keeps_numbers_as_written():
    assert (
        pretty_json(b"[1.10, 1e400, 12345678901234567890123]") == "[\n  1.10,\n  1e400,\n  12345678901234567890123\n]"
    )


def test_pretty_json_of_empty_containers_and_constants():
    assert pretty_json(b'{"a": {}, "b": [], "c": null, "d": true}') == (
        '{\n  "a": {},\n  "b": [],\n  "c": null,\n  "d": true\n}'
    )


def test_pretty_json_is_none_for_non_json():
    assert pretty_json(b"hello") is None
    assert pretty_json(b"\xff\xfe{") is None


def test_pretty_json_survives_deep_nesting():
    assert pretty_json(b"[" * 100_000 + b"]" * 100_000) is None


def test_pretty_json_output_is_bounded():
    # Deep indentation multiplies the size; the output stops at the limit instead.
    nested = b"[" * 200 + b",".join([b"0"] * 200_000) + b"]" * 200
    assert len(pretty_json(nested)) == bodyview.TEXT_LIMIT + 1


# --- forms -----------------------------------------------------------------------------------


def test_form_pairs_keep_order_repeats_and_blanks():
    pairs, more = form_pairs(b"a=1&b=&a=2&c=%3Cx%3E+y")
    assert pairs == [("a", "1"), ("b", ""), ("a", "2"), ("c", "<x> y")]
    assert more is False


def test_form_pairs_stop_at_the_field_limit():
    pairs, more = form_pairs(b"&".join([b"f=1"] * (bodyview.MAX_FIELDS + 5)))
    assert len(pairs) == bodyview.MAX_FIELDS
    assert more is True


def test_form_body_gets_a_form_view():
    views = body_views(b"x=1&x=2", "application/x-www-form-urlencoded")
    assert kinds(views) == ["form", "text", "hex"]
    assert views[0].pairs == (("x", "1"), ("x", "2"))


# --- multipart -------------------------------------------------------------------------------

MULTIPART = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="note"\r\n'
    b"\r\n"
    b"hello\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="upload"; filename="a b.png"\r\n'
    b"Content-Type: image/png\r\n"
    b"\r\n"
    b"\x89PNG\r\n\x1a\n\x00\x00\r\n"
    b"--XyZ--\r\n"
)


def test_multipart_parts_have_names_filenames_types_and_sizes():
    parts, more = multipart_parts(MULTIPART, "XyZ")
    assert more is False
    assert [(p.name, p.filename, p.content_type, p.size) for p in parts] == [
        ("note", None, "", 5),
        ("upload", "a b.png", "image/png", 10),
    ]
    assert parts[0].preview == "hello"
    assert parts[1].preview is None


def test_multipart_view_reads_a_quoted_boundary():
    views = body_views(MULTIPART, 'multipart/form-data; boundary="XyZ"')
    assert views[0].kind == "multipart"
    assert len(views[0].parts) == 2


def test_truncated_multipart_still_lists_the_part_that_arrived():
    parts, _ = multipart_parts(MULTIPART[:60], "XyZ")
    assert [part.name for part in parts] == ["note"]


def test_multipart_with_a_wrong_boundary_says_no_parts():
    view = body_views(MULTIPART, "multipart/form-data; boundary=other")[0]
    assert view.parts == ()
    assert "No parts" in view.note


# --- hex -------------------------------------------------------------------------------------


def test_hex_dump_line_format():
    assert hex_dump(b"Hi\x00") == "00000000  48 69 00" + " " * 39 + "  |Hi.|"


def test_hex_view_is_bounded():
    view = body_views(b"\x00" * (bodyview.HEX_LIMIT * 3), "")[-1]
    assert view.text.count("\n") + 1 == bodyview.HEX_LIMIT // 16
    assert "first 64 KiB" in view.note


# --- content encodings -----------------------------------------------------------------------


def test_gzip_body_is_decoded_first_and_hex_keeps_the_stored_bytes():
    body = gzip.compress(b'{"event": "ping"}')
    views = body_views(body, "application/json", "gzip")
    assert [view.label for view in views] == ["JSON (decoded)", "Text (decoded)", "Hex"]
    assert views[0].text == '{\n  "event": "ping"\n}'
    assert "Decoded from gzip" in views[0].note
    assert views[-1].text.startswith("00000000  1f 8b")


def test_deflate_is_decoded_with_or_without_the_zlib_wrapper():
    assert decompress(zlib.compress(b"hello"), "deflate").data == b"hello"
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decompress(raw.compress(b"hello") + raw.flush(), "deflate").data == b"hello"


def test_gzip_bomb_stops_at_the_limit():
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024))
    decoded = decompress(bomb, "gzip", limit=1024 * 1024)
    assert len(decoded.data) == 1024 * 1024
    assert decoded.truncated is True


def test_gzip_bomb_views_stay_bounded():
    views = body_views(gzip.compress(b"\x00" * (32 * 1024 * 1024)), "", "gzip")
    assert "Only the first 4 MiB were inflated" in views[0].note
    assert sum(len(view.text) for view in views) < 2 * 1024 * 1024


def test_concatenated_gzip_members_are_all_decoded():
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip").data == b"abcd"


def test_bad_gzip_falls_back_to_hex_with_a_note():
    views = body_views(b"not gzip at all", "text/plain", "gzip")
    assert kinds(views) == ["hex"]
    assert "Not valid gzip" in views[0].note


def test_cut_gzip_is_reported():
    assert "ends early" in decompress(gzip.compress(b"x" * 1000)[:-12], "gzip").error


def test_unknown_encoding_is_not_decoded():
    views = body_views(b"\x0b\x02\x80hello", "text/plain", "br")
    assert kinds(views) == ["hex"]
    assert "'br' is not decoded" in views[0].note


def test_identity_encoding_is_ignored():
    assert kinds(body_views(b"plain", "text/plain", "identity")) == ["text", "hex"]
