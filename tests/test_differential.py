"""Differential tests: Hookloupe's verdict equals the provider's own SDK's, request by request.

For every provider with an official verifier, hypothesis builds requests — mostly correctly
signed, then mutated: bodies (non-UTF-8 bytes, whitespace), secrets, timestamps at both edges
of the window (past and future), headers missing, repeated (joined by "," as gunicorn does),
reordered, re-cased, with rotated secrets or extra signatures, other separators, upper-case
hex — and checks `signature.status == "valid"` exactly when the SDK (tests/differential_oracles.py)
accepts, with the same bytes, headers, URL, secrets and clock. Each test also checks that both
verdicts occurred often enough to mean something.

The examples are derandomized (the same ones every run). docs/providers.md ("Verification
rules") records each SDK's rules that these tests pin down.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import differential_oracles as oracles
import pytest
from captures import make_capture
from differential_oracles import Wire, join_repeated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.signing import providers
from inspector.signing.verify import SecretValue, verify_signature

EXAMPLES = 500
DIFFERENTIAL = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REJECTED = {"invalid", "expired", "unsigned"}
# Each verdict must be at least this share of the examples, or the test proves little.
MIN_SHARE = 0.2
SHARES: dict[str, tuple[int, int]] = {}  # provider -> (accepted, rejected), for the report

JSON_TYPE = ("Content-Type", "application/json")
FORM_TYPE = ("Content-Type", "application/x-www-form-urlencoded")
URL = "https://hooks.example.com/h/bin1"


# --- the request being built -------------------------------------------------------------


@dataclass
class Draft:
    """A request under construction: correctly signed first, then mutated; `notes` say how."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    secrets: list[str]
    now: float
    notes: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def set(self, name: str, value: str) -> None:
        """Replace header `name` in place (or append it)."""
        for i, (k, _) in enumerate(self.headers):
            if k.lower() == name.lower():
                self.headers[i] = (k, value)
                return
        self.headers.append((name, value))

    def drop(self, name: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]

    def wire(self) -> Wire:
        """The request as the receiving app sees it: values trimmed of the whitespace HTTP
        parsers drop (RFC 9110 OWS), repeated headers joined."""
        return Wire(self.method, self.url, join_repeated([(k, v.strip(" \t")) for k, v in self.headers]), self.body)


def judge(provider_id: str, oracle: Callable[[Wire, str, float], bool], draft: Draft) -> bool:
    """Assert Hookloupe's status maps to the SDK's verdict (with any of the bin's secrets);
    return the SDK's verdict."""
    wire = draft.wire()
    sdk = any(oracle(wire, secret, draft.now) for secret in draft.secrets)
    entry = providers.get(provider_id)
    assert entry is not None
    capture = make_capture(
        headers=wire.headers,
        body=wire.body,
        method=wire.method,
        query=urlsplit(wire.url).query,
        at=datetime.fromtimestamp(draft.now, UTC),
    )
    secrets = [SecretValue(i, f"s{i}", None, s) for i, s in enumerate(draft.secrets)]
    detection = providers.Detection(entry.id, entry.name, None, None, ())
    verdict = verify_signature(capture, secrets, public_url=wire.url, detection=detection)
    said = "accepts" if sdk else "rejects"
    context = f"{provider_id}: the SDK {said}, Hookloupe says {verdict.status}: {verdict.detail}\n{draft.notes}\n{wire}"
    assert verdict.status in REJECTED | {"valid"}, context
    assert (verdict.status == "valid") == sdk, context
    return sdk


def differential(label: str, oracle: Callable[[Wire, str, float], bool], cases: st.SearchStrategy[Draft]) -> None:
    """Run `cases` through `judge` for the provider `label` starts with, and check both
    verdicts occurred in a fair share."""
    provider_id = label.split(" ")[0]
    seen: Counter[bool] = Counter()

    @DIFFERENTIAL
    @given(cases)
    def check(draft: Draft) -> None:
        seen[judge(provider_id, oracle, draft)] += 1

    check()
    total = seen[True] + seen[False]
    SHARES[label] = (seen[True], seen[False])
    print(f"{label}: {total} examples, {seen[True]} accepted, {seen[False]} rejected")
    assert total >= EXAMPLES
    assert seen[True] >= MIN_SHARE * total and seen[False] >= MIN_SHARE * total, seen


# --- shared ingredients --------------------------------------------------------------------

JSON_VALUES = st.one_of(st.integers(-(10**6), 10**6), st.text(max_size=8), st.booleans(), st.none())
JSON_BODIES = st.builds(
    lambda data, ascii_only: json.dumps(data, ensure_ascii=ascii_only).encode(),
    st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3),
    st.booleans(),
)
BODIES = st.builds(
    lambda lead, core, trail: lead + core + trail,
    st.sampled_from([b"", b"", b" ", b"\n"]),
    st.one_of(JSON_BODIES, JSON_BODIES, st.binary(max_size=40), st.text(max_size=24).map(str.encode)),
    st.sampled_from([b"", b"", b"\n", b"\r\n", b" "]),
)
SECRETS = st.text(string.ascii_letters + string.digits + "_-.:/+=", min_size=1, max_size=24)
NOWS = st.builds(
    lambda s, f: s + f, st.integers(1_600_000_000, 1_900_000_000), st.sampled_from([0.0, 0.25, 0.5, 0.999])
)
OTHER = "a-different-secret"


