"""Export and import (inspector/exports, views/exports.py): a capture as cURL, HTTPie, httpx and raw
HTTP that re-sends it byte-exact; multipart parts as downloads; a bin as HAR or NDJSON and back."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import BROWSER_MARKS
from targets import RecordingTarget

from inspector.exports import batches
from inspector.exports.formats import as_curl, as_httpie, as_httpx, resend_of
from inspector.exports.parts import safe_filename, safe_type
from inspector.exports.shell import is_plain_text, printf_bytes
from inspector.models import Capture

BINARY = bytes(range(256)) + b"\x00\xff'$(touch SENTINEL)`id`\r\n"
HOSTILE_HEADER = "'; touch SENTINEL; '`id`$(id)\"\\"
# A sub-path with percent-encoding, a quote and shell syntax; brackets and braces (curl globs).
SUB_PATH = "/a%20b/%2Fc/x'$(id)/[y]"
QUERY = "x=1&x=2&y=%E2%9C%93&z[]={1}&empty="
# The test extras install HTTPie into this venv; its `http` is found beside the interpreter.
SHELL_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
HTTPIE = shutil.which("http", path=SHELL_PATH)


@pytest.fixture
def target():
    server = RecordingTarget().start()
    yield server
    server.stop()


@pytest.fixture
def echo_app(app, target):
    """The app whose capture URLs are served by the echo server: what an export sends to its
    own capture URL arrives there."""
    app.config["BASE_URL"] = target.url
    return app


def capture(client, bin_id: str, path: str = "", *, method: str = "POST", data: bytes = b"", **headers: str) -> int:
    response = client.open(f"/h/{bin_id}{path}", method=method, data=data, headers=headers)
    assert response.status_code == 200, response.data
    return response.json["request_id"]


def exported(client, bin_id: str, capture_id: int, fmt: str, **params: str):
    query = "&".join(f"{k}={v}" for k, v in {"format": fmt, **params}.items())
    return client.get(f"/api/bins/{bin_id}/requests/{capture_id}/export?{query}")


def run_shell(script: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    """`script` run by bash in `tmp_path`; SENTINEL names a file there that must never appear."""
    env = {**os.environ, "PATH": SHELL_PATH}
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, timeout=60, env=env)


def sent_headers(received) -> list[tuple[str, str]]:
    return [(k, v) for k, v in received.headers if k.lower() not in ("host", "content-length")]


def captured_headers(client, bin_id: str, capture_id: int) -> list[tuple[str, str]]:
    headers = client.get(f"/api/bins/{bin_id}/requests/{capture_id}").json["headers"]
    return [(k, v) for k, v in headers if k.lower() not in ("host", "content-length")]


# --- copy as cURL / HTTPie / httpx, run against the capture URL ------------------------------


def test_curl_command_delivers_a_binary_capture_byte_exact(echo_app, client, bin_id, target, tmp_path):
    capture_id = capture(
        client,
        bin_id,
        SUB_PATH + "?" + QUERY,
        method="PURGE",
        data=BINARY,
        **{"Content-Type": "application/octet-stream", "X-Evil": HOSTILE_HEADER, "X-Empty": ""},
    )
    response = exported(client, bin_id, capture_id, "curl")
    assert response.status_code == 200 and response.content_type == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    script = response.get_data(as_text=True)
    assert "--data-binary @-" in script and script.startswith("printf '")
    result = run_shell(script, tmp_path)
    assert result.returncode == 0, result.stderr
    (received,) = target.wait_for(1)
    assert received.method == "PURGE"
    assert received.path == f"/h/{bin_id}{SUB_PATH}?{QUERY}"
    assert received.body == BINARY
    assert sent_headers(received) == captured_headers(client, bin_id, capture_id)
    assert not (tmp_path / "SENTINEL").exists()


def test_curl_sends_a_text_body_as_data_raw_without_reading_files(echo_app, client, bin_id, target, tmp_path):
    body = "@/etc/passwd\n'quoted' \"double\" $(touch SENTINEL) `touch SENTINEL` $HOME \\n ✓\n".encode()
    capture_id = capture(client, bin_id, "/hooks", data=body, **{"Content-Type": "text/plain; charset=utf-8"})
    script = exported(client, bin_id, capture_id, "curl").get_data(as_text=True)
    assert "--data-raw '@/etc/passwd" in script
    assert run_shell(script, tmp_path).returncode == 0
    (received,) = target.wait_for(1)
    assert (received.method, received.path, received.body) == ("POST", f"/h/{bin_id}/hooks", body)
    assert sent_headers(received) == captured_headers(client, bin_id, capture_id)
    assert not (tmp_path / "SENTINEL").exists()


def transient(method: str, path: str = "/", query: str = "", headers=(), body: bytes = b"") -> Capture:
    """A capture row that is never stored (the formats read only these columns)."""
    return Capture(method=method, path=path, query_string=query, headers=[list(h) for h in headers], body=body)


def test_curl_adds_no_header_the_capture_lacked(target, tmp_path):
    """No Accept, User-Agent, Content-Type or Expect of curl's own: a capture without them."""
    row = transient("PUT", "/bare", "q=1", [("X-Only", "1")], b"x" * 5000)
    assert run_shell(as_curl(resend_of(row, f"{target.url}/h/b1")), tmp_path).returncode == 0
    (received,) = target.wait_for(1)
    assert sent_headers(received) == [("X-Only", "1")]
    assert (received.method, received.path, received.body) == ("PUT", "/h/b1/bare?q=1", b"x" * 5000)


