"""Explain a mismatch: find the nearest variant of an HMAC scheme that would have matched."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime

from inspector.signing.schemes.encoding import KEY_READING_NAMES
from inspector.signing.schemes.errors import SignatureError
from inspector.signing.schemes.hmac_scheme import Hmac
from inspector.signing.schemes.kinds import Scheme
from inspector.signing.schemes.message import Message
from inspector.signing.schemes.variants import BODY_VARIANT_NAMES, URL_VARIANT_NAMES

# PROVIDERS.md §0.3 step 5.

_ALGORITHMS = ("sha256", "sha1", "sha512")
# "toggle-port" covers Twilio's with-port / without-port readings.
_URL_DIAGNOSES = tuple(u for u in URL_VARIANT_NAMES if u not in ("with-port", "without-port"))


def diagnose(scheme: Scheme, msg: Message, secret: str, *, at: datetime) -> tuple[str, str] | None:
    """When `scheme` did not match `secret`, find the nearest variant that would have: another
    encoding, algorithm, body reading, URL or key reading (fewest changes first).

    Returns `(what matched, what the scheme expects)`, e.g. `("HMAC-SHA256 in base64",
    "HMAC-SHA256 in hex")`, or None when no variant matches. Tolerance is ignored here.
    """
    if not isinstance(scheme, Hmac):
        return None
    # Hookloupe's lenient reading, no time limit: what matters here is which variant matches.
    loose = replace(scheme, tolerance=None, window=None, sdk=None)
    dimensions = {
        "encoding": [e for e in ("hex", "base64") if e != scheme.encoding],
        "algorithm": [a for a in _ALGORITHMS if a != scheme.algorithm],
        "bodies": [b for b in BODY_VARIANT_NAMES if b not in scheme.bodies],
        "keys": [k for k in ("text", "base64", "hex") if k not in scheme.keys],
        "urls": [u for u in _URL_DIAGNOSES if u not in scheme.urls] if "{url}" in scheme.template else [],
    }
    names = list(dimensions)
    for size in (1, 2):
        for combo in itertools.combinations(names, size):
            for values in itertools.product(*(dimensions[n] for n in combo)):
                changes = dict(zip(combo, values, strict=False))
                try:
                    _changed(loose, changes).verify(msg, secret, at=at)
                except SignatureError:
                    continue
                return _describe_changes(scheme, changes)
    return None


def _changed(scheme: Hmac, changes: dict[str, str]) -> Hmac:
    """`scheme` with each changed dimension set: `encoding`/`algorithm` to the value, the
    reading tuples `bodies`/`keys`/`urls` to that one reading alone."""
    return replace(
        scheme,
        encoding=changes.get("encoding", scheme.encoding),
        algorithm=changes.get("algorithm", scheme.algorithm),
        bodies=(changes["bodies"],) if "bodies" in changes else scheme.bodies,
        keys=(changes["keys"],) if "keys" in changes else scheme.keys,
        urls=(changes["urls"],) if "urls" in changes else scheme.urls,
    )


def _describe_changes(scheme: Hmac, changes: dict[str, str]) -> tuple[str, str]:
    found, expected = [], []
    if "algorithm" in changes or "encoding" in changes:
        alg = changes.get("algorithm", scheme.algorithm).upper()
        found.append(f"HMAC-{alg} in {changes.get('encoding', scheme.encoding)}")
        expected.append(scheme.describe())
    if "bodies" in changes:
        found.append(BODY_VARIANT_NAMES[changes["bodies"]])
        expected.append(BODY_VARIANT_NAMES[scheme.bodies[0]])
    if "keys" in changes:
        found.append(f"with {KEY_READING_NAMES[changes['keys']]}")
        expected.append(KEY_READING_NAMES[scheme.keys[0]])
    if "urls" in changes:
        found.append(URL_VARIANT_NAMES[changes["urls"]])
        expected.append(URL_VARIANT_NAMES[scheme.urls[0]])
    return ", ".join(found), ", ".join(expected)
