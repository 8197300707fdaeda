"""Verdicts: every vector gets its expected status; every status and diagnostic is reachable."""

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from captures import AT, make_capture

from inspector.signing import providers, samples
from inspector.signing.verify import STATUSES, SecretValue, Verification, verification_to_json, verify_signature

VECTORS = Path(__file__).parent / "vectors"
URL = "https://hooks.example.com/h/bin1"


def secret(value, label="main", provider=None, id=1):
    return SecretValue(id=id, label=label, provider=provider, value=value)


def vector_cases():
    out = []
    for path in sorted(VECTORS.glob("*.json")):
        data = json.loads(path.read_text())
        for index, case in enumerate(data["vectors"]):
            out.append(pytest.param(data["provider"], case, id=f"{data['provider']}-{index}"))
    return out


@pytest.mark.parametrize("provider_id,case", vector_cases())
def test_vector_gets_expected_status(provider_id, case):
    body = case["body"].encode() if "body" in case else base64.b64decode(case["body_base64"])
    at = datetime.fromisoformat(case["received_at"].replace("Z", "+00:00"))
    capture = make_capture(case["headers"], body, case["method"], urlsplit(case["url"]).query, at)
    secrets = [secret(case["secret"])] if case["secret"] else []
    v = verify_signature(capture, secrets, public_url=case["url"])
    assert v.status == case["expected"]["status"], v.detail
    assert v.detail.endswith(".") and "\n" not in v.detail
    if "inferred" in case["expected"]:
        assert v.inferred == case["expected"]["inferred"]
    if "expected_index" in case:
        assert v.debug["matched_index"] == case["expected_index"]
    if v.status == "valid":
        assert v.secret == "main"
        wrong = verify_signature(capture, [secret(case["secret"] + "x")], public_url=case["url"])
        assert wrong.status in ("invalid",), wrong.detail


def github(body=b"Hello, World!", sig="757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"):
    headers = [("X-GitHub-Event", "ping")]
    if sig is not None:
        headers.append(("X-Hub-Signature-256", "sha256=" + sig))
    return make_capture(headers, body)


GH_SECRET = "It's a Secret to Everybody"


def test_valid_names_label_never_value():
    v = verify_signature(github(), [secret("nope", "old", id=1), secret(GH_SECRET, "prod", id=2)], public_url=URL)
    assert (v.status, v.secret) == ("valid", "prod")
    assert GH_SECRET not in json.dumps(verification_to_json(v))


def test_none_when_no_provider():
    v = verify_signature(make_capture([], b"{}"), [secret("x")], public_url=URL)
    assert v.status == "none" and v.scheme is None


def test_unsigned_when_signature_header_missing():
    v = verify_signature(github(sig=None), [secret(GH_SECRET)], public_url=URL)
    assert v.status == "unsigned" and "X-Hub-Signature-256" in v.detail


def test_no_secret_when_bin_has_none():
    assert verify_signature(github(), [], public_url=URL).status == "no_secret"


def test_secret_scoped_to_other_provider_is_skipped():
    v = verify_signature(github(), [secret(GH_SECRET, provider="stripe")], public_url=URL)
    assert v.status == "no_secret"


def test_secret_scoped_to_this_provider_is_used():
    assert verify_signature(github(), [secret(GH_SECRET, provider="github")], public_url=URL).status == "valid"


def test_tampered_body_is_invalid():
    v = verify_signature(github(body=b"Hello, World?"), [secret(GH_SECRET)], public_url=URL)
    assert v.status == "invalid" and "wrong secret or the body changed" in v.detail
    assert v.debug["expected"] and v.debug["received"] and v.debug["signed_preview"] == "Hello, World?"


def test_malformed_header_is_invalid_and_says_so():
    c = make_capture([("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", "757107ea")], b"x")
    v = verify_signature(c, [secret(GH_SECRET)], public_url=URL)
    assert v.status == "invalid" and "sha256=" in v.detail


def test_truncated_body_is_unverifiable():
    c = make_capture([("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", "sha256=" + "a" * 64)], b"x", truncated=True)
    assert verify_signature(c, [secret(GH_SECRET)], public_url=URL).status == "unverifiable"