def offsets(past: int, future: int | None) -> st.SearchStrategy[int]:
    """How many seconds the signing time lags `now`: near zero, around both edges of the
    window, and far off either way."""
    kinds = {
        "near": st.integers(-3, 3),
        "past edge": st.integers(past - 2, past + 2),
        "future edge": st.integers(-future - 2, -future + 2) if future is not None else st.integers(-(10**5), -past),
        "far": st.sampled_from([10**6, -(10**6)]),
    }
    weighted = ["near"] * 4 + ["past edge", "future edge", "far"]
    return st.sampled_from(weighted).flatmap(lambda kind: kinds[kind])


def hex_hmac(secret: str | bytes, content: bytes, algorithm: str = "sha256") -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, content, algorithm).hexdigest()


def b64_hmac(secret: str | bytes, content: bytes, algorithm: str = "sha256") -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, content, algorithm).digest()).decode()


def upper_hex(value: str) -> str:
    """`value` with every long hex run in upper case (prefixes like `v0=` kept)."""
    return "".join(c.upper() if c in "abcdef" else c for c in value) if len(value) >= 40 else value


def tamper_body(body: bytes, how: str) -> bytes:
    if how == "append":
        return body + b"x"
    if how == "flip" and body:
        return bytes([body[0] ^ 1]) + body[1:]
    if how == "strip":
        return body.strip()
    return b"changed" + body


GENERIC = [
    "none",
    "none",
    "none",
    "drop",
    "dup-same",
    "dup-other",
    "reorder",
    "name-case",
    "upper",
    "body",
    "wrong-secret",
    "rotate",
]


def generic(draw: st.DrawFn, d: Draft, sig: str, other_value: str, mutation: str) -> None:
    """Mutations every provider gets: on the signature header `sig` (whose value made with
    another secret is `other_value`), on the header list, the body and the bin's secrets."""
    if mutation == "drop":
        d.drop(sig)
    elif mutation == "dup-same":
        d.headers.append((sig, d.get(sig) or ""))
    elif mutation == "dup-other":
        first = draw(st.booleans())
        if first:
            d.headers.insert(0, (sig, other_value))
        else:
            d.headers.append((sig, other_value))
    elif mutation == "reorder":
        d.headers.reverse()
    elif mutation == "name-case":
        d.headers = [(k.upper() if draw(st.booleans()) else k.lower(), v) for k, v in d.headers]
    elif mutation == "upper":
        d.set(sig, upper_hex(d.get(sig) or ""))
    elif mutation == "body":
        d.body = tamper_body(d.body, draw(st.sampled_from(["append", "flip", "strip", "prefix"])))
    elif mutation == "wrong-secret":
        d.secrets = [OTHER]
    elif mutation == "rotate":
        d.secrets = [OTHER, *d.secrets] if draw(st.booleans()) else [*d.secrets, OTHER]


def mutations(extra: list[str]) -> st.SearchStrategy[list[str]]:
    """One or two mutations, or none (a third of the time, so both verdicts stay common)."""
    some = st.lists(st.sampled_from(GENERIC + extra), min_size=1, max_size=2)
    return st.sampled_from(["none", "some", "some"]).flatmap(lambda k: st.just(["none"]) if k == "none" else some)


# --- Stripe --------------------------------------------------------------------------------


def stripe_header(secret: str, ts: int, body: bytes) -> str:
    return f"t={ts},v1={hex_hmac(secret, f'{ts}.'.encode() + body)}"


@st.composite
def stripe_cases(draw: st.DrawFn) -> Draft:
    body, secret, now = draw(BODIES), draw(SECRETS), draw(NOWS)
    ts = int(now) - draw(offsets(300, None))
    d = Draft("POST", URL, [JSON_TYPE, ("Stripe-Signature", stripe_header(secret, ts, body))], body, [secret], now)
    other = stripe_header(OTHER, ts, body)
    sig = hex_hmac(secret, f"{ts}.".encode() + body)
    extra = ["extra-v1", "v0", "spaces", "pad-ts", "pad-ts-raw", "plus-ts", "bare-t", "bare-v1", "eq-tail", "V1"]
    for m in draw(mutations(extra)):
        header = d.get("Stripe-Signature") or ""
        if m == "extra-v1":
            d.set(
                "Stripe-Signature",
                f"{header},v1={hex_hmac(OTHER, b'x')}" if draw(st.booleans()) else f"t={ts},v1={'0' * 64},v1={sig}",
            )
        elif m == "v0":
            d.set("Stripe-Signature", f"{header},v0={sig}")
        elif m == "spaces":
            d.set("Stripe-Signature", header.replace(",", ", "))
        elif m in ("pad-ts", "pad-ts-raw", "plus-ts"):
            text = f"+{ts}" if m == "plus-ts" else f"0{ts}"
            signed = text if m == "pad-ts-raw" else str(ts)
            d.set("Stripe-Signature", f"t={text},v1={hex_hmac(secret, f'{signed}.'.encode() + d.body)}")
        elif m == "bare-t":
            d.set("Stripe-Signature", f"{header},t")
        elif m == "bare-v1":
            d.set("Stripe-Signature", f"{header},v1")
        elif m == "eq-tail":
            d.set("Stripe-Signature", f"{header}=tail")
        elif m == "V1":
            d.set("Stripe-Signature", header.replace("v1=", "V1="))
        else:
            generic(draw, d, "Stripe-Signature", other, m)
        d.notes.append(m)
    return d


def test_stripe_matches_its_sdk():
    differential("stripe", oracles.stripe, stripe_cases())


