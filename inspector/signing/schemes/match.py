"""The result of a successful verification, and the timestamp check that may still reject it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from inspector.signing.schemes.errors import TimestampError


@dataclass(frozen=True)
class Match:
    """A signature that matched: which one, how the key was read, what was signed."""

    scheme: str
    index: int = 0
    key_reading: str = "text"
    variant: str = ""
    inferred: bool = False
    debug: dict[str, Any] = field(default_factory=dict)


def check_time(match: Match, stamp: datetime | None, tolerance: int | None, at: datetime) -> Match:
    """Return `match` with the skew recorded, or raise TimestampError outside `tolerance`."""
    if stamp is None:
        return match
    skew = round((at - stamp).total_seconds(), 3)
    debug = {**match.debug, "timestamp_skew_seconds": skew, "tolerance_seconds": tolerance}
    match = replace(match, debug=debug)
    if tolerance is not None and abs(skew) > tolerance:
        direction = "old" if skew > 0 else "in the future"
        raise TimestampError(
            f"timestamp is {abs(skew):.0f} s {direction}; the window is {tolerance} s",
            match,
            **debug,
        )
    return match
