"""The shape of a provider entry and the detection signals entries are written with."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from inspector.signing.schemes import Message, Scheme

if TYPE_CHECKING:
    from inspector.capture.request import CapturedRequest

KNOWN = ("official vector", "SDK oracle", "docs only", "inferred")

# Value shapes a header can be required to have (PROVIDERS.md §0.2).
SHAPES = {
    "hex40": re.compile(r"^(sha1=)?[0-9a-fA-F]{40}$"),
    "hex64": re.compile(r"^(sha256=)?[0-9a-fA-F]{64}$"),
    "base64-32": re.compile(r"^[A-Za-z0-9+/]{43}=$"),
    "jwt": re.compile(r"^[\w-]+\.[\w-]+\.[\w-]*$"),
}

# Signature headers several senders use (PROVIDERS.md, detection matrix, "Ambiguous headers";
# `Signature` is the generic HTTP-signatures name). Alone, or with only a value shape, they say
# a request is signed, not by whom: a rule of such signals only is refused, and an entry lists
# them as `hints` instead (names as they are usually written, for the verdict's sentence).
SHARED_HEADERS = {
    name.lower(): name
    for name in (
        "X-Hook-Signature",
        "X-Hub-Signature",
        "X-Hub-Signature-256",
        "X-Signature",
        "X-Webhook-Signature",
        "Signature",
    )
}
# Body fields several senders sign in (DreamClass and Mailgun both put a `signature` in the body).
SHARED_FIELDS = frozenset({"signature"})
# Headers almost every sender sets: they add nothing to a shared one (a user agent does only
# with a value to match).
GENERIC_HEADERS = frozenset({"content-type", "content-length", "accept", "accept-encoding", "host", "user-agent"})


class Context:
    """One capture seen by detection: header lookups are a dict, the body is parsed at most
    once and only when a body signal asks for it."""

    def __init__(self, method: str, headers: Sequence[tuple[str, str]], query: list[tuple[str, str]], body: bytes):
        self.method = method.upper()
        self.headers: dict[str, str] = {}
        for name, value in headers:
            self.headers.setdefault(name.lower(), value)
        self.query = query
        self.message = Message(method=self.method, url="", headers=tuple(headers), body=body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @cached_property
    def body_object(self) -> Any:
        return self.message.json

    def field(self, path: str) -> Any:
        return self.message.field(path)

    def query_value(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


# --- signals: each is one cheap test plus the evidence string it contributes -----------------


@dataclass(frozen=True)
class HasHeader:
    """Header `name` is present (optionally: starts with / contains / has a value shape)."""

    name: str
    startswith: str | None = None
    contains: str | None = None
    shape: str | None = None
    cost = 0

    def holds(self, ctx: Context) -> bool:
        value = ctx.header(self.name)
        if value is None:
            return False
        if self.startswith is not None and not value.startswith(self.startswith):
            return False
        if self.contains is not None and self.contains.lower() not in value.lower():
            return False
        return self.shape is None or bool(SHAPES[self.shape].match(value.strip()))

    @property
    def evidence(self) -> str:
        if self.startswith or self.contains:
            return f"header {self.name}: {self.startswith or self.contains}…"
        return f"header {self.name}" + (f" ({self.shape})" if self.shape else "")


@dataclass(frozen=True)
class HasQuery:
    """Query parameter `name` is present (optionally equal to `equals`)."""

    name: str
    equals: str | None = None
    cost = 0

    def holds(self, ctx: Context) -> bool:
        value = ctx.query_value(self.name)
        return value is not None and (self.equals is None or value == self.equals)

    @property
    def evidence(self) -> str:
        return f"query {self.name}" + (f"={self.equals}" if self.equals else "")


@dataclass(frozen=True)
class BodyKeys:
    """The JSON body is an object with all of `keys` (`exact`: and no others)."""

    keys: tuple[str, ...]
    exact: bool = False
    cost = 1

    def holds(self, ctx: Context) -> bool:
        body = ctx.body_object
        if not isinstance(body, dict):
            return False
        if self.exact:
            return set(body) == set(self.keys)
        return all(k in body for k in self.keys)

    @property
    def evidence(self) -> str:
        word = "exactly" if self.exact else "with"
        return f"JSON body {word} keys {', '.join(self.keys)}"


@dataclass(frozen=True)
class BodyValue:
    """Body field `path` (JSON, or form for one-part paths) is present, equal to `equals`
    or starting with `startswith`."""

    path: str
    equals: Any = None
    startswith: str | None = None
    cost = 1

    def holds(self, ctx: Context) -> bool:
        value = ctx.field(self.path)
        if value is None:
            return False
        if self.equals is not None and value != self.equals:
            return False
        return self.startswith is None or (isinstance(value, str) and value.startswith(self.startswith))

    @property
    def evidence(self) -> str:
        if self.equals is not None:
            return f"body {self.path} = {self.equals}"
        if self.startswith is not None:
            return f"body {self.path} starts with {self.startswith}"
        return f"body field {self.path}"


@dataclass(frozen=True)
class BodyArrayOf:
    """The JSON body is a non-empty array whose first element has all of `keys`."""

    keys: tuple[str, ...]
    cost = 1

    def holds(self, ctx: Context) -> bool:
        body = ctx.body_object
        return (
            isinstance(body, list) and bool(body) and isinstance(body[0], dict) and all(k in body[0] for k in self.keys)
        )

    @property
    def evidence(self) -> str:
        return f"JSON array of events with {', '.join(self.keys)}"


Signal = HasHeader | HasQuery | BodyKeys | BodyValue | BodyArrayOf
Rule = tuple[Signal, ...]


def identifies(signal: Signal) -> bool:
    """False for a signal many senders share: a shared signature header or body field (any
    value), or a generic header (a user agent counts only with a value to match). A rule needs
    at least one identifying signal, or any sender of that header would be claimed."""
    if isinstance(signal, HasHeader):
        name = signal.name.lower()
        if name in GENERIC_HEADERS:
            return name == "user-agent" and bool(signal.startswith or signal.contains)
        return name not in SHARED_HEADERS
    if isinstance(signal, BodyValue):
        return signal.path not in SHARED_FIELDS or signal.equals is not None or signal.startswith is not None
    if isinstance(signal, BodyKeys):
        return signal.exact or not set(signal.keys) <= SHARED_FIELDS
    return True


def shared_label(signal: Signal) -> str:
    """What a hint shares with other senders, in words: `the X-Hook-Signature header`."""
    if isinstance(signal, HasHeader):
        return f"the {SHARED_HEADERS.get(signal.name.lower(), signal.name)} header"
    if isinstance(signal, BodyValue):
        return f'the body field "{signal.path}"'
    return signal.evidence


HANDSHAKE_ANSWERS = ("text", "json", "hmac")


@dataclass(frozen=True)
class Handshake:
    """The endpoint-verification request a provider sends before it delivers anything, as
    data; `inspector.capture.handshakes` builds the answer.

    Exactly one probe is set. It runs on every capture before anything parses it, so it is a
    single cheap test, and it must hold for every real handshake: `probe_query` (the raw query
    string contains it), `probe_header` (`(name, value)`: the header's first value is exactly
    `value`) or `probe_body` (the raw body contains these bytes). A capture whose probe holds
    is the handshake when its method is `method` (None: any) and every signal in `when` holds.
    `challenge` is the value to give back, `query:name` or `body:dotted.path` (JSON bodies
    only). `answer` is how: `text` (the challenge as text/plain), `json` (`{"challenge": …}`)
    or `hmac` (Zoom's `{"plainToken": …, "encryptedToken": HMAC-SHA256 hex of it keyed with
    the bin's secret}`, the only answer that needs a secret).
    """

    challenge: str
    answer: Literal["text", "json", "hmac"] = "text"
    probe_query: str | None = None
    probe_header: tuple[str, str] | None = None
    probe_body: bytes | None = None
    method: str | None = None
    when: Rule = ()

    def __post_init__(self) -> None:
        probes = [p for p in (self.probe_query, self.probe_header, self.probe_body) if p is not None]
        if len(probes) != 1 or not probes[0]:  # an empty probe would hold for every capture
            raise ValueError("a handshake has exactly one non-empty probe")
        if self.answer not in HANDSHAKE_ANSWERS:
            raise ValueError(f"a handshake answer is one of {HANDSHAKE_ANSWERS}")
        if not self.challenge.startswith(("query:", "body:")):
            raise ValueError("a handshake challenge is `query:name` or `body:path`")

    @property
    def needs_secret(self) -> bool:
        """True when the answer is keyed with one of the bin's secrets (load them only then)."""
        return self.answer == "hmac"

    def probe(self, captured: CapturedRequest) -> bool:
        """True when `captured` may be this handshake: one substring or header test, no parsing."""
        if self.probe_query is not None:
            return self.probe_query in captured.query_string
        if self.probe_body is not None:
            return self.probe_body in captured.body
        name, value = self.probe_header or ("", "")
        return captured.header(name) == value


@dataclass(frozen=True)
class Provider:
    """One provider, declared: how to recognise it, where its event type and delivery id are,
    which signature scheme(s) it uses (tried in order; none = it does not sign) and how well
    the scheme is known (`official vector`, `SDK oracle`, `docs only`, `inferred`).

    `detect` is a tuple of rules; a rule holds when all its signals hold; the entry with the
    strongest holding rule wins. `generic` entries (Standard Webhooks, Svix) only win when no
    specific provider matches. `event`/`delivery_id` are sources tried in order:
    `header:Name`, `body:dotted.path`, `query:name`, or several joined with `+` (joined by ".").
    `handshake` is the endpoint-verification request the provider sends, when it has one.
    When no rule decides, the provider is named as a candidate if a shared header or body field
    (`SHARED_HEADERS`, `SHARED_FIELDS`) it signs in is present (`candidate_signals`); `hints`
    adds shared signals its schemes do not read. `known="SDK oracle"` requires a scheme that
    names its SDK (`sdk`).
    """

    id: str
    name: str
    docs: str
    detect: tuple[Rule, ...]
    schemes: tuple[Scheme, ...] = ()
    event: tuple[str, ...] = ()
    delivery_id: tuple[str, ...] = ()
    known: str = "docs only"
    secret: str = "the webhook signing secret"
    warnings: tuple[str, ...] = ()
    unsigned: str = ""
    generic: bool = False
    handshake: Handshake | None = None
    hints: tuple[Signal, ...] = ()

    def __post_init__(self) -> None:
        if self.known not in KNOWN:
            raise ValueError(f"{self.id}: known must be one of {KNOWN}")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", self.id):
            raise ValueError(f"{self.id}: ids are lowercase and hyphenated")
        if self.known == "SDK oracle" and not self.sdk:
            raise ValueError(f"{self.id}: known='SDK oracle' needs a scheme whose `sdk` names the SDK")
        for rule in self.detect:
            if not any(identifies(signal) for signal in rule):
                shared = ", ".join(s.evidence for s in rule)
                raise ValueError(
                    f"{self.id}: the rule ({shared}) holds for other senders too; add a signal of "
                    f"{self.name}'s own (alone, a shared signature header only names it as a candidate)"
                )
        if any(identifies(hint) for hint in self.hints):
            raise ValueError(f"{self.id}: a hint is a shared header or body field; others are `detect` rules")

    @property
    def sdk(self) -> str:
        """The PyPI package this provider's scheme was checked against (the library its scheme's
        `SdkRules` names, run as an oracle in tests/test_sdk_oracles.py), or "". Only for a
        confirmed entry: a docs-only sender of a standard scheme (GitLab's signing token is
        Standard Webhooks) was not itself checked against the SDK."""
        if self.known not in ("SDK oracle", "official vector"):
            return ""
        libraries = (getattr(getattr(scheme, "sdk", None), "library", "") for scheme in self.schemes)
        return next((str(library) for library in libraries if library), "")

    @property
    def candidate_signals(self) -> tuple[Signal, ...]:
        """The shared signals that name this provider as a candidate: `hints`, and every shared
        header or body field its schemes read a signature from."""
        found: list[Signal] = list(self.hints)
        for scheme in self.schemes:
            locator = getattr(scheme, "signature", None)
            for name in (getattr(locator, "name", None), *getattr(locator, "alt", ())):
                if isinstance(name, str) and name.lower() in SHARED_HEADERS:
                    found.append(HasHeader(SHARED_HEADERS[name.lower()]))
            root = str(getattr(locator, "path", "")).split(".")[0]
            if root in SHARED_FIELDS:
                found.append(BodyValue(root))
        return tuple(dict.fromkeys(found))


def extract(ctx: Context, sources: tuple[str, ...]) -> str | None:
    """The first non-empty value among `sources`, as text; None when none is present."""
    for source in sources:
        values = [_one(ctx, part) for part in source.split("+")]
        if all(v not in (None, "") for v in values):
            return ".".join(str(v) for v in values)[:200]
    return None


def _one(ctx: Context, source: str) -> Any:
    kind, _, name = source.partition(":")
    if kind == "header":
        return ctx.header(name)
    if kind == "query":
        return ctx.query_value(name)
    if kind == "body":
        value = ctx.field(name)
        return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    raise ValueError(f"unknown source {source!r}")
