"""Second-round entries (WorkOS, Mux, PagerDuty, CI tools, Svix and Standard Webhooks senders,
Vonage...), and the offline schemes that make Netlify, PayPal and Plaid verifiable (`extend`)."""

from dataclasses import replace
from typing import Any

from inspector.signing.providers.model import BodyKeys, BodyValue, HasHeader, Provider
from inspector.signing.schemes import Fields, Header, Hmac, JwtBodyHash, RsaCertificate, Token, standard_webhooks

# --- Netlify, PayPal and Plaid: entries declared elsewhere, given a scheme here -------------
# Each change is applied to the entry of that id by `extend`, which keeps the entry's own
# detection, event and delivery id as declared.

UPGRADES: dict[str, dict[str, Any]] = {
    "netlify": {
        "schemes": (
            JwtBodyHash(
                signature=Header("X-Webhook-Signature"), hash_claim="sha256", issuer="netlify", label="Netlify JWS"
            ),
        ),
        "unsigned": "",
        "secret": "the JWS secret token set on the deploy notification",
    },
    "paypal": {
        "schemes": (
            RsaCertificate(
                signature=Header("PAYPAL-TRANSMISSION-SIG"),
                transmission_id=Header("PAYPAL-TRANSMISSION-ID"),
                transmission_time=Header("PAYPAL-TRANSMISSION-TIME"),
                algorithm=Header("PAYPAL-AUTH-ALGO"),
                cert_url=Header("PAYPAL-CERT-URL"),
                label="PayPal certificate RSA",
            ),
        ),
        "known": "official vector",
        "secret": "the webhook ID on one line and the certificate PEM from PAYPAL-CERT-URL below it",
    },
    "plaid": {
        "schemes": (
            JwtBodyHash(
                signature=Header("Plaid-Verification"),
                algorithm="ES256",
                hash_claim="request_body_sha256",
                tolerance=300,
                label="Plaid ES256 JWT",
            ),
        ),
        "secret": "the JWK from /webhook_verification_key/get for the kid in the JWT header",
    },
}

# --- new entries ------------------------------------------------------------------------------

WORKOS = Provider(
    id="workos",
    name="WorkOS",
    docs="https://workos.com/docs/events/data-syncing/webhooks",
    detect=((HasHeader("WorkOS-Signature"),),),
    # The timestamp is in milliseconds; the SDKs' default window is 180 s.
    schemes=(
        Hmac(
            signature=Fields("WorkOS-Signature"),
            template="{ts}.{body}",
            timestamp_format="ms",
            tolerance=180,
            label="WorkOS t=,v1=",
        ),
    ),
    event=("body:event",),
    delivery_id=("body:id",),
    known="official vector",
    secret="the endpoint's webhook secret",
)

MUX = Provider(
    id="mux",
    name="Mux",
    docs="https://www.mux.com/docs/core/verify-webhook-signatures",
    detect=((HasHeader("Mux-Signature"),),),
    schemes=(Hmac(signature=Fields("Mux-Signature"), template="{ts}.{body}", tolerance=300, label="Mux t=,v1="),),
    event=("body:type",),
    delivery_id=("body:id",),
    known="official vector",
    secret="the webhook's signing secret",
)

PAGERDUTY = Provider(
    id="pagerduty",
    name="PagerDuty",
    docs="https://developer.pagerduty.com/docs/webhooks-v3-signatures",
    detect=((HasHeader("X-PagerDuty-Signature"),), (HasHeader("User-Agent", startswith="PagerDuty-Webhook/"),)),
    # One v1= entry per active secret, comma-separated, during a rotation.
    schemes=(Hmac(signature=Header("X-PagerDuty-Signature", separator=",", item_prefix="v1="), label="PagerDuty v1="),),
    event=("body:event.event_type",),
    delivery_id=("body:event.id",),
    known="official vector",
    secret="the v3 webhook subscription's secret",
)

BUILDKITE = Provider(
    id="buildkite",
    name="Buildkite",
    docs="https://buildkite.com/docs/apis/webhooks/pipelines",
    detect=(
        (HasHeader("X-Buildkite-Event"),),
        (HasHeader("X-Buildkite-Signature"),),
        (HasHeader("X-Buildkite-Token"),),
    ),
    # The webhook sends either an HMAC signature or its token in clear, as configured.
    schemes=(
        Hmac(
            signature=Fields("X-Buildkite-Signature", sig_key="signature", ts_key="timestamp"),
            template="{ts}.{body}",
            label="Buildkite timestamp=,signature=",
        ),
        Token(Header("X-Buildkite-Token"), label="Buildkite token"),
    ),
    event=("header:X-Buildkite-Event", "body:event"),
    known="docs only",
    secret="the webhook's token",
)

PERSONA = Provider(
    id="persona",
    name="Persona",
    docs="https://docs.withpersona.com/docs/webhooks-best-practices",
    detect=((HasHeader("Persona-Signature"),),),
    schemes=(Hmac(signature=Fields("Persona-Signature"), template="{ts}.{body}", label="Persona t=,v1="),),
    event=("body:data.attributes.name",),
    delivery_id=("body:data.id",),
    secret="the webhook secret (wbhsec_…)",
)

