"""One replay from start to finish: plan the outgoing request, apply edits, re-sign if asked,
send it and record the Delivery. Shared by the JSON API and the page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict

from inspector import store
from inspector.delivery import forward as delivery
from inspector.models import Bin, Capture, Delivery
from inspector.signing.analysis import captured_from_row, secret_values, stored_verification
from inspector.signing.resign import ResignError, resign


class Edits(TypedDict, total=False):
    """What a replay changes before sending; an absent key keeps the captured value."""

    method: str
    headers: list[tuple[str, str]]
    body: bytes


def describe_edits(edits: Edits) -> str | None:
    """`edited before sending: method, body` or None when nothing was edited."""
    changed = [name for name in ("method", "headers", "body") if name in edits]
    return f"edited before sending: {', '.join(changed)}" if changed else None


def replay_capture(
    bin_: Bin, capture: Capture, *, url: str, edits: Edits, resign_it: bool, config: Mapping[str, Any]
) -> Delivery:
    """Send `capture` to `url` now (forwarding semantics, `edits` = optional method/headers/
    body) and return the stored Delivery. Raises ResignError when re-signing was asked for
    and is impossible; nothing is sent then. `url` must already be checked by the caller."""
    outgoing = delivery.plan(capture, url, note=describe_edits(edits), **edits)
    if resign_it:
        secrets = secret_values(store.list_secrets(bin_.id), config["SECRET_KEY"])
        # The stored verdict names the scheme and secret that matched (re-sign with those).
        verification = stored_verification(capture.verdict or "none", capture.signature)
        outgoing = resign(outgoing, captured_from_row(capture), verification, secrets, at=datetime.now(UTC))
    return delivery.replay(capture, outgoing, config)


__all__ = ["Edits", "ResignError", "describe_edits", "replay_capture"]
