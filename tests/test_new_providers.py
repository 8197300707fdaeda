"""Second-round providers: the JWT and certificate schemes (Netlify, Plaid, Vonage, PayPal),
checked against PyJWT and PayPal's published vectors, and the new entries' detection."""

import base64
import hashlib
import json
import re
import socket
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from captures import make_capture
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from inspector.signing import providers
from inspector.signing.providers import more
from inspector.signing.schemes import (
    Header,
    JwtBodyHash,
    MalformedSignatureError,
    Message,
    MissingSignatureError,
    SecretFormatError,
    SignatureMismatchError,
    TimestampError,
)
from inspector.signing.verify import SecretValue, verify_signature

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BODY = b'{"id":"d1","site_id":"s1","state":"ready","deploy_url":"https://d1--demo.netlify.app"}'
HS_SECRET = "a-jws-secret-of-at-least-32-bytes!!"  # PyJWT warns (an error here) under 32 bytes
NEW_IDS = [entry.id for entry in more.ENTRIES]


def msg(headers=(), body=BODY):
    return Message(method="POST", url="https://hooks.example.com/h/b", headers=tuple(headers), body=body)


def scheme_of(provider_id, index=0):
    return providers.get(provider_id).schemes[index]


def vector(provider_id, index=0):
    case = json.loads((VECTORS / f"{provider_id}.json").read_text())["vectors"][index]
    at = datetime.fromisoformat(case["received_at"].replace("Z", "+00:00"))
    return case, msg([tuple(h) for h in case["headers"]], case["body"].encode()), at


# --- the registry ------------------------------------------------------------------------------


def test_registry_has_at_least_65_providers():
    assert len(providers.REGISTRY) >= 65


@pytest.mark.parametrize("provider_id", ["netlify", "paypal", "plaid"])
def test_formerly_unchecked_providers_now_have_a_signing_scheme(provider_id):
    scheme = scheme_of(provider_id)
    assert scheme.label != "unverifiable" and not providers.get(provider_id).unsigned


@pytest.mark.parametrize("provider_id", NEW_IDS)
def test_new_entry_is_appended_once(provider_id):
    assert [p.id for p in providers.REGISTRY].count(provider_id) == 1


@pytest.mark.parametrize("provider_id", [*NEW_IDS, "netlify", "paypal", "plaid"])
def test_readme_has_a_row(provider_id):
    assert f"(`{provider_id}`) |" in (ROOT / "README.md").read_text()


# --- Netlify and Vonage: HS256 JWT with a body hash, against PyJWT -----------------------------------


def test_netlify_signature_is_a_jwt_pyjwt_accepts():
    signed = scheme_of("netlify").sign(msg(), HS_SECRET, at=AT)
    claims = jwt.decode(signed.header("X-Webhook-Signature"), HS_SECRET, algorithms=["HS256"], issuer="netlify")
    assert claims["sha256"] == hashlib.sha256(BODY).hexdigest()


def test_vonage_jwt_is_a_bearer_token_pyjwt_accepts():
    signed = scheme_of("vonage").sign(msg(), HS_SECRET, at=AT)
    token = signed.header("Authorization").removeprefix("Bearer ")
    assert jwt.decode(token, HS_SECRET, algorithms=["HS256"])["payload_hash"] == hashlib.sha256(BODY).hexdigest()


def test_netlify_accepts_a_jwt_made_by_pyjwt():
    token = jwt.encode({"iss": "netlify", "sha256": hashlib.sha256(BODY).hexdigest()}, HS_SECRET, algorithm="HS256")
    assert scheme_of("netlify").verify(msg([("X-Webhook-Signature", token)]), HS_SECRET, at=AT)


def test_netlify_wrong_secret_says_so():
    signed = scheme_of("netlify").sign(msg(), HS_SECRET, at=AT)
    with pytest.raises(SignatureMismatchError) as error:
        scheme_of("netlify").verify(signed, HS_SECRET + "x", at=AT)
    assert "different secret" in error.value.debug["diagnosis"]


