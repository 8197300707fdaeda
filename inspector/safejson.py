"""Parse JSON from hostile input within fixed bounds of nesting depth and size.

`json.loads` recurses once per nesting level, so `b"[" * 100_000` raises RecursionError (not a
ValueError) and anything that walks the parsed value recurses as deep again. `loads_bounded`
measures the depth first, in one linear pass, and refuses before parsing:

    ValueError
     ├── json.JSONDecodeError      not JSON (and UnicodeDecodeError: not UTF-8/16/32)
     └── JSONLimitError            JSON nested deeper than `max_depth`, or over `max_bytes`
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

# Deepest nesting parsed. Real payloads nest a few dozen levels at most; the bound leaves the
# parse and every walk of its result (re-indenting, re-serializing) far from the recursion limit.
MAX_DEPTH = 256
# Largest JSON text parsed by default, in bytes (characters for str input).
MAX_BYTES = 16 * 1024 * 1024

# A string literal, or one left open at the end (its brackets are text, not nesting). It can
# always match once it has its opening quote, so scanning never backtracks.
_STRING = re.compile(r'"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|\\?\Z)')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONLimitError(ValueError):
    """The JSON text is nested too deeply or too large to parse; the message says which."""


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting of `text` outside string literals, in linear time. For text
    that is JSON up to some point, it is at least the depth a parser reaches before it stops."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _size(count: int) -> str:
    """`2 MiB`, `64 KiB` or `100 bytes`: the limit as people read it."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} bytes"


def loads_bounded(
    data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES, **options: Any
) -> Any:
    """`json.loads(data, **options)`, or JSONLimitError when `data` is longer than `max_bytes`
    or nests deeper than `max_depth`. Bytes are decoded as `json.loads` does (UTF-8, -16 or
    -32); every error is a ValueError, never a RecursionError."""
    if len(data) > max_bytes:
        raise JSONLimitError(f"JSON over {_size(max_bytes)} is not parsed")
    text = data if isinstance(data, str) else bytes(data).decode(json.detect_encoding(data), "surrogatepass")
    # Fewer openers than the bound cannot nest past it: most bodies skip the scan.
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text) > max_depth:
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels is not parsed")
    return json.loads(text, **options)