# --- Slack ---------------------------------------------------------------------------------


@st.composite
def slack_cases(draw: st.DrawFn) -> Draft:
    body, secret, now = draw(BODIES), draw(SECRETS), draw(NOWS)
    ts = str(int(now) - draw(offsets(300, 300)))

    def sign(key: str, stamp: str) -> str:
        return "v0=" + hex_hmac(key, f"v0:{stamp}:".encode() + d.body)

    d = Draft("POST", URL, [JSON_TYPE, ("X-Slack-Request-Timestamp", ts)], body, [secret], now)
    d.headers.append(("X-Slack-Signature", sign(secret, ts)))
    for m in draw(mutations(["ts-text", "V0", "drop-ts", "float-ts"])):
        if m == "ts-text":
            text = draw(st.sampled_from([f"+{ts}", f"0{ts}", f"{ts}_"]))
            d.set("X-Slack-Request-Timestamp", text)
            if draw(st.booleans()):
                d.set("X-Slack-Signature", sign(secret, text))
        elif m == "float-ts":
            d.set("X-Slack-Request-Timestamp", f"{ts}.0")
            d.set("X-Slack-Signature", sign(secret, f"{ts}.0"))
        elif m == "V0":
            d.set("X-Slack-Signature", (d.get("X-Slack-Signature") or "").replace("v0=", "V0="))
        elif m == "drop-ts":
            d.drop("X-Slack-Request-Timestamp")
        else:
            generic(draw, d, "X-Slack-Signature", sign(OTHER, ts), m)
        d.notes.append(m)
    return d


def test_slack_matches_its_sdk():
    differential("slack", oracles.slack, slack_cases())


# --- Standard Webhooks and Svix --------------------------------------------------------------

WHSEC = st.builds(
    lambda raw, prefix, pad: (prefix + base64.b64encode(raw).decode()).rstrip("=" if not pad else ""),
    st.binary(min_size=16, max_size=32),
    st.sampled_from(["whsec_", "whsec_", ""]),
    st.booleans(),
)


def whsec_key(secret: str) -> bytes:
    """The key the standardwebhooks library reads from a secret (independent code)."""
    raw = secret.removeprefix("whsec_")
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


@st.composite
def standard_webhooks_cases(draw: st.DrawFn, prefix: str = "webhook") -> Draft:
    body, secret, now = draw(BODIES), draw(WHSEC), draw(NOWS)
    other = draw(WHSEC.filter(lambda s: whsec_key(s) != whsec_key(secret)))
    ts = str(int(now) - draw(offsets(300, 300)))
    msg_id = draw(st.sampled_from(["msg_p5jXN8AQM9LWM0D4loKWxJek", "msg_1", "evt-2"]))
    names = {part: f"{prefix}-{part}" for part in ("id", "timestamp", "signature")}

    def sign(key: str, stamp: str) -> str:
        return "v1," + b64_hmac(whsec_key(key), f"{msg_id}.{stamp}.".encode() + d.body)

    d = Draft("POST", URL, [JSON_TYPE, (names["id"], msg_id), (names["timestamp"], ts)], body, [secret], now)
    d.headers.append((names["signature"], sign(secret, ts)))
    extra = ["entries", "bad-entry", "double-space", "three-parts", "nopad", "urlsafe", "junk", "ts-text", "empty-id"]
    if prefix != "webhook":
        extra += ["rename", "both"]
    for m in draw(mutations(extra)):
        value = d.get(names["signature"]) or ""
        if m == "entries":
            more = draw(st.sampled_from(["v1a,xyz", "v2,AAAA", sign(other, ts)]))
            d.set(names["signature"], f"{more} {value}" if draw(st.booleans()) else f"{value} {more}")
        elif m == "bad-entry":
            bad = draw(st.sampled_from(["v1,!!notbase64", "v1,abc", "garbage"]))
            d.set(names["signature"], f"{bad} {value}" if draw(st.booleans()) else f"{value} {bad}")
        elif m == "double-space":
            d.set(names["signature"], f"{sign(other, ts)}  {value}")
        elif m == "three-parts":
            d.set(names["signature"], f"{value},x")
        elif m == "nopad":
            d.set(names["signature"], value.rstrip("="))
        elif m == "urlsafe":
            d.set(names["signature"], value.replace("+", "-").replace("/", "_"))
        elif m == "junk":
            d.set(names["signature"], value[:8] + "!" + value[8:])
        elif m == "ts-text":
            text = draw(st.sampled_from([f"{ts}.5", f"+{ts}", f"0{ts}", f"{ts}e0", " "]))
            d.set(names["timestamp"], text)
            if draw(st.booleans()):
                d.set(names["signature"], sign(secret, text.strip()))
        elif m == "empty-id":
            d.set(names["id"], "")
        elif m == "rename":
            part = draw(st.sampled_from(["id", "timestamp", "signature"]))
            kept = d.get(names[part]) or ""
            d.drop(names[part])
            d.headers.append((f"webhook-{part}", kept))
        elif m == "both":
            d.headers.append(("webhook-signature", sign(other, ts)))
        else:
            generic(draw, d, names["signature"], sign(other, ts), m)
        d.notes.append(m)
    return d


def test_standard_webhooks_matches_its_sdk():
    differential("standard-webhooks", oracles.standardwebhooks, standard_webhooks_cases())


def test_svix_matches_its_sdk():
    differential("svix", oracles.svix, standard_webhooks_cases("svix"))


# --- Twilio --------------------------------------------------------------------------------

