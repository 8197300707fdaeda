"""The provider registry: every entry, lookup by id, and `detect(capture)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.signing.providers import dev_tools, messaging, payments, seeds, standards
from inspector.signing.providers.model import Context, HasHeader, Provider, extract

if TYPE_CHECKING:
    from inspector.capture.request import CapturedRequest

# Order matters only to break ties between equally strong rules: specific before generic.
REGISTRY: tuple[Provider, ...] = (
    *seeds.ENTRIES,
    *dev_tools.ENTRIES,
    *payments.ENTRIES,
    *messaging.ENTRIES,
    *standards.ENTRIES,
)

_BY_ID = {p.id: p for p in REGISTRY}
if len(_BY_ID) != len(REGISTRY):
    raise RuntimeError("duplicate provider id in the registry")


@dataclass(frozen=True)
class Detection:
    """Which provider sent a capture, its event type and delivery id (None when absent), and
    the evidence that decided it (short strings such as `header X-GitHub-Event`)."""

    provider_id: str
    name: str
    event: str | None
    delivery_id: str | None
    evidence: tuple[str, ...]


# Every rule once, strongest first, prepared so detection on the capture path does no sorting:
# (score, registry order, entry, header names the rule needs, signals cheap-first, as declared).
# Most rules need a header the request lacks, and a set test rules them out at once.
_RULES = sorted(
    (
        (
            len(rule) - (100 if entry.generic else 0),
            order,
            entry,
            frozenset(s.name.lower() for s in rule if isinstance(s, HasHeader)),
            tuple(sorted(rule, key=lambda s: s.cost)),
            rule,
        )
        for order, entry in enumerate(REGISTRY)
        for rule in entry.detect
    ),
    key=lambda item: (-item[0], item[1]),
)


# The rules that need headers, each filed once under one of the headers it needs, and the
# rules that need none: a capture only visits the rules whose header it carries (plus the
# header-less ones), in the same order as _RULES.
_BY_HEADER: dict[str, list[int]] = {}
_HEADERLESS: list[int] = []
for _index, (_score, _order, _entry, _needed, _signals, _rule) in enumerate(_RULES):
    if _needed:
        _BY_HEADER.setdefault(min(_needed), []).append(_index)
    else:
        _HEADERLESS.append(_index)


def get(provider_id: str) -> Provider | None:
    """The entry with this id, or None when there is none."""
    return _BY_ID.get(provider_id)


def all_providers() -> tuple[Provider, ...]:
    return REGISTRY


def detect(capture: CapturedRequest) -> Detection | None:
    """The provider that most likely sent `capture` (a CapturedRequest), or None when no entry
    matches. Header signals are tested before body ones, and the body is parsed at most once."""
    ctx = Context(capture.method, capture.headers, capture.query, capture.body)
    # Strongest rules first, registry order among equals: the first rule that holds wins.
    present = ctx.headers.keys()
    candidates = list(_HEADERLESS)
    for name in present:
        candidates.extend(_BY_HEADER.get(name, ()))
    candidates.sort()
    for index in candidates:
        _score, _order, entry, needed, signals, rule = _RULES[index]
        if needed <= present and all(signal.holds(ctx) for signal in signals):
            best, best_rule = entry, rule
            break
    else:
        return None
    return Detection(
        provider_id=best.id,
        name=best.name,
        event=extract(ctx, best.event),
        delivery_id=extract(ctx, best.delivery_id),
        evidence=tuple(signal.evidence for signal in best_rule),
    )
