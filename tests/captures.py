"""Build `CapturedRequest` values for unit tests of detection, verification and handshakes."""

from __future__ import annotations

from datetime import UTC, datetime

from inspector.capture.request import CapturedRequest

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_capture(headers=(), body=b"", method="POST", query="", at=AT, truncated=False, content_type=None):
    """A capture as it arrived at `at`; its content type is its Content-Type header unless given."""
    headers = tuple((k, v) for k, v in headers)
    if content_type is None:
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    return CapturedRequest(
        method=method,
        path="",
        query_string=query,
        headers=headers,
        body=body,
        body_size=len(body),
        body_truncated=truncated,
        remote_addr="203.0.113.9",
        received_at=at,
        content_type=content_type,
    )