TWILIO_URLS = st.sampled_from(
    [
        "https://hooks.example.com/h/bin1/sms",
        "https://hooks.example.com:443/h/bin1/sms?x=1",
        "https://hooks.example.com:8443/h/bin1/sms",
        "http://hooks.example.com/h/bin1/sms?a=1&b=2",
    ]
)
PARAMS = st.lists(
    st.tuples(st.sampled_from(["From", "To", "Body", "Digits", "a"]), st.text(max_size=6)), min_size=0, max_size=4
)


def twilio_url_variant(url: str, with_port: bool) -> str:
    """The URL Twilio may have signed: with an explicit port or without one."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    netloc = f"{host}:{port}" if with_port else host
    return parts._replace(netloc=netloc).geturl()


def twilio_signature(key: str, url: str, params: list[tuple[str, str]], algorithm: str) -> str:
    content = url + "".join(k + v for k, v in sorted(set(params)))
    return b64_hmac(key, content.encode(), algorithm)


@st.composite
def twilio_cases(draw: st.DrawFn) -> Draft:
    secret, now, url = draw(SECRETS), draw(NOWS), draw(TWILIO_URLS)
    algorithm, settings_value = draw(
        st.sampled_from(
            [
                ("sha1", None),
                ("sha1", "key=k1,algorithm=HMAC_SHA1"),
                ("sha256", "key=k1,algorithm=HMAC_SHA256"),
                ("sha256", "algorithm=hmac_sha256"),
                ("sha256", "key=k1, algorithm = HMAC_SHA256"),
            ]
        )
    )
    json_body = draw(st.booleans())
    params: list[tuple[str, str]] = []
    if json_body:
        body = draw(st.one_of(JSON_BODIES, BODIES))
        url += ("&" if "?" in url else "?") + urlencode({"bodySHA256": hashlib.sha256(body).hexdigest()})
        headers = [JSON_TYPE]
    else:
        params = draw(PARAMS)
        body = urlencode(params).encode()
        headers = [FORM_TYPE]
    signed_url = twilio_url_variant(url, draw(st.booleans()))
    d = Draft("POST", url, headers, body, [secret], now)
    d.headers.append(("X-Twilio-Signature", twilio_signature(secret, signed_url, params, algorithm)))
    if settings_value:
        d.headers.append((oracles.TWILIO_SETTINGS, settings_value))
    extra = ["algo", "drop-settings", "hash-upper", "param", "dup-param", "bad-escape", "b64-bits", "not-utf8"]
    for m in draw(mutations(extra)):
        if m == "algo":
            d.set(
                oracles.TWILIO_SETTINGS,
                draw(st.sampled_from(["algorithm=HMAC_SHA512", "algorithm=HMAC_SHA1", "key=x"])),
            )
        elif m == "drop-settings":
            d.drop(oracles.TWILIO_SETTINGS)
        elif m == "hash-upper":
            d.url = d.url.replace(
                "bodySHA256=" + hashlib.sha256(body).hexdigest(),
                "bodySHA256=" + hashlib.sha256(body).hexdigest().upper(),
            )
        elif m in ("param", "dup-param", "bad-escape") and not json_body:
            added = {"param": b"&Extra=1", "dup-param": b"&" + body.split(b"&")[0], "bad-escape": b"&Body=%FF%FE"}[m]
            d.body = body + added
            if draw(st.booleans()):  # signed as Twilio would have, over the parameters received
                from urllib.parse import parse_qsl

                pairs = parse_qsl(d.body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
                d.set("X-Twilio-Signature", twilio_signature(secret, signed_url, pairs, algorithm))
        elif m == "b64-bits":
            value = d.get("X-Twilio-Signature") or ""
            last = value.rstrip("=")[-1]
            twin = (
                string.ascii_letters[(string.ascii_letters.find(last) ^ 1) % 52]
                if last in string.ascii_letters
                else "A"
            )
            d.set("X-Twilio-Signature", value.rstrip("=")[:-1] + twin + "=" * value.count("="))
        elif m == "not-utf8":
            d.body = b"\xff" + d.body
        else:
            generic(draw, d, "X-Twilio-Signature", twilio_signature(OTHER, signed_url, params, algorithm), m)
        d.notes.append(m)
    return d


def test_twilio_matches_its_sdk():
    differential("twilio", oracles.twilio, twilio_cases())


# --- one hex or base64 HMAC of the body in a header: Razorpay, Coinbase Commerce, Adyen ----


@st.composite
def body_hmac_cases(draw: st.DrawFn, header: str, encoding: str, hex_key: bool = False) -> Draft:
    """A body signed in `header` (HMAC-SHA256, `hex` or `base64`); with `hex_key` the secret
    is hex and the key its bytes (Adyen)."""
    body, now = draw(BODIES), draw(NOWS)
    secret = draw(st.binary(min_size=16, max_size=32)).hex() if hex_key else draw(SECRETS)
    if hex_key and draw(st.booleans()):
        secret = secret.upper()

    def sign(key: str) -> str:
        raw = bytes.fromhex(key) if hex_key else key.encode()
        return hex_hmac(raw, d.body) if encoding == "hex" else b64_hmac(raw, d.body)

    d = Draft("POST", URL, [JSON_TYPE], body, [secret], now)
    d.headers.append((header, sign(secret)))
    other = sign(bytes(16).hex() if hex_key else OTHER)
    for m in draw(mutations(["nopad", "junk", "resign-body"])):
        value = d.get(header) or ""
        if m == "nopad":
            d.set(header, value.rstrip("="))
        elif m == "junk":  # a space or stray character inside the signature
            d.set(header, value[:8] + draw(st.sampled_from([" ", "!", "\t"])) + value[8:])
        elif m == "resign-body":
            d.body = tamper_body(d.body, "append")
            d.set(header, sign(secret))
        elif m == "wrong-secret" and hex_key:
            d.secrets = [bytes(16).hex()]
        elif m == "rotate" and hex_key:
            d.secrets = [bytes(16).hex(), *d.secrets]
        else:
            generic(draw, d, header, other, m)
        d.notes.append(m)
    return d


def test_razorpay_matches_its_sdk():
    differential("razorpay", oracles.razorpay, body_hmac_cases("X-Razorpay-Signature", "hex"))


def test_coinbase_commerce_matches_its_sdk():
    differential("coinbase-commerce", oracles.coinbase_commerce, body_hmac_cases("X-CC-Webhook-Signature", "hex"))


def test_adyen_hmac_header_matches_its_sdk():
    differential(
        "adyen (HmacSignature header)", oracles.adyen_header, body_hmac_cases("HmacSignature", "base64", hex_key=True)
    )


# --- Square --------------------------------------------------------------------------------

SQUARE_URLS = st.sampled_from([URL, URL + "/square", URL + "?a=1", "http://localhost:8000/h/bin1"])


@st.composite
def square_cases(draw: st.DrawFn) -> Draft:
    body, secret, now = (
        draw(st.sampled_from([True] * 5 + [False]).flatmap(lambda full: BODIES.filter(bool) if full else st.just(b""))),
        draw(SECRETS),
        draw(NOWS),
    )
    url = draw(SQUARE_URLS)

    def sign(key: str, signed_url: str, algorithm: str = "sha256") -> str:
        return b64_hmac(key, signed_url.encode() + d.body, algorithm)

    d = Draft("POST", url, [JSON_TYPE], body, [secret], now)
    d.headers.append(("x-square-hmacsha256-signature", sign(secret, url)))
    for m in draw(mutations(["legacy", "legacy-only", "other-url", "nopad"])):
        if m == "legacy":  # the SHA-1 header beside a SHA-256 one that may have been broken
            d.headers.append(("x-square-signature", sign(secret, url, "sha1")))
            if draw(st.booleans()):
                d.set("x-square-hmacsha256-signature", sign(OTHER, url))
        elif m == "legacy-only":
            d.drop("x-square-hmacsha256-signature")
            d.headers.append(("x-square-signature", sign(secret, url, "sha1")))
        elif m == "other-url":
            d.set("x-square-hmacsha256-signature", sign(secret, url.replace("https", "http")))
        elif m == "nopad":
            d.set("x-square-hmacsha256-signature", (d.get("x-square-hmacsha256-signature") or "").rstrip("="))
        else:
            generic(draw, d, "x-square-hmacsha256-signature", sign(OTHER, url), m)
        d.notes.append(m)
    return d


def test_square_matches_its_sdk():
    differential("square", oracles.square, square_cases())


# --- SendGrid (ECDSA P-256) -----------------------------------------------------------------


def _ec_keys(count: int) -> list[tuple[Any, str]]:
    """(private key, base64 DER public key) pairs, made once for the module."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    keys = []
    for _ in range(count):
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        keys.append((private, base64.b64encode(public).decode()))
    return keys