def test_netlify_altered_body_says_so():
    signed = scheme_of("netlify").sign(msg(), HS_SECRET, at=AT)
    with pytest.raises(SignatureMismatchError) as error:
        scheme_of("netlify").verify(replace(signed, body=BODY + b" "), HS_SECRET, at=AT)
    assert "body was altered" in error.value.debug["diagnosis"]


def test_netlify_other_issuer_is_refused():
    token = jwt.encode({"iss": "someone", "sha256": hashlib.sha256(BODY).hexdigest()}, HS_SECRET, algorithm="HS256")
    with pytest.raises(SignatureMismatchError) as error:
        scheme_of("netlify").verify(msg([("X-Webhook-Signature", token)]), HS_SECRET, at=AT)
    assert "'someone'" in error.value.debug["diagnosis"]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "e30.e30",  # two parts
        "!!.e30.c2ln",
        "WzFd.e30.c2ln",  # a header that is no JSON object
    ],
)
def test_unusable_jwt_is_malformed(token):
    with pytest.raises(MalformedSignatureError):
        scheme_of("netlify").verify(msg([("X-Webhook-Signature", token)]), HS_SECRET, at=AT)


def test_unsigned_alg_none_jwt_is_refused():
    claims = {"iss": "netlify", "sha256": hashlib.sha256(BODY).hexdigest()}
    token = jwt.encode(claims, None, algorithm="none") + "c2ln"
    with pytest.raises(MalformedSignatureError, match="alg 'none'"):
        scheme_of("netlify").verify(msg([("X-Webhook-Signature", token)]), HS_SECRET, at=AT)


def test_vonage_without_bearer_is_malformed():
    with pytest.raises(MalformedSignatureError):
        scheme_of("vonage").verify(msg([("Authorization", "Basic dXNlcjpwYXNz")]), HS_SECRET, at=AT)


# --- Plaid: ES256 JWT with a stored JWK, against PyJWT ------------------------------------------------


def b64u(number):
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()


def ec_jwks(kid="key-1"):
    """(private JWK text, public JWK text) of a fresh P-256 key."""
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    public = {"alg": "ES256", "kid": kid, "kty": "EC", "crv": "P-256", "x": b64u(numbers.x), "y": b64u(numbers.y)}
    return json.dumps({**public, "d": b64u(private.private_numbers().private_value)}), json.dumps(public)


def test_plaid_jwt_is_one_pyjwt_accepts():
    private, public = ec_jwks()
    token = scheme_of("plaid").sign(msg(), private, at=AT).header("Plaid-Verification")
    assert jwt.get_unverified_header(token)["kid"] == "key-1"
    claims = jwt.decode(token, jwt.PyJWK(json.loads(public)).key, algorithms=["ES256"])
    assert claims["request_body_sha256"] == hashlib.sha256(BODY).hexdigest() and claims["iat"] == AT.timestamp()


def test_plaid_accepts_the_whole_key_answer_and_a_jwt_made_by_pyjwt():
    private, public = ec_jwks()
    claims = {"iat": int(AT.timestamp()), "request_body_sha256": hashlib.sha256(BODY).hexdigest()}
    token = jwt.encode(claims, jwt.PyJWK(json.loads(private)).key, algorithm="ES256", headers={"kid": "key-1"})
    answer = json.dumps({"key": json.loads(public), "request_id": "r1"})
    assert scheme_of("plaid").verify(msg([("Plaid-Verification", token)]), answer, at=AT)


def test_plaid_older_than_five_minutes_is_expired():
    private, public = ec_jwks()
    signed = scheme_of("plaid").sign(msg(), private, at=AT)
    assert scheme_of("plaid").verify(signed, public, at=AT + timedelta(seconds=300))
    with pytest.raises(TimestampError) as error:
        scheme_of("plaid").verify(signed, public, at=AT + timedelta(seconds=301))
    assert "301 s old" in str(error.value)


def test_plaid_key_of_another_kid_says_which_key_to_store():
    private, _ = ec_jwks("key-1")
    _, other = ec_jwks("key-2")
    with pytest.raises(SignatureMismatchError) as error:
        scheme_of("plaid").verify(scheme_of("plaid").sign(msg(), private, at=AT), other, at=AT)
    assert "'key-1'" in error.value.debug["diagnosis"] and "'key-2'" in error.value.debug["diagnosis"]


