"""Samples: each signable provider's sample is detected as it and verifies as valid."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from inspector.capture.request import CapturedRequest
from inspector.signing import samples
from inspector.signing.providers import detect
from inspector.signing.verify import SecretValue, verify_signature

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
URL = "https://hooks.example.com/h/bin1/in?x=1"
SECRETS = {
    "adyen": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
    "standard-webhooks": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "svix": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


def as_capture(sample, at=AT):
    ct = next((v for k, v in sample.headers if k.lower() == "content-type"), "")
    return CapturedRequest(
        method=sample.method,
        path="/in",
        query_string=urlsplit(URL).query,
        headers=tuple(sample.headers),
        body=sample.body,
        body_size=len(sample.body),
        body_truncated=False,
        remote_addr="203.0.113.9",
        received_at=at,
        content_type=ct,
    )


def test_required_providers_are_signable():
    for pid in (
        "dreamclass",
        "studiewinkel",
        "edusign",
        "eduzz",
        "dreamship",
        "github",
        "stripe",
        "slack",
        "shopify",
        "standard-webhooks",
    ):
        assert pid in samples.signable_providers()


@pytest.mark.parametrize("provider_id", samples.signable_providers())
def test_sample_is_detected_and_valid(provider_id):
    secret = SECRETS.get(provider_id, "s3cret-value")
    sample = samples.build_sample(provider_id, secret=secret, at=AT, url=URL)
    capture = as_capture(sample, AT + timedelta(seconds=1))
    assert detect(capture).provider_id == provider_id
    v = verify_signature(capture, [SecretValue(1, "cli", None, secret)], public_url=URL)
    assert v.status == "valid", v.detail


def test_event_is_substituted():
    sample = samples.build_sample("github", secret="s", event="push", at=AT)
    assert ("X-GitHub-Event", "push") in sample.headers
    assert detect(as_capture(sample)).event == "push"


def test_url_signing_provider_requires_url():
    with pytest.raises(ValueError):
        samples.build_sample("twilio", secret="s", at=AT)


def test_unknown_provider_raises_key_error():
    with pytest.raises(KeyError):
        samples.build_sample("nope", secret="s", at=AT)


def test_sample_is_deterministic():
    a = samples.build_sample("stripe", secret="whsec_x", at=AT)
    b = samples.build_sample("stripe", secret="whsec_x", at=AT)
    assert a == b and isinstance(a.body, bytes)