def test_curl_get_without_body_and_an_empty_sub_path(target, tmp_path):
    for row in (transient("GET", ""), transient("GET", "/", "a=1"), transient("DELETE", "/d")):
        assert run_shell(as_curl(resend_of(row, f"{target.url}/h/b1")), tmp_path).returncode == 0
    first, second, third = target.wait_for(3)
    assert (first.method, first.path, first.body, sent_headers(first)) == ("GET", "/h/b1", b"", [])
    assert second.path == "/h/b1/?a=1" and (third.method, third.path) == ("DELETE", "/h/b1/d")
    # HEAD is curl's --head (`-X HEAD` would wait for a body that never comes).
    assert "--head" in as_curl(resend_of(transient("HEAD"), f"{target.url}/h/b1"))


def hostile_row(bin_id: str) -> Capture:
    """A row as only an import (or a future bug) could store it: CR/LF in header values and a
    path, shell syntax everywhere."""
    return Capture(
        id=1,
        bin_id=bin_id,
        received_at=datetime.now(UTC),
        method="POST",
        path="/x\n$(touch SENTINEL)/`touch SENTINEL`/'",
        query_string="a='$(touch SENTINEL)'&b=`touch SENTINEL`&c=\r\nd",
        headers=[
            ["X-Split", "v\r\nX-Injected: 1"],
            ["X-Dollar", "$(touch SENTINEL)"],
            ["X-Tick", "`touch SENTINEL`"],
            ["X-Quotes", "'\"\\:=@;"],
            ["Bad Name", "dropped"],
            ["Content-Type", "text/plain"],
        ],
        body=b"it's $(touch SENTINEL)\n`touch SENTINEL`",
        body_size=39,
        remote_addr="",
        content_type="text/plain",
    )