EC_KEYS = _ec_keys(3)


def ecdsa_sign(private: Any, content: bytes) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    return base64.b64encode(private.sign(content, ec.ECDSA(hashes.SHA256()))).decode()


@st.composite
def sendgrid_cases(draw: st.DrawFn) -> Draft:
    body, now = draw(BODIES), draw(NOWS)
    (private, public), (other_private, other_public) = draw(st.permutations(EC_KEYS))[:2]
    ts = str(int(now) - draw(offsets(300, 300)))
    sig, ts_name = "X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"
    d = Draft("POST", URL, [JSON_TYPE, (ts_name, ts)], body, [public], now)
    d.headers.append((sig, ecdsa_sign(private, ts.encode() + body)))
    for m in draw(mutations(["nopad", "junk", "ts", "drop-ts", "pem"])):
        value = d.get(sig) or ""
        if m == "nopad":
            d.set(sig, value.rstrip("="))
        elif m == "junk":
            d.set(sig, value[:10] + "!" + value[10:])
        elif m == "ts":
            d.set(ts_name, str(int(ts) + 1))
        elif m == "drop-ts":
            d.drop(ts_name)
        elif m == "pem":  # the key pasted with line breaks, as Mail Settings may show it
            d.secrets = [public[:40] + "\n" + public[40:]]
        elif m == "wrong-secret":
            d.secrets = [other_public]
        elif m == "rotate":
            d.secrets = [other_public, *d.secrets]
        else:
            generic(draw, d, sig, ecdsa_sign(other_private, ts.encode() + body), m)
        d.notes.append(m)
    return d


def test_sendgrid_matches_its_sdk():
    differential("sendgrid", oracles.sendgrid, sendgrid_cases())


# --- Paddle --------------------------------------------------------------------------------


