"""Entries for messaging, email and social platforms: Slack, Twilio, SendGrid, Meta and others."""

from inspector.signing.providers.model import BodyArrayOf, BodyKeys, BodyValue, Handshake, HasHeader, HasQuery, Provider
from inspector.signing.schemes import BodyField, Ecdsa, Ed25519, Header, Hmac, SdkRules, Token, When

TWILIO_SETTINGS = "X-Twilio-Webhooks-Signature-Settings"

SLACK = Provider(
    id="slack",
    name="Slack",
    docs="https://api.slack.com/authentication/verifying-requests-from-slack",
    detect=(
        (HasHeader("X-Slack-Signature"),),
        (HasHeader("X-Slack-Request-Timestamp"),),
        (HasHeader("User-Agent", startswith="Slackbot"),),
    ),
    schemes=(
        Hmac(
            signature=Header("X-Slack-Signature", prefix="v0="),
            template="v0:{ts}:{body}",
            timestamp=Header("X-Slack-Request-Timestamp"),
            timestamp_format="int",
            tolerance=300,
            label="Slack v0=",
            sdk=SdkRules("slack_sdk"),
        ),
    ),
    event=("body:event.type", "body:type", "body:command"),
    delivery_id=("body:event_id", "body:trigger_id"),
    known="official vector",
    secret="the app's signing secret",
    handshake=Handshake(
        probe_body=b"url_verification",
        method="POST",
        when=(BodyValue("type", equals="url_verification"),),
        challenge="body:challenge",
        answer="json",
    ),
)

TWILIO = Provider(
    id="twilio",
    name="Twilio",
    docs="https://www.twilio.com/docs/usage/webhooks/webhooks-security",
    detect=((HasHeader("X-Twilio-Signature"),), (HasHeader("I-Twilio-Idempotency-Token"),)),
    # Twilio's SDK checks the URL without any port and with the default one; the algorithm
    # is the settings header's (absent: SHA-1); a JSON body is checked through bodySHA256.
    schemes=(
        Hmac(
            signature=Header("X-Twilio-Signature"),
            template="{url}{params}",
            algorithm="sha256",
            encoding="base64",
            urls=("without-port", "with-port"),
            when=When(TWILIO_SETTINGS, "HMAC_SHA256", key="algorithm", ignore_case=True),
            body_hash="bodySHA256",
            label="Twilio HMAC-SHA256",
            sdk=SdkRules("twilio", utf8_body=False),
        ),
        Hmac(
            signature=Header("X-Twilio-Signature"),
            template="{url}{params}",
            algorithm="sha1",
            encoding="base64",
            urls=("without-port", "with-port"),
            when=When(TWILIO_SETTINGS, "HMAC_SHA1", key="algorithm", ignore_case=True, if_absent=True),
            body_hash="bodySHA256",
            label="Twilio HMAC-SHA1",
            sdk=SdkRules("twilio", utf8_body=False),
        ),
    ),
    event=("body:MessageStatus", "body:SmsStatus", "body:CallStatus"),
    delivery_id=("header:I-Twilio-Idempotency-Token", "body:MessageSid", "body:CallSid"),
    known="official vector",
    secret="the account's Auth Token",
)

SENDGRID = Provider(
    id="sendgrid",
    name="SendGrid",
    docs="https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features",
    detect=((HasHeader("X-Twilio-Email-Event-Webhook-Signature"),), (BodyArrayOf(("sg_event_id", "event")),)),
    schemes=(
        Ecdsa(
            signature=Header("X-Twilio-Email-Event-Webhook-Signature"),
            timestamp=Header("X-Twilio-Email-Event-Webhook-Timestamp"),
            label="SendGrid ECDSA P-256",
            sdk=SdkRules("sendgrid"),
        ),
    ),
    event=("body:0.event",),
    delivery_id=("body:0.sg_event_id",),
    known="official vector",
    secret="the verification key (base64 public key) from Mail Settings",
)

DISCORD = Provider(
    id="discord",
    name="Discord",
    docs="https://discord.com/developers/docs/interactions/overview",
    detect=((HasHeader("X-Signature-Ed25519"),),),
    schemes=(
        Ed25519(
            signature=Header("X-Signature-Ed25519"), timestamp=Header("X-Signature-Timestamp"), label="Discord Ed25519"
        ),
    ),
    event=("body:event.type", "body:type"),
    delivery_id=("body:id",),
    known="docs only",
    secret="the application's public key (hex)",
)

MAILGUN = Provider(
    id="mailgun",
    name="Mailgun",
    docs="https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks",
    detect=(
        (BodyKeys(("signature", "event-data")),),
        (BodyValue("timestamp"), BodyValue("token"), BodyValue("signature"), BodyValue("event")),
    ),
    schemes=(
        Hmac(
            signature=BodyField("signature.signature"),
            template="{ts}{field:signature.token}",
            timestamp=BodyField("signature.timestamp"),
            timestamp_format="int",
            tolerance=900,
            label="Mailgun HMAC-SHA256",
            sdk=SdkRules("mailgun", utf8_body=False),
        ),
        Hmac(
            signature=BodyField("signature"),
            template="{ts}{field:token}",
            timestamp=BodyField("timestamp"),
            timestamp_format="int",
            tolerance=900,
            label="Mailgun HMAC-SHA256 (form)",
            sdk=SdkRules("mailgun", utf8_body=False),
        ),
    ),
    event=("body:event-data.event", "body:event"),
    delivery_id=("body:event-data.id",),
    known="SDK oracle",
    secret="the HTTP webhook signing key",
)