@pytest.mark.parametrize("fmt", ["curl", "httpie", "httpx"])
def test_hostile_values_never_execute(target, tmp_path, fmt):
    if fmt == "httpie" and HTTPIE is None:
        pytest.skip("HTTPie (`http`) is not installed")
    row = hostile_row("b1")
    resend = resend_of(row, f"{target.url}/h/b1")
    if fmt == "httpx":
        result = subprocess.run([sys.executable, "-c", as_httpx(resend)], cwd=tmp_path, capture_output=True, timeout=60)
    else:
        result = run_shell(as_curl(resend) if fmt == "curl" else as_httpie(resend), tmp_path)
    assert result.returncode == 0, result.stderr
    (received,) = target.wait_for(1)
    assert not (tmp_path / "SENTINEL").exists()
    headers = dict(received.headers)
    assert headers["X-Split"] == "v  X-Injected: 1" and "X-Injected" not in headers
    assert headers["X-Dollar"] == "$(touch SENTINEL)" and headers["X-Tick"] == "`touch SENTINEL`"
    assert "Bad Name" not in headers
    assert received.body == row.body
    assert "\n" not in received.path and received.path.startswith("/h/b1/x%0A$(touch%20SENTINEL)/")
    if fmt != "httpie":  # HTTPie reads `\` before `:;=@` as an escape (formats.py)
        assert headers["X-Quotes"] == "'\"\\:=@;"


@pytest.mark.skipif(HTTPIE is None, reason="HTTPie (`http`) is not installed")
def test_httpie_command_delivers_the_capture(echo_app, client, bin_id, target, tmp_path):
    capture_id = capture(client, bin_id, "/a%20b?x=1&x=2", data=BINARY, **{"X-Evil": HOSTILE_HEADER, "X-Empty": ""})
    script = exported(client, bin_id, capture_id, "httpie").get_data(as_text=True)
    assert run_shell(script, tmp_path).returncode == 0
    (received,) = target.wait_for(1)
    assert (received.method, received.path, received.body) == ("POST", f"/h/{bin_id}/a%20b?x=1&x=2", BINARY)
    assert sorted(sent_headers(received)) == sorted(captured_headers(client, bin_id, capture_id))
    assert not (tmp_path / "SENTINEL").exists()


def test_httpx_snippet_delivers_the_capture(echo_app, client, bin_id, target, tmp_path):
    capture_id = capture(
        client, bin_id, "/a%20b/%2Fc?" + QUERY, method="PURGE", data=BINARY, **{"X-Evil": HOSTILE_HEADER, "X-U": "✓"}
    )
    snippet = exported(client, bin_id, capture_id, "httpx").get_data(as_text=True)
    compile(snippet, "<export>", "exec")
    result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (received,) = target.wait_for(1)
    assert (received.method, received.body) == ("PURGE", BINARY)
    assert received.path == f"/h/{bin_id}/a%20b/%2Fc?{QUERY}"
    # http.server reads header bytes as latin-1: the UTF-8 value arrives as those bytes.
    expected = [(k, v.encode().decode("latin-1")) for k, v in captured_headers(client, bin_id, capture_id)]
    assert sent_headers(received) == expected


def test_raw_http_is_the_request_and_sends_as_it_is(echo_app, client, bin_id, target):
    capture_id = capture(client, bin_id, "/raw?x=1&x=2", method="PURGE", data=BINARY, **{"X-A": "1"})
    response = exported(client, bin_id, capture_id, "http")
    assert response.content_type == "application/octet-stream"
    raw = response.get_data()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == f"PURGE /h/{bin_id}/raw?x=1&x=2 HTTP/1.1".encode()
    assert f"Content-Length: {len(BINARY)}".encode() in head and body == BINARY
    with socket.create_connection(("127.0.0.1", target.port), timeout=10) as sock:
        sock.sendall(raw)
        assert sock.recv(100).startswith(b"HTTP/1.")
    (received,) = target.wait_for(1)
    assert (received.method, received.path, received.body) == ("PURGE", f"/h/{bin_id}/raw?x=1&x=2", BINARY)
    text_id = capture(client, bin_id, "/t", data=b'{"a": 1}', **{"Content-Type": "application/json"})
    assert exported(client, bin_id, text_id, "http").content_type == "text/plain; charset=utf-8"


def test_export_of_a_capture_refuses_bad_input(client, bin_id):
    capture_id = capture(client, bin_id, data=b"x")
    bad = exported(client, bin_id, capture_id, "wget")
    assert bad.status_code == 400 and "curl, httpie, httpx, http" in bad.json["error"]
    assert exported(client, bin_id, capture_id + 99, "curl").status_code == 404
    assert client.get(f"/api/bins/nope-bin/requests/{capture_id}/export").status_code == 404
    assert exported(client, bin_id, capture_id, "").status_code == 200  # curl by default