@st.composite
def paddle_cases(draw: st.DrawFn) -> Draft:
    body, secret, now = draw(BODIES), draw(SECRETS), draw(NOWS)
    ts = int(now) - draw(offsets(5, 5))

    def sign(key: str, stamp: object = None) -> str:
        return hex_hmac(key, f"{ts if stamp is None else stamp}:".encode() + d.body)

    d = Draft("POST", URL, [JSON_TYPE], body, [secret], now)
    d.headers.append(("Paddle-Signature", f"ts={ts};h1={sign(secret)}"))
    extra = ["extra-h1", "h2", "spaces", "pad-ts", "pad-ts-raw", "no-ts", "eq", "last-ts", "comma"]
    for m in draw(mutations(extra)):
        value = d.get("Paddle-Signature") or ""
        if m == "extra-h1":
            d.set(
                "Paddle-Signature",
                f"{value};h1={sign(OTHER)}" if draw(st.booleans()) else f"ts={ts};h1={sign(OTHER)};h1={sign(secret)}",
            )
        elif m == "h2":
            d.set("Paddle-Signature", f"{value};h2={sign(secret)}")
        elif m == "spaces":
            d.set("Paddle-Signature", value.replace(";", "; "))
        elif m in ("pad-ts", "pad-ts-raw"):
            signed = f"0{ts}" if m == "pad-ts-raw" else ts
            d.set("Paddle-Signature", f"ts=0{ts};h1={sign(secret, signed)}")
        elif m == "no-ts":
            d.set("Paddle-Signature", f"h1={sign(secret)}")
        elif m == "eq":
            d.set("Paddle-Signature", f"{value}=")
        elif m == "last-ts":
            d.set("Paddle-Signature", f"ts={ts - 100};{value}" if draw(st.booleans()) else f"{value};ts={ts - 100}")
        elif m == "comma":
            d.set("Paddle-Signature", value.replace(";", ","))
        else:
            generic(draw, d, "Paddle-Signature", f"ts={ts};h1={sign(OTHER)}", m)
        d.notes.append(m)
    return d


def test_paddle_matches_its_sdk():
    differential("paddle", oracles.paddle, paddle_cases())


# --- Adyen (an HMAC in every notification item) ----------------------------------------------

ADYEN_FIELDS = ("pspReference", "originalReference", "merchantAccountCode", "merchantReference")


def adyen_text(value: object) -> str:
    """A field as the signing side joins it (independent code, Python's str() like the SDK)."""
    return str(value)


def adyen_item(draw: st.DrawFn, key: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        f: draw(st.text(string.ascii_letters + string.digits + "-", max_size=10)) for f in ADYEN_FIELDS
    }
    item["amount"] = {"value": draw(st.integers(0, 10**6)), "currency": draw(st.sampled_from(["EUR", "USD"]))}
    item["eventCode"] = draw(st.sampled_from(["AUTHORISATION", "REFUND"]))
    item["success"] = draw(st.sampled_from(["true", "false"]))
    sign_adyen_item(item, key)
    return item


def sign_adyen_item(item: dict[str, Any], key: str) -> None:
    amount = item.get("amount") or {}
    parts = [item.get(f, "") for f in ADYEN_FIELDS] + [amount.get("value", ""), amount.get("currency", "")]
    parts += [item.get("eventCode", ""), item.get("success", "")]
    content = ":".join(adyen_text(p) for p in parts).encode()
    item.setdefault("additionalData", {})["hmacSignature"] = b64_hmac(bytes.fromhex(key), content)


@st.composite
def adyen_item_cases(draw: st.DrawFn) -> Draft:
    key, now = draw(st.binary(min_size=16, max_size=32)).hex(), draw(NOWS)
    key = key.upper() if draw(st.booleans()) else key
    items = [adyen_item(draw, key) for _ in range(draw(st.integers(1, 3)))]
    extra = ["bool", "null", "no-amount", "empty-sig", "tamper", "bad-item", "no-additional"]
    mutation_list = draw(
        st.lists(st.sampled_from(["none", "none", "none", "wrong-secret", "rotate", *extra]), min_size=1, max_size=2)
    )
    secrets = [key]
    for m in mutation_list:
        item = draw(st.sampled_from(items))
        if m == "bool":  # a JSON boolean: signed as JSON spells it, or as Python's str() does
            item["success"] = True
            if draw(st.booleans()):
                sign_adyen_item(item, key)
            else:
                item["success"] = "true"
                sign_adyen_item(item, key)
                item["success"] = True
        elif m == "null":
            item["merchantReference"] = None
            if draw(st.booleans()):
                sign_adyen_item(item, key)
        elif m == "no-amount":
            item.pop("amount", None)
            sign_adyen_item(item, key)
        elif m == "empty-sig":
            item.setdefault("additionalData", {})["hmacSignature"] = ""
        elif m == "tamper":
            item["pspReference"] = str(item["pspReference"]) + "x"
        elif m == "bad-item":
            items.append(
                {
                    "pspReference": "x",
                    "amount": {"value": 1, "currency": "EUR"},
                    "additionalData": {"hmacSignature": "AAAA"},
                }
            )
        elif m == "no-additional":
            item.pop("additionalData", None)
        elif m == "wrong-secret":
            secrets = [bytes(16).hex()]
        elif m == "rotate":
            secrets = [bytes(16).hex(), key]
    body = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": i} for i in items]}).encode()
    return Draft("POST", URL, [JSON_TYPE], body, secrets, now, notes=mutation_list)


def test_adyen_items_match_its_sdk():
    differential("adyen (notification items)", oracles.adyen_items, adyen_item_cases())


# --- Box -----------------------------------------------------------------------------------