POSTMARK = Provider(
    id="postmark",
    name="Postmark",
    docs="https://postmarkapp.com/developer/webhooks/webhooks-overview",
    detect=((BodyKeys(("RecordType", "MessageStream")),), (BodyKeys(("FromFull", "MessageStream")),)),
    unsigned="Postmark does not sign webhooks; protect the URL with Basic Auth or a token",
    event=("body:RecordType",),
    delivery_id=("body:MessageID",),
)

MANDRILL = Provider(
    id="mandrill",
    name="Mandrill",
    docs="https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/",
    detect=((HasHeader("X-Mandrill-Signature"),),),
    schemes=(
        Hmac(
            signature=Header("X-Mandrill-Signature"),
            template="{url}{params}",
            algorithm="sha1",
            encoding="base64",
            label="Mandrill HMAC-SHA1 of URL + params",
        ),
    ),
    secret="the webhook key",
)

TELEGRAM = Provider(
    id="telegram",
    name="Telegram",
    docs="https://core.telegram.org/bots/api#setwebhook",
    detect=((HasHeader("X-Telegram-Bot-Api-Secret-Token"),), (BodyValue("update_id"), BodyValue("message.chat.id"))),
    schemes=(Token(Header("X-Telegram-Bot-Api-Secret-Token"), label="Telegram secret token"),),
    delivery_id=("body:update_id",),
    secret="the secret_token given to setWebhook",
)

META = Provider(
    id="meta",
    name="Meta",
    docs="https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
    detect=(
        (HasHeader("X-Hub-Signature-256"), BodyKeys(("object", "entry"))),
        (HasHeader("X-Hub-Signature"), BodyKeys(("object", "entry"))),
        (HasQuery("hub.mode", "subscribe"), HasQuery("hub.challenge")),
    ),
    schemes=(
        Hmac(signature=Header("X-Hub-Signature-256", prefix="sha256="), label="Meta sha256="),
        Hmac(signature=Header("X-Hub-Signature", prefix="sha1="), algorithm="sha1", label="Meta sha1= (legacy)"),
    ),
    event=("body:object+body:entry.0.changes.0.field", "body:object"),
    delivery_id=("body:entry.0.id",),
    secret="the App Secret",
    handshake=Handshake(
        probe_query="hub.mode=subscribe",
        method="GET",
        when=(HasQuery("hub.mode", "subscribe"),),
        challenge="query:hub.challenge",
    ),
)

TWITCH = Provider(
    id="twitch",
    name="Twitch",
    docs="https://dev.twitch.tv/docs/eventsub/handling-webhook-events/",
    detect=((HasHeader("Twitch-Eventsub-Message-Signature"),), (HasHeader("Twitch-Eventsub-Message-Id"),)),
    schemes=(
        Hmac(
            signature=Header("Twitch-Eventsub-Message-Signature", prefix="sha256="),
            template="{id}{ts}{body}",
            id=Header("Twitch-Eventsub-Message-Id"),
            timestamp=Header("Twitch-Eventsub-Message-Timestamp"),
            timestamp_format="iso",
            tolerance=600,
            label="Twitch EventSub sha256=",
        ),
    ),
    event=("header:Twitch-Eventsub-Subscription-Type", "header:Twitch-Eventsub-Message-Type"),
    delivery_id=("header:Twitch-Eventsub-Message-Id",),
    secret="the secret passed when subscribing",
    handshake=Handshake(
        probe_header=("Twitch-Eventsub-Message-Type", "webhook_callback_verification"),
        method="POST",
        challenge="body:challenge",
    ),
)

SEGMENT = Provider(
    id="segment",
    name="Segment",
    docs="https://segment.com/docs/connections/destinations/catalog/webhooks/",
    detect=((HasHeader("X-Signature", shape="hex40"), BodyKeys(("type", "messageId"))),),
    schemes=(Hmac(signature=Header("X-Signature"), algorithm="sha1", label="Segment HMAC-SHA1 hex"),),
    event=("body:type+body:event", "body:type"),
    delivery_id=("body:messageId",),
    secret="the shared secret",
)

LOB = Provider(
    id="lob",
    name="Lob",
    docs="https://help.lob.com/print-and-mail/getting-data-and-results/using-webhooks",
    detect=((HasHeader("Lob-Signature"),),),
    schemes=(
        Hmac(
            signature=Header("Lob-Signature"),
            template="{ts}.{body}",
            timestamp=Header("Lob-Signature-Timestamp"),
            label="Lob HMAC-SHA256 (unconfirmed)",
            inferred=True,
        ),
    ),
    event=("body:event_type.id",),
    delivery_id=("body:id",),
    known="inferred",
)

ENTRIES = (SLACK, TWILIO, SENDGRID, DISCORD, MAILGUN, POSTMARK, MANDRILL, TELEGRAM, META, TWITCH, SEGMENT, LOB)