def test_export_is_redacted_on_request_and_for_owner(client, bin_id):
    capture_id = capture(client, bin_id, data=b"{}", Authorization="Bearer sk_live_secret")
    assert "sk_live_secret" in exported(client, bin_id, capture_id, "curl").get_data(as_text=True)
    redacted = exported(client, bin_id, capture_id, "curl", redact="true").get_data(as_text=True)
    assert "sk_live_secret" not in redacted and "[redacted]" in redacted
    client.patch(f"/api/bins/{bin_id}", json={"redact": {"for_owner": True}})
    for fmt in ("curl", "httpie", "httpx", "http"):
        assert b"sk_live_secret" not in exported(client, bin_id, capture_id, fmt).get_data()


def test_shell_helpers():
    script = printf_bytes(bytes(range(256)))
    assert script.isascii() and "\n" not in script
    assert subprocess.run(["bash", "-c", script], capture_output=True).stdout == bytes(range(256))
    assert subprocess.run(["sh", "-c", script], capture_output=True).stdout == bytes(range(256))
    assert is_plain_text("héllo\n\tworld".encode()) and not is_plain_text(b"a\rb") and not is_plain_text(b"\xff")
    assert not is_plain_text("bidi \u202e override".encode())


# --- the page: "Copy as" and part downloads ----------------------------------------------------


def test_detail_pane_offers_copy_as_and_the_fragment_escapes(client, bin_id):
    capture_id = capture(client, bin_id, "/p", data=b"<script>alert(1)</script>", **{"X-T": "<b>x</b>"})
    pane = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Copy as" in pane and f"/bins/{bin_id}/requests/{capture_id}/export?format=httpie" in pane
    fragment = client.get(f"/bins/{bin_id}/requests/{capture_id}/export?format=curl").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="export-output"') and 'data-copy="export-text"' in fragment
    assert "<script>" not in fragment and "&lt;script&gt;" in fragment and "<b>" not in fragment
    binary_id = capture(client, bin_id, data=b"\xff\xfe")
    raw = client.get(f"/bins/{bin_id}/requests/{binary_id}/export?format=http").get_data(as_text=True)
    assert "not UTF-8 text" in raw and f"/api/bins/{bin_id}/requests/{binary_id}/export?format=http" in raw


def test_shared_page_has_no_copy_as(client, bin_id):
    capture_id = capture(client, bin_id, data=b"x")
    share = client.post(f"/api/bins/{bin_id}/shares", json={}).json
    page = client.get(f"/s/{share['token']}?request={capture_id}").get_data(as_text=True)
    assert f"Request #{capture_id}" in page
    assert "Copy as" not in page and "/export" not in page and "/parts/" not in page


MULTIPART = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="note"\r\n\r\n'
    b"hello\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="file"; filename="../../evil\\"name\x01.html"\r\n'
    b"Content-Type: text/html\r\n\r\n"
    b"<script>alert(1)</script>\x00\xff\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="img"; filename="r\xc3\xa9sum\xc3\xa9.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
    b"\x89PNG\r\n\x1a\n\x00\r\n"
    b"--XyZ--\r\n"
)


