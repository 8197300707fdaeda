"""Entries for developer and workplace tools: code hosting, issue trackers, files, forms."""

from inspector.signing.providers.model import BodyArrayOf, BodyKeys, BodyValue, Handshake, HasHeader, HasQuery, Provider
from inspector.signing.schemes import BodyField, Fields, Header, Hmac, SdkRules, Token, When, Window, standard_webhooks

GITHUB = Provider(
    id="github",
    name="GitHub",
    docs="https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries",
    detect=(
        (HasHeader("X-GitHub-Event"),),
        (HasHeader("X-GitHub-Delivery"),),
        (HasHeader("User-Agent", startswith="GitHub-Hookshot/"),),
    ),
    schemes=(
        Hmac(signature=Header("X-Hub-Signature-256", prefix="sha256="), label="GitHub sha256="),
        Hmac(signature=Header("X-Hub-Signature", prefix="sha1="), algorithm="sha1", label="GitHub sha1= (legacy)"),
    ),
    event=("header:X-GitHub-Event+body:action", "header:X-GitHub-Event"),
    delivery_id=("header:X-GitHub-Delivery",),
    known="official vector",
)

GITLAB = Provider(
    id="gitlab",
    name="GitLab",
    docs="https://docs.gitlab.com/user/project/integrations/webhooks/",
    detect=((HasHeader("X-Gitlab-Event"),), (HasHeader("X-Gitlab-Token"),), (HasHeader("X-Gitlab-Instance"),)),
    # The signing token (Standard Webhooks format) when present, else the classic plain token.
    schemes=(
        standard_webhooks(label="GitLab signing token (Standard Webhooks)"),
        Token(Header("X-Gitlab-Token"), label="GitLab secret token"),
    ),
    event=("header:X-Gitlab-Event", "body:object_kind"),
    delivery_id=("header:X-Gitlab-Event-UUID", "header:Idempotency-Key"),
    known="docs only",
    secret="the webhook secret token (or a whsec_ signing token)",
)

BITBUCKET = Provider(
    id="bitbucket",
    name="Bitbucket",
    docs="https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/",
    detect=(
        (HasHeader("X-Event-Key"), HasHeader("X-Hook-UUID")),
        (HasHeader("X-Event-Key"), HasHeader("X-Request-UUID")),
        (HasHeader("User-Agent", startswith="Bitbucket-Webhooks/"),),
    ),
    schemes=(Hmac(signature=Header("X-Hub-Signature", prefix="sha256="), label="Bitbucket sha256="),),
    event=("header:X-Event-Key",),
    delivery_id=("header:X-Request-UUID", "header:X-Request-Id"),
)

JIRA = Provider(
    id="jira",
    name="Jira",
    docs="https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks",
    detect=(
        (HasHeader("X-Atlassian-Webhook-Identifier"),),
        (BodyValue("webhookEvent", startswith="jira:"),),
        (BodyKeys(("webhookEvent", "timestamp")), HasHeader("X-Hub-Signature")),
    ),
    schemes=(Hmac(signature=Header("X-Hub-Signature", prefix="sha256="), label="Jira sha256="),),
    event=("body:webhookEvent",),
    delivery_id=("header:X-Atlassian-Webhook-Identifier",),
)

LINEAR = Provider(
    id="linear",
    name="Linear",
    docs="https://linear.app/developers/webhooks#securing-webhooks",
    detect=((HasHeader("Linear-Signature"),), (HasHeader("Linear-Delivery"),)),
    # The timestamp that counts is webhookTimestamp (ms) inside the signed body, 60 s window.
    schemes=(
        Hmac(
            signature=Header("Linear-Signature"),
            timestamp=BodyField("webhookTimestamp"),
            timestamp_format="ms",
            tolerance=60,
            label="Linear HMAC-SHA256 hex",
        ),
    ),
    event=("header:Linear-Event+body:action", "body:type+body:action"),
    delivery_id=("header:Linear-Delivery",),
)

