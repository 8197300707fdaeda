"""The search box's query syntax, read into matcher parameters (inspector/matchers.py).

One line of space-separated parts, all of which must hold:

- `name:value` for a matcher: `provider:github`, `event:push` (glob), `verdict:invalid`,
  `method:POST`, `path:/orders/*` (glob), `type:application/json` (content type, glob),
  `header:x-foo=bar` (header value, glob; `header:x-foo` alone: the header is present),
  `query:k=v` (query parameter value), `json:a.b=1` (value at a JSON body path),
  `after:2026-11-01` and `before:2026-11-28T12:00` (received at or after / before; ISO 8601,
  UTC unless an offset is given), `text:word`;
- `"a phrase"` or a bare word: free text, searched case-insensitively in the decoded body,
  header values, path, query and decoded form values (the `text` matcher);
- a value may be quoted too: `header:"x-note=two words"`, `event:"order paid"`.

A bare word that holds a colon reads as `name:value`: quote it (`"10:30"`) to search it as
text. Errors (an unknown name, a name without a value) are `InvalidInput` saying what to write.
"""

from __future__ import annotations

import re

from inspector.bins import InvalidInput

# The names the box takes, with the matcher each one sets.
NAMES = {
    "provider": "provider",
    "event": "event",
    "verdict": "verdict",
    "method": "method",
    "path": "path",
    "type": "content_type",
    "header": "h",
    "query": "q",
    "json": "json",
    "after": "since",
    "since": "since",
    "before": "until",
    "until": "until",
    "text": "text",
}
# Names whose value is `key=value` (the key names the header, query parameter or JSON path).
_KEYED = {"header", "query", "json"}
HINT = (
    "provider:github event:push verdict:invalid method:POST path:/orders/* header:x-foo=bar "
    'query:k=v json:a.b=1 type:application/json after:2026-11-01 before:2026-11-28T12:00 "free text"'
)
# A part: an optional `name:` then a quoted or bare value.
_PART = re.compile(r'\s*(?:([A-Za-z_][A-Za-z0-9_-]*):)?("([^"]*)("?)|[^\s]*)')


def parse(text: str) -> list[tuple[str, str]]:
    """The matcher parameters (name, value) the query `text` spells, in its order; [] for
    blank text. InvalidInput for an unknown `name:` (listing the names), a name with no
    value, or a `header:`/`query:`/`json:` value without its key."""
    pairs: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _PART.match(text, position)
        assert found is not None  # the pattern matches the empty string
        name, raw, quoted = found.group(1), found.group(2), found.group(3)
        if found.end() == position:  # a lone `"` with nothing after it
            break
        position = found.end()
        value = quoted if quoted is not None else raw
        if name is None:
            if value.strip():
                pairs.append(("text", value))
            continue
        pairs.append(_named(name, value))
    return pairs


def _named(name: str, value: str) -> tuple[str, str]:
    key = name.lower()
    if key not in NAMES:
        raise InvalidInput(
            f"unknown search name {name[:40]!r}: the names are {', '.join(NAMES)} "
            '(quote text that holds a colon, e.g. "10:30")'
        )
    if not value:
        raise InvalidInput(f"{key}: needs a value, e.g. {_example(key)}")
    if key not in _KEYED:
        return NAMES[key], value
    field, equals, wanted = value.partition("=")
    if not field:
        raise InvalidInput(f"{key}: needs a name before “=”, e.g. {_example(key)}")
    if not equals:
        if key != "header":
            raise InvalidInput(f"{key}: needs “=value”, e.g. {_example(key)}")
        wanted = "*"  # header:x-foo: the header is there, whatever its value
    return f"{NAMES[key]}.{field}", wanted


def _example(name: str) -> str:
    for part in HINT.split():
        if part.startswith(f"{name}:"):
            return part
    return f"{name}:…"