def test_multipart_parts_download_as_safe_attachments(client, bin_id):
    capture_id = capture(client, bin_id, data=MULTIPART, **{"Content-Type": "multipart/form-data; boundary=XyZ"})
    base = f"/api/bins/{bin_id}/requests/{capture_id}/parts"
    note = client.get(f"{base}/0")
    assert note.data == b"hello" and note.content_type == "application/octet-stream"  # it declares no type
    html = client.get(f"{base}/1")
    assert html.status_code == 200 and html.data == b"<script>alert(1)</script>\x00\xff"
    assert html.content_type == "application/octet-stream"
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert html.headers["Content-Disposition"] == 'attachment; filename="evil_name_.html"'
    image = client.get(f"{base}/2")
    assert image.content_type == "image/png" and image.data == b"\x89PNG\r\n\x1a\n\x00"
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.png" in image.headers["Content-Disposition"]
    assert client.get(f"{base}/3").status_code == 404
    plain = capture(client, bin_id, data=b"not multipart")
    assert client.get(f"/api/bins/{bin_id}/requests/{plain}/parts/0").status_code == 404
    pane = client.get(f"/bins/{bin_id}/requests/{capture_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"{base}/2" in pane and "Download part 3" in pane


def test_gzipped_multipart_parts_are_counted_as_the_page_counts_them(client, bin_id):
    capture_id = capture(
        client,
        bin_id,
        data=gzip.compress(MULTIPART),
        **{"Content-Type": "multipart/form-data; boundary=XyZ", "Content-Encoding": "gzip"},
    )
    assert client.get(f"/api/bins/{bin_id}/requests/{capture_id}/parts/2").data == b"\x89PNG\r\n\x1a\n\x00"


def test_part_names_and_types_are_sanitised():
    assert safe_filename('C:\\x\\..\\"a;b".exe', "f") == "_a_b_.exe"
    assert safe_filename("...", "fallback") == "fallback" and safe_filename(None, "f") == "f"
    assert safe_filename("x" * 500, "f") == "x" * 150
    assert safe_type("image/svg+xml") == "application/octet-stream"
    assert safe_type("text/html; charset=utf-8") == "application/octet-stream"
    assert safe_type('text/plain; charset="utf-8"') == "text/plain; charset=utf-8"
    assert safe_type("image/png\r\nX-Evil: 1") == "application/octet-stream"
    assert safe_type("") == "application/octet-stream"


# --- a bin as HAR or NDJSON, and back ------------------------------------------------------------

DUPLICATES = {
    "received_at": "2025-03-04T05:06:07.123456Z",
    "method": "POST",
    "path": "/dup",
    "query_string": "a=1&a=2&a=",
    "headers": [["X-Dup", "one"], ["X-Dup", "two"], ["x-dup", "three"], ["Content-Type", "application/json"]],
    "remote_addr": "203.0.113.9",
    "content_type": "application/json",
    "body_base64": base64.b64encode(b'{"a": 1}').decode(),
}
COMPARED = ("received_at", "method", "path", "query_string", "headers", "body_base64", "content_type", "remote_addr")
COMPARED += ("body_size", "body_truncated", "body_incomplete")


def stored(client, bin_id: str) -> list[tuple]:
    """Every capture of the bin, newest first, as the fields an import must keep."""
    summaries = client.get(f"/api/bins/{bin_id}/requests?limit=500").json["requests"]
    full = [client.get(f"/api/bins/{bin_id}/requests/{item['id']}").json for item in summaries]
    return [tuple(json.dumps(request[name]) for name in COMPARED) for request in full]


def populate(client, bin_id: str) -> None:
    imported = client.post(
        f"/api/bins/{bin_id}/import", data=json.dumps(DUPLICATES), content_type="application/x-ndjson"
    )
    assert imported.json == {"imported": 1}, imported.json
    capture(client, bin_id, SUB_PATH + "?" + QUERY, method="PURGE", data=BINARY, **{"X-Evil": HOSTILE_HEADER})
    gzipped = gzip.compress(b'{"zipped": true}', mtime=0)
    capture(client, bin_id, "/gz", data=gzipped, **{"Content-Encoding": "gzip", "Content-Type": "application/json"})
    capture(client, bin_id, "/empty", method="DELETE")
    capture(client, bin_id, "/utf8?q=%C3%A9", data="héllo ✓\r\n".encode(), **{"Content-Type": "text/plain"})


@pytest.mark.parametrize("fmt", ["har", "ndjson"])
def test_export_then_import_is_byte_exact(client, bin_id, fmt):
    populate(client, bin_id)
    response = client.get(f"/api/bins/{bin_id}/export?format={fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="{bin_id}.{fmt}"'
    data = response.get_data()
    if fmt == "har":
        har = json.loads(data)
        assert har["log"]["version"] == "1.2" and len(har["log"]["entries"]) == 5
        entry = har["log"]["entries"][-1]  # newest first: the imported one is the oldest
        assert [h["name"] for h in entry["request"]["headers"]].count("X-Dup") == 2
        assert entry["request"]["queryString"] == [
            {"name": "a", "value": "1"},
            {"name": "a", "value": "2"},
            {"name": "a", "value": ""},
        ]
        assert har["log"]["entries"][3]["request"]["postData"]["encoding"] == "base64"
    else:
        assert len(data.splitlines()) == 5
    copy = client.post("/api/bins", json={"name": f"copy-{fmt}"}).json["id"]
    imported = client.post(f"/api/bins/{copy}/import", data=data, content_type="application/json")
    assert imported.status_code == 200 and imported.json == {"imported": 5}
    assert stored(client, copy) == stored(client, bin_id)


def test_export_keeps_to_the_matchers_newest_first_in_batches(client, bin_id, monkeypatch):
    for number in range(7):
        capture(client, bin_id, f"/n{number}", method="PUT" if number % 2 else "POST", data=b"x" * number)
    whole = client.get(f"/api/bins/{bin_id}/export?format=ndjson").get_data()
    paths = [json.loads(line)["path"] for line in whole.splitlines()]
    assert paths == [f"/n{n}" for n in range(6, -1, -1)]
    monkeypatch.setattr(batches, "BATCH", 2)
    monkeypatch.setattr(batches, "BATCH_WITH_BODIES", 1)
    monkeypatch.setattr(batches, "BODY_BYTES_PER_READ", 3)
    assert client.get(f"/api/bins/{bin_id}/export?format=ndjson").get_data() == whole
    puts = client.get(f"/api/bins/{bin_id}/export?format=ndjson&method=PUT&text=xx").get_data()
    assert [json.loads(line)["path"] for line in puts.splitlines()] == ["/n5", "/n3"]
    har = json.loads(client.get(f"/api/bins/{bin_id}/export?format=har&path=/n1").get_data())
    assert [entry["_hookloupe"]["path"] for entry in har["log"]["entries"]] == ["/n1"]
    assert client.get(f"/api/bins/{bin_id}/export?format=csv").status_code == 400
    assert client.get(f"/api/bins/{bin_id}/export?nope=1").status_code == 400
    assert client.get("/api/bins/nope-bin/export").status_code == 404


def test_bin_export_is_redacted_when_asked(client, bin_id):
    capture(client, bin_id, data=b"{}", Authorization="Bearer sk_live_secret")
    assert b"sk_live_secret" in client.get(f"/api/bins/{bin_id}/export").get_data()
    for fmt in ("har", "ndjson"):
        assert b"sk_live_secret" not in client.get(f"/api/bins/{bin_id}/export?format={fmt}&redact=true").get_data()


def test_imported_captures_are_analysed_like_captures(client, bin_id):
    record = {
        **DUPLICATES,
        "headers": [["X-Github-Event", "push"], ["X-Github-Delivery", "d-1"], ["X-Hub-Signature-256", "sha256=00"]],
    }
    assert client.post(f"/api/bins/{bin_id}/import", data=json.dumps(record)).json == {"imported": 1}
    (summary,) = client.get(f"/api/bins/{bin_id}/requests").json["requests"]
    assert summary["provider"]["id"] == "github" and summary["provider"]["event"] == "push"
    assert summary["signature"]["status"] == "no_secret"


def test_import_redacts_when_the_bin_redacts_at_capture(client, bin_id):
    client.patch(f"/api/bins/{bin_id}", json={"redact": {"at_capture": True}})
    record = {**DUPLICATES, "headers": [["Authorization", "Bearer sk_live_secret"]]}
    client.post(f"/api/bins/{bin_id}/import", data=json.dumps(record))
    (summary,) = client.get(f"/api/bins/{bin_id}/requests").json["requests"]
    request = client.get(f"/api/bins/{bin_id}/requests/{summary['id']}").json
    assert request["headers"] == [["Authorization", "[redacted]"]] and "header Authorization" in request["redacted"]


def test_import_orders_captures_by_time(client, bin_id):
    later = {**DUPLICATES, "received_at": "2025-03-04T05:06:08Z", "path": "/later"}
    earlier = {**DUPLICATES, "received_at": "2025-03-04T07:06:07+03:00", "path": "/earlier"}  # 04:06:07 UTC
    client.post(f"/api/bins/{bin_id}/import", data=json.dumps(later) + "\n" + json.dumps(earlier) + "\n")
    listed = client.get(f"/api/bins/{bin_id}/requests").json["requests"]
    assert [(r["path"], r["received_at"]) for r in listed] == [
        ("/later", "2025-03-04T05:06:08.000000Z"),
        ("/earlier", "2025-03-04T04:06:07.000000Z"),
    ]


def test_a_foreign_har_imports(client, bin_id):
    har = {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "startedDateTime": "2024-01-02T03:04:05.678+01:00",
                    "request": {
                        "method": "POST",
                        "url": "https://api.example.com/v1/orders?id=7&id=8",
                        "headers": [{"name": ":authority", "value": "api.example.com"}, {"name": "X-A", "value": "1"}],
                        "queryString": [],
                        "postData": {
                            "mimeType": "application/x-www-form-urlencoded",
                            "params": [{"name": "a", "value": "b c"}],
                        },
                    },
                }
            ],
        }
    }
    assert client.post(f"/api/bins/{bin_id}/import", json=har).json == {"imported": 1}
    (summary,) = client.get(f"/api/bins/{bin_id}/requests").json["requests"]
    request = client.get(f"/api/bins/{bin_id}/requests/{summary['id']}").json
    assert (request["path"], request["query_string"], request["headers"]) == ("/v1/orders", "id=7&id=8", [["X-A", "1"]])
    assert base64.b64decode(request["body_base64"]) == b"a=b+c"
    assert request["received_at"] == "2024-01-02T02:04:05.678000Z"


