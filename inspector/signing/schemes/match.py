"""The result of a successful verification, and the timestamp check that may still reject it."""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class Window:
    """How far a signed timestamp may lie from the time of arrival, as the provider's SDK
    decides it (the SDKs differ, and Hookloupe's verdict follows each one exactly).

    `past`: seconds a timestamp may lag arrival (a lag of exactly `past` is accepted unless
    `strict_past`: HubSpot's `now - ts < 300`). `future`: seconds it may lead arrival; None
    accepts any future time (Stripe and HubSpot only reject old timestamps). `whole_seconds`:
    both clocks are cut to whole seconds before comparing (Box's `int(now)`, `int(ts)`).
    """

    past: float
    future: float | None
    whole_seconds: bool = False
    strict_past: bool = False

    def describe(self) -> str:
        """`300 s` for a symmetric window, else both sides in words."""
        if self.future == self.past:
            return f"{self.past:g} s"
        ahead = "any time ahead" if self.future is None else f"{self.future:g} s ahead"
        return f"{self.past:g} s old to {ahead}"


def symmetric(tolerance: int | None) -> Window | None:
    """The window of a scheme that only states a tolerance: that many seconds either way."""
    return None if tolerance is None else Window(tolerance, tolerance)


def skew_of(stamp: datetime, at: datetime, window: Window | None) -> float:
    """Seconds from `stamp` to `at` (positive when the timestamp is in the past), measured
    as `window` says (whole seconds for Box)."""
    if window is not None and window.whole_seconds:
        return float(math.floor(at.timestamp()) - math.floor(stamp.timestamp()))
    return (at - stamp).total_seconds()


def is_outside(skew: float, window: Window) -> bool:
    """Whether a timestamp `skew` seconds old (negative: ahead) falls outside `window`."""
    too_old = skew >= window.past if window.strict_past else skew > window.past
    too_new = window.future is not None and -skew > window.future
    return too_old or too_new


def check_time(
    match: Match, stamp: datetime | None, tolerance: int | None, at: datetime, *, window: Window | None = None
) -> Match:
    """Return `match` with the skew recorded, or raise TimestampError outside the window
    (`window`, else `tolerance` seconds either way; neither: no limit)."""
    if stamp is None:
        return match
    window = window or symmetric(tolerance)
    skew = skew_of(stamp, at, window)
    debug = {
        **match.debug,
        "timestamp_skew_seconds": round(skew, 3),
        "tolerance_seconds": window.past if window else None,
    }
    if window is not None and window.future != window.past:
        debug["future_tolerance_seconds"] = window.future
    match = replace(match, debug=debug)
    if window is not None and is_outside(skew, window):
        direction = "old" if skew > 0 else "in the future"
        raise TimestampError(
            f"timestamp is {abs(skew):.0f} s {direction}; the window is {window.describe()}",
            match,
            **debug,
        )
    return match
