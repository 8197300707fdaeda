"""The shared-token scheme: the secret itself is sent in a header or body field."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from inspector.signing.schemes.defaults import SchemeDefaults
from inspector.signing.schemes.errors import SignatureMismatchError
from inspector.signing.schemes.locators import BodyField, Header
from inspector.signing.schemes.match import Match
from inspector.signing.schemes.message import Message, set_field


@dataclass(frozen=True)
class Token(SchemeDefaults):
    """A shared secret sent as is (GitLab `X-Gitlab-Token`, Telegram, Okta, Cloudflare):
    the header or body field must equal the secret."""

    signature: Header | BodyField
    label: str = "shared token"
    inferred: bool = False

    def sign(self, msg: Message, secret: str, *, at: datetime) -> Message:
        if isinstance(self.signature, BodyField):
            return replace(msg, body=set_field(msg.body, self.signature.path, secret))
        return msg.with_header(self.signature.name, self.signature.prefix + secret)

    def verify(self, msg: Message, secret: str, *, at: datetime) -> Match:
        received = self.signature.signatures(msg)[0]
        # Never echo the token itself: it is the secret.
        debug: dict[str, Any] = {
            "algorithm": "plain comparison",
            "encoding": "text",
            "received": [f"{len(received)} characters"],
            "key_reading": "text",
        }
        if not hmac.compare_digest(received.encode(), secret.encode()):
            raise SignatureMismatchError("the token does not equal this secret", **debug)
        return Match(scheme=self.name, debug=debug)
