"""Header pairs as captured: a sequence of (name, value) in arrival order, names as sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def first_header(pairs: Iterable[Sequence[str]], name: str) -> str | None:
    """The first value of header `name` (case-insensitive), or None when absent."""
    wanted = name.lower()
    for key, value in pairs:
        if key.lower() == wanted:
            return value
    return None