BOX_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
BOX_BODIES = st.one_of(
    BODIES,
    st.builds(lambda t: json.dumps({"trigger": "FILE.UPLOADED", "name": t}, ensure_ascii=False).encode(), BOX_TEXT),
)


def box_escape(text: str) -> str:
    """The body as Box re-escapes it (the SDK's own helper: this is the sender's side)."""
    from box_sdk_gen.internal.utils import escape_unicode

    return str(escape_unicode(text))


def box_time(ts: int, style: str) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    if style == "Z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "fraction":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.250Z")
    if style == "offset":
        return moment.astimezone(__import__("datetime").timezone(timedelta(hours=2))).isoformat()
    return moment.isoformat()


@st.composite
def box_cases(draw: st.DrawFn) -> Draft:
    body, secret, now = draw(BOX_BODIES), draw(SECRETS), draw(NOWS)
    ts = int(now) - draw(offsets(600, 0))
    stamp = box_time(ts, draw(st.sampled_from(["Z", "fraction", "offset", "+00:00"])))

    def sign(key: str, content: bytes | None = None) -> str:
        return b64_hmac(key, (d.body if content is None else content) + stamp.encode())

    d = Draft(
        "POST", URL, [JSON_TYPE, ("BOX-DELIVERY-ID", "d1"), ("BOX-DELIVERY-TIMESTAMP", stamp)], body, [secret], now
    )
    d.headers += [("BOX-SIGNATURE-VERSION", "1"), ("BOX-SIGNATURE-ALGORITHM", "HmacSHA256")]
    d.headers.append(("BOX-SIGNATURE-PRIMARY", sign(secret)))
    extra = ["secondary", "only-secondary", "escaped", "version", "algorithm", "drop-ts", "ts-text"]
    for m in draw(mutations(extra)):
        if m == "secondary":
            d.headers.append(("BOX-SIGNATURE-SECONDARY", sign(OTHER)))
        elif m == "only-secondary":
            d.set("BOX-SIGNATURE-PRIMARY", sign(OTHER))
            d.headers.append(("BOX-SIGNATURE-SECONDARY", sign(secret)))
        elif m == "escaped":  # Box signed the body with non-ASCII escaped
            with contextlib.suppress(UnicodeDecodeError):
                d.set("BOX-SIGNATURE-PRIMARY", sign(secret, box_escape(d.body.decode()).encode()))
        elif m == "version":
            d.set("BOX-SIGNATURE-VERSION", draw(st.sampled_from(["2", " 1", "v1"])))
        elif m == "algorithm":
            d.set("BOX-SIGNATURE-ALGORITHM", draw(st.sampled_from(["hmacsha256", "HmacSHA1"])))
        elif m == "drop-ts":
            d.drop("BOX-DELIVERY-TIMESTAMP")
        elif m == "ts-text":
            d.set("BOX-DELIVERY-TIMESTAMP", stamp.replace("T", " ").lower())
        else:
            generic(draw, d, "BOX-SIGNATURE-PRIMARY", sign(OTHER), m)
        d.notes.append(m)
    return d


def test_box_matches_its_sdk():
    differential("box", oracles.box, box_cases())


# --- HubSpot -------------------------------------------------------------------------------

HUBSPOT_URLS = st.sampled_from([URL + "/hubspot", URL + "?portal=1", "http://localhost:8000/h/bin1"])


@st.composite
def hubspot_cases(draw: st.DrawFn) -> Draft:
    body, secret, now, url = draw(BODIES), draw(SECRETS), draw(NOWS), draw(HUBSPOT_URLS)
    version = draw(st.sampled_from(["v3", "v3", "v2", "v1"]))
    millis = int(now * 1000) - draw(offsets(300, 0)) * 1000 + draw(st.sampled_from([0, -1, 1, 999]))
    ts = str(millis)

    def sign(key: str, which: str = version) -> str:
        if which == "v3":
            return b64_hmac(key, b"POST" + url.encode() + d.body + ts.encode())
        tail = b"POST" + url.encode() + d.body if which == "v2" else d.body
        return hashlib.sha256(key.encode() + tail).hexdigest()

    d = Draft("POST", url, [JSON_TYPE], body, [secret], now)
    if version == "v3":
        d.headers += [("X-HubSpot-Request-Timestamp", ts), ("X-HubSpot-Signature-v3", sign(secret))]
        sig = "X-HubSpot-Signature-v3"
    else:
        d.headers += [("X-HubSpot-Signature-Version", version), ("X-HubSpot-Signature", sign(secret))]
        sig = "X-HubSpot-Signature"
    extra = ["legacy-beside", "version-case", "drop-version", "other-version", "future", "ts-seconds"]
    for m in draw(mutations(extra)):
        if m == "legacy-beside":  # both headers: the v3 one is checked
            d.headers += [("X-HubSpot-Signature-Version", "v1"), ("X-HubSpot-Signature", sign(secret, "v1"))]
        elif m == "version-case":
            d.set("X-HubSpot-Signature-Version", version.upper())
        elif m == "drop-version":
            d.drop("X-HubSpot-Signature-Version")
        elif m == "other-version":
            d.set("X-HubSpot-Signature-Version", "v2" if version == "v1" else "v1")
        elif m == "future" and version == "v3":
            ts = str(millis + 10**6)
            d.set("X-HubSpot-Request-Timestamp", ts)
            d.set(sig, sign(secret))
        elif m == "ts-seconds" and version == "v3":
            ts = str(millis // 1000)
            d.set("X-HubSpot-Request-Timestamp", ts)
            d.set(sig, sign(secret))
        else:
            generic(draw, d, sig, sign(OTHER), m)
        d.notes.append(m)
    return d


def test_hubspot_matches_its_sdk():
    differential("hubspot", oracles.hubspot, hubspot_cases())


# --- Mailgun -------------------------------------------------------------------------------


@st.composite
def mailgun_cases(draw: st.DrawFn) -> Draft:
    secret, now = draw(SECRETS), draw(NOWS)
    ts = int(now) - draw(offsets(900, 900))
    token = draw(st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=50))
    fields: dict[str, Any] = {"timestamp": str(ts) if draw(st.booleans()) else ts, "token": token}
    fields["signature"] = hex_hmac(secret, f"{fields['timestamp']}{token}".encode())
    extra = ["ts-text", "token-number", "upper-sig", "tamper-token"]
    mutation_list = draw(
        st.lists(st.sampled_from(["none", "none", "none", "wrong-secret", "rotate", *extra]), min_size=1, max_size=2)
    )
    secrets = [secret]
    for m in mutation_list:
        if m == "ts-text":
            fields["timestamp"] = draw(st.sampled_from([f"+{ts}", f"{ts}.0", f"0{ts}"]))
            if draw(st.booleans()):
                fields["signature"] = hex_hmac(secret, f"{fields['timestamp']}{token}".encode())
        elif m == "token-number":
            fields["token"] = 12345
            fields["signature"] = hex_hmac(secret, f"{fields['timestamp']}12345".encode())
        elif m == "upper-sig":
            fields["signature"] = fields["signature"].upper()
        elif m == "tamper-token":
            fields["token"] = token + "x"
        elif m == "wrong-secret":
            secrets = [OTHER]
        elif m == "rotate":
            secrets = [OTHER, secret]
    if draw(st.booleans()):
        body = json.dumps({"signature": fields, "event-data": {"event": "delivered"}}).encode()
        headers = [JSON_TYPE]
    else:
        body = urlencode({**fields, "event": "delivered"}).encode()
        headers = [FORM_TYPE]
    return Draft("POST", URL, headers, body, secrets, now, notes=mutation_list)