SENTRY = Provider(
    id="sentry",
    name="Sentry",
    docs="https://docs.sentry.io/organization/integrations/integration-platform/webhooks/",
    detect=((HasHeader("Sentry-Hook-Signature"),), (HasHeader("Sentry-Hook-Resource"),)),
    schemes=(Hmac(signature=Header("Sentry-Hook-Signature"), label="Sentry HMAC-SHA256 hex"),),
    event=("header:Sentry-Hook-Resource+body:action", "header:Sentry-Hook-Resource"),
    delivery_id=("header:Request-ID",),
    secret="the integration's client secret",
)

VERCEL = Provider(
    id="vercel",
    name="Vercel",
    docs="https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks",
    detect=((HasHeader("x-vercel-signature"),),),
    schemes=(Hmac(signature=Header("x-vercel-signature"), algorithm="sha1", label="Vercel HMAC-SHA1 hex"),),
    event=("body:type",),
    delivery_id=("body:id",),
)

NETLIFY = Provider(
    id="netlify",
    name="Netlify",
    docs="https://docs.netlify.com/site-deploys/deploy-notifications/#payload-signature",
    detect=(
        (HasHeader("X-Netlify-Event"),),
        (HasHeader("X-Webhook-Signature", shape="jwt"), BodyKeys(("site_id", "deploy_url"))),
    ),
    # The signature is a JWS (HS256) whose claims hash the body; not checked yet.
    schemes=(),
    unsigned="Netlify signs with a JWS in X-Webhook-Signature, which Hookloupe does not check yet",
    event=("header:X-Netlify-Event", "body:state"),
    delivery_id=("body:id",),
)

ASANA = Provider(
    id="asana",
    name="Asana",
    docs="https://developers.asana.com/docs/webhooks-guide",
    detect=(
        (HasHeader("X-Hook-Signature"), BodyKeys(("events",))),
        (HasHeader("X-Hook-Secret"),),
    ),
    schemes=(Hmac(signature=Header("X-Hook-Signature"), label="Asana HMAC-SHA256 hex"),),
    secret="the X-Hook-Secret from the handshake",
)

TRELLO = Provider(
    id="trello",
    name="Trello",
    docs="https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/",
    detect=((HasHeader("X-Trello-Webhook"),),),
    schemes=(
        Hmac(
            signature=Header("X-Trello-Webhook"),
            template="{body}{url}",
            algorithm="sha1",
            encoding="base64",
            label="Trello HMAC-SHA1 of body + callback URL",
        ),
    ),
    event=("body:action.type",),
    delivery_id=("body:action.id",),
    secret="your app's OAuth secret",
)

BOX = Provider(
    id="box",
    name="Box",
    docs="https://developer.box.com/guides/webhooks/v2/signatures-v2/",
    detect=((HasHeader("BOX-SIGNATURE-PRIMARY"),), (HasHeader("BOX-DELIVERY-ID"),)),
    schemes=(
        Hmac(
            signature=Header("BOX-SIGNATURE-PRIMARY", alt=("BOX-SIGNATURE-SECONDARY",)),
            template="{body}{ts}",
            encoding="base64",
            bodies=("raw", "escape-unicode"),  # as sent, then non-ASCII \u-escaped: the SDK tries both
            timestamp=Header("BOX-DELIVERY-TIMESTAMP"),
            timestamp_format="iso-python",
            tolerance=600,
            window=Window(600, 0, whole_seconds=True),  # never in the future, in whole seconds
            label="Box HMAC-SHA256 of body + timestamp",
            sdk=SdkRules(
                "box-sdk-gen", requires=(("BOX-SIGNATURE-VERSION", "1"), ("BOX-SIGNATURE-ALGORITHM", "HmacSHA256"))
            ),
        ),
    ),
    event=("body:trigger",),
    delivery_id=("header:BOX-DELIVERY-ID",),
    known="SDK oracle",
    secret="the primary or secondary signature key",
)

