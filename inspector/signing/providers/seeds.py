"""Entries for the five seed providers: DreamClass, Studiewinkel, Edusign, Eduzz, Dreamship."""

from inspector.signing.providers.model import BodyKeys, BodyValue, HasHeader, Provider
from inspector.signing.schemes import BodyField, Header, Hmac

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
    detect=(
        (HasHeader("x-hook-signature"), BodyKeys(("type", "resource", "identifier"), exact=True)),
        (HasHeader("x-hook-signature", shape="base64-32"),),
    ),
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

DREAMSHIP = Provider(
    id="dreamship",
    name="Dreamship",
    docs="https://docs.dreamship.com/reference/webhooks",
    detect=(
        (HasHeader("X-Dreamship-Signature"),),
        (BodyValue("event.action"), BodyValue("event.uuid"), BodyKeys(("id", "object", "event", "data"))),
    ),
    # One signature per API key, comma-separated; any segment may match.
    schemes=(Hmac(signature=Header("X-Dreamship-Signature", separator=","), label="Dreamship HMAC-SHA256 hex"),),
    event=("body:event.action",),
    delivery_id=("body:event.uuid",),
    known="docs only",
    secret="your Dreamship API key",
)

ENTRIES = (DREAMCLASS, STUDIEWINKEL, EDUSIGN, EDUZZ, DREAMSHIP)