WEBFLOW = Provider(
    id="webflow",
    name="Webflow",
    docs="https://developers.webflow.com/data/docs/working-with-webhooks",
    detect=(
        (HasHeader("x-webflow-signature"),),
        (HasHeader("x-webflow-timestamp"),),
        (BodyKeys(("triggerType", "payload")),),
    ),
    # Only webhooks created by an OAuth app are signed; the timestamp is in milliseconds.
    schemes=(
        Hmac(
            signature=Header("x-webflow-signature"),
            template="{ts}:{body}",
            timestamp=Header("x-webflow-timestamp"),
            timestamp_format="ms",
            tolerance=300,
            label="Webflow HMAC-SHA256",
        ),
    ),
    event=("body:triggerType",),
    secret="the OAuth app's client secret (or the webhook's secret)",
)

CLERK = Provider(
    id="clerk",
    name="Clerk",
    docs="https://clerk.com/docs/webhooks/overview",
    # Svix headers alone are the generic Svix entry; Clerk's event envelope decides.
    detect=((HasHeader("svix-id"), BodyValue("object", equals="event"), BodyKeys(("type", "data"))),),
    schemes=(standard_webhooks("svix", label="Clerk (Svix)"),),
    event=("body:type",),
    delivery_id=("header:svix-id",),
    secret="the endpoint's signing secret (whsec_…)",
)

RESEND = Provider(
    id="resend",
    name="Resend",
    docs="https://resend.com/docs/webhooks/verify-webhooks-requests",
    detect=((HasHeader("svix-id"), BodyValue("type", startswith="email."), BodyValue("data.email_id")),),
    schemes=(standard_webhooks("svix", label="Resend (Svix)"),),
    event=("body:type",),
    delivery_id=("header:svix-id",),
    secret="the webhook's signing secret (whsec_…)",
)

REPLICATE = Provider(
    id="replicate",
    name="Replicate",
    docs="https://replicate.com/docs/topics/webhooks/verify-webhook",
    detect=((HasHeader("webhook-id"), BodyValue("urls.get", startswith="https://api.replicate.com/")),),
    schemes=(standard_webhooks("webhook", label="Replicate (Standard Webhooks)"),),
    event=("body:status",),
    delivery_id=("header:webhook-id",),
    secret="the account's webhook signing secret (whsec_…, GET /v1/webhooks/default/secret)",
)

VONAGE = Provider(
    id="vonage",
    name="Vonage",
    docs="https://developer.vonage.com/en/messages/concepts/signed-webhooks",
    # A bearer JWT alone could be anyone's: the Messages API body decides.
    detect=(
        (HasHeader("Authorization", startswith="Bearer "), BodyKeys(("message_uuid", "channel"))),
        (BodyKeys(("message_uuid", "channel", "to", "from")),),
    ),
    schemes=(
        JwtBodyHash(
            signature=Header("Authorization", prefix="Bearer "), hash_claim="payload_hash", label="Vonage JWT HS256"
        ),
    ),
    event=("body:status", "body:message_type"),
    delivery_id=("body:message_uuid",),
    secret="the account's signature secret",
)

CIRCLECI = Provider(
    id="circleci",
    name="CircleCI",
    docs="https://circleci.com/docs/guides/integration/outbound-webhooks/",
    detect=((HasHeader("circleci-signature"),), (BodyKeys(("happened_at", "webhook", "pipeline")),)),
    schemes=(Hmac(signature=Header("circleci-signature", separator=",", item_prefix="v1="), label="CircleCI v1="),),
    event=("body:type",),
    delivery_id=("body:id",),
    secret="the webhook's secret token",
)

TERRAFORM = Provider(
    id="hcp-terraform",
    name="HCP Terraform",
    docs="https://developer.hashicorp.com/terraform/cloud-docs/workspaces/settings/notifications",
    detect=(
        (HasHeader("X-TFE-Notification-Signature"),),
        (BodyKeys(("payload_version", "notification_configuration_id")),),
    ),
    schemes=(
        Hmac(signature=Header("X-TFE-Notification-Signature"), algorithm="sha512", label="HCP Terraform HMAC-SHA512"),
    ),
    event=("body:notifications.0.trigger",),
    delivery_id=("body:run_id",),
    secret="the notification configuration's token",
)

PUSHER = Provider(
    id="pusher",
    name="Pusher Channels",
    docs="https://pusher.com/docs/channels/server_api/webhooks/",
    detect=((HasHeader("X-Pusher-Signature"),), (HasHeader("X-Pusher-Key"), BodyKeys(("time_ms", "events")))),
    schemes=(Hmac(signature=Header("X-Pusher-Signature"), label="Pusher HMAC-SHA256"),),
    event=("body:events.0.name",),
    secret="the app secret of the key in X-Pusher-Key",
)

ENTRIES = (
    WORKOS,
    MUX,
    PAGERDUTY,
    BUILDKITE,
    PERSONA,
    WEBFLOW,
    CLERK,
    RESEND,
    REPLICATE,
    VONAGE,
    CIRCLECI,
    TERRAFORM,
    PUSHER,
)


def extend(registry: tuple[Provider, ...]) -> tuple[Provider, ...]:
    """`registry` with the UPGRADES applied to the entries of those ids (in place, so their
    order and detection stay as declared) and the new entries after it. Specific rules
    outrank generic ones whatever the order, so appending after Svix is safe."""
    upgraded = tuple(replace(entry, **UPGRADES[entry.id]) if entry.id in UPGRADES else entry for entry in registry)
    return (*upgraded, *ENTRIES)