def test_plaid_altered_body_says_so():
    private, public = ec_jwks()
    signed = scheme_of("plaid").sign(msg(), private, at=AT)
    with pytest.raises(SignatureMismatchError) as error:
        scheme_of("plaid").verify(replace(signed, body=b"{}"), public, at=AT)
    assert "body was altered" in error.value.debug["diagnosis"]


@pytest.mark.parametrize(
    "secret", ["not json", "[1]", '{"kty":"RSA","n":"AQAB","e":"AQAB"}', '{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}']
)
def test_plaid_secret_that_is_no_p256_jwk_is_refused(secret):
    signed = scheme_of("plaid").sign(msg(), ec_jwks()[0], at=AT)
    with pytest.raises(SecretFormatError):
        scheme_of("plaid").verify(signed, secret, at=AT)


def test_plaid_cannot_sign_with_a_public_jwk():
    with pytest.raises(SecretFormatError, match="private JWK"):
        scheme_of("plaid").sign(msg(), ec_jwks()[1], at=AT)


def test_plaid_refuses_an_hs256_token_even_with_the_right_hash():
    token = jwt.encode(
        {"iat": int(AT.timestamp()), "request_body_sha256": hashlib.sha256(BODY).hexdigest()}, HS_SECRET, "HS256"
    )
    with pytest.raises(MalformedSignatureError, match="HS256"):
        scheme_of("plaid").verify(msg([("Plaid-Verification", token)]), ec_jwks()[1], at=AT)


def test_jwt_scheme_rejects_an_unknown_algorithm_in_the_registry():
    with pytest.raises(ValueError):
        JwtBodyHash(Header("X"), algorithm="RS256")


# --- PayPal: certificate and webhook ID stored as the secret -----------------------------------------


