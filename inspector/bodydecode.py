"""Undo a body's gzip or deflate Content-Encoding, bounded: a bomb stops at the limit."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# A compressed body is inflated up to this many bytes and no further.
DECODED_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class Decoded:
    """The result of undoing a Content-Encoding: `error` is set when it could not be undone."""

    data: bytes
    truncated: bool = False
    error: str = ""


def decompress(data: bytes, encoding: str, limit: int = DECODED_LIMIT) -> Decoded:
    """Undo a gzip or deflate Content-Encoding, inflating at most `limit` bytes (a bomb stops
    there, `truncated` set). Other encodings, and data that is not what it claims, come back
    with `error` set and no data."""
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return _inflate(data, zlib.MAX_WBITS | 16, limit, encoding)
    if encoding == "deflate":  # zlib-wrapped per the RFC; some senders send it raw
        result = _inflate(data, zlib.MAX_WBITS, limit, encoding)
        return _inflate(data, -zlib.MAX_WBITS, limit, encoding) if result.error else result
    return Decoded(b"", error=f"Content-Encoding {encoding!r} is not decoded here; showing the stored bytes.")


def _inflate(data: bytes, wbits: int, limit: int, encoding: str) -> Decoded:
    out = bytearray()
    rest = data
    try:
        while rest and len(out) <= limit:  # several gzip members follow each other
            inflater = zlib.decompressobj(wbits)
            out += inflater.decompress(rest, limit + 1 - len(out))
            if not inflater.eof:
                if len(out) <= limit and not inflater.unconsumed_tail:
                    return Decoded(bytes(out), error=f"The {encoding} data ends early; showing the stored bytes.")
                break
            rest = inflater.unused_data
    except zlib.error as error:
        return Decoded(b"", error=f"Not valid {encoding} data ({error}); showing the stored bytes.")
    return Decoded(bytes(out[:limit]), truncated=len(out) > limit)