def test_diagnosis_base64_instead_of_hex():
    import hashlib
    import hmac

    sig = base64.b64encode(hmac.new(GH_SECRET.encode(), b"Hello, World!", hashlib.sha256).digest()).decode()
    v = verify_signature(github(sig=sig), [secret(GH_SECRET)], public_url=URL)
    assert v.status == "invalid"
    assert v.detail.startswith("The signature matches HMAC-SHA256 in base64") and "in hex" in v.detail


def test_diagnosis_sha1_instead_of_sha256():
    import hmac

    sig = hmac.new(GH_SECRET.encode(), b"Hello, World!", "sha1").hexdigest()
    c = make_capture([("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", "sha256=" + sig)], b"Hello, World!")
    assert "HMAC-SHA1 in hex" in verify_signature(c, [secret(GH_SECRET)], public_url=URL).detail


def test_diagnosis_trailing_newline():
    v = verify_signature(github(body=b"Hello, World!\n"), [secret(GH_SECRET)], public_url=URL)
    assert "without its trailing newline" in v.detail


def test_diagnosis_reserialized_json():
    import hmac

    compact = b'{"a":1}'
    sig = hmac.new(b"k", compact, "sha256").hexdigest()
    c = make_capture([("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", "sha256=" + sig)], b'{"a": 1}')
    assert "re-serialized as compact JSON" in verify_signature(c, [secret("k")], public_url=URL).detail


def test_diagnosis_key_base64_decoded():
    import hmac

    key = base64.b64encode(b"raw-key-bytes").decode()
    sig = hmac.new(b"raw-key-bytes", b"body", "sha256").hexdigest()
    c = make_capture([("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", "sha256=" + sig)], b"body")
    assert "base64-decoded" in verify_signature(c, [secret(key)], public_url=URL).detail


def test_diagnosis_url_variant_for_url_signing():
    case = json.loads((VECTORS / "twilio.json").read_text())["vectors"][0]
    capture = make_capture(case["headers"], case["body"].encode(), query="foo=1&bar=2")
    v = verify_signature(capture, [secret("12345")], public_url="http://mycompany.com/myapp.php?foo=1&bar=2")
    assert v.status == "invalid" and "http and https swapped" in v.detail


def test_twilio_accepts_url_with_default_port():
    case = json.loads((VECTORS / "twilio.json").read_text())["vectors"][0]
    capture = make_capture(case["headers"], case["body"].encode())
    v = verify_signature(capture, [secret("12345")], public_url="https://mycompany.com:443/myapp.php?foo=1&bar=2")
    assert v.status == "valid"


def test_stripe_expired_reports_skew_and_window():
    s = samples.build_sample("stripe", secret="whsec_x", at=AT)
    c = make_capture(s.headers, s.body, at=AT + timedelta(seconds=301))
    v = verify_signature(c, [secret("whsec_x")], public_url=URL)
    assert v.status == "expired" and "301 s old" in v.detail and "300 s" in v.detail
    assert v.debug["timestamp_skew_seconds"] == 301 and v.debug["tolerance_seconds"] == 300


