"""The provider registry: every entry, lookup by id, and `detect(capture)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.signing.providers import dev_tools, messaging, more, payments, seeds, standards
from inspector.signing.providers.model import Context, HasHeader, Provider, Signal, extract, shared_label

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
# The second round (more.py): new entries, and offline schemes for Netlify, PayPal and Plaid.
REGISTRY = more.extend(REGISTRY)

_BY_ID = {p.id: p for p in REGISTRY}
if len(_BY_ID) != len(REGISTRY):
    raise RuntimeError("duplicate provider id in the registry")


@dataclass(frozen=True)
class Detection:
    """Which provider sent a capture, its event type and delivery id (None when absent), and
    the evidence that decided it (short strings such as `header X-GitHub-Event`).

    When only a shared header or body field matched (`X-Hook-Signature`: Asana or
    Studiewinkel), `provider_id` and `name` are None, `candidates` names the providers it could
    be and `shared` what they share; `could_be` says so in words."""

    provider_id: str | None
    name: str | None
    event: str | None
    delivery_id: str | None
    evidence: tuple[str, ...]
    candidates: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()

    @property
    def could_be(self) -> str:
        """`The X-Hook-Signature header alone does not tell who sent this request: it could be
        Asana or Studiewinkel, or another sender that uses it` (no final stop, so a caller can
        go on); empty for a decided detection."""
        if not self.candidates:
            return ""
        one = len(self.shared) == 1
        what = _either(self.shared, "and")
        return (
            f"{what[:1].upper()}{what[1:]} alone {'does' if one else 'do'} not tell who sent this "
            f"request: it could be {_either(self.candidates)}, or another sender that uses {'it' if one else 'them'}"
        )


def _either(words: tuple[str, ...], last: str = "or") -> str:
    """`A`, `A or B`, `A, B or C`."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


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

# Every entry's candidate signals (a shared header or body field it signs in), in registry
# order, filed like the rules: consulted only when no rule holds, to name the candidates.
_HINTS: list[tuple[Provider, Signal]] = [(entry, hint) for entry in REGISTRY for hint in entry.candidate_signals]
_HINTS_BY_HEADER: dict[str, list[int]] = {}
_HEADERLESS_HINTS: list[int] = []
for _index, (_entry, _hint) in enumerate(_HINTS):
    if isinstance(_hint, HasHeader):
        _HINTS_BY_HEADER.setdefault(_hint.name.lower(), []).append(_index)
    else:
        _HEADERLESS_HINTS.append(_index)


def get(provider_id: str | None) -> Provider | None:
    """The entry with this id, or None when there is none (or the id is None: undecided)."""
    return _BY_ID.get(provider_id) if provider_id is not None else None


def all_providers() -> tuple[Provider, ...]:
    return REGISTRY


def detect(capture: CapturedRequest) -> Detection | None:
    """The provider that most likely sent `capture` (a CapturedRequest); when no rule holds but
    a shared header or body field does, a Detection with no provider that names the candidates;
    None when nothing matches. Header signals are tested before body ones, and the body is
    parsed at most once."""
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
        return _undecided(ctx)
    return Detection(
        provider_id=best.id,
        name=best.name,
        event=extract(ctx, best.event),
        delivery_id=extract(ctx, best.delivery_id),
        evidence=tuple(signal.evidence for signal in best_rule),
    )


def _undecided(ctx: Context) -> Detection | None:
    """The candidates when only shared signals hold: a shared header alone is sent by several
    providers, and claiming one would verify with the wrong scheme and a wrong verdict."""
    indexes = sorted([*_HEADERLESS_HINTS, *(i for name in ctx.headers for i in _HINTS_BY_HEADER.get(name, ()))])
    held = [_HINTS[i] for i in indexes if _HINTS[i][1].holds(ctx)]
    if not held:
        return None
    return Detection(
        provider_id=None,
        name=None,
        event=None,
        delivery_id=None,
        evidence=tuple(dict.fromkeys(hint.evidence for _, hint in held)),
        candidates=tuple(dict.fromkeys(entry.name for entry, _ in held)),
        shared=tuple(dict.fromkeys(shared_label(hint) for _, hint in held)),
    )
