"""Schemes: sign/verify round trips, fixed vectors, and each failure class."""

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from inspector.signing import providers
from inspector.signing.schemes import (
    AdyenItems,
    BodyField,
    Ecdsa,
    Ed25519,
    Fields,
    Header,
    Hmac,
    MalformedSignatureError,
    Message,
    MissingSignatureError,
    SdkRejectionError,
    SecretFormatError,
    SignatureMismatchError,
    TimestampError,
    Token,
    Unverifiable,
    UnverifiableError,
    diagnose,
    parse_timestamp,
    standard_webhooks,
)

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
JSON = (("Content-Type", "application/json"),)


def msg(body=b'{"a":1}', headers=JSON, url="https://example.com/h/b", method="POST"):
    return Message(method=method, url=url, headers=tuple(headers), body=body)


def _ecdsa_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    import base64

    priv = base64.b64encode(
        private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    ).decode()
    pub = base64.b64encode(
        private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    return priv, pub


ED_SEED = bytes(range(32)).hex()
ED_PUB = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
ECDSA_PRIV, ECDSA_PUB = _ecdsa_keys()

SCHEMES = {
    "hmac-hex-prefix": (Hmac(signature=Header("X-Sig", prefix="sha256=")), "k", "k"),
    "hmac-base64": (Hmac(signature=Header("X-Sig"), encoding="base64"), "k", "k"),
    "hmac-sha1": (Hmac(signature=Header("X-Sig"), algorithm="sha1"), "k", "k"),
    "stripe-style": (Hmac(signature=Fields("S"), template="{ts}.{body}", tolerance=300), "k", "k"),
    "slack-style": (
        Hmac(signature=Header("X-S", prefix="v0="), template="v0:{ts}:{body}", timestamp=Header("X-T"), tolerance=300),
        "k",
        "k",
    ),
    "standard-webhooks": (
        standard_webhooks(),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    "url-signing": (Hmac(signature=Header("X-U"), template="{url}{body}", encoding="base64"), "k", "k"),
    "url-params": (
        Hmac(signature=Header("X-U"), template="{url}{params}", algorithm="sha1", encoding="base64"),
        "k",
        "k",
    ),
    "hubspot-v3": (
        Hmac(
            signature=Header("X-H"),
            template="{method}{url}{body}{ts}",
            encoding="base64",
            timestamp=Header("X-TS"),
            timestamp_format="ms",
            tolerance=300,
        ),
        "k",
        "k",
    ),
    "hash-secret-first": (Hmac(signature=Header("X-H"), mac="hash-secret-first"), "k", "k"),
    "body-field": (Hmac(signature=BodyField("signature"), template="{field:id}", encoding="base64"), "k", "k"),
    "multi-signature": (Hmac(signature=Header("X-D", separator=",")), "k", "k"),
    "iso-timestamp": (
        Hmac(
            signature=Header("X-Z"),
            template="{ts}{body}",
            encoding="base64",
            timestamp=Header("X-ZT"),
            timestamp_format="iso",
            tolerance=600,
        ),
        "k",
        "k",
    ),
    "ed25519": (
        Ed25519(signature=Header("X-Signature-Ed25519"), timestamp=Header("X-Signature-Timestamp")),
        ED_SEED,
        ED_PUB,
    ),
    "ecdsa": (Ecdsa(signature=Header("X-E"), timestamp=Header("X-ET")), ECDSA_PRIV, ECDSA_PUB),
    "token": (Token(Header("X-Gitlab-Token")), "tok", "tok"),
}


def _base(name):
    if name == "body-field":
        return msg(b'{"id":"abc","type":"X"}')
    if name == "url-params":
        return msg(b"b=2&a=1", (("Content-Type", "application/x-www-form-urlencoded"),))
    if name == "standard-webhooks":
        return msg(headers=(*JSON, ("webhook-id", "msg_1")))
    return msg()


@pytest.mark.parametrize("name", SCHEMES)
def test_round_trip(name):
    scheme, sign_key, verify_key = SCHEMES[name]
    signed = scheme.sign(_base(name), sign_key, at=AT)
    assert scheme.is_present(signed)
    assert scheme.verify(signed, verify_key, at=AT + timedelta(seconds=3))


@pytest.mark.parametrize("name", [n for n in SCHEMES if n not in ("body-field", "token")])
def test_tampered_body_fails(name):
    scheme, sign_key, verify_key = SCHEMES[name]
    signed = scheme.sign(_base(name), sign_key, at=AT)
    with pytest.raises(SignatureMismatchError):
        scheme.verify(replace(signed, body=signed.body + b" "), verify_key, at=AT)


def test_body_field_scheme_ignores_body_but_not_id():
    scheme, key, _ = SCHEMES["body-field"]
    signed = scheme.sign(_base("body-field"), key, at=AT)
    assert scheme.verify(replace(signed, body=signed.body.replace(b'"X"', b'"Y"')), key, at=AT)
    with pytest.raises(SignatureMismatchError):
        scheme.verify(replace(signed, body=signed.body.replace(b"abc", b"abd")), key, at=AT)


@pytest.mark.parametrize("name", [n for n in SCHEMES if n not in ("ed25519", "ecdsa")])
def test_wrong_secret_fails(name):
    scheme, sign_key, _ = SCHEMES[name]
    signed = scheme.sign(_base(name), sign_key, at=AT)
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUA==" if name == "standard-webhooks" else "other"
    with pytest.raises(SignatureMismatchError):
        scheme.verify(signed, other, at=AT)


def test_wrong_public_key_fails():
    _, other_pub = _ecdsa_keys()
    scheme, priv, _ = SCHEMES["ecdsa"]
    with pytest.raises(SignatureMismatchError):
        scheme.verify(scheme.sign(msg(), priv, at=AT), other_pub, at=AT)
    scheme, seed, _ = SCHEMES["ed25519"]
    with pytest.raises(SignatureMismatchError):
        scheme.verify(scheme.sign(msg(), seed, at=AT), "11" * 32, at=AT)


@pytest.mark.parametrize("name", ["stripe-style", "slack-style", "standard-webhooks", "hubspot-v3", "iso-timestamp"])
def test_expired_timestamp(name):
    scheme, sign_key, verify_key = SCHEMES[name]
    signed = scheme.sign(_base(name), sign_key, at=AT)
    with pytest.raises(TimestampError) as error:
        scheme.verify(signed, verify_key, at=AT + timedelta(seconds=scheme.tolerance + 1))
    assert error.value.debug["timestamp_skew_seconds"] == scheme.tolerance + 1
    with pytest.raises(TimestampError):
        scheme.verify(signed, verify_key, at=AT - timedelta(seconds=scheme.tolerance + 1))


@pytest.mark.parametrize("name", list(SCHEMES))
def test_missing_signature(name):
    scheme, _, verify_key = SCHEMES[name]
    with pytest.raises(MissingSignatureError):
        scheme.verify(msg(b'{"id":"abc"}'), verify_key, at=AT)
    assert not scheme.is_present(msg(b'{"id":"abc"}'))


@pytest.mark.parametrize(
    "header,value",
    [
        ("X-Sig", "757107ea"),  # no sha256= prefix
        ("X-Sig", "sha256=zz-not-hex"),
    ],
)
def test_malformed_prefixed_header(header, value):
    scheme = SCHEMES["hmac-hex-prefix"][0]
    with pytest.raises(MalformedSignatureError):
        scheme.verify(msg(headers=(*JSON, (header, value))), "k", at=AT)


def test_malformed_stripe_header_without_t():
    with pytest.raises(MalformedSignatureError):
        SCHEMES["stripe-style"][0].verify(msg(headers=(*JSON, ("S", "v1=abcd"))), "k", at=AT)


def test_malformed_timestamp():
    scheme = SCHEMES["slack-style"][0]
    with pytest.raises(MalformedSignatureError):
        scheme.verify(msg(headers=(*JSON, ("X-S", "v0=ab"), ("X-T", "yesterday"))), "k", at=AT)


def test_missing_timestamp_header():
    with pytest.raises(MissingSignatureError):
        SCHEMES["slack-style"][0].verify(msg(headers=(*JSON, ("X-S", "v0=ab"))), "k", at=AT)


def test_standard_webhooks_skips_unknown_entries_but_stops_at_bad_base64_as_its_sdk_does():
    # The standardwebhooks library raises at an undecodable entry, even when a later one would
    # match: the verdict follows it, and the reason says so.
    scheme, key, _ = SCHEMES["standard-webhooks"]
    signed = scheme.sign(msg(headers=(*JSON, ("webhook-id", "msg_1"))), key, at=AT)
    good = signed.header("webhook-signature")
    assert scheme.verify(signed.with_header("webhook-signature", f"v1a,xyz {good}"), key, at=AT)
    assert scheme.verify(signed.with_header("webhook-signature", f"{good} v1,!!notbase64"), key, at=AT)
    with pytest.raises(SdkRejectionError, match="not base64 Python can decode"):
        scheme.verify(signed.with_header("webhook-signature", f"v1a,xyz v1,!!notbase64 {good}"), key, at=AT)


def test_standard_webhooks_rejects_secret_used_verbatim():
    with pytest.raises(SecretFormatError):
        standard_webhooks().verify(
            msg(headers=(("webhook-id", "1"), ("webhook-timestamp", "1"), ("webhook-signature", "v1,AAAA"))),
            "whsec_%%%",
            at=AT,
        )


def test_multi_signature_reports_index():
    scheme = SCHEMES["multi-signature"][0]
    a = scheme.sign(msg(), "one", at=AT).header("X-D")
    b = scheme.sign(msg(), "two", at=AT).header("X-D")
    assert scheme.verify(msg(headers=(*JSON, ("X-D", f"{a}, {b}"))), "two", at=AT).index == 1


def test_key_readings_in_order_and_inferred_flag():
    scheme = Hmac(signature=Header("X"), keys=("text", "base64"))
    signed = Hmac(signature=Header("X"), keys=("base64",)).sign(msg(), "a2V5", at=AT)
    match = scheme.verify(signed, "a2V5", at=AT)
    assert match.key_reading == "base64" and match.inferred


def test_hmac_scheme_fixed_vector_github():
    m = msg(
        b"Hello, World!",
        (("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),),
    )
    assert providers.get("github").schemes[0].verify(m, "It's a Secret to Everybody", at=AT)


def test_token_debug_never_shows_the_token():
    with pytest.raises(SignatureMismatchError) as error:
        Token(Header("X-T")).verify(msg(headers=(("X-T", "supersecret"),)), "other", at=AT)
    assert "supersecret" not in repr(error.value.debug)


def test_adyen_items_sign_and_verify():
    key = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
    body = (
        b'{"live":"false","notificationItems":[{"NotificationRequestItem":{"pspReference":"1",'
        b'"amount":{"value":1,"currency":"EUR"},"eventCode":"AUTHORISATION","success":"true"}}]}'
    )
    signed = AdyenItems().sign(msg(body), key, at=AT)
    assert AdyenItems().verify(signed, key, at=AT)
    with pytest.raises(SecretFormatError):
        AdyenItems().verify(signed, "not hex", at=AT)
    with pytest.raises(SignatureMismatchError):
        AdyenItems().verify(replace(signed, body=signed.body.replace(b'"value":1', b'"value":2')), key, at=AT)


@pytest.mark.parametrize(
    "private",
    [ed25519.Ed25519PrivateKey.generate, lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)],
    ids=["ed25519", "rsa"],
)
def test_ecdsa_sign_rejects_a_private_key_that_is_not_ec(private):
    der = private().private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SecretFormatError, match="not an elliptic-curve key"):
        SCHEMES["ecdsa"][0].sign(msg(), base64.b64encode(der).decode(), at=AT)


def test_unverifiable_raises():
    with pytest.raises(UnverifiableError):
        Unverifiable(Header("X"), reason="no").verify(msg(), "k", at=AT)


def test_parse_timestamp_nanoseconds():
    assert parse_timestamp("2024-05-01T12:00:00.123456789Z", "iso") == AT.replace(microsecond=123456)


def test_diagnose_reports_nothing_for_wrong_secret():
    scheme = SCHEMES["hmac-hex-prefix"][0]
    assert diagnose(scheme, scheme.sign(msg(), "one", at=AT), "two", at=AT) is None


def test_sendgrid_official_vector_and_crlf():
    body = (
        b'[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":'
        b'"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":'
        b'"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":'
        b'"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]\r\n'
    )
    key = (
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+"
        "2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
    )
    headers = (
        ("X-Twilio-Email-Event-Webhook-Timestamp", "1600112502"),
        (
            "X-Twilio-Email-Event-Webhook-Signature",
            "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=",
        ),
    )
    scheme = providers.get("sendgrid").schemes[0]
    assert scheme.verify(msg(body, headers), key, at=AT)
    with pytest.raises(SignatureMismatchError):
        scheme.verify(msg(body.rstrip(), headers), key, at=AT)
