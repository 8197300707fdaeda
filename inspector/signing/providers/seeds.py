"""Entries for the five seed providers: DreamClass, Studiewinkel, Edusign, Eduzz, Dreamship."""

from dataclasses import dataclass
from datetime import datetime

from inspector.signing.providers.model import BodyKeys, BodyValue, HasHeader, Provider
from inspector.signing.schemes import (
    BodyField,
    Header,
    Hmac,
    MalformedSignatureError,
    Match,
    Message,
    SignatureMismatchError,
)

DREAMCLASS = Provider(
    id="dreamclass",
    name="DreamClass",
    docs="https://apidoc.dreamclass.io/dream-class-api/webhooks",
    detect=(
        (BodyKeys(("tenant", "timestamp", "id", "signature", "type", "data"), exact=True),),
        (BodyKeys(("tenant", "timestamp", "id", "type", "data"), exact=True),),
    ),
    # Signs only the request id, inside the body; "Key Encoding: Base64" is ambiguous, so
    # the key is tried as text first, then base64-decoded (PROVIDERS.md A1).
    schemes=(
        Hmac(
            signature=BodyField("signature"),
            template="{field:id}",
            encoding="base64",
            keys=("text", "base64"),
            inferred=True,
            label="DreamClass HMAC-SHA256 of id",
        ),
    ),
    event=("body:type",),
    delivery_id=("body:id",),
    known="inferred",
    secret="the HMAC secret from Settings > Integrations",
    warnings=(
        "DreamClass signs only the request id, not the body: a valid signature does not prove the body is untampered.",
    ),
)

STUDIEWINKEL = Provider(
    id="studiewinkel",
    name="Studiewinkel",
    docs="https://lml-api.studiewinkel.nl/webhooks",
    # x-hook-signature is Asana's header too (and Clio's...), whatever its encoding: only the
    # body shape decides; the header alone names Studiewinkel as a candidate.
    detect=((HasHeader("x-hook-signature"), BodyKeys(("type", "resource", "identifier"), exact=True)),),
    # The docs' CryptoJS example may sign a JSON.stringify re-serialization: raw body first.
    schemes=(
        Hmac(
            signature=Header("x-hook-signature"),
            encoding="base64",
            bodies=("raw", "compact-json"),
            label="Studiewinkel HMAC-SHA256 base64",
        ),
    ),
    event=("body:resource+body:type",),
    known="docs only",
    secret="the secret webhook key",
)

EDUSIGN = Provider(
    id="edusign",
    name="Edusign",
    docs="https://developers.edusign.com/docs/webhooks-2",
    detect=(
        (HasHeader("x-edusign-hmac"),),
        (HasHeader("x-edusign-webhook-type"),),
        (HasHeader("x-edusign-app-id"),),
    ),
    # The algorithm is inferred (Edusign's library is unavailable): candidates in the order
    # PROVIDERS.md A3 gives; any match is reported as inferred.
    schemes=(
        Hmac(
            signature=Header("x-edusign-hmac"),
            bodies=("raw", "compact-json"),
            inferred=True,
            label="Edusign HMAC-SHA256 hex (inferred)",
        ),
        Hmac(
            signature=Header("x-edusign-hmac"),
            encoding="base64",
            inferred=True,
            label="Edusign HMAC-SHA256 base64 (inferred)",
        ),
        Hmac(
            signature=Header("x-edusign-hmac"),
            mac="hash-secret-first",
            inferred=True,
            label="Edusign SHA-256 of secret+body (inferred)",
        ),
        Hmac(
            signature=Header("x-edusign-hmac"),
            mac="hash-secret-last",
            inferred=True,
            label="Edusign SHA-256 of body+secret (inferred)",
        ),
    ),
    event=("header:x-edusign-webhook-type", "body:type"),
    known="inferred",
    secret="the Client Secret of your Edusign app",
)

EDUZZ = Provider(
    id="eduzz",
    name="Eduzz",
    docs="https://github.com/eduzz/eduzz-webhook-docs",
    detect=(
        (HasHeader("user-agent", contains="Eduzz Webhook"),),
        (HasHeader("x-subscription"), HasHeader("x-delivery-attempt")),
        (HasHeader("x-signature", shape="hex64"), BodyKeys(("id", "event", "data", "sentDate"))),
    ),
    # Key: the secret as text (what receivers do); hex-decoded is a fallback, reported inferred.
    schemes=(Hmac(signature=Header("x-signature"), keys=("text", "hex"), label="Eduzz HMAC-SHA256 hex"),),
    event=("body:event",),
    delivery_id=("body:id",),
    known="docs only",
    secret="the access key (Chave de acesso) chosen for the configuration",
)

DREAMSHIP_HEADER = "X-Dreamship-Signature"


@dataclass(frozen=True)
class UntrimmedSegments(Hmac):
    """Dreamship's check as its docs' own code writes it: `calculated in header.split(',')`,
    the segments compared as sent, untrimmed. (PROVIDERS.md Appendix C says "split, trim,
    compare"; the seed document's code does not trim, and Dreamship's receivers run that code.)
    So in a `", "`-separated list a segment after a space never matches: such a match, or a
    failure on such a header, is reported as unreadable with the reason, not as a plain
    mismatch. Kept here rather than in the schemes: no other provider needs it."""

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        sent = [s for s in (msg.header(DREAMSHIP_HEADER) or "").strip().split(",") if s.strip()]
        try:
            match = super().verify(msg, secret, at=at)
        except SignatureMismatchError as error:
            if all(_as_sent(s) for s in sent):
                raise
            raise MalformedSignatureError(
                f"{DREAMSHIP_HEADER} is a ', '-separated list; Dreamship's documented check splits it on ',' "
                "without trimming, so a segment after a space never matches (and none matches this secret "
                "even trimmed)",
                **error.debug,
            ) from None
        if _as_sent(sent[match.index]):
            return match
        raise MalformedSignatureError(
            f"segment {match.index + 1} of {len(sent)} matches only once its space is removed, but Dreamship's "
            f"documented check splits {DREAMSHIP_HEADER} on ',' without trimming, so a ', '-separated list "
            "fails for every segment after the first",
            **match.debug,
        )


def _as_sent(segment: str) -> bool:
    """True when a segment can equal a hex digest as text, as the documented check compares it."""
    return not any(c.isspace() for c in segment)


DREAMSHIP = Provider(
    id="dreamship",
    name="Dreamship",
    docs="https://docs.dreamship.com/reference/webhooks",
    detect=(
        (HasHeader(DREAMSHIP_HEADER),),
        (BodyValue("event.action"), BodyValue("event.uuid"), BodyKeys(("id", "object", "event", "data"))),
    ),
    # One signature per API key, comma-separated; any segment may match, compared as sent.
    schemes=(UntrimmedSegments(signature=Header(DREAMSHIP_HEADER, separator=","), label="Dreamship HMAC-SHA256 hex"),),
    event=("body:event.action",),
    delivery_id=("body:event.uuid",),
    known="docs only",
    secret="your Dreamship API key",
)

ENTRIES = (DREAMCLASS, STUDIEWINKEL, EDUSIGN, EDUZZ, DREAMSHIP)
