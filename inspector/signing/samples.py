"""Build correctly signed sample requests of each provider, from the examples in its docs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template

from inspector.signing import providers
from inspector.signing.schemes import Message, format_timestamp

JSON = ("Content-Type", "application/json")
FORM = ("Content-Type", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class SampleRequest:
    """A request ready to send: method, header pairs, body bytes, and a sub-path to append
    to the bin URL (usually empty)."""

    method: str
    headers: list[tuple[str, str]]
    body: bytes
    path_suffix: str = ""


@dataclass(frozen=True)
class Sample:
    """A provider's documented example. `$event`, `$id`, `$unix`, `$ms` and `$iso` in headers
    and body are filled in; `scheme` picks which of the entry's schemes signs it; `needs_url`
    marks providers that sign the target URL."""

    event: str
    body: str
    headers: tuple[tuple[str, str], ...] = (JSON,)
    method: str = "POST"
    scheme: int = 0
    needs_url: bool = False


SAMPLES: dict[str, Sample] = {
    "dreamclass": Sample(
        "STUDENT_PERIOD_CREATED",
        '{"tenant":"my-school","timestamp":$ms,"id":"$id",'
        '"type":"$event","data":{"id":32,"active":true,"studentId":76,'
        '"addedAt":"2024-10-02T09:40:02.179+00:00"}}',
    ),
    "studiewinkel": Sample(
        "published", '{"type":"$event","resource":"list","identifier":"1a2d1c669b0811ed840606955cf36fa4"}'
    ),
    "edusign": Sample(
        "on_course_created",
        '{"type":"$event","appId":"app_id_placeholder","courseId":"course_id_placeholder"}',
        headers=(
            JSON,
            ("x-edusign-webhook-type", "$event"),
            ("x-edusign-lang", "en"),
            ("x-edusign-app-id", "app_id_placeholder"),
        ),
    ),
    "eduzz": Sample(
        "ping",
        '{"id":"z154l2pvk6jltotg0xy86glx","event":"$event","data":{},"sentDate":"$iso"}',
        headers=(
            JSON,
            ("User-Agent", "Eduzz Webhook"),
            ("x-delivery-attempt", "1"),
            ("x-subscription", "lk354pklutdkh2ii7s7008qfy:$event"),
        ),
    ),
    "dreamship": Sample(
        "order-created",
        '{"id":3346950,"object":"order","event":{"uuid":"$id",'
        '"object_id":3346950,"object_type":"order","action":"$event",'
        '"message":"Order created through App","timestamp":"$iso","user":"System"},'
        '"data":{}}',
    ),
    "github": Sample(
        "ping",
        '{"zen":"Keep it logically awesome.","hook_id":1}',
        headers=(
            JSON,
            ("X-GitHub-Event", "$event"),
            ("X-GitHub-Delivery", "$id"),
            ("User-Agent", "GitHub-Hookshot/0000000"),
        ),
    ),
    "gitlab": Sample(
        "Push Hook",
        '{"object_kind":"push","ref":"refs/heads/main"}',
        scheme=1,
        headers=(JSON, ("X-Gitlab-Event", "$event"), ("X-Gitlab-Event-UUID", "$id")),
    ),
    "bitbucket": Sample(
        "repo:push",
        '{"push":{"changes":[]},"repository":{"name":"demo"}}',
        headers=(JSON, ("X-Event-Key", "$event"), ("X-Hook-UUID", "$id"), ("X-Request-UUID", "$id")),
    ),
    "jira": Sample(
        "jira:issue_created",
        '{"timestamp":$ms,"webhookEvent":"$event","issue":{"key":"DEMO-1"}}',
        headers=(JSON, ("X-Atlassian-Webhook-Identifier", "$id")),
    ),
    "linear": Sample(
        "Issue",
        '{"action":"create","type":"$event","data":{"id":"$id"},"webhookTimestamp":$ms}',
        headers=(JSON, ("Linear-Event", "$event"), ("Linear-Delivery", "$id")),
    ),
    "sentry": Sample(
        "issue",
        '{"action":"created","data":{"issue":{"id":"1"}}}',
        headers=(JSON, ("Sentry-Hook-Resource", "$event"), ("Request-ID", "$id")),
    ),
    "vercel": Sample("deployment.created", '{"id":"$id","type":"$event","createdAt":$ms,"payload":{}}'),
    "asana": Sample("changed", '{"events":[{"action":"$event","resource":{"gid":"1","resource_type":"task"}}]}'),
    "trello": Sample("updateCard", '{"action":{"id":"$id","type":"$event"},"model":{"id":"1"}}', needs_url=True),
    "box": Sample(
        "FILE.UPLOADED",
        '{"type":"webhook_event","id":"$id","webhook":{"id":"1"},"trigger":"$event","source":{"id":"2","type":"file"}}',
        headers=(
            JSON,
            ("BOX-DELIVERY-ID", "$id"),
            ("BOX-SIGNATURE-VERSION", "1"),
            ("BOX-SIGNATURE-ALGORITHM", "HmacSHA256"),
        ),
    ),
    "dropbox": Sample("list_folder", '{"list_folder":{"accounts":["dbid:1"]},"delta":{"users":[1]}}'),
    "docusign": Sample(
        "envelope-completed",
        '{"event":"$event","apiVersion":"v2.1","retryCount":0,"generatedDateTime":"$iso","data":{"envelopeId":"$id"}}',
        headers=(JSON, ("X-DocuSign-AccountId", "1")),
    ),
    "typeform": Sample("form_response", '{"event_id":"$id","event_type":"$event","form_response":{"form_id":"abc"}}'),
    "calendly": Sample(
        "invitee.created",
        '{"created_at":"$iso","created_by":"https://api.calendly.com/users/1","event":"$event","payload":{}}',
    ),
    "zendesk": Sample(
        "zen:event-type:ticket.created",
        '{"type":"$event","id":"$id","detail":{}}',
        headers=(JSON, ("x-zendesk-webhook-id", "1"), ("x-zendesk-webhook-invocation-id", "$id")),
    ),
    "hubspot": Sample(
        "contact.creation",
        '[{"eventId":1,"subscriptionId":2,"portalId":3,"appId":4,'
        '"occurredAt":$ms,"subscriptionType":"$event","attemptNumber":0}]',
        needs_url=True,
    ),
    "intercom": Sample(
        "conversation.user.created",
        '{"type":"notification_event","app_id":"abc","topic":"$event","id":"notif_$id","data":{"item":{}}}',
    ),
    "zoom": Sample("meeting.started", '{"event":"$event","event_ts":$ms,"payload":{"account_id":"a"}}'),
    "microsoft-graph": Sample(
        "created", '{"value":[{"subscriptionId":"$id","changeType":"$event","resource":"me/messages","tenantId":"t"}]}'
    ),
    "okta": Sample(
        "com.okta.event_hook", '{"eventType":"$event","eventId":"$id","cloudEventsVersion":"0.1","data":{"events":[]}}'
    ),
    "cloudflare": Sample("universal_ssl_event_type", '{"name":"demo","text":"hello","ts":$unix,"alert_type":"$event"}'),
    "stripe": Sample(
        "payment_intent.succeeded",
        '{"id":"evt_$id","object":"event","type":"$event",'
        '"api_version":"2024-06-20","livemode":false,"data":{"object":{}}}',
        headers=(JSON, ("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")),
    ),
    "paddle": Sample(
        "transaction.completed",
        '{"event_id":"evt_$id","event_type":"$event","occurred_at":"$iso","notification_id":"ntf_$id","data":{}}',
    ),
    "square": Sample(
        "webhooks.test_notification",
        '{"merchant_id":"MLEFBHHSJGVHD","type":"$event",'
        '"event_id":"$id","created_at":"$iso","data":{"type":"webhooks","id":"1"}}',
        needs_url=True,
    ),
    "coinbase-commerce": Sample(
        "charge:created", '{"id":1,"scheduled_for":"$iso","event":{"id":"$id","type":"$event","data":{}}}'
    ),
    "razorpay": Sample(
        "payment.captured",
        '{"entity":"event","account_id":"acc_1","event":"$event",'
        '"contains":["payment"],"payload":{},"created_at":$unix}',
        headers=(JSON, ("X-Razorpay-Event-Id", "$id")),
    ),
    "adyen": Sample(
        "AUTHORISATION",
        '{"live":"false","notificationItems":[{"NotificationRequestItem":'
        '{"pspReference":"7914073381342284","merchantAccountCode":"TestMerchant",'
        '"merchantReference":"TestPayment-1407325143704","amount":{"value":1130,'
        '"currency":"EUR"},"eventCode":"$event","success":"true","additionalData":{}}}]}',
    ),
    "mollie": Sample("payment-link.paid", '{"resource":"event","id":"$id","type":"$event","entityId":"pl_1"}'),
    "lemon-squeezy": Sample(
        "order_created",
        '{"meta":{"event_name":"$event"},"data":{"type":"orders","id":"1"}}',
        headers=(JSON, ("X-Event-Name", "$event")),
    ),
    "woocommerce": Sample(
        "order.created",
        '{"id":1,"status":"processing"}',
        headers=(
            JSON,
            ("X-WC-Webhook-Topic", "$event"),
            ("X-WC-Webhook-Resource", "order"),
            ("X-WC-Webhook-Delivery-ID", "$id"),
        ),
    ),
    "shopify": Sample(
        "orders/create",
        '{"id":820982911946154508,"email":"jon@example.com"}',
        headers=(
            JSON,
            ("X-Shopify-Topic", "$event"),
            ("X-Shopify-Webhook-Id", "$id"),
            ("X-Shopify-Shop-Domain", "example.myshopify.com"),
        ),
    ),
    "xero": Sample(
        "CREATE",
        '{"events":[{"resourceId":"$id","eventDateUtc":"$iso","eventType":"$event",'
        '"eventCategory":"INVOICE","tenantId":"t"}],"firstEventSequence":1,'
        '"lastEventSequence":1,"entropy":"ABC"}',
    ),
    "slack": Sample("app_mention", '{"type":"event_callback","event_id":"Ev$id","event":{"type":"$event"}}'),
    "twilio": Sample(
        "received",
        "MessageSid=SM$id&AccountSid=AC123&From=%2B12349013030&To=%2B18005551212"
        "&Body=Hello&SmsStatus=$event&ApiVersion=2010-04-01",
        headers=(FORM, ("I-Twilio-Idempotency-Token", "$id")),
        scheme=1,
        needs_url=True,
    ),
    "mailgun": Sample(
        "delivered", '{"signature":{"timestamp":"$unix","token":"$id"},"event-data":{"event":"$event","id":"$id"}}'
    ),
    "mandrill": Sample(
        "send", "mandrill_events=%5B%7B%22event%22%3A%22$event%22%7D%5D", headers=(FORM,), needs_url=True
    ),
    "telegram": Sample("message", '{"update_id":1,"message":{"message_id":1,"chat":{"id":1},"text":"hi"}}'),
    "meta": Sample("page", '{"object":"$event","entry":[{"id":"1","time":$unix,"changes":[{"field":"feed"}]}]}'),
    "twitch": Sample(
        "channel.follow",
        '{"subscription":{"type":"$event"},"event":{"user_id":"1"}}',
        headers=(
            JSON,
            ("Twitch-Eventsub-Message-Id", "$id"),
            ("Twitch-Eventsub-Message-Type", "notification"),
            ("Twitch-Eventsub-Subscription-Type", "$event"),
        ),
    ),
    "segment": Sample("track", '{"type":"$event","event":"Order Completed","messageId":"$id"}'),
    "lob": Sample("letter.delivered", '{"id":"evt_$id","event_type":{"id":"$event"},"body":{},"object":"event"}'),
    "standard-webhooks": Sample(
        "invoice.paid", '{"type":"$event","timestamp":"$iso","data":{}}', headers=(JSON, ("webhook-id", "msg_$id"))
    ),
    "svix": Sample("user.created", '{"type":"$event","data":{}}', headers=(JSON, ("svix-id", "msg_$id"))),
    # Second round (providers/more.py); the Svix and Standard Webhooks senders need a whsec_ key.
    "netlify": Sample(
        "ready", '{"id":"$id","site_id":"s1","state":"$event","deploy_url":"https://$id--demo.netlify.app"}'
    ),
    "workos": Sample("dsync.user.created", '{"id":"event_$id","event":"$event","data":{"object":"directory_user"}}'),
    "mux": Sample("video.asset.ready", '{"type":"$event","id":"$id","object":{"type":"asset","id":"a1"},"data":{}}'),
    "pagerduty": Sample(
        "incident.triggered",
        '{"event":{"id":"$id","event_type":"$event","resource_type":"incident","occurred_at":"$iso","data":{}}}',
    ),
    "buildkite": Sample(
        "build.finished", '{"event":"$event","build":{"id":"$id"}}', headers=(JSON, ("X-Buildkite-Event", "$event"))
    ),
    "persona": Sample("inquiry.completed", '{"data":{"type":"event","id":"evt_$id","attributes":{"name":"$event"}}}'),
    "webflow": Sample("form_submission", '{"triggerType":"$event","payload":{"id":"$id","data":{}}}'),
    "vonage": Sample(
        "text",
        '{"channel":"sms","message_uuid":"$id","to":"447700900000","from":"447700900001",'
        '"timestamp":"$iso","text":"Hello","message_type":"$event"}',
    ),
    "circleci": Sample(
        "workflow-completed", '{"type":"$event","id":"$id","happened_at":"$iso","webhook":{"id":"w1"},"pipeline":{}}'
    ),
    "hcp-terraform": Sample(
        "run:completed",
        '{"payload_version":1,"notification_configuration_id":"nc-1","run_id":"run-$id",'
        '"notifications":[{"trigger":"$event","run_status":"applied"}]}',
    ),
    "pusher": Sample(
        "channel_occupied",
        '{"time_ms":$ms,"events":[{"name":"$event","channel":"presence-room"}]}',
        headers=(JSON, ("X-Pusher-Key", "278d425bdf160c739803")),
    ),
}


def signable_providers() -> list[str]:
    """Ids of providers `build_sample` can sign with a shared secret, in registry order."""
    return [p.id for p in providers.all_providers() if p.id in SAMPLES]


def build_sample(
    provider_id: str, *, secret: str, event: str | None = None, at: datetime, url: str | None = None
) -> SampleRequest:
    """A sample of `provider_id` signed with `secret` as of `at`. `event` replaces the
    documented default event; `url` (the full target URL) is required for providers that
    sign the URL. Raises KeyError for an unknown or unsignable provider, ValueError when a
    required `url` is missing, SignatureError when the secret is unusable for the scheme."""
    sample = SAMPLES[provider_id]
    if sample.needs_url and not url:
        raise ValueError(f"{provider_id} signs the target URL: pass url=")
    entry = providers.get(provider_id)
    if entry is None:  # every sample is of a registered provider; this only guards the lookup
        raise KeyError(provider_id)
    at = at.astimezone(UTC)
    values = {
        "event": sample.event if event is None else event,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{provider_id}:{at.isoformat()}")),
        "unix": format_timestamp(at, "unix"),
        "ms": format_timestamp(at, "ms"),
        "iso": format_timestamp(at, "iso"),
    }

    def fill(text: str) -> str:
        return Template(text).safe_substitute(values)

    msg = Message(
        method=sample.method,
        url=url or "https://hookloupe.invalid/h/sample",
        headers=tuple((name, fill(value)) for name, value in sample.headers),
        body=fill(sample.body).encode(),
    )
    signed = entry.schemes[sample.scheme].sign(msg, secret, at=at)
    return SampleRequest(method=signed.method, headers=list(signed.headers), body=signed.body)