BAD_IMPORTS = [
    (b'{"log": {"entries": [{"request": {"method": "GET"}}]}}', "entry 1"),
    (b'{"log": {"entries": "no"}}', "log"),
    (b"[1, 2]", "JSON array"),
    (b"not json at all", "line 1"),
    (b"\xff\xfe\x00", "line 1"),
    (json.dumps(DUPLICATES).encode() + b"\n{broken\n", "line 2"),
    (json.dumps({**DUPLICATES, "method": "GET X"}).encode(), "method"),
    (json.dumps({**DUPLICATES, "method": 7}).encode(), "method"),
    (json.dumps({**DUPLICATES, "path": "/a\u0000b"}).encode(), "path"),
    (json.dumps({**DUPLICATES, "path": "/a?b"}).encode(), "path"),
    (json.dumps({**DUPLICATES, "path": "no-slash"}).encode(), "path"),
    (json.dumps({**DUPLICATES, "query_string": "a b"}).encode(), "query_string"),
    (json.dumps({**DUPLICATES, "headers": [["X-A", "1\r\nX-B: 2"]]}).encode(), "CR or LF"),
    (json.dumps({**DUPLICATES, "headers": [["X A", "1"]]}).encode(), "token"),
    (json.dumps({**DUPLICATES, "headers": [["X-A"]]}).encode(), "pair"),
    (json.dumps({**DUPLICATES, "headers": {"X-A": "1"}}).encode(), "headers"),
    (json.dumps({**DUPLICATES, "headers": [["X-A", "\ud800"]]}).encode(), "surrogate"),
    (json.dumps({**DUPLICATES, "received_at": "yesterday"}).encode(), "received_at"),
    (json.dumps({**DUPLICATES, "received_at": None}).encode(), "received_at"),
    (json.dumps({**DUPLICATES, "body_base64": "!!"}).encode(), "base64"),
    (json.dumps({**DUPLICATES, "body_truncated": "yes"}).encode(), "body_truncated"),
    (json.dumps({**DUPLICATES, "remote_addr": "x" * 65}).encode(), "remote_addr"),
    (b"[" * 10000, "line 1"),
    (b"{" * 10000, "line 1"),
]