def test_mailgun_matches_its_sdk():
    differential("mailgun", oracles.mailgun, mailgun_cases())


# --- the known disagreements, pinned one by one ---------------------------------------------


def _verdict(provider_id: str, headers: list[tuple[str, str]], body: bytes, secret: str, *, url: str = URL, at: float):
    capture = make_capture(headers=headers, body=body, at=datetime.fromtimestamp(at, UTC))
    return verify_signature(capture, [SecretValue(1, "main", None, secret)], public_url=url)


def test_github_sha256_header_is_authoritative_over_a_matching_sha1_one():
    body, secret = b'{"zen":"hi"}', "It's a Secret to Everybody"
    sha1 = ("X-Hub-Signature", "sha1=" + hex_hmac(secret, body, "sha1"))
    good = ("X-Hub-Signature-256", "sha256=" + hex_hmac(secret, body))
    bad = ("X-Hub-Signature-256", "sha256=" + hex_hmac(OTHER, body))
    event = ("X-GitHub-Event", "push")
    assert _verdict("github", [event, good, sha1], body, secret, at=1.7e9).status == "valid"
    assert _verdict("github", [event, sha1], body, secret, at=1.7e9).status == "valid"
    rejected = _verdict("github", [event, bad, sha1], body, secret, at=1.7e9)
    assert rejected.status == "invalid"
    assert "X-Hub-Signature-256 is present and does not match" in rejected.detail


def test_twilio_json_body_is_checked_against_body_sha256():
    body = b'{"MessageSid":"SM1"}'
    url = f"{URL}/sms?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = [JSON_TYPE, ("X-Twilio-Signature", b64_hmac("tok", url.encode(), "sha1"))]
    assert _verdict("twilio", headers, body, "tok", url=url, at=1.7e9).status == "valid"
    changed = _verdict("twilio", headers, body + b" ", "tok", url=url, at=1.7e9)
    assert changed.status == "invalid" and "bodySHA256" in changed.detail


def test_stripe_accepts_future_timestamps_as_its_sdk_does():
    body, at = b'{"type":"x"}', 1_700_000_000
    header = stripe_header("whsec_x", at + 3600, body)
    verdict = _verdict("stripe", [("Stripe-Signature", header)], body, "whsec_x", at=at)
    assert verdict.status == "valid", verdict.detail
    assert (
        _verdict(
            "stripe", [("Stripe-Signature", stripe_header("whsec_x", at - 301, body))], body, "whsec_x", at=at
        ).status
        == "expired"
    )


@pytest.mark.parametrize(
    "provider_id, header",
    [("razorpay", "X-Razorpay-Signature"), ("coinbase-commerce", "X-CC-Webhook-Signature")],
)
def test_upper_case_hex_is_invalid_and_the_detail_says_why(provider_id, header):
    body = b'{"event":"payment.captured"}'
    verdict = _verdict(provider_id, [(header, hex_hmac("k", body).upper())], body, "k", at=1.7e9)
    assert verdict.status == "invalid"
    assert "upper-case hex" in verdict.detail


def test_a_body_that_is_not_utf8_is_invalid_where_the_sdk_decodes_it():
    body = b'{"a":"\xff"}'
    verdict = _verdict("razorpay", [("X-Razorpay-Signature", hex_hmac("k", body))], body, "k", at=1.7e9)
    assert verdict.status == "invalid" and "not valid UTF-8" in verdict.detail
