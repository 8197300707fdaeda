"""A capture as a redacted view shows it: the rules applied to what was captured (redaction.py)
and to what the analysis derived from it.

A capture's event and delivery id are read from its provider's declared sources (`header:Name`,
`body:dotted.path`, `query:name`, joined by `+`: Provider.event / delivery_id). A view that masks
one of those sources must not show the value it gave, so the value is masked whole; the rules'
patterns mask their matches in it as they do everywhere else. An event filter would confirm a
masked event by its answers, so a share link offers it only when no event can be masked
(event_filter_safe).
"""

from __future__ import annotations

import copy

from sqlalchemy import inspect

from inspector.models import Capture
from inspector.redaction import MASK, Rules, apply_patterns, redact_request
from inspector.signing import providers
from inspector.signing.analysis import captured_from_row


def _covers(rule_path: str, source_path: str) -> bool:
    """Whether a JSON path rule masks the source path, a part of it or something inside it."""
    rule, source = rule_path.split("."), source_path.split(".")
    return all(wanted in ("*", found) for wanted, found in zip(rule, source, strict=False))


def source_masked(source: str, rules: Rules) -> bool:
    """Whether the rules mask a provider source (`header:X`, `body:a.b`, `query:k`, or `+`-joined)."""
    for part in source.split("+"):
        kind, _, name = part.partition(":")
        if kind == "header" and name.lower() in rules.header_names:
            return True
        if kind == "query" and name in rules.form_fields:
            return True
        if kind == "body" and (
            name.split(".")[0] in rules.form_fields or any(_covers(path, name) for path in rules.json_paths)
        ):
            return True
    return False


def derived_value(value: str | None, sources: tuple[str, ...], rules: Rules) -> str | None:
    """`value`, read from one of `sources`, as the view shows it."""
    if value is None:
        return None
    if any(source_masked(source, rules) for source in sources):
        return MASK
    return apply_patterns(value, rules)[0]


def shown(row: Capture, field: str, rules: Rules) -> str | None:
    """The capture's `event` or `delivery_id` as a view under `rules` shows it."""
    entry = providers.get(row.provider_id)
    return derived_value(getattr(row, field), getattr(entry, field) if entry else (), rules)


def event_filter_safe(rules: Rules) -> bool:
    """Whether filtering by event can confirm nothing the rules mask: no pattern (it could match
    any event) and no provider's event source masked."""
    if rules.patterns:
        return False
    return not any(source_masked(source, rules) for entry in providers.all_providers() for source in entry.event)


def redacted_copy(row: Capture, rules: Rules) -> Capture:
    """A transient Capture (never added to a session; `row` is not changed) with the rules
    applied and every other column copied. Its `redacted` lists what was replaced at capture,
    then what this copy replaced; its signature keeps no `debug` (the signature debugger shows
    signed text and signatures)."""
    values = {attr.key: getattr(row, attr.key) for attr in inspect(Capture).column_attrs}
    redacted, notes = redact_request(captured_from_row(row), rules)
    values |= {"headers": [list(pair) for pair in redacted.headers], "query_string": redacted.query_string}
    values |= {"body": redacted.body, "body_size": redacted.body_size}
    values |= {field: shown(row, field, rules) for field in ("event", "delivery_id")}
    values["redacted"] = list(dict.fromkeys([*(row.redacted or []), *notes])) or None
    if row.signature is not None:
        values["signature"] = {**copy.deepcopy(row.signature), "debug": {}}
    return Capture(**values)
