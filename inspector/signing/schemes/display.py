"""Shorten signed content and signatures for the debugger panel (which never shows the secret)."""

from __future__ import annotations

PREVIEW_CHARS = 200


def preview(content: bytes) -> str:
    """The signed bytes as text, cut after PREVIEW_CHARS characters."""
    text = content.decode("utf-8", "replace")
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


def short(value: str) -> str:
    """A signature as shown: cut after 100 characters."""
    return value if len(value) <= 100 else value[:100] + "…"