@pytest.mark.parametrize(("body", "where"), BAD_IMPORTS)
def test_bad_imports_are_400_naming_the_place_and_import_nothing(client, bin_id, body, where):
    response = client.post(f"/api/bins/{bin_id}/import", data=body, content_type="application/x-ndjson")
    assert response.status_code == 400, response.data
    assert where in response.json["error"]
    assert client.get(f"/api/bins/{bin_id}/requests/count").json == {"count": 0}


def test_import_limits_and_missing_bins(app, client, bin_id):
    assert client.post(f"/api/bins/{bin_id}/import", data=b"").json == {"imported": 0}
    assert client.post("/api/bins/nope-bin/import", data=json.dumps(DUPLICATES)).status_code == 404
    app.config["MAX_API_BODY_BYTES"] = 100
    too_big = client.post(f"/api/bins/{bin_id}/import", data=json.dumps(DUPLICATES).encode() * 3)
    assert too_big.status_code == 413
    form = client.post(f"/api/bins/{bin_id}/import", data=b"a=1", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415  # the API's cross-site guard: never a form post


# --- in a browser --------------------------------------------------------------------------------


def in_browser(test):
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


@in_browser
def test_copy_as_curl_in_the_page_copies_the_command(browser, live_server):
    expect = pytest.importorskip("playwright.sync_api").expect
    bin_id = live_server.create_bin()
    body = b'{"a": "<img src=x onerror=window.__pwned=1>", "b": "$(id)"}'
    capture_id = httpx.post(f"{live_server.url}/h/{bin_id}/p?x=1", content=body, timeout=10).json()["request_id"]
    command = httpx.get(f"{live_server.url}/api/bins/{bin_id}/requests/{capture_id}/export?format=curl").text
    context = browser.new_context(base_url=live_server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"/bins/{bin_id}/requests/{capture_id}")
        page.locator("details.copy-as summary").click()
        page.get_by_role("button", name="cURL", exact=True).click()
        expect(page.locator("#export-text")).to_contain_text("curl --globoff --path-as-is")
        page.locator("#export-output button.copy").click()
        assert page.evaluate("navigator.clipboard.readText()") == command.strip()
        page.get_by_role("button", name="Raw HTTP", exact=True).click()
        expect(page.locator("#export-text")).to_contain_text(f"POST /h/{bin_id}/p?x=1 HTTP/1.1")
        assert page.evaluate("window.__pwned") is None
    finally:
        context.close()


@pytest.mark.parametrize("size", [2**63, 2**31, True, -1])
def test_an_impossible_body_size_is_a_400_naming_the_line(client, bin_id, size):
    line = {
        "method": "POST",
        "received_at": "2024-01-01T00:00:00Z",
        "headers": [],
        "body_base64": "",
        "body_truncated": True,
    }
    response = client.post(
        f"/api/bins/{bin_id}/import",
        data=json.dumps({**line, "body_size": size}).encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 400 and "body_size" in response.json["error"]
    assert client.get(f"/api/bins/{bin_id}/requests/count").json == {"count": 0}


@pytest.mark.parametrize("query", ["since=0001-01-01T00:00:00%2B01:00", "until=9999-12-31T23:59:59-01:00"])
def test_a_date_matcher_out_of_range_is_a_400(client, bin_id, query):
    for url in (f"/api/bins/{bin_id}/export?{query}", f"/api/bins/{bin_id}/requests?{query}"):
        response = client.get(url)
        assert response.status_code == 400 and "out of range" in response.json["error"], url