DROPBOX = Provider(
    id="dropbox",
    name="Dropbox",
    docs="https://www.dropbox.com/developers/reference/webhooks",
    detect=((HasHeader("X-Dropbox-Signature"),), (HasQuery("challenge"), HasHeader("User-Agent", contains="Dropbox"))),
    schemes=(Hmac(signature=Header("X-Dropbox-Signature"), label="Dropbox HMAC-SHA256 hex"),),
    secret="your app secret",
)

DOCUSIGN = Provider(
    id="docusign",
    name="DocuSign",
    docs="https://developers.docusign.com/platform/webhooks/connect/hmac/",
    detect=((HasHeader("X-DocuSign-Signature-1"),), (HasHeader("X-DocuSign-AccountId"),)),
    schemes=(
        Hmac(
            signature=Header("X-DocuSign-Signature-1", alt=tuple(f"X-DocuSign-Signature-{n}" for n in range(2, 11))),
            encoding="base64",
            label="DocuSign HMAC-SHA256 base64",
        ),
    ),
    event=("body:event",),
    delivery_id=("body:data.envelopeId",),
    secret="a Connect HMAC key",
)

TYPEFORM = Provider(
    id="typeform",
    name="Typeform",
    docs="https://www.typeform.com/developers/webhooks/secure-your-webhooks/",
    detect=((HasHeader("Typeform-Signature"),), (BodyKeys(("event_id", "event_type", "form_response")),)),
    schemes=(
        Hmac(
            signature=Header("Typeform-Signature", prefix="sha256="), encoding="base64", label="Typeform sha256= base64"
        ),
    ),
    event=("body:event_type",),
    delivery_id=("body:event_id",),
)

CALENDLY = Provider(
    id="calendly",
    name="Calendly",
    docs="https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures",
    detect=((HasHeader("Calendly-Webhook-Signature"),),),
    schemes=(
        Hmac(
            signature=Fields("Calendly-Webhook-Signature"),
            template="{ts}.{body}",
            tolerance=180,
            label="Calendly t=,v1=",
        ),
    ),
    event=("body:event",),
    secret="the webhook signing key",
)

ZENDESK = Provider(
    id="zendesk",
    name="Zendesk",
    docs="https://developer.zendesk.com/documentation/webhooks/verifying/",
    detect=((HasHeader("x-zendesk-webhook-signature"),), (HasHeader("x-zendesk-webhook-id"),)),
    schemes=(
        Hmac(
            signature=Header("x-zendesk-webhook-signature"),
            template="{ts}{body}",
            encoding="base64",
            timestamp=Header("x-zendesk-webhook-signature-timestamp"),
            timestamp_format="iso",
            label="Zendesk HMAC-SHA256 of timestamp + body",
        ),
    ),
    event=("body:type",),
    delivery_id=("header:x-zendesk-webhook-invocation-id",),
)

HUBSPOT = Provider(
    id="hubspot",
    name="HubSpot",
    docs="https://developers.hubspot.com/docs/api/webhooks/validating-requests",
    detect=(
        (HasHeader("X-HubSpot-Signature-v3"),),
        (HasHeader("X-HubSpot-Signature"),),
        (BodyArrayOf(("eventId", "subscriptionId", "portalId", "subscriptionType")),),
    ),
    schemes=(
        Hmac(
            signature=Header("X-HubSpot-Signature-v3"),
            template="{method}{url}{body}{ts}",
            encoding="base64",
            timestamp=Header("X-HubSpot-Request-Timestamp"),
            timestamp_format="ms-seconds",  # cut to whole seconds; only old ones rejected (the SDK's rule)
            tolerance=300,
            window=Window(300, None, strict_past=True),
            label="HubSpot v3",
            sdk=SdkRules("hubspot-api-client"),
        ),
        Hmac(
            signature=Header("X-HubSpot-Signature"),
            template="{method}{url}{body}",
            mac="hash-secret-first",
            when=When("X-HubSpot-Signature-Version", "v2"),
            label="HubSpot v2",
            sdk=SdkRules("hubspot-api-client"),
        ),
        Hmac(
            signature=Header("X-HubSpot-Signature"),
            mac="hash-secret-first",
            when=When("X-HubSpot-Signature-Version", "v1"),
            label="HubSpot v1",
            sdk=SdkRules("hubspot-api-client"),
        ),
    ),
    event=("body:0.subscriptionType",),
    delivery_id=("body:0.eventId",),
    known="SDK oracle",
    secret="your app's client secret",
)

