"""Entries for generic signing standards (Standard Webhooks, Svix): matched only as fallbacks."""

from inspector.signing.providers.model import HasHeader, Provider
from inspector.signing.schemes import standard_webhooks

STANDARD_WEBHOOKS = Provider(
    id="standard-webhooks",
    name="Standard Webhooks",
    docs="https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
    detect=(
        (HasHeader("webhook-id"), HasHeader("webhook-signature")),
        (HasHeader("webhook-id"), HasHeader("webhook-timestamp")),
    ),
    schemes=(standard_webhooks("webhook"),),
    event=("body:type",),
    delivery_id=("header:webhook-id",),
    known="official vector",
    secret="the whsec_… secret",
    generic=True,
)

SVIX = Provider(
    id="svix",
    name="Svix",
    docs="https://docs.svix.com/receiving/verifying-payloads/how-manual",
    detect=((HasHeader("svix-id"), HasHeader("svix-signature")), (HasHeader("svix-id"), HasHeader("svix-timestamp"))),
    schemes=(standard_webhooks("svix", label="Svix", library="svix"),),
    event=("body:type",),
    delivery_id=("header:svix-id",),
    known="official vector",
    secret="the endpoint's whsec_… secret",
    generic=True,
)

ENTRIES = (STANDARD_WEBHOOKS, SVIX)