def test_stripe_secret_is_not_base64_decoded():
    s = samples.build_sample("standard-webhooks", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", at=AT)
    c = make_capture(s.headers, s.body)
    v = verify_signature(c, [secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")], public_url=URL)
    assert v.status == "valid"  # Standard Webhooks also accepts the bare base64 (Brex style)


def test_standard_webhooks_secret_format_error():
    s = samples.build_sample("standard-webhooks", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", at=AT)
    v = verify_signature(make_capture(s.headers, s.body), [secret("whsec_not base64!")], public_url=URL)
    assert v.status == "invalid" and "cannot be used" in v.detail


def test_dreamclass_warns_body_not_covered():
    case = json.loads((VECTORS / "dreamclass.json").read_text())["vectors"][0]
    v = verify_signature(make_capture(case["headers"], case["body"].encode()), [secret(case["secret"])], public_url=URL)
    assert v.status == "valid" and v.inferred
    assert v.warnings and "only the request id" in v.warnings[0]
    assert v.debug["key_interpretation"] == "text"


def test_dreamclass_base64_key_reading_is_reported():
    case = json.loads((VECTORS / "dreamclass.json").read_text())["vectors"][1]
    v = verify_signature(make_capture(case["headers"], case["body"].encode()), [secret(case["secret"])], public_url=URL)
    assert v.status == "valid" and "base64-decoded" in v.detail


def test_dreamclass_without_signature_is_unsigned():
    body = b'{"tenant":"t","timestamp":1,"id":"i","type":"X","data":{}}'
    assert verify_signature(make_capture([], body), [secret("s")], public_url=URL).status == "unsigned"


def test_edusign_no_match_says_unconfirmed():
    c = make_capture([("x-edusign-hmac", "ab" * 32)], b'{"type":"on_course_created"}')
    v = verify_signature(c, [secret("s")], public_url=URL)
    assert v.status == "invalid" and v.inferred and "unconfirmed" in v.detail


def test_dreamship_reports_matching_segment():
    case = json.loads((VECTORS / "dreamship.json").read_text())["vectors"][0]
    v = verify_signature(make_capture(case["headers"], case["body"].encode()), [secret("api-key-two")], public_url=URL)
    assert v.status == "valid" and "signature 2 of 2" in v.detail


def dreamship_with_space(key):
    """The Dreamship vector with its two signatures joined by ", " instead of ","."""
    case = json.loads((VECTORS / "dreamship.json").read_text())["vectors"][0]
    first, second = dict(case["headers"])["X-Dreamship-Signature"].split(",")
    capture = make_capture([("X-Dreamship-Signature", f"{first}, {second}")], case["body"].encode())
    return verify_signature(capture, [secret(key)], public_url=URL)


def test_dreamship_first_of_a_comma_space_list_still_matches():
    # The documented check (`calculated in header.split(',')`) finds the first segment as sent.
    v = dreamship_with_space("api-key-one")
    assert v.status == "valid" and "signature 1 of 2" in v.detail


def test_dreamship_comma_space_list_fails_after_the_first_and_says_why():
    v = dreamship_with_space("api-key-two")
    assert v.status == "invalid"
    assert "segment 2 of 2 matches only once its space is removed" in v.detail
    assert "splits X-Dreamship-Signature on ',' without trimming" in v.detail


def test_dreamship_comma_space_list_with_a_wrong_key_says_why_too():
    v = dreamship_with_space("wrong-key")
    assert v.status == "invalid" and "', '-separated" in v.detail and "even trimmed" in v.detail


def test_postmark_is_unsigned_with_explanation():
    body = b'{"RecordType":"Delivery","MessageStream":"outbound"}'
    v = verify_signature(make_capture([], body), [secret("s")], public_url=URL)
    assert v.status == "unsigned" and "Basic Auth" in v.detail


def test_paypal_with_a_secret_that_is_no_certificate_says_so():
    """PayPal is checked offline against the certificate the user stores (README, providers)."""
    c = make_capture([("PAYPAL-TRANSMISSION-SIG", "c2ln"), ("PAYPAL-TRANSMISSION-ID", "1")], b"{}")
    v = verify_signature(c, [secret("s")], public_url=URL)
    assert v.status == "invalid"
    assert "no PEM certificate" in v.detail


def test_explicit_detection_is_used():
    d = providers.Detection("github", "GitHub", None, None, ())
    assert (
        verify_signature(make_capture([], b"Hello, World!"), [secret(GH_SECRET)], public_url=URL, detection=d).status
        == "unsigned"
    )


def test_verification_to_json_shape():
    out = verification_to_json(Verification("none", detail="x."))
    assert set(out) == {"status", "scheme", "secret", "detail", "inferred", "warnings", "debug"}


def test_every_status_is_reachable():
    assert set(STATUSES) == {"valid", "invalid", "expired", "unsigned", "no_secret", "unverifiable", "none"}


def test_signed_preview_is_truncated():
    body = b"x" * 1000
    v = verify_signature(github(body=body), [secret(GH_SECRET)], public_url=URL)
    assert len(v.debug["signed_preview"]) <= 201