INTERCOM = Provider(
    id="intercom",
    name="Intercom",
    docs="https://developers.intercom.com/docs/webhooks/webhook-notifications",
    detect=((BodyValue("type", equals="notification_event"), BodyKeys(("topic", "app_id"))),),
    schemes=(Hmac(signature=Header("X-Hub-Signature", prefix="sha1="), algorithm="sha1", label="Intercom sha1="),),
    event=("body:topic",),
    delivery_id=("body:id",),
    secret="your app's client secret",
)

ZOOM = Provider(
    id="zoom",
    name="Zoom",
    docs="https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events",
    detect=(
        (HasHeader("x-zm-signature"),),
        (BodyValue("event", equals="endpoint.url_validation"), BodyValue("payload.plainToken")),
    ),
    schemes=(
        Hmac(
            signature=Header("x-zm-signature", prefix="v0="),
            template="v0:{ts}:{body}",
            timestamp=Header("x-zm-request-timestamp"),
            label="Zoom v0=",
        ),
    ),
    event=("body:event",),
    delivery_id=("header:x-zm-trackingid",),
    secret="the app's Secret Token",
    handshake=Handshake(
        probe_body=b"endpoint.url_validation",
        method="POST",
        when=(BodyValue("event", equals="endpoint.url_validation"),),
        challenge="body:payload.plainToken",
        answer="hmac",
    ),
)

MICROSOFT_GRAPH = Provider(
    id="microsoft-graph",
    name="Microsoft Graph",
    docs="https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks",
    detect=((HasQuery("validationToken"),), (BodyValue("value.0.subscriptionId"), BodyValue("value.0.changeType"))),
    # clientState is the secret you set on the subscription, echoed in every notification.
    schemes=(Token(BodyField("value.0.clientState"), label="Graph clientState"),),
    event=("body:value.0.changeType",),
    delivery_id=("body:value.0.subscriptionId",),
    secret="the clientState you set on the subscription",
    handshake=Handshake(probe_query="validationToken=", challenge="query:validationToken"),
)

OKTA = Provider(
    id="okta",
    name="Okta",
    docs="https://developer.okta.com/docs/concepts/event-hooks/",
    detect=((HasHeader("x-okta-verification-challenge"),), (BodyValue("eventType", equals="com.okta.event_hook"),)),
    schemes=(Token(Header("Authorization"), label="Okta authorization header"),),
    event=("body:data.events.0.eventType", "body:eventType"),
    delivery_id=("body:eventId",),
    secret="the authorization header value configured on the event hook",
)

CLOUDFLARE = Provider(
    id="cloudflare",
    name="Cloudflare",
    docs="https://developers.cloudflare.com/notifications/get-started/configure-webhooks/",
    detect=((HasHeader("cf-webhook-auth"),),),
    schemes=(Token(Header("cf-webhook-auth"), label="Cloudflare cf-webhook-auth"),),
    event=("body:alert_type",),
    secret="the secret set on the webhook destination",
)

ENTRIES = (
    GITHUB,
    GITLAB,
    BITBUCKET,
    JIRA,
    LINEAR,
    SENTRY,
    VERCEL,
    NETLIFY,
    ASANA,
    TRELLO,
    BOX,
    DROPBOX,
    DOCUSIGN,
    TYPEFORM,
    CALENDLY,
    ZENDESK,
    HUBSPOT,
    INTERCOM,
    ZOOM,
    MICROSOFT_GRAPH,
    OKTA,
    CLOUDFLARE,
)
