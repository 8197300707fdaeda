"""Unit tests of capture parsing: a WSGI environ in, a CapturedRequest out (no Flask app)."""

import io
from datetime import UTC, datetime

from gunicorn.http.errors import InvalidChunkSize

from inspector.capture.request import (
    Body,
    capture_request,
    client_address,
    header_pairs,
    query_pairs,
    raw_path,
    read_body,
    sub_path,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)


def environ(method="POST", path="/h/abc", query="", body=b"", **extra):
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "10.1.2.3",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    env.update(extra)
    return env


def test_read_body_under_limit_is_exact():
    assert read_body(io.BytesIO(b"abc\x00\xff"), 10) == Body(b"abc\x00\xff", 5, False)


def test_read_body_at_exact_limit_is_not_truncated():
    assert read_body(io.BytesIO(b"x" * 10), 10) == Body(b"x" * 10, 10, False)


def test_read_body_over_limit_keeps_prefix_and_true_size():
    assert read_body(io.BytesIO(b"0123456789" * 100_000), 1000) == Body(b"0123456789" * 100, 1_000_000, True)


def test_read_body_shorter_than_declared_is_incomplete_and_kept():
    assert read_body(io.BytesIO(b"half"), 100, declared=8) == Body(b"half", 4, False, incomplete=True)
    assert read_body(io.BytesIO(b"complete"), 100, declared=8).incomplete is False


class BrokenFraming(io.BytesIO):
    """A chunked body whose framing breaks after the first piece (gunicorn raises)."""

    def __init__(self) -> None:
        super().__init__(b"first piece")
        self.calls = 0

    def read(self, size: int | None = -1) -> bytes:
        self.calls += 1
        if self.calls > 1:
            raise InvalidChunkSize(b"zz")
        return super().read(size)


def test_read_body_with_broken_chunked_framing_keeps_what_arrived():
    assert read_body(BrokenFraming(), 100) == Body(b"first piece", 11, False, incomplete=True)


def test_query_pairs_keep_repeats_blanks_and_order():
    assert query_pairs("b=2&a=1&a=&flag&x=%3Cs%3E") == [("b", "2"), ("a", "1"), ("a", ""), ("flag", ""), ("x", "<s>")]


def test_header_pairs_follow_environ_order_and_include_content_headers():
    env = {"HTTP_X_B": "2", "CONTENT_TYPE": "application/json", "HTTP_X_A": "1", "CONTENT_LENGTH": "3"}
    assert header_pairs(env) == (
        ("X-B", "2"),
        ("Content-Type", "application/json"),
        ("X-A", "1"),
        ("Content-Length", "3"),
    )


def test_header_pairs_recover_utf8_values():
    latin1_view = "café".encode().decode("latin-1")
    assert header_pairs({"HTTP_X_NAME": latin1_view}) == (("X-Name", "café"),)


def test_empty_content_type_is_not_a_header():
    assert header_pairs({"CONTENT_TYPE": "", "HTTP_X": "1"}) == (("X", "1"),)


def test_client_address_ignores_forwarded_for_by_default():
    assert client_address({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 0) == "10.0.0.1"


def test_client_address_trusts_the_nth_hop_from_the_right():
    env = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.9"}
    assert client_address(env, 1) == "10.0.0.9"
    assert client_address(env, 2) == "1.2.3.4"


def test_client_address_rejects_a_forged_non_ip():
    env = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "<script>"}
    assert client_address(env, 1) == "10.0.0.1"


def test_raw_path_prefers_the_undecoded_uri():
    env = {"RAW_URI": "/h/abc/a%2Fb%20c?x=1", "PATH_INFO": "/h/abc/a/b c"}
    assert raw_path(env) == "/h/abc/a%2Fb%20c"


def test_raw_path_handles_absolute_form_targets():
    assert raw_path({"RAW_URI": "http://example.test/h/abc/z?q"}) == "/h/abc/z"


def test_sub_path_distinguishes_none_from_trailing_slash():
    assert sub_path("/h/abc", "abc") == ""
    assert sub_path("/h/abc/", "abc") == "/"
    assert sub_path("/h/abc/github/push", "abc") == "/github/push"


def test_capture_request_builds_the_full_value():
    env = environ(
        "PURGE",
        "/h/abc/x",
        "a=1&a=2",
        b"\x00\x01",
        HTTP_X_TOKEN="t",
        CONTENT_TYPE="application/octet-stream",
    )
    captured = capture_request(env, "abc", max_body_bytes=100, trusted_proxies=0, received_at=NOW)
    assert captured.method == "PURGE"
    assert captured.path == "/x"
    assert captured.query == [("a", "1"), ("a", "2")]
    assert captured.body == b"\x00\x01"
    assert captured.body_size == 2 and not captured.body_truncated
    assert captured.remote_addr == "10.1.2.3"
    assert captured.received_at == NOW
    assert captured.content_type == "application/octet-stream"
    assert captured.header("x-token") == "t"
    assert captured.header("missing") is None


def test_capture_request_reads_chunked_input_when_terminated():
    env = environ(body=b"")
    del env["CONTENT_LENGTH"]
    env["wsgi.input"] = io.BytesIO(b"chunked-body")
    env["wsgi.input_terminated"] = True
    captured = capture_request(env, "abc", max_body_bytes=100, trusted_proxies=0, received_at=NOW)
    assert captured.body == b"chunked-body"
    assert captured.body_incomplete is False


def test_capture_request_marks_a_body_shorter_than_its_content_length():
    env = environ(body=b"12345")
    env["CONTENT_LENGTH"] = "10"
    env["wsgi.input_terminated"] = True  # as under gunicorn: the stream ends where the client stopped
    captured = capture_request(env, "abc", max_body_bytes=100, trusted_proxies=0, received_at=NOW)
    assert (captured.body, captured.body_size, captured.body_incomplete) == (b"12345", 5, True)