def rsa_material(webhook_id="WH1ID"):
    """(signing secret, verifying secret) for a fresh RSA key: webhook ID + private key PEM,
    certificate PEM + webhook ID (both orders are accepted)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test paypal cert")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(AT - timedelta(days=1))
        .not_valid_after(AT + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return f"{webhook_id}\n{private_pem}", cert.public_bytes(serialization.Encoding.PEM).decode() + webhook_id


def test_paypal_round_trip_with_a_certificate():
    sign_secret, verify_secret = rsa_material()
    signed = scheme_of("paypal").sign(msg(), sign_secret, at=AT)
    assert signed.header("PAYPAL-AUTH-ALGO") == "SHA256withRSA"
    match = scheme_of("paypal").verify(signed, verify_secret, at=AT + timedelta(hours=3))
    assert match.debug["signed_preview"].endswith(f"|WH1ID|{zlib.crc32(BODY)}")


@pytest.mark.parametrize(
    "change",
    [
        lambda m, s: (replace(m, body=m.body + b" "), s),
        lambda m, s: (m, s.replace("WH1ID", "WH2ID")),
        lambda m, s: (m, rsa_material()[1]),
        lambda m, s: (m.with_header("PAYPAL-TRANSMISSION-TIME", "2024-05-01T12:00:01Z"), s),
        lambda m, s: (m.with_header("PAYPAL-AUTH-ALGO", "SHA1withRSA"), s),
    ],
    ids=["body", "webhook-id", "certificate", "transmission-time", "algorithm"],
)
def test_paypal_any_change_is_a_mismatch(change):
    sign_secret, verify_secret = rsa_material()
    changed, secret = change(scheme_of("paypal").sign(msg(), sign_secret, at=AT), verify_secret)
    with pytest.raises(SignatureMismatchError) as error:
        scheme_of("paypal").verify(changed, secret, at=AT)
    assert "webhook ID" in error.value.debug["diagnosis"]


def test_paypal_official_vector_needs_its_sha1_algorithm():
    case, signed, at = vector("paypal")
    assert scheme_of("paypal").verify(signed, case["secret"], at=at).debug["algorithm"] == "SHA1withRSA"
    with pytest.raises(SignatureMismatchError):
        scheme_of("paypal").verify(signed.with_header("Paypal-Auth-Algo", "SHA256withRSA"), case["secret"], at=at)


@pytest.mark.parametrize(
    "secret,words",
    [
        ("WH1ID", "no PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "no webhook ID"),
        ("WH1 ID\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "only the webhook ID"),
        ("WH1ID\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "cannot be read"),
    ],
)
def test_paypal_secret_format_errors_are_plain(secret, words):
    signed = scheme_of("paypal").sign(msg(), rsa_material()[0], at=AT)
    with pytest.raises(SecretFormatError, match=words):
        scheme_of("paypal").verify(signed, secret, at=AT)


def test_paypal_cannot_sign_with_a_certificate():
    with pytest.raises(SecretFormatError, match="private key"):
        scheme_of("paypal").sign(msg(), rsa_material()[1], at=AT)


def test_paypal_unknown_algorithm_and_missing_time():
    signed = scheme_of("paypal").sign(msg(), rsa_material()[0], at=AT)
    with pytest.raises(MalformedSignatureError, match="SHA512withRSA"):
        scheme_of("paypal").verify(signed.with_header("PAYPAL-AUTH-ALGO", "SHA512withRSA"), rsa_material()[1], at=AT)
    without_time = replace(signed, headers=tuple(h for h in signed.headers if h[0] != "PAYPAL-TRANSMISSION-TIME"))
    with pytest.raises(MissingSignatureError):
        scheme_of("paypal").verify(without_time, rsa_material()[1], at=AT)


@pytest.mark.parametrize("provider_id", ["paypal", "plaid"])
def test_paypal_and_plaid_verify_without_the_network(provider_id, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    case, _, at = vector(provider_id)
    capture = make_capture(case["headers"], case["body"].encode(), at=at)
    v = verify_signature(capture, [SecretValue(1, "main", None, case["secret"])], public_url=case["url"])
    assert v.status == "valid", v.detail


# --- detection: each new entry needs its own signal ---------------------------------------------------

SVIX = [("svix-id", "msg_1"), ("svix-timestamp", "1"), ("svix-signature", "v1,x")]
STANDARD = [("webhook-id", "msg_1"), ("webhook-timestamp", "1"), ("webhook-signature", "v1,x")]


@pytest.mark.parametrize(
    "headers,body,expected",
    [
        (SVIX, b'{"object":"event","type":"user.created","data":{}}', "clerk"),
        (SVIX, b'{"type":"email.sent","data":{"email_id":"e1"}}', "resend"),
        (SVIX, b'{"type":"user.created","data":{}}', "svix"),
        (STANDARD, b'{"status":"succeeded","urls":{"get":"https://api.replicate.com/v1/predictions/p1"}}', "replicate"),
        (STANDARD, b'{"status":"succeeded","urls":{"get":"https://example.com/p1"}}', "standard-webhooks"),
        ([("Authorization", "Bearer a.b.c")], b'{"message_uuid":"m1","channel":"sms"}', "vonage"),
        ([("Authorization", "Bearer a.b.c")], b'{"hello":"world"}', None),
    ],
)
def test_shared_headers_need_the_providers_own_signal(headers, body, expected):
    detection = providers.detect(make_capture(headers, body))
    assert (detection.provider_id if detection else None) == expected


def test_every_new_rule_has_a_signal_of_its_own():
    shared = {"svix-id", "webhook-id", "authorization"}
    for entry in more.ENTRIES:
        for rule in entry.detect:
            names = {getattr(signal, "name", "").lower() for signal in rule}
            assert len(rule) > 1 or not names & shared, (entry.id, rule)


def test_vector_sources_claimed_official_match_the_entries():
    for entry in (*more.ENTRIES, providers.get("paypal")):
        sources = {case["source"] for case in json.loads((VECTORS / f"{entry.id}.json").read_text())["vectors"]}
        assert ("official" in sources) == (entry.known == "official vector"), entry.id


def test_providers_doc_has_the_second_round_section():
    text = (ROOT / "docs" / "providers.md").read_text()
    section = text.split("## Providers added in the second round", 1)[1]
    for entry in (*more.ENTRIES, providers.get("netlify"), providers.get("paypal"), providers.get("plaid")):
        assert re.search(rf"\b{re.escape(entry.name)}\b", section), entry.name
